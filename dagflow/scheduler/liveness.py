"""Phase: attempts whose worker is gone, detected by executor events or stale heartbeats, and
attempts no worker took from their queue (an executor event), recorded as failed tries, with the
workloads that run their task's callbacks; queued work and task callbacks whose scheduler is gone
handed out again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from dagflow.core.keys import TIKey
from dagflow.core.retries import next_retry_for, should_retry
from dagflow.core.states import TaskState
from dagflow.executors import pending_callbacks
from dagflow.executors.base import Workload
from dagflow.runtime.tasklog import TaskLog, attempt_log_path
from dagflow.scheduler.dags import DagCache
from dagflow.scheduler.outcome import PassOutcome
from dagflow.serialization import StoredDag
from dagflow.store import Database, Session, handed_out, scheduling
from dagflow.store import jobs as job_store
from dagflow.store import task_instances as ti_store
from dagflow.store.attempts import Outcome, record_outcome
from dagflow.store.models import TaskInstanceRow

log = logging.getLogger("dagflow.scheduler")
#: Stops the attempt of a task instance if it runs in this scheduler's executor; True if it did.
Kill = Callable[[TIKey, str], bool]


def fail_attempt(
    session: Session,
    dags: DagCache,
    workload: Workload,
    reason: str,
    now: datetime,
    log_folder: Path,
    *,
    job_id: int | None = None,
) -> Workload | None:
    """Record that an attempt ended without its worker recording it (the worker died or was killed).
    Returns the workload that runs the task's callbacks for the try, for a worker, recorded as
    handed out by the scheduler ``job_id`` (see :func:`callbacks_of`), if this recorded it."""
    if workload.is_callback:
        return None
    key = workload.key
    row = scheduling.task_instance(session, key)
    if row is None or row.attempt_token != workload.token:
        return None
    if row.state == TaskState.QUEUED.value:  # never started: hand it out again
        ti_store.requeue(session, keys=[key], now=now)
        return None
    if row.state != TaskState.RUNNING.value:
        return None
    state, not_before = _failed_try(dags, key, row.try_number, row.max_tries, now)
    outcome = Outcome(
        state=state, start_date=row.start_date, end_date=now, not_before=not_before, error=reason
    )
    if not record_outcome(session, key, token=workload.token, outcome=outcome, now=now):
        return None  # its worker recorded the outcome after all, just now
    _append_to_log(log_folder, key, row.try_number, f"{reason}; marked {outcome.state.value}")
    log.warning("%s: %s; marked %s", workload.label, reason, outcome.state.value)
    return callbacks_of(session, dags, workload, row, state, reason, now, job_id=job_id)


def fail_unclaimed(
    session: Session,
    dags: DagCache,
    workload: Workload,
    reason: str,
    now: datetime,
    log_folder: Path,
    *,
    job_id: int | None = None,
) -> Workload | None:
    """Record a try that no worker took from its queue (its executor gave up sending it again) as a
    failed try, as Airflow's scheduler handles a task stuck in queued (``handle_failure``): up for
    retry, after its retry delay, while tries remain, else failed; in the try history either way.
    Nothing happens if the task instance is no longer queued with the workload's token (a worker took
    it meanwhile, or it was cleared or handed out again). Returns the workload that runs the task's
    callbacks for the try, if this recorded it."""
    key = workload.key
    row = scheduling.task_instance(session, key)
    if row is None or row.attempt_token != workload.token or row.state != TaskState.QUEUED.value:
        return None
    state, not_before = _failed_try(dags, key, row.try_number, row.max_tries, now)
    if not handed_out.fail_unclaimed(
        session, key, token=workload.token, state=state, not_before=not_before, error=reason, now=now
    ):
        return None  # a worker took it after all, just now
    _append_to_log(log_folder, key, row.try_number, f"{reason}; marked {state.value}")
    log.error("%s: %s; marked %s", workload.label, reason, state.value)
    return callbacks_of(session, dags, workload, row, state, reason, now, job_id=job_id)


def callbacks_of(
    session: Session,
    dags: DagCache,
    workload: Workload,
    row: TaskInstanceRow,
    state: TaskState,
    reason: str,
    now: datetime,
    *,
    job_id: int | None,
) -> Workload | None:
    """The workload that runs the task's ``on_retry_callback`` (``state`` up for retry) or
    ``on_failure_callback`` for a try the scheduler just recorded as ended, in a worker, as Airflow
    runs them for a zombie or a task stuck in queued. Made only by the write that ended the try,
    guarded by the try's token, so once (see :func:`~dagflow.executors.base.ended_try_callback`).
    Kept in the store by that same write, as handed out by the scheduler ``job_id``, until a worker
    ran it: a scheduler that dies before its executor has it leaves it to the next (see
    :func:`adopt_or_reset`). None if the DAG is gone."""
    stored = dags.get(session, workload.key.dag_id)
    if stored is None:
        return None
    return pending_callbacks.record_for_ended_try(
        session,
        workload,
        row,
        fileloc=stored.fileloc,
        state=state,
        reason=reason,
        handed_out_by=job_id,
        now=now,
    )


def lost_callbacks(session: Session, workload: Workload, *, started: bool) -> Workload | None:
    """A task callback workload lost with its worker: the workload to hand out again if the worker
    had not started it and it has not run since. One the worker had started is taken as run and
    forgotten: a callback that kills its worker must not be run again and again."""
    if not started:
        return workload if pending_callbacks.is_pending(session, workload) else None
    log.warning("%s: its worker died running the task's callbacks; not run again", workload.label)
    pending_callbacks.done(session, workload)
    return None


def _failed_try(
    dags: DagCache, key: TIKey, try_number: int, max_tries: int, now: datetime
) -> tuple[TaskState, datetime | None]:
    """What a try that failed now without its worker recording it leads to: up for retry (from when)
    while the task has tries left, else failed."""
    if not should_retry(try_number=try_number, max_tries=max_tries):
        return TaskState.FAILED, None
    return TaskState.UP_FOR_RETRY, retry_time(dags.peek(key.dag_id), key, try_number, now)


def _append_to_log(log_folder: Path, key: TIKey, try_number: int, message: str) -> None:
    """Add the scheduler's account of the attempt's end to the attempt's own log."""
    path = attempt_log_path(log_folder, key.dag_id, key.run_id, key.task_id, key.map_index, try_number)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as stream:
            TaskLog(stream).error(f"scheduler: {message}")
    except OSError as exc:  # the log is a courtesy: the store has the outcome
        log.warning("could not write to %s: %s", path, exc)


