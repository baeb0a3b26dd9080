"""Task instance rows: loading a run's states, applying decisions, queueing, claiming, recording outcomes.

Every change is set-based (one statement for many rows) and guarded by the state it expects, so a
row changed meanwhile by someone else (a user clearing it, another scheduler) is left alone. A
worker may only record the outcome of the attempt it claimed: ``attempt_token`` must match.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from dagflow.decisions import Key, TIRecord
from dagflow.spec import DagSpec
from dagflow.states import FINISHED, SCHEDULABLE, TaskState
from dagflow.store.models import TaskInstanceRow, TaskInstanceTryRow, XComRow
from dagflow.store.runs import task_instance_values

TI = TaskInstanceRow
TABLE = TaskInstanceRow.__table__
SCHEDULABLE_VALUES = tuple(s.value for s in SCHEDULABLE)
CHUNK = 400


@dataclass(frozen=True)
class TIKey:
    """Identifies one task instance."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    def label(self) -> str:
        index = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}.{self.task_id}{index} {self.run_id}"


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _in_run(dag_id: str, run_id: str, keys: Sequence[Key]) -> Any:
    return and_(TI.dag_id == dag_id, TI.run_id == run_id, tuple_(TI.task_id, TI.map_index).in_(list(keys)))


def _pk(key: TIKey) -> Any:
    return and_(
        TI.dag_id == key.dag_id,
        TI.run_id == key.run_id,
        TI.task_id == key.task_id,
        TI.map_index == key.map_index,
    )


def load_records(session: Session, dag_id: str, run_id: str) -> list[TIRecord]:
    """The run's task instances as the scheduling decisions see them."""
    query = select(TI.task_id, TI.map_index, TI.state, TI.try_number, TI.max_tries, TI.not_before).where(
        TI.dag_id == dag_id, TI.run_id == run_id
    )
    return [
        TIRecord(task_id, map_index, TaskState(state), try_number, max_tries, not_before)
        for task_id, map_index, state, try_number, max_tries, not_before in session.execute(query)
    ]


def apply_new_states(
    session: Session, dag_id: str, run_id: str, new_states: dict[Key, TaskState], now: datetime
) -> None:
    """Record states decided without running (skipped, upstream_failed, removed), one statement per state."""
    by_state: dict[TaskState, list[Key]] = {}
    for key, state in new_states.items():
        by_state.setdefault(state, []).append(key)
    for state, keys in by_state.items():
        for chunk in _chunks(keys):
            session.execute(
                update(TI)
                .where(_in_run(dag_id, run_id, chunk), TI.state.in_(SCHEDULABLE_VALUES))
                .values(
                    state=state.value,
                    start_date=func.coalesce(TI.start_date, now),
                    end_date=now,
                    updated_at=now,
                ),
                execution_options={"synchronize_session": False},
            )


def expand_mapped(
    session: Session, spec: DagSpec, dag_id: str, run_id: str, task_id: str, count: int, now: datetime
) -> None:
    """Turn a mapped task's placeholder into ``count`` map indexes (extra old indexes become removed)."""
    existing = set(
        session.scalars(
            select(TI.map_index).where(TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == task_id)
        )
    )
    if -1 in existing:
        if 0 in existing:
            session.execute(
                delete(TI).where(
                    TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == task_id, TI.map_index == -1
                )
            )
        else:
            session.execute(
                update(TI)
                .where(TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == task_id, TI.map_index == -1)
                .values(map_index=0, updated_at=now),
                execution_options={"synchronize_session": False},
            )
            existing.add(0)
    missing = [i for i in range(count) if i not in existing]
    if missing:
        session.execute(insert(TI), [task_instance_values(spec, dag_id, run_id, task_id, i) for i in missing])
    surplus = [i for i in existing if i >= count]
    if surplus:
        session.execute(
            update(TI)
            .where(TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == task_id, TI.map_index.in_(surplus))
            .values(state=TaskState.REMOVED.value, updated_at=now),
            execution_options={"synchronize_session": False},
        )


@dataclass(frozen=True)
class QueueItem:
    """A task instance the scheduler hands to the executor, with the try it will be and its token."""

    key: TIKey
    try_number: int
    token: str
    previous_state: str


