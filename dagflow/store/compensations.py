"""Compensations in the store: each run's compensation state, each compensation's current try
(``compensation_instance``) and its history (``compensation_try``).

A compensation is handed out like a task instance: the scheduler queues it with a fresh token, a
worker claims it (``queued`` -> ``running``, one statement guarded by that token), heartbeats and
records its outcome guarded by the same token. So two workers never run one compensation at once,
and a compensation that succeeded is never queued again (the decisions only start those not started,
or up for retry).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, insert, select, update

from dagflow.core.keys import RunKey, TIKey
from dagflow.core.saga import CompensationRecord, Key, RunCompensation
from dagflow.core.states import TaskState
from dagflow.store import Connection, Session
from dagflow.store.models import CompensationInstanceRow, CompensationTryRow, DagRunRow, TaskInstanceRow
from dagflow.store.notify import wake_after_commit

C = CompensationInstanceRow

_HANDED_OUT = ("queued", "running")


def _match(key: TIKey) -> Any:
    return and_(
        C.dag_id == key.dag_id, C.run_id == key.run_id, C.task_id == key.task_id, C.map_index == key.map_index
    )


# -- the scheduler's reads and writes ----------------------------------------------------------------


class CompensatingRun(NamedTuple):
    id: int
    dag_id: str
    run_id: str


def compensating_runs(session: Session, *, limit: int = 100, lock: bool = False) -> list[CompensatingRun]:
    """Runs whose compensation is under way (oldest first).

    ``lock``: hold their rows until this transaction ends, passing over those another scheduler
    holds (``FOR UPDATE SKIP LOCKED``, as runs are locked for deciding them): one scheduler at a time
    decides a run's compensations, queues them and records its end, and reads the run's compensations
    after taking the lock, so it sees what the one before it committed. Without it, two schedulers
    both found a compensation not handed out yet and both inserted its row (one pass failed), and
    both recorded the run's end and handed out its failure callback. (SQLite: one writer, no lock.)
    """
    statement = (
        select(DagRunRow.id, DagRunRow.dag_id, DagRunRow.run_id)
        .where(DagRunRow.compensation_state == RunCompensation.COMPENSATING.value)
        .order_by(DagRunRow.id)
        .limit(limit)
    )
    if lock:
        statement = statement.with_for_update(skip_locked=True)
    return [CompensatingRun(*row) for row in session.execute(statement)]


class CompensationState(NamedTuple):
    """What the scheduler's decisions read of one compensation."""

    task_id: str
    map_index: int
    state: str
    not_before: datetime | None
    forward_try_number: int


def compensation_states(session: Session, key: RunKey) -> list[CompensationState]:
    """The compensations of a run that were handed out at least once, as the decisions need them."""
    statement = select(C.task_id, C.map_index, C.state, C.not_before, C.forward_try_number).where(
        C.dag_id == key.dag_id, C.run_id == key.run_id
    )
    return [CompensationState(*row) for row in session.execute(statement)]


def forward_states(session: Session, key: RunKey) -> dict[Key, tuple[TaskState, int]]:
    """Each task instance of a run: its state and try number."""
    statement = select(
        TaskInstanceRow.task_id, TaskInstanceRow.map_index, TaskInstanceRow.state, TaskInstanceRow.try_number
    ).where(TaskInstanceRow.dag_id == key.dag_id, TaskInstanceRow.run_id == key.run_id)
    return {(t, i): (TaskState(s), n) for t, i, s, n in session.execute(statement)}


def compensation_rows(session: Session, key: RunKey) -> list[CompensationInstanceRow]:
    """The compensations of a run that were handed out at least once."""
    statement = (
        select(C).where(C.dag_id == key.dag_id, C.run_id == key.run_id).order_by(C.task_id, C.map_index)
    )
    return list(session.scalars(statement))


def records_of(rows: Iterable[CompensationInstanceRow | CompensationState]) -> dict[Key, CompensationRecord]:
    """The rows as the compensation decisions see them."""
    return {(r.task_id, r.map_index): CompensationRecord(TaskState(r.state), r.not_before) for r in rows}


@dataclass(frozen=True)
class QueueItem:
    key: TIKey
    token: str
    forward_try_number: int
    max_tries: int