def retry_time(stored: StoredDag | None, key: TIKey, try_number: int, now: datetime) -> datetime:
    spec = stored.spec.tasks.get(key.task_id) if stored is not None else None
    if spec is None:
        return now
    return next_retry_for(spec, end_date=now, try_number=try_number, dag_id=key.dag_id, run_id=key.run_id)


@dataclass(frozen=True)
class Adopted:
    """What :func:`adopt_or_reset` took over from schedulers that are gone."""

    #: How many queued task instances go back to be handed out again.
    requeued: int
    #: The task callback workloads to hand to this scheduler's executor, once the write commits.
    callbacks: list[Workload]


def adopt_or_reset(
    session: Session, *, job_id: int | None, health_threshold: float, now: datetime
) -> Adopted:
    """Queued task instances of schedulers that are gone never reached a worker: hand them out again;
    so are the task callbacks they kept in the store that no worker ran (see :func:`callbacks_of`).

    A scheduler is gone once its heartbeat is older than ``[scheduler]
    scheduler_health_check_threshold`` (as Airflow's ``adopt_or_reset_orphaned_tasks``); any live
    scheduler may do this, and the guarded write lets only one of them hand each task instance out.
    Running ones are left to their workers, which may outlive their scheduler and still record the
    outcome; if those are gone too, their heartbeats go stale and :func:`check_liveness` fails them.
    Called at start and again by :func:`check_liveness`: a scheduler killed just before this one
    started still looks alive at first, and is noticed once its heartbeat goes stale. A callback a
    dead scheduler handed over may have run meanwhile without its worker forgetting it yet (or wait
    in a message at the broker): it runs again then, at least once across a crash.
    """
    alive_since = now - timedelta(seconds=health_threshold)
    alive = scheduling.fail_dead_schedulers(session, alive_since=alive_since, keep=job_id, now=now)
    requeued = ti_store.requeue(session, not_job_ids=alive, now=now)
    return Adopted(requeued, pending_callbacks.adopt(session, alive=alive, job_id=job_id, now=now))


def fail_dead_workers(session: Session, *, health_threshold: float, now: datetime) -> None:
    """Mark failed the rows of Celery workers silent for ``[scheduler]
    scheduler_health_check_threshold`` (their tries are failed by their own heartbeats, see
    :func:`check_liveness`); never at a scheduler's start on SQLite, where the threshold is zero."""
    alive_since = now - timedelta(seconds=health_threshold)
    if failed := job_store.fail_dead_workers(session, alive_since=alive_since, now=now):
        log.warning("%d worker(s) stopped heartbeating: marked failed", failed)