def queue(session: Session, items: Sequence[QueueItem], *, now: datetime, job_id: int | None) -> int:
    """Mark task instances queued (only those still schedulable); return how many were."""
    if not items:
        return 0
    statement = (
        update(TABLE)  # type: ignore[arg-type]
        .where(
            TABLE.c.dag_id == bindparam("k_dag_id"),
            TABLE.c.run_id == bindparam("k_run_id"),
            TABLE.c.task_id == bindparam("k_task_id"),
            TABLE.c.map_index == bindparam("k_map_index"),
            TABLE.c.state == bindparam("k_state"),
        )
        .values(
            state=TaskState.QUEUED.value,
            queued_at=now,
            attempt_token=bindparam("v_token"),
            queued_by_job_id=job_id,
            updated_at=now,
        )
    )
    params = [
        {
            "k_dag_id": i.key.dag_id,
            "k_run_id": i.key.run_id,
            "k_task_id": i.key.task_id,
            "k_map_index": i.key.map_index,
            "k_state": i.previous_state,
            "v_token": i.token,
        }
        for i in items
    ]
    result = session.connection().execute(statement, params)
    return int(result.rowcount)


def reset_queued(
    session: Session, *, not_job_ids: Sequence[int] | None = None, keys: Sequence[TIKey] = (), now: datetime
) -> int:
    """Put queued task instances back to be scheduled again (their executor is gone)."""
    query = update(TI).where(TI.state == TaskState.QUEUED.value)
    if not_job_ids is not None:
        query = query.where(or_(TI.queued_by_job_id.is_(None), TI.queued_by_job_id.not_in(list(not_job_ids))))
    if keys:
        query = query.where(
            tuple_(TI.dag_id, TI.run_id, TI.task_id, TI.map_index).in_(
                [(k.dag_id, k.run_id, k.task_id, k.map_index) for k in keys]
            )
        )
    result = session.execute(
        query.values(state=TaskState.NONE.value, attempt_token=None, queued_at=None, updated_at=now),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def claim(
    session: Session, key: TIKey, *, token: str, try_number: int, hostname: str, pid: int, now: datetime
) -> bool:
    """A worker takes a queued task instance for itself; False if it is no longer queued with this token."""
    result = session.execute(
        update(TI)
        .where(_pk(key), TI.state == TaskState.QUEUED.value, TI.attempt_token == token)
        .values(
            state=TaskState.RUNNING.value,
            try_number=try_number,
            start_date=now,
            end_date=None,
            duration=None,
            hostname=hostname,
            pid=pid,
            heartbeat_at=now,
            not_before=None,
            error=None,
            updated_at=now,
        ),
        execution_options={"synchronize_session": False},
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def heartbeat(session: Session, key: TIKey, *, token: str, now: datetime) -> bool:
    """Record that the attempt is alive; False if it is no longer this attempt's to run."""
    result = session.execute(
        update(TI)
        .where(_pk(key), TI.state == TaskState.RUNNING.value, TI.attempt_token == token)
        .values(heartbeat_at=now),
        execution_options={"synchronize_session": False},
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass
class Outcome:
    """How an attempt ended, as the store records it."""

    state: TaskState
    start_date: datetime | None
    end_date: datetime
    not_before: datetime | None = None
    map_length: int | None = None
    error: str | None = None
    rendered_fields: dict[str, Any] | None = None
    skip_downstream: Sequence[str] = ()
    xcoms: Sequence[tuple[str, str]] = ()  # (key, JSON text)
    log_path: str | None = None
    #: The state the try history records, when it differs from the task instance's new state.
    try_state: TaskState | None = None


def record_outcome(session: Session, key: TIKey, *, token: str, outcome: Outcome, now: datetime) -> bool:
    """Record an attempt's end, its XComs, its try history and the skips it decided, all at once.

    Does nothing and returns False when the task instance is no longer running this attempt.
    """
    row = session.execute(
        select(TI.try_number, TI.queued_at, TI.hostname, TI.pid).where(
            _pk(key), TI.state == TaskState.RUNNING.value, TI.attempt_token == token
        )
    ).first()
    if row is None:
        return False
    duration = (outcome.end_date - outcome.start_date).total_seconds() if outcome.start_date else None
    session.execute(
        update(TI)
        .where(_pk(key), TI.attempt_token == token)
        .values(
            state=outcome.state.value,
            end_date=outcome.end_date,
            duration=duration,
            not_before=outcome.not_before,
            map_length=outcome.map_length,
            rendered_fields=outcome.rendered_fields,
            error=outcome.error,
            heartbeat_at=None,
            updated_at=now,
        ),
        execution_options={"synchronize_session": False},
    )
    _replace_xcoms(session, key, outcome.xcoms, now)
    _add_try(session, key, row, outcome, duration)
    if outcome.skip_downstream:
        skip(session, key.dag_id, key.run_id, outcome.skip_downstream, now)
    return True


def _replace_xcoms(session: Session, key: TIKey, xcoms: Sequence[tuple[str, str]], now: datetime) -> None:
    session.execute(
        delete(XComRow).where(
            XComRow.dag_id == key.dag_id,
            XComRow.run_id == key.run_id,
            XComRow.task_id == key.task_id,
            XComRow.map_index == key.map_index,
        )
    )
    if xcoms:
        session.execute(
            insert(XComRow),
            [
                {
                    "dag_id": key.dag_id,
                    "run_id": key.run_id,
                    "task_id": key.task_id,
                    "map_index": key.map_index,
                    "key": name,
                    "value": text,
                    "timestamp": now,
                }
                for name, text in xcoms
            ],
        )


def _add_try(session: Session, key: TIKey, row: Any, outcome: Outcome, duration: float | None) -> None:
    try_number, queued_at, hostname, pid = tuple(row)
    existing = session.scalars(
        select(TaskInstanceTryRow).where(
            TaskInstanceTryRow.dag_id == key.dag_id,
            TaskInstanceTryRow.run_id == key.run_id,
            TaskInstanceTryRow.task_id == key.task_id,
            TaskInstanceTryRow.map_index == key.map_index,
            TaskInstanceTryRow.try_number == try_number,
        )
    ).first()
    state = (outcome.try_state or outcome.state).value
    entry = existing or TaskInstanceTryRow(
        dag_id=key.dag_id,
        run_id=key.run_id,
        task_id=key.task_id,
        map_index=key.map_index,
        try_number=try_number,
        state=state,
    )
    entry.state = state
    entry.queued_at, entry.start_date, entry.end_date, entry.duration = (
        queued_at,
        outcome.start_date,
        outcome.end_date,
        duration,
    )
    entry.hostname, entry.pid, entry.error, entry.log_path = hostname, pid, outcome.error, outcome.log_path
    if existing is None:
        session.add(entry)


def skip(session: Session, dag_id: str, run_id: str, task_ids: Sequence[str], now: datetime) -> None:
    """Skip these tasks' task instances in the run, where they have not started."""
    session.execute(
        update(TI)
        .where(
            TI.dag_id == dag_id,
            TI.run_id == run_id,
            TI.task_id.in_(list(task_ids)),
            TI.state.in_((TaskState.NONE.value, TaskState.SCHEDULED.value)),
        )
        .values(state=TaskState.SKIPPED.value, start_date=now, end_date=now, updated_at=now),
        execution_options={"synchronize_session": False},
    )


@dataclass(frozen=True)
class RunningAttempt:
    key: TIKey
    token: str | None
    try_number: int
    max_tries: int
    start_date: datetime | None
    heartbeat_at: datetime | None
    pid: int | None
    hostname: str | None


def running_attempts(session: Session, *, heartbeat_before: datetime | None = None) -> list[RunningAttempt]:
    """Running task instances; with ``heartbeat_before``, only those whose last heartbeat is older."""
    query = select(
        TI.dag_id,
        TI.run_id,
        TI.task_id,
        TI.map_index,
        TI.attempt_token,
        TI.try_number,
        TI.max_tries,
        TI.start_date,
        TI.heartbeat_at,
        TI.pid,
        TI.hostname,
    ).where(TI.state == TaskState.RUNNING.value)
    if heartbeat_before is not None:
        query = query.where(or_(TI.heartbeat_at.is_(None), TI.heartbeat_at < heartbeat_before))
    return [
        RunningAttempt(TIKey(d, r, t, m), token, tn, mt, sd, hb, pid, host)
        for d, r, t, m, token, tn, mt, sd, hb, pid, host in session.execute(query)
    ]


def busy_counts(session: Session) -> list[Row[Any]]:
    """Queued and running task instances, grouped by DAG, run, task and pool (for the limits)."""
    query = (
        select(TI.dag_id, TI.run_id, TI.task_id, TI.pool, func.count(), func.sum(TI.pool_slots))
        .where(TI.state.in_((TaskState.QUEUED.value, TaskState.RUNNING.value)))
        .group_by(TI.dag_id, TI.run_id, TI.task_id, TI.pool)
    )
    return list(session.execute(query))


def finished_states() -> tuple[str, ...]:
    return tuple(s.value for s in FINISHED)
