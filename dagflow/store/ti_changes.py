"""Changes people make to task instances by hand: clear them, mark them, finish a whole run's.

Each change can let the scheduler act (a cleared task instance runs again, a marked one lets its
downstream start), so each asks for a wake-up after the caller's commit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dagflow.core.keys import RunKey, TIKey
from dagflow.core.states import FAILED_STATES, FINISHED, TaskState
from dagflow.store.models import TaskInstanceRow
from dagflow.store.notify import wake_after_commit

TI = TaskInstanceRow


def to_clear(
    session: Session, *, run: RunKey, task_ids: Collection[str], only_failed: bool = False
) -> list[TaskInstanceRow]:
    """The task instances of ``task_ids`` in ``run`` (only the failed ones, if asked), in a stable order."""
    query = (
        select(TI)
        .where(TI.dag_id == run.dag_id, TI.run_id == run.run_id, TI.task_id.in_(sorted(task_ids)))
        .order_by(TI.task_id, TI.map_index)  # the same report on every backend
    )
    if only_failed:
        query = query.where(TI.state.in_(sorted(s.value for s in FAILED_STATES)))
    return list(session.scalars(query))


def clear(
    session: Session, *, rows: Sequence[TaskInstanceRow], retries: Mapping[str, int], now: datetime
) -> None:
    """Put ``rows`` back to no state, each with ``retries[task_id]`` more tries, to run again."""
    for row in rows:
        if row.task_id in retries:
            row.max_tries = row.try_number + retries[row.task_id]
        row.state, row.end_date, row.not_before, row.attempt_token, row.updated_at = (
            TaskState.NONE.value,
            None,
            None,
            None,
            now,
        )
    if rows:
        wake_after_commit(session)


def mark(session: Session, *, key: TIKey, state: TaskState, now: datetime) -> TaskInstanceRow | None:
    """Set one task instance's state by hand (a running try loses its token, so it stops); None if
    there is no such task instance."""
    row = session.get(TI, tuple(key))
    if row is None:
        return None
    row.state, row.end_date, row.attempt_token, row.updated_at = state.value, now, None, now
    row.start_date = row.start_date or now
    wake_after_commit(session)
    return row


def finish_unfinished(session: Session, *, run: RunKey, state: TaskState, now: datetime) -> None:
    """Give every unfinished task instance of ``run`` the finished ``state`` (marking a whole run)."""
    unfinished = sorted(s.value for s in TaskState if s not in FINISHED)
    session.execute(
        update(TI)
        .where(TI.dag_id == run.dag_id, TI.run_id == run.run_id, TI.state.in_(unfinished))
        .values(state=state.value, end_date=now, updated_at=now, attempt_token=None),
        execution_options={"synchronize_session": False},
    )
    wake_after_commit(session)