@dataclass
class HeartbeatWatch:
    """What liveness remembers between passes: when it last looked, and each running attempt's
    heartbeat as last read with when it was first read so (on this scheduler's monotonic clock)."""

    last_check: float | None = None
    seen: dict[str, tuple[datetime | None, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class LivenessSettings:
    task_heartbeat_timeout: float
    health_threshold: float
    log_folder: Path
    job_id: int | None


def check_liveness(
    db: Database,
    watch: HeartbeatWatch,
    dags: DagCache,
    *,
    settings: LivenessSettings,
    in_flight: Collection[str],
    kill: Kill,
    now: datetime,
) -> PassOutcome:
    """Fail attempts whose heartbeat went stale, and hand out again queued work no live executor holds.

    Staleness is timed on this scheduler's monotonic clock, from when it first read an attempt's
    heartbeat unchanged, never by comparing the workers' timestamps with its own wall clock: a clock
    step (NTP) or hosts whose clocks differ cannot make every live attempt look dead at once.
    """
    outcome = PassOutcome()
    interval = max(1.0, settings.task_heartbeat_timeout / 3)
    checked = time.monotonic()
    if watch.last_check is not None and checked - watch.last_check < interval:
        return outcome
    watch.last_check = checked
    with db.session() as session:
        silent = _silent_attempts(watch, ti_store.running_attempts(session), settings, checked)
    # killed before the write below: a worker stopped inside a transaction holds its locks until then
    reasons = [_stop_silent_worker(kill, attempt.key) for attempt in silent]
    with db.session(write=True) as session:
        for attempt, reason in zip(silent, reasons, strict=True):
            workload = Workload(attempt.key, attempt.try_number, attempt.token or "", "")
            callbacks = fail_attempt(
                session, dags, workload, reason, now, settings.log_folder, job_id=settings.job_id
            )
            if callbacks is not None:  # handed to the executor once this transaction has committed
                outcome.submit.append(callbacks)
            outcome.dirty.add(attempt.key.run)
        _requeue_lost(session, settings, in_flight, now)
        adopted = adopt_or_reset(
            session, job_id=settings.job_id, health_threshold=settings.health_threshold, now=now
        )
        fail_dead_workers(session, health_threshold=settings.health_threshold, now=now)
    log_adopted(adopted)
    outcome.submit.extend(adopted.callbacks)  # handed to the executor once the write has committed
    return outcome


def log_adopted(adopted: Adopted) -> None:
    if adopted.requeued:
        log.info("handing out again %d queued task instance(s) of a scheduler that is gone", adopted.requeued)
    if adopted.callbacks:
        log.info("handing out %d task callback(s) no worker ran", len(adopted.callbacks))


def _silent_attempts(
    watch: HeartbeatWatch, attempts: list[ti_store.RunningAttempt], settings: LivenessSettings, checked: float
) -> list[ti_store.RunningAttempt]:
    """The attempts whose heartbeat has not moved for ``task_heartbeat_timeout`` seconds."""
    seen: dict[str, tuple[datetime | None, float]] = {}
    silent = []
    for attempt in attempts:
        token = attempt.token or attempt.key.label()
        last = watch.seen.get(token)
        since = last[1] if last is not None and last[0] == attempt.heartbeat_at else checked
        seen[token] = (attempt.heartbeat_at, since)
        if checked - since >= settings.task_heartbeat_timeout:
            silent.append(attempt)
    watch.seen = seen
    return silent


def _stop_silent_worker(kill: Kill, key: TIKey) -> str:
    """Kill the worker of ours that holds a stale attempt, if one does; say why the attempt ended.

    A worker that is alive but silent (stopped, hung) must not wake up later and go on running the
    task beside its retry, so it is killed before the attempt is given up.
    """
    if kill(key, "killed: its heartbeat stopped"):
        return "its heartbeat stopped: the worker running it was stuck, and is killed"
    return "its heartbeat stopped: the worker running it is gone"


def _requeue_lost(
    session: Session, settings: LivenessSettings, in_flight: Collection[str], now: datetime
) -> None:
    """Queued task instances this scheduler handed out long ago and its executor no longer holds."""
    older = now - timedelta(seconds=max(30.0, settings.task_heartbeat_timeout))
    stale = scheduling.stale_queued(session, job_id=settings.job_id, queued_before=older)
    lost = [key for key, token in stale if token not in in_flight]
    if lost:
        ti_store.requeue(session, keys=lost, now=now)
