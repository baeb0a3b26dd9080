"""The scheduler loop.

Each pass: collect what the executor and the DAG processor reported, fail attempts whose worker
died or stopped heartbeating, create runs that are due, start queued runs, decide every run that
changed (:func:`dagflow.decisions.decide`), and queue the task instances that may run within the
limits. Between passes it sleeps until something happens — an attempt finished, a run was
triggered, a DAG file changed — or until the next timed event (a run due, a retry due).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, select

from dagflow.config import Settings
from dagflow.decisions import Key, decide
from dagflow.execution.taskrunner import utcnow
from dagflow.executors.base import Executor, ExecutorEvent, Workload
from dagflow.retries import next_try_at, should_retry
from dagflow.scheduler import dispatch
from dagflow.scheduler import runs as run_ops
from dagflow.scheduler.processor import ProcessorSettings, processor_main
from dagflow.scheduler.wakeup import WakeupListener
from dagflow.serialization import StoredDag
from dagflow.states import RunState, TaskState
from dagflow.store import dags as dag_store
from dagflow.store import task_instances as ti_store
from dagflow.store.engine import Database
from dagflow.store.models import DagRow, DagRunRow, JobRow, PoolRow, TaskInstanceRow, XComRow
from dagflow.store.task_instances import Outcome, TIKey

log = logging.getLogger("dagflow.scheduler")
TI = TaskInstanceRow
DEFAULT_POOL_SLOTS = 128


@dataclass
class SchedulerOptions:
    """The scheduler's knobs, read from settings by :meth:`from_settings` (tests build them directly)."""

    parallelism: int = 32
    heartbeat_interval: float = 1.0
    task_heartbeat_timeout: float = 30.0
    queued_timeout: float = 600.0
    max_wait: float = 5.0
    run_processor: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> SchedulerOptions:
        return cls(
            parallelism=settings.getint("core", "parallelism"),
            heartbeat_interval=settings.getfloat("scheduler", "heartbeat_sec"),
            task_heartbeat_timeout=settings.getfloat("scheduler", "task_heartbeat_timeout"),
        )


@dataclass
class _State:
    dags: dict[str, StoredDag] = field(default_factory=dict)
    dirty_runs: set[tuple[str, str]] = field(default_factory=set)
    changed_since: datetime | None = None
    next_timed: datetime | None = None
    last_zombie_check: datetime | None = None
    last_heartbeat: datetime | None = None