def queue(
    session: Session, items: Sequence[QueueItem], *, job_id: int | None, now: datetime
) -> list[QueueItem]:
    """Hand compensations out: each not started yet or up for retry becomes ``queued`` with its token.

    Returns the items actually queued (one already handed out by someone else is left alone). A
    compensation recorded for an earlier try of its task (the run was cleared and ran again) starts
    over, its tries numbered on from the earlier ones.
    """
    queued = []
    for item in items:
        values = {
            "state": "queued",
            "attempt_token": item.token,
            "queued_at": now,
            "queued_by_job_id": job_id,
        }
        session.execute(
            update(C)
            .where(
                _match(item.key),
                C.forward_try_number != item.forward_try_number,
                C.state.not_in(_HANDED_OUT),
            )
            .values(
                forward_try_number=item.forward_try_number,
                state="none",
                max_tries=C.try_number + item.max_tries,
                error=None,
            )
        )
        result = session.execute(
            update(C)
            .where(_match(item.key), C.state.in_(("none", "up_for_retry")))
            .values(not_before=None, **values)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            queued.append(item)
            continue
        if session.execute(select(C.state).where(_match(item.key))).first() is None:
            session.execute(
                insert(C).values(
                    dag_id=item.key.dag_id,
                    run_id=item.key.run_id,
                    task_id=item.key.task_id,
                    map_index=item.key.map_index,
                    forward_try_number=item.forward_try_number,
                    max_tries=item.max_tries,
                    try_number=0,
                    **values,
                )
            )
            queued.append(item)
    return queued


def end_run_compensation(session: Session, key: RunKey, state: RunCompensation) -> bool:
    """Record the end of a run's compensation; False if it was not under way any more (it ended
    already): whoever ended it handed out what follows its end."""
    result = session.execute(
        update(DagRunRow)
        .where(
            DagRunRow.dag_id == key.dag_id,
            DagRunRow.run_id == key.run_id,
            DagRunRow.compensation_state == RunCompensation.COMPENSATING.value,
        )
        .values(compensation_state=state.value)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def give_back_queued(session: Session, *, not_job_ids: Iterable[int], now: datetime) -> int:
    """Queued compensations of schedulers that are gone never reached a worker: back to not started."""
    statement = (
        update(C)
        .where(
            C.state == "queued",
            (C.queued_by_job_id.is_(None)) | (C.queued_by_job_id.not_in(list(not_job_ids))),
        )
        .values(state="none", attempt_token=None, queued_by_job_id=None)
    )
    result = session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


def give_back(session: Session, keys: Iterable[TIKey]) -> int:
    """Queued compensations that never started (the executor was closed): back to not started."""
    count = 0
    for key in keys:
        result = session.execute(
            update(C).where(_match(key), C.state == "queued").values(state="none", attempt_token=None)
        )
        count += int(result.rowcount)  # type: ignore[attr-defined]
    return count


def silent_compensations(session: Session, *, heartbeat_before: datetime) -> list[CompensationInstanceRow]:
    """Running compensations whose worker has not beaten since ``heartbeat_before``."""
    statement = select(C).where(C.state == "running", C.heartbeat_at < heartbeat_before)
    return list(session.scalars(statement))


def fail_lost(
    session: Session, key: TIKey, *, token: str | None, error: str, retry_at: datetime | None, now: datetime
) -> bool:
    """A compensation whose worker died: recorded as a failed try, then up for retry or failed."""
    row = session.get(C, (key.dag_id, key.run_id, key.task_id, key.map_index))
    if row is None or row.state != "running" or (token is not None and row.attempt_token != token):
        return False
    retry = row.try_number <= row.max_tries and retry_at is not None
    _finish(session, row, TaskState.UP_FOR_RETRY if retry else TaskState.FAILED, now, error, retry_at)
    return True


def fail_unclaimed(
    session: Session, key: TIKey, *, token: str, error: str, retry_at: datetime | None, now: datetime
) -> TaskState | None:
    """A compensation still queued with ``token`` that no worker took (its executor gave up sending
    it): its try counts as failed, as a lost worker's would, and is recorded in its history (never
    started: no start date, no host). Up for retry from ``retry_at`` while tries remain, else failed;
    None if it is no longer queued with that token (a worker took it, or it was handed out again).
    Wakes the schedulers."""
    found = session.execute(
        select(C.try_number, C.max_tries).where(_match(key), C.state == "queued", C.attempt_token == token)
    ).first()
    if found is None:
        return None
    try_number = int(found[0]) + 1  # what the worker's claim would have counted
    retry = try_number <= found[1] and retry_at is not None
    state = TaskState.UP_FOR_RETRY if retry else TaskState.FAILED
    result = session.execute(
        update(C)
        .where(_match(key), C.state == "queued", C.attempt_token == token)
        .values(
            state=state.value,
            try_number=try_number,
            start_date=None,
            end_date=now,
            not_before=retry_at if retry else None,
            hostname=None,
            pid=None,
            error=error,
            log_path=None,
            attempt_token=None,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None  # claimed between the two statements
    session.execute(
        insert(CompensationTryRow).values(
            dag_id=key.dag_id,
            run_id=key.run_id,
            task_id=key.task_id,
            map_index=key.map_index,
            try_number=try_number,
            state=state.value,
            end_date=now,
            error=error,
        )
    )
    wake_after_commit(session)
    return state


# -- the worker's -----------------------------------------------------------------------------------


def claim(
    conn: Session | Connection, key: TIKey, *, token: str, hostname: str, pid: int, now: datetime
) -> tuple[int, int] | None:
    """A worker takes a queued compensation: ``(try_number, max_tries)``, or None if not its to take."""
    result = conn.execute(
        update(C)
        .where(_match(key), C.state == "queued", C.attempt_token == token)
        .values(
            state="running",
            try_number=C.try_number + 1,
            start_date=now,
            end_date=None,
            heartbeat_at=now,
            hostname=hostname,
            pid=pid,
            error=None,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    row = conn.execute(select(C.try_number, C.max_tries).where(_match(key))).first()
    assert row is not None
    return int(row[0]), int(row[1])


def heartbeat(conn: Session | Connection, key: TIKey, *, token: str, now: datetime) -> bool:
    """Record that the compensation runs; False if it is no longer this worker's."""
    result = conn.execute(
        update(C).where(_match(key), C.state == "running", C.attempt_token == token).values(heartbeat_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CompensationOutcome:
    state: TaskState
    start_date: datetime
    end_date: datetime
    not_before: datetime | None = None
    error: str | None = None
    log_path: str | None = None


def record(
    conn: Session | Connection,
    key: TIKey,
    *,
    token: str,
    outcome: CompensationOutcome,
    given_back: bool = False,
) -> bool:
    """Record a compensation try's end and its history row; False if it was not this worker's any more.

    ``given_back``: the try was stopped by a shutdown, so it does not count against the retries."""
    values: dict[str, Any] = {
        "state": outcome.state.value,
        "end_date": outcome.end_date,
        "not_before": outcome.not_before,
        "error": outcome.error,
        "log_path": outcome.log_path,
        "attempt_token": None,
    }
    if given_back:
        values["max_tries"] = C.max_tries + 1
    result = conn.execute(
        update(C).where(_match(key), C.state == "running", C.attempt_token == token).values(**values)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    row = conn.execute(select(C.try_number, C.hostname, C.pid, C.start_date).where(_match(key))).first()
    assert row is not None
    conn.execute(
        insert(CompensationTryRow).values(
            dag_id=key.dag_id,
            run_id=key.run_id,
            task_id=key.task_id,
            map_index=key.map_index,
            try_number=row[0],
            state=outcome.state.value,
            start_date=row[3],
            end_date=outcome.end_date,
            hostname=row[1],
            pid=row[2],
            error=outcome.error,
            log_path=outcome.log_path,
        )
    )
    return True


def _finish(
    session: Session,
    row: CompensationInstanceRow,
    state: TaskState,
    now: datetime,
    error: str,
    not_before: datetime | None,
) -> None:
    token = row.attempt_token or ""
    key = TIKey(row.dag_id, row.run_id, row.task_id, row.map_index)
    record(
        session,
        key,
        token=token,
        outcome=CompensationOutcome(state, row.start_date or now, now, not_before, error, row.log_path),
    )


# -- by hand: ``dagflow runs compensate`` and the API ------------------------------------------------


def begin(session: Session, run: DagRunRow, *, resume: bool, retries: Mapping[str, int]) -> int:
    """Start (or with ``resume``, restart) a run's compensation; returns how many failed compensations
    were given another round of tries (``retries``: each compensation's retries, by task or group id).
    The caller checked that the run may be compensated."""
    reset = 0
    if resume:
        for row in compensation_rows(session, RunKey(run.dag_id, run.run_id)):
            if row.state == TaskState.FAILED.value:
                row.state = TaskState.NONE.value
                row.max_tries = row.try_number + retries.get(row.task_id, 0)
                row.error = None
                reset += 1
    run.compensation_state = RunCompensation.COMPENSATING.value
    wake_after_commit(session)
    return reset


def forget(session: Session, key: RunKey) -> None:
    """Drop a run's compensation records (its task instances are being run again)."""
    session.execute(delete(C).where(C.dag_id == key.dag_id, C.run_id == key.run_id))


# -- reads for the web UI and the CLI ------------------------------------------------------------------


def tries_of(session: Session, key: TIKey) -> list[CompensationTryRow]:
    """The tries of one compensation, first first."""
    T = CompensationTryRow
    statement = (
        select(T)
        .where(
            T.dag_id == key.dag_id,
            T.run_id == key.run_id,
            T.task_id == key.task_id,
            T.map_index == key.map_index,
        )
        .order_by(T.try_number)
    )
    return list(session.scalars(statement))


def run_timeline(session: Session, key: RunKey) -> list[CompensationTryRow]:
    """Every compensation try of a run, in the order they started."""
    T = CompensationTryRow
    statement = select(T).where(T.dag_id == key.dag_id, T.run_id == key.run_id).order_by(T.start_date, T.id)
    return list(session.scalars(statement))


def handed_out(session: Session, key: RunKey) -> int:
    """How many of a run's compensations are queued or running now."""
    statement = select(C.task_id).where(
        C.dag_id == key.dag_id, C.run_id == key.run_id, C.state.in_(_HANDED_OUT)
    )
    return len(list(session.execute(statement)))


def states_of_runs(
    session: Session, *, dag_id: str, run_ids: Sequence[str]
) -> dict[tuple[str, str], list[str]]:
    """Compensation states of some runs of a DAG by (task or group id, run id): the grid and graph."""
    if not run_ids:
        return {}
    statement = select(C.task_id, C.run_id, C.state).where(C.dag_id == dag_id, C.run_id.in_(list(run_ids)))
    found: dict[tuple[str, str], list[str]] = {}
    for task_id, run_id, state in session.execute(statement):
        found.setdefault((task_id, run_id), []).append(state)
    return found
