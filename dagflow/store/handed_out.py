"""What became of the attempts an executor on other machines handed out, found by their claim tokens.

An executor whose workers run elsewhere (Celery) gets no report from them: the store is the truth.
It asks here which of its tokens are still queued or running, and fails a task instance whose
message no worker took in time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from dagflow.core.keys import TIKey
from dagflow.core.states import TaskState
from dagflow.store.models import CompensationInstanceRow, TaskInstanceRow
from dagflow.store.notify import wake_after_commit

TI = TaskInstanceRow
C = CompensationInstanceRow
#: Tokens per statement (far below any database's limit on parameters).
CHUNK = 500


def attempt_states(
    session: Session,
    tokens: Mapping[str, TIKey],
    *,
    compensation_tokens: Mapping[str, TIKey] | None = None,
) -> dict[str, str]:
    """The state of each task instance that still holds one of ``tokens`` (each with the key of the
    task instance it was handed out for), and of each compensation that still holds one of
    ``compensation_tokens``, by token. A token missing from the answer was given up (its task
    instance was cleared or handed out again since), or its try has ended (a compensation's token is
    dropped when its try is recorded).

    Rows are found by their primary keys and their tokens compared here: no index holds the tokens
    (one would cost every write of a task instance), and a search by token alone would read the
    whole table, its history included, on every follow-up."""
    found: dict[str, str] = {}
    for table, wanted in ((TI, tokens), (C, compensation_tokens or {})):
        items = list(wanted.items())
        for start in range(0, len(items), CHUNK):
            chunk = dict(items[start : start + CHUNK])
            keys = {(k.dag_id, k.run_id, k.task_id, k.map_index) for k in chunk.values()}
            query = select(table.attempt_token, table.state).where(
                tuple_(table.dag_id, table.run_id, table.task_id, table.map_index).in_(sorted(keys))
            )
            found.update(
                {str(token): str(state) for token, state in session.execute(query) if token in chunk}
            )
    return found


def fail_stuck_queued(session: Session, key: TIKey, *, token: str, reason: str, now: datetime) -> bool:
    """Fail a task instance still queued with ``token`` (its message was never taken by a worker, and
    re-sending it did not help); False if it is no longer queued with it. Wakes the schedulers."""
    result = session.execute(
        update(TI)
        .where(
            TI.dag_id == key.dag_id,
            TI.run_id == key.run_id,
            TI.task_id == key.task_id,
            TI.map_index == key.map_index,
            TI.attempt_token == token,
            TI.state == TaskState.QUEUED.value,
        )
        .values(state=TaskState.FAILED.value, end_date=now, error=reason, updated_at=now)
    )
    failed = bool(result.rowcount)  # type: ignore[attr-defined]
    if failed:
        wake_after_commit(session)
    return failed