class Scheduler:
    """One scheduler process (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        executor: Executor,
        *,
        options: SchedulerOptions | None = None,
        db: Database | None = None,
    ):
        self.settings = settings
        self.options = options or SchedulerOptions.from_settings(settings)
        self.db = db or Database(settings.database_url)
        self.executor = executor
        self.state = _State()
        self.job_id: int | None = None
        self.stopping = False
        self._processor: Any = None
        self._processor_conn: Any = None
        self._wakeup: WakeupListener | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        now = utcnow()
        with self.db.session(write=True) as session:
            job = JobRow(
                job_type="scheduler",
                state="running",
                hostname=socket.gethostname(),
                pid=os.getpid(),
                start_date=now,
                latest_heartbeat=now,
            )
            session.add(job)
            session.flush()
            self.job_id = job.id
            _ensure_default_pool(session)
            reset = self._adopt_or_reset(session, now)
        if reset:
            log.info("reset %d queued task instance(s) left by a scheduler that is gone", reset)
        self.executor.start()
        self._wakeup = WakeupListener(self.settings.home)
        if self.options.run_processor:
            self._start_processor()
        self._reload_dags(None)
        self.state.dirty_runs |= self._running_runs()

    def _adopt_or_reset(self, session: Any, now: datetime) -> int:
        """Queued task instances of schedulers that are gone never reached a worker: queue them again.

        Running ones are left to their workers (which may outlive their scheduler and still record the
        outcome); if those are gone too, their heartbeats go stale and the zombie check fails them.
        """
        threshold = now - timedelta(seconds=max(5 * self.options.heartbeat_interval, 10))
        alive = list(
            session.scalars(
                select(JobRow.id).where(JobRow.state == "running", JobRow.latest_heartbeat >= threshold)
            )
        )
        for job in session.scalars(select(JobRow).where(JobRow.state == "running", JobRow.id.not_in(alive))):
            job.state, job.end_date = "failed", now
        return ti_store.reset_queued(session, not_job_ids=alive, now=now)

    def _start_processor(self) -> None:
        settings = ProcessorSettings(
            database_url=self.settings.database_url,
            dags_folder=str(self.settings.dags_folder),
            import_timeout=self.settings.getfloat("core", "dagbag_import_timeout"),
            parse_interval=self.settings.getfloat("scheduler", "parse_interval"),
            paused_at_creation=self.settings.getbool("core", "dags_are_paused_at_creation"),
        )
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        self._processor = context.Process(
            target=processor_main,
            args=(settings, sender, os.getpid()),
            name="dagflow-dag-processor",
            daemon=True,
        )
        self._processor.start()
        sender.close()
        self._processor_conn = receiver

    def stop(self, *_: Any) -> None:
        self.stopping = True

    def shutdown(self) -> None:
        """Stop cleanly: stop the workers, record the attempts that were stopped, give back queued work."""
        now = utcnow()
        unfinished = self.executor.end()
        events = self.executor.poll()
        self._handle_events(events, now)
        with self.db.session(write=True) as session:
            reset = ti_store.reset_queued(session, keys=[_key(w) for w in unfinished], now=now)
            job = session.get(JobRow, self.job_id)
            if job is not None:
                job.state, job.end_date = "success", now
                job.detail = {"stopped_attempts": [w.label for w in unfinished], "requeued": reset}
        if self._processor is not None:
            self._processor.terminate()
            self._processor.join(5)
        if self._wakeup is not None:
            self._wakeup.close()
        log.info("scheduler stopped; %d attempt(s) were stopped and will run again", len(unfinished))

    def run(self, *, max_passes: int | None = None, until_idle: bool = False) -> None:
        """Loop until stopped (SIGTERM, SIGINT), after ``max_passes`` passes, or once no run is active."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.start()
        passes = 0
        try:
            while not self.stopping:
                self.run_once()
                passes += 1
                if max_passes is not None and passes >= max_passes:
                    break
                if until_idle and self._idle():
                    break
                self.wait()
        finally:
            self.shutdown()

    # -- one pass -------------------------------------------------------------------------------

    def run_once(self) -> None:
        now = utcnow()
        self._handle_events(self.executor.poll(), now)
        self._read_processor()
        self._heartbeat(now)
        self._check_zombies(now)
        self.state.next_timed = None
        with self.db.session(write=True) as session:
            run_ops.create_due_runs(self, session, now)
            run_ops.start_queued_runs(self, session, now)
        self._collect_changed_runs(now)
        candidates = self._decide_runs(now)
        self._queue(candidates, now)

    def wait(self) -> None:
        waitables: list[Any] = list(self.executor.waitables())
        if self._wakeup is not None:
            waitables.append(self._wakeup.sock)
        if self._processor_conn is not None:
            waitables.append(self._processor_conn)
        timeout = self.options.max_wait
        if self.state.next_timed is not None:
            timeout = min(timeout, max(0.0, (self.state.next_timed - utcnow()).total_seconds()))
        if self.state.dirty_runs:
            timeout = 0.0
        if self.executor.outstanding():
            timeout = min(timeout, self.options.heartbeat_interval)
        multiprocessing.connection.wait(waitables, timeout)
        if self._wakeup is not None:
            self._wakeup.drain()

    def _idle(self) -> bool:
        with self.db.session() as session:
            active = session.scalar(
                select(func.count()).select_from(DagRunRow).where(DagRunRow.state.in_(run_ops.ACTIVE))
            )
        return not active and not self.executor.outstanding()

    # -- reports from the executor and the DAG processor -----------------------------------------

    def _handle_events(self, events: list[ExecutorEvent], now: datetime) -> None:
        lost = [e for e in events if e.kind == "lost"]
        for event in events:
            self.state.dirty_runs.add((event.workload.dag_id, event.workload.run_id))
        if lost:
            with self.db.session(write=True) as session:
                for event in lost:
                    self._fail_attempt(session, event.workload, event.detail, now)

    def _fail_attempt(self, session: Any, workload: Workload, reason: str, now: datetime) -> None:
        """Record that an attempt ended without its worker recording it (the worker died or was killed)."""
        key = _key(workload)
        if workload.dag_callback:
            return
        row = session.get(TI, (key.dag_id, key.run_id, key.task_id, key.map_index))
        if row is None or row.attempt_token != workload.token:
            return
        if row.state == TaskState.QUEUED.value:  # never started: simply queue it again
            ti_store.reset_queued(session, keys=[key], now=now)
            return
        if row.state != TaskState.RUNNING.value:
            return
        retry = should_retry(try_number=row.try_number, max_tries=row.max_tries)
        stored = self.state.dags.get(key.dag_id)
        not_before = None
        if retry:
            not_before = _retry_time(stored, key.task_id, row.try_number, now, key)
        outcome = Outcome(
            state=TaskState.UP_FOR_RETRY if retry else TaskState.FAILED,
            start_date=row.start_date,
            end_date=now,
            not_before=not_before,
            error=reason,
        )
        ti_store.record_outcome(session, key, token=workload.token, outcome=outcome, now=now)
        log.warning("%s: %s; marked %s", workload.label, reason, outcome.state.value)

    def _read_processor(self) -> None:
        conn = self._processor_conn
        changed: set[str] = set()
        while conn is not None and conn.poll():
            try:
                changed.update(conn.recv())
            except (EOFError, OSError):
                self._processor_conn = None
                break
        if changed:
            self._reload_dags(changed)

    def _reload_dags(self, dag_ids: set[str] | None) -> None:
        with self.db.session() as session:
            found = dag_store.stored_dags(session, dag_ids)
            active = set(session.scalars(select(DagRow.dag_id).where(DagRow.is_active.is_(True))))
        if dag_ids is None:
            self.state.dags = found
        else:
            self.state.dags.update(found)
        for dag_id in list(self.state.dags):
            if dag_id not in active:
                del self.state.dags[dag_id]

    def stored_dag(self, session: Any, dag_id: str) -> StoredDag | None:
        stored = self.state.dags.get(dag_id)
        if stored is None:
            stored = dag_store.stored_dags(session, [dag_id]).get(dag_id)
            if stored is not None:
                self.state.dags[dag_id] = stored
        return stored

    # -- liveness ---------------------------------------------------------------------------------

    def _heartbeat(self, now: datetime) -> None:
        last = self.state.last_heartbeat
        if last is not None and (now - last).total_seconds() < self.options.heartbeat_interval:
            return
        with self.db.session(write=True) as session:
            job = session.get(JobRow, self.job_id)
            if job is not None:
                job.latest_heartbeat = now
        self.state.last_heartbeat = now

    def _check_zombies(self, now: datetime) -> None:
        """Fail attempts whose heartbeat went stale, and requeue queued work that no executor holds."""
        interval = max(1.0, self.options.task_heartbeat_timeout / 3)
        last = self.state.last_zombie_check
        if last is not None and (now - last).total_seconds() < interval:
            return
        self.state.last_zombie_check = now
        stale_before = now - timedelta(seconds=self.options.task_heartbeat_timeout)
        with self.db.session(write=True) as session:
            for attempt in ti_store.running_attempts(session, heartbeat_before=stale_before):
                workload = Workload(
                    attempt.key.dag_id,
                    attempt.key.run_id,
                    attempt.key.task_id,
                    attempt.key.map_index,
                    attempt.try_number,
                    attempt.token or "",
                    "",
                )
                self._fail_attempt(session, workload, "its heartbeat stopped (the worker is gone)", now)
                self.state.dirty_runs.add((attempt.key.dag_id, attempt.key.run_id))
            self._requeue_lost_queued(session, now)

    def _requeue_lost_queued(self, session: Any, now: datetime) -> None:
        tokens = getattr(self.executor, "outstanding_tokens", None)
        if tokens is None:
            return
        held = tokens()
        older = now - timedelta(seconds=max(30.0, self.options.task_heartbeat_timeout))
        query = select(TI.dag_id, TI.run_id, TI.task_id, TI.map_index, TI.attempt_token).where(
            TI.state == TaskState.QUEUED.value, TI.queued_by_job_id == self.job_id, TI.queued_at < older
        )
        lost = [TIKey(d, r, t, m) for d, r, t, m, token in session.execute(query) if token not in held]
        if lost:
            ti_store.reset_queued(session, keys=lost, now=now)

    # -- deciding runs ----------------------------------------------------------------------------

    def _running_runs(self) -> set[tuple[str, str]]:
        with self.db.session() as session:
            query = select(DagRunRow.dag_id, DagRunRow.run_id).where(
                DagRunRow.state == RunState.RUNNING.value
            )
            return {(d, r) for d, r in session.execute(query)}

    def _collect_changed_runs(self, now: datetime) -> None:
        """Runs whose task instances someone changed since the last pass, or whose retry is due."""
        since = self.state.changed_since
        self.state.changed_since = now - timedelta(seconds=2)
        with self.db.session() as session:
            due = select(distinct(TI.dag_id), TI.run_id).where(
                TI.state.in_((TaskState.UP_FOR_RETRY.value, TaskState.UP_FOR_RESCHEDULE.value)),
                TI.not_before <= now,
            )
            found = {(d, r) for d, r in session.execute(due)}
            if since is None:
                found |= self._running_runs()
            else:
                changed = select(distinct(TI.dag_id), TI.run_id).where(TI.updated_at >= since)
                found |= {(d, r) for d, r in session.execute(changed)}
        self.state.dirty_runs |= found

    def _decide_runs(self, now: datetime) -> list[dispatch.Candidate]:
        dirty, self.state.dirty_runs = self.state.dirty_runs, set()
        candidates: list[dispatch.Candidate] = []
        for dag_id, run_id in sorted(dirty):
            with self.db.session(write=True) as session:
                candidates.extend(self._decide_run(session, dag_id, run_id, now))
        return candidates

    def _decide_run(self, session: Any, dag_id: str, run_id: str, now: datetime) -> list[dispatch.Candidate]:
        run = session.scalars(
            select(DagRunRow).where(DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id)
        ).first()
        if run is None or run.state != RunState.RUNNING.value:
            return []
        stored = self.stored_dag(session, dag_id)
        if stored is None:
            return []
        if run_ops.timed_out(stored, run, now):
            run_ops.fail_timed_out_run(self, session, stored, run, now)
            return []
        records = ti_store.load_records(session, dag_id, run_id)
        decisions = decide(
            stored.spec, records, now=now, length_of=lambda t: _length_of(session, stored, run, t)
        )
        ti_store.apply_new_states(session, dag_id, run_id, decisions.new_states, now)
        for task_id, count in decisions.expansions.items():
            ti_store.expand_mapped(session, stored.spec, dag_id, run_id, task_id, count, now)
        if decisions.expansions or decisions.new_states:
            self.state.dirty_runs.add((dag_id, run_id))
        if decisions.waiting_until is not None:
            self._timed(decisions.waiting_until)
        if decisions.run_state is not None:
            run_ops.finish_run(self, session, stored, run, decisions.run_state, now)
            return []
        by_key = {r.key: r for r in records}
        return [_candidate(stored, run, by_key[key]) for key in decisions.ready if key in by_key]

    def _timed(self, when: datetime) -> None:
        if self.state.next_timed is None or when < self.state.next_timed:
            self.state.next_timed = when

    # -- queueing -----------------------------------------------------------------------------------

    def _queue(self, candidates: list[dispatch.Candidate], now: datetime) -> None:
        if not candidates:
            return
        with self.db.session(write=True) as session:
            paused = set(session.scalars(select(DagRow.dag_id).where(DagRow.is_paused.is_(True))))
            candidates = [c for c in candidates if c.dag_id not in paused]
            busy = _busy(session)
            pools = {name: slots for name, slots in session.execute(select(PoolRow.name, PoolRow.slots))}
            limits = {d: s.max_active_tasks for d, s in self.state.dags.items()}
            choice = dispatch.choose(
                candidates, busy, parallelism=self.options.parallelism, max_active_tasks=limits, pools=pools
            )
            items, workloads = self._workloads(session, choice.chosen)
            ti_store.queue(session, items, now=now, job_id=self.job_id)
        self.executor.submit(workloads)

    def _workloads(self, session: Any, chosen: list[dispatch.Candidate]) -> tuple[list[Any], list[Workload]]:
        items, workloads = [], []
        for c in chosen:
            row = session.get(TI, (c.dag_id, c.run_id, c.task_id, c.map_index))
            stored = self.state.dags.get(c.dag_id)
            if row is None or stored is None:
                continue
            resumed = row.state == TaskState.UP_FOR_RESCHEDULE.value
            try_number = row.try_number if resumed and row.try_number else row.try_number + 1
            token = uuid.uuid4().hex
            key = TIKey(c.dag_id, c.run_id, c.task_id, c.map_index)
            items.append(ti_store.QueueItem(key, try_number, token, row.state))
            spec = stored.spec.tasks[c.task_id]
            workloads.append(
                Workload(
                    c.dag_id,
                    c.run_id,
                    c.task_id,
                    c.map_index,
                    try_number,
                    token,
                    stored.fileloc,
                    execution_timeout=spec.execution_timeout,
                    priority_weight=c.priority_weight,
                )
            )
        return items, workloads


