"""Attempts whose worker is gone: detected by executor events or stale heartbeats, and recorded."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from dagflow.core.retries import next_retry_for, should_retry
from dagflow.core.states import TaskState
from dagflow.executors.base import Workload
from dagflow.runtime.tasklog import TaskLog, attempt_log_path
from dagflow.serialization import StoredDag
from dagflow.store import task_instances as ti_store
from dagflow.store.attempts import Outcome, record_outcome
from dagflow.store.models import JobRow, TaskInstanceRow
from dagflow.store.task_instances import TIKey

if TYPE_CHECKING:
    from dagflow.scheduler.job import Scheduler, SchedulerOptions, SchedulerState

log = logging.getLogger("dagflow.scheduler")
TI = TaskInstanceRow


def fail_attempt(scheduler: Scheduler, session: Any, workload: Workload, reason: str, now: datetime) -> None:
    """Record that an attempt ended without its worker recording it (the worker died or was killed)."""
    if workload.dag_callback:
        return
    key = workload.key
    row = session.get(TI, (key.dag_id, key.run_id, key.task_id, key.map_index))
    if row is None or row.attempt_token != workload.token:
        return
    if row.state == TaskState.QUEUED.value:  # never started: hand it out again
        ti_store.requeue(session, keys=[key], now=now)
        return
    if row.state != TaskState.RUNNING.value:
        return
    retry = should_retry(try_number=row.try_number, max_tries=row.max_tries)
    stored = scheduler.state.dags.get(key.dag_id)
    outcome = Outcome(
        state=TaskState.UP_FOR_RETRY if retry else TaskState.FAILED,
        start_date=row.start_date,
        end_date=now,
        not_before=retry_time(stored, key, row.try_number, now) if retry else None,
        error=reason,
    )
    if not record_outcome(session, key, token=workload.token, outcome=outcome, now=now):
        return  # its worker recorded the outcome after all, just now
    _append_to_log(scheduler, key, row.try_number, f"{reason}; marked {outcome.state.value}")
    log.warning("%s: %s; marked %s", workload.label, reason, outcome.state.value)


def _append_to_log(scheduler: Scheduler, key: TIKey, try_number: int, message: str) -> None:
    """Add the scheduler's account of the attempt's end to the attempt's own log."""
    path = attempt_log_path(
        scheduler.settings.log_folder, key.dag_id, key.run_id, key.task_id, key.map_index, try_number
    )
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


def adopt_or_reset(scheduler: Scheduler, session: Any, now: datetime) -> int:
    """Queued task instances of schedulers that are gone never reached a worker: hand them out again.

    Running ones are left to their workers, which may outlive their scheduler and still record the
    outcome; if those are gone too, their heartbeats go stale and :func:`check_zombies` fails them.
    Called at start and again by :func:`check_zombies`: a scheduler killed just before this one
    started still looks alive at first, and is noticed once its heartbeat goes stale.
    """
    threshold = now - timedelta(seconds=max(5 * scheduler.options.heartbeat_interval, 10))
    alive = list(
        session.scalars(
            select(JobRow.id).where(JobRow.state == "running", JobRow.latest_heartbeat >= threshold)
        )
    )
    if scheduler.job_id is not None and scheduler.job_id not in alive:  # a slow pass is no death
        alive.append(scheduler.job_id)
    for job in session.scalars(select(JobRow).where(JobRow.state == "running", JobRow.id.not_in(alive))):
        job.state, job.end_date = "failed", now
    return ti_store.requeue(session, not_job_ids=alive, now=now)


def check_zombies(scheduler: Scheduler, now: datetime) -> None:
    """Fail attempts whose heartbeat went stale, and hand out again queued work no live executor holds.

    Staleness is timed on this scheduler's monotonic clock, from when it first read an attempt's
    heartbeat unchanged, never by comparing the workers' timestamps with its own wall clock: a clock
    step (NTP) or hosts whose clocks differ cannot make every live attempt look dead at once.
    """
    options, state = scheduler.options, scheduler.state
    interval = max(1.0, options.task_heartbeat_timeout / 3)
    checked = time.monotonic()
    if state.last_zombie_check is not None and checked - state.last_zombie_check < interval:
        return
    state.last_zombie_check = checked
    with scheduler.db.session() as session:
        silent = _silent_attempts(state, ti_store.running_attempts(session), options, checked)
    # killed before the write below: a worker stopped inside a transaction holds its locks until then
    reasons = [_stop_silent_worker(scheduler, attempt.key) for attempt in silent]
    with scheduler.db.session(write=True) as session:
        for attempt, reason in zip(silent, reasons, strict=True):
            key = attempt.key
            workload = Workload(key, attempt.try_number, attempt.token or "", "")
            fail_attempt(scheduler, session, workload, reason, now)
            state.dirty_runs.add((key.dag_id, key.run_id))
        _requeue_lost(scheduler, session, now)
        requeued = adopt_or_reset(scheduler, session, now)
    if requeued:
        log.info("handing out again %d queued task instance(s) of a scheduler that is gone", requeued)


def _silent_attempts(
    state: SchedulerState,
    attempts: list[ti_store.RunningAttempt],
    options: SchedulerOptions,
    checked: float,
) -> list[ti_store.RunningAttempt]:
    """The attempts whose heartbeat has not moved for ``task_heartbeat_timeout`` seconds."""
    seen: dict[str, tuple[datetime | None, float]] = {}
    silent = []
    for attempt in attempts:
        token = attempt.token or attempt.key.label()
        last = state.heartbeats_seen.get(token)
        since = last[1] if last is not None and last[0] == attempt.heartbeat_at else checked
        seen[token] = (attempt.heartbeat_at, since)
        if checked - since >= options.task_heartbeat_timeout:
            silent.append(attempt)
    state.heartbeats_seen = seen
    return silent


def _stop_silent_worker(scheduler: Scheduler, key: TIKey) -> str:
    """Kill the worker of ours that holds a stale attempt, if one does; say why the attempt ended.

    A worker that is alive but silent (stopped, hung) must not wake up later and go on running the
    task beside its retry, so it is killed before the attempt is given up.
    """
    if scheduler.executor.kill(key, "killed: its heartbeat stopped"):
        return "its heartbeat stopped: the worker running it was stuck, and is killed"
    return "its heartbeat stopped: the worker running it is gone"


def _requeue_lost(scheduler: Scheduler, session: Any, now: datetime) -> None:
    held = set(scheduler.state.in_flight)
    older = now - timedelta(seconds=max(30.0, scheduler.options.task_heartbeat_timeout))
    query = select(TI.dag_id, TI.run_id, TI.task_id, TI.map_index, TI.attempt_token).where(
        TI.state == TaskState.QUEUED.value, TI.queued_by_job_id == scheduler.job_id, TI.queued_at < older
    )
    lost = [TIKey(d, r, t, m) for d, r, t, m, token in session.execute(query) if token not in held]
    if lost:
        ti_store.requeue(session, keys=lost, now=now)