def _key(workload: Workload) -> TIKey:
    return TIKey(workload.dag_id, workload.run_id, workload.task_id, workload.map_index)


def _ensure_default_pool(session: Any) -> None:
    if session.get(PoolRow, "default_pool") is None:
        session.add(PoolRow(name="default_pool", slots=DEFAULT_POOL_SLOTS, description="Default pool"))


def _retry_time(
    stored: StoredDag | None, task_id: str, try_number: int, now: datetime, key: TIKey
) -> datetime:
    spec = stored.spec.tasks.get(task_id) if stored is not None else None
    if spec is None:
        return now
    return next_try_at(
        now,
        try_number=try_number,
        delay=timedelta(seconds=spec.retry_delay),
        exponential_backoff=spec.retry_exponential_backoff,
        max_delay=timedelta(seconds=spec.max_retry_delay) if spec.max_retry_delay is not None else None,
        jitter_key=f"{key.dag_id}#{key.task_id}#{key.run_id}",
    )


def _length_of(session: Any, stored: StoredDag, run: DagRunRow, task_id: str) -> int | None:
    """How many values ``task_id``'s output offers to map over in this run (None if it pushed none)."""
    if stored.spec.tasks[task_id].is_mapped:
        return int(
            session.scalar(
                select(func.count())
                .select_from(XComRow)
                .where(
                    XComRow.dag_id == run.dag_id,
                    XComRow.run_id == run.run_id,
                    XComRow.task_id == task_id,
                    XComRow.key == "return_value",
                    XComRow.map_index >= 0,
                )
            )
            or 0
        )
    return session.scalar(
        select(TI.map_length).where(
            TI.dag_id == run.dag_id, TI.run_id == run.run_id, TI.task_id == task_id, TI.map_index == -1
        )
    )


def _candidate(stored: StoredDag, run: DagRunRow, record: Any) -> dispatch.Candidate:
    spec = stored.spec.tasks[record.task_id]
    return dispatch.Candidate(
        dag_id=run.dag_id,
        run_id=run.run_id,
        task_id=record.task_id,
        map_index=record.map_index,
        priority_weight=spec.priority_weight,
        pool=spec.pool,
        pool_slots=spec.pool_slots,
        run_after=run.run_after,
        max_active_tis_per_dag=spec.max_active_tis_per_dag,
        max_active_tis_per_dagrun=spec.max_active_tis_per_dagrun,
    )


def _busy(session: Any) -> dispatch.Busy:
    busy = dispatch.Busy()
    for dag_id, run_id, task_id, pool, count, slots in map(tuple, ti_store.busy_counts(session)):
        busy.total += count
        busy.by_dag[dag_id] += count
        busy.pool_slots[pool] += int(slots or 0)
        busy.by_dag_task[(dag_id, task_id)] += count
        busy.by_run_task[(dag_id, run_id, task_id)] += count
    return busy


def key_of(record: Any) -> Key:
    return (record.task_id, record.map_index)
