"""The scheduler loop: the only place that merges what the phases decided into the scheduler's state.

Each pass: collect what the executor and the DAG processor reported, fail attempts whose worker
died or stopped heartbeating (:mod:`liveness`), create runs that are due and start queued runs
(:mod:`create_runs`), decide every run that changed (:mod:`decide_runs`), and queue the scheduled
task instances that fit within the limits (:mod:`queue_tasks`). Each phase is a function of its
inputs that returns a :class:`~dagflow.scheduler.outcome.PassOutcome`; this module merges them and
hands their workloads to the executor. Between passes it sleeps until something happens — an
attempt finished, a commit woke it (:mod:`dagflow.store.notify`), a DAG file changed — or until the
next timed event (a run due, a retry due).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing.connection
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dagflow.config import Settings
from dagflow.core.clock import utcnow
from dagflow.core.keys import RunKey
from dagflow.executors.base import EventKind, Executor, ExecutorEvent, Workload
from dagflow.metrics.instruments import MetricsSettings, SchedulerMetrics
from dagflow.scheduler import (
    compensate_runs,
    compensation_liveness,
    create_runs,
    decide_runs,
    liveness,
    queue_tasks,
)
from dagflow.scheduler.dags import DagCache
from dagflow.scheduler.outcome import PassOutcome
from dagflow.scheduler.processor import ProcessorSettings, processor_main
from dagflow.scheduler.runcache import RunCache
from dagflow.scheduler.sole import SoleSchedulerLock
from dagflow.store import Database, Session, planner, scheduling
from dagflow.store import compensations as comp_store
from dagflow.store import jobs as job_store
from dagflow.store import task_instances as ti_store
from dagflow.store.notify import Listener, Wakeups, listen, wake_after_commit
from dagflow.store.ownership import RunOwnership
from dagflow.utils import processes
from dagflow.utils.net import hostname

log = logging.getLogger("dagflow.scheduler")
#: With several schedulers, how often every running run is looked at: a run whose owner died while
#: nothing in it changed is taken over then.
FULL_LOOK_EVERY = 5.0


@dataclass
class SchedulerOptions:
    """The scheduler's knobs, read from settings by :meth:`from_settings` (tests build them directly)."""

    parallelism: int = 32
    heartbeat_interval: float = 1.0
    #: A scheduler whose heartbeat is older than this is taken for dead: its queued work is handed out
    #: again by the others (``[scheduler] scheduler_health_check_threshold``).
    health_threshold: float = 30.0
    task_heartbeat_timeout: float = 30.0
    max_wait: float = 5.0
    #: While the workers have a backlog, passes are spaced at least this far apart so each handles a
    #: batch; with no backlog a finished attempt is acted on at once.
    batch_interval: float = 0.02
    #: How often to look for changes made by others (CLI, web UI, other schedulers, orphaned workers).
    poll_interval: float = 0.1
    #: Woken only by outcomes of attempts other schedulers handed out (their owners follow them up),
    #: a scheduler makes a pass at most this often, rather than at each of them. With task instances
    #: waiting for a slot, at least this often: other schedulers' outcomes may free it, and reach
    #: only them.
    others_outcomes_interval: float = 0.2
    #: Passes may fail a few times in a row (the store restarting); this many in a row stop the daemon.
    max_failed_passes: int = 30
    run_processor: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> SchedulerOptions:
        return cls(
            parallelism=settings.getint("core", "parallelism"),
            heartbeat_interval=settings.getfloat("scheduler", "heartbeat_sec"),
            health_threshold=settings.getfloat("scheduler", "scheduler_health_check_threshold"),
            task_heartbeat_timeout=settings.getfloat("scheduler", "task_heartbeat_timeout"),
        )


@dataclass
class SchedulerState:
    """What the loop carries from one pass to the next; only the loop writes it."""

    dirty_runs: set[RunKey] = field(default_factory=set)
    #: Whether a table the tasks write may still have no statistics (see :mod:`dagflow.store.planner`).
    tables_without_statistics: bool = True
    #: Wake-ups drained while waiting and not yet acted on by a pass.
    wakeups: Wakeups = field(default_factory=Wakeups)
    #: Runs with task instances held back by ``depends_on_past``: looked at again every poll.
    recheck_runs: set[RunKey] = field(default_factory=set)
    #: When running runs reach their ``dagrun_timeout``: each is looked at again then.
    run_deadlines: dict[RunKey, datetime] = field(default_factory=dict)
    #: Running runs of paused DAGs, decided again once their DAG is unpaused.
    held_by_pause: set[RunKey] = field(default_factory=set)
    #: The workloads handed to the executor and not reported back yet, by token.
    in_flight: dict[str, Workload] = field(default_factory=dict)
    changed_since: datetime | None = None
    #: When every running run was last looked at (others' runs are taken over if their owner died).
    last_full_look: float = 0.0
    next_timed: datetime | None = None
    last_heartbeat: datetime | None = None
    last_poll: float = 0.0
    last_pass: float = 0.0
    failed_passes: int = 0
    #: How many other schedulers were alive at the last heartbeat (PostgreSQL; until then, assumed
    #: one), and on how many machines, this one's included (until then, assumed one).
    other_schedulers: int = 1
    scheduler_hosts: int = 1
    #: Whether the last pass left task instances waiting for a slot (see ``queue_scheduled``).
    waiting_for_slots: bool = False
    #: Look at the runs being compensated on this pass (something that may move them happened).
    compensation_due: bool = True
    last_compensation_check: float | None = None

    def merge(self, outcome: PassOutcome) -> list[Workload]:
        """Take in what a phase decided; return the workloads it wants handed out."""
        self.dirty_runs |= outcome.dirty
        self.recheck_runs |= outcome.recheck
        self.run_deadlines.update(outcome.deadlines)
        if outcome.wake_at is not None:
            self.timed(outcome.wake_at)
        return outcome.submit

    def timed(self, when: datetime) -> None:
        """Wake up no later than ``when``."""
        if self.next_timed is None or when < self.next_timed:
            self.next_timed = when

    def due_deadlines(self, now: datetime) -> set[RunKey]:
        """Runs whose ``dagrun_timeout`` has passed (each reported once)."""
        due = {key for key, deadline in self.run_deadlines.items() if deadline <= now}
        for key in due:
            del self.run_deadlines[key]
        return due


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
        # no ping before each checkout (a round trip per transaction of the loop): a connection the
        # server dropped fails its pass, which is retried on a new one (see _guarded_pass)
        self.db = db or Database(settings.database_url, pool_pre_ping=False)
        self.executor = executor
        self.state = SchedulerState()
        self.dags = DagCache()
        self.cache = RunCache()
        self.ownership = RunOwnership(self.db)
        self.heartbeats = liveness.HeartbeatWatch()
        self.metrics = SchedulerMetrics(MetricsSettings.from_settings(settings), self.db)
        self.job_id: int | None = None
        #: This machine's name on the scheduler's job row (``[core] hostname_callable``).
        self.hostname = hostname(settings)
        self.stopping = False
        self._processor: Any = None
        self._sole: SoleSchedulerLock | None = None
        self._processor_conn: Any = None
        self._wakeup: Listener | None = None
        #: Written to by :meth:`stop` (a signal handler) to end the wait of an idle loop at once.
        self._stop_reader, self._stop_writer = socket.socketpair()
        self._stop_reader.setblocking(False)
        self._stop_writer.setblocking(False)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        now = utcnow()
        threshold = self.options.health_threshold
        sqlite_file = self.db.sqlite_file
        if sqlite_file is not None:
            self._sole = SoleSchedulerLock(sqlite_file)
            self._sole.acquire()  # refuses a second scheduler on one SQLite file
            threshold = 0.0  # holding the lock proves every other scheduler of this file is gone
        with self.db.session(write=True) as session:
            self.job_id = scheduling.register_scheduler(
                session, hostname=self.hostname, pid=os.getpid(), now=now
            )
            self.ownership.seed = self.job_id
            adopted = liveness.adopt_or_reset(
                session, job_id=self.job_id, health_threshold=threshold, now=now
            )
        liveness.log_adopted(adopted)
        self._apply_workloads(adopted.callbacks)
        self._wakeup = listen(self.settings.database_url, scheduler=self.job_id)
        self.metrics.serve()
        if self.options.run_processor:
            self._start_processor()
        self._reload_dags(None)
        gc.freeze()  # what the scheduler set up to keep stays out of the collector's later passes

    def _start_processor(self) -> None:
        settings = ProcessorSettings(
            database_url=self.settings.database_url,
            dags_folder=str(self.settings.dags_folder),
            import_timeout=self.settings.getfloat("core", "dagbag_import_timeout"),
            parse_interval=self.settings.getfloat("scheduler", "parse_interval"),
            paused_at_creation=self.settings.getbool("core", "dags_are_paused_at_creation"),
            cron_data_intervals=self.settings.getbool("scheduler", "create_cron_data_intervals"),
            airflow_compat=self.settings.getbool("core", "airflow_compat"),
        )
        receiver, sender = processes.CONTEXT.Pipe(duplex=False)
        self._processor = processes.process(
            processor_main, (settings, sender), name="dagflow-dag-processor", daemon=True
        )
        self._processor.start()
        sender.close()
        self._processor_conn = receiver

    def stop(self, *_: Any) -> None:
        self.stopping = True
        with contextlib.suppress(OSError):  # end the wait of an idle loop now, not up to max_wait later
            self._stop_writer.send(b"!")

    def shutdown(self) -> None:
        """Stop cleanly: stop the workers, record the attempts that were stopped, give back queued work."""
        now = utcnow()
        unfinished = self.executor.close()
        events = self.executor.events()
        self._handle_events(events, now)
        # the workers recorded the attempts they stopped (state back to none); ones that would not
        # stop were killed and are recorded as lost; queued ones that never started are given back
        stopped = [e.workload.label for e in events if e.kind is EventKind.FINISHED and e.state == "none"]
        killed = [e.workload.label for e in events if e.kind is EventKind.LOST and e.started]
        with self.db.session(write=True) as session:
            # what this scheduler queued and no worker started (its executor's unsent or unstarted
            # workloads, a Celery message still at the broker): never another scheduler's
            if self.job_id is not None:
                requeued = ti_store.requeue(session, job_id=self.job_id, now=now)
            else:
                requeued = ti_store.requeue(
                    session, keys=[w.key for w in unfinished if not w.compensation], now=now
                )
            requeued += comp_store.give_back(session, [w.key for w in unfinished if w.compensation])
            detail = {"stopped_attempts": stopped, "killed_attempts": killed, "requeued": requeued}
            scheduling.end_scheduler(session, self.job_id, now, detail)
        if self._processor is not None:
            self._processor.terminate()
            self._processor.join(5)
        if self._wakeup is not None:
            self._wakeup.close()
        self._stop_reader.close()
        self._stop_writer.close()
        if self._sole is not None:
            self._sole.release()
        self.ownership.close()
        log.info(
            "scheduler stopped: %d running attempt(s) stopped, %d killed, %d queued one(s) given back",
            len(stopped),
            len(killed),
            requeued,
        )

    def run(self, *, max_passes: int | None = None, until_idle: bool = False) -> None:
        """Loop until stopped (SIGTERM, SIGINT), after ``max_passes`` passes, or once no run is active."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        try:
            self.start()
        except BaseException:  # refused (a second scheduler on SQLite) or the store unreachable
            self.executor.close()
            raise
        passes = 0
        try:
            while not self.stopping:
                self._guarded_pass()
                passes += 1
                if max_passes is not None and passes >= max_passes:
                    break
                if until_idle and self._idle():
                    break
                self.wait()
        finally:
            self.shutdown()

    # -- one pass -------------------------------------------------------------------------------

    def _guarded_pass(self) -> None:
        """One pass; a failed pass (the store unreachable a moment, a deadlock) is logged and retried.

        Only a long streak of failures stops the daemon: whatever a pass wrote is either committed or
        rolled back, so the next pass starts from a consistent store.
        """
        try:
            self.run_once()
        except Exception:
            self.state.failed_passes += 1
            log.exception("scheduler pass failed (%d in a row)", self.state.failed_passes)
            if self.state.failed_passes >= self.options.max_failed_passes:
                raise
            time.sleep(min(5.0, 0.1 * 2**self.state.failed_passes))
        else:
            self.state.failed_passes = 0

    def run_once(self) -> None:
        started = time.monotonic()
        try:
            self._pass()
        finally:
            self.metrics.loop_duration(time.monotonic() - started)
            in_flight = len(self.state.in_flight)
            self.metrics.executor_slots(
                open_slots=max(0, self.executor.slots - in_flight), in_flight=in_flight
            )

    def _pass(self) -> None:
        state = self.state
        state.last_pass = time.monotonic()
        now = utcnow()
        # the wake-ups first, then what the executor found: a worker's commit (and its wake-up) that
        # lands after the executor's read of what its workers ended is read at the next pass, at once;
        # drained after that read, its wake-up was spent and the outcome waited for the next beat
        woken = self._read_wakeups() | self._read_processor()
        self._handle_events(self.executor.events(), now)
        self._keep_processor_alive()
        self._heartbeat(now)
        self._apply(self._check_liveness(now))
        self._check_compensation_liveness(now)
        # A timer set by an earlier pass (a retry due, a run timing out, a run's slot freed) stays
        # set until it fires: the runs that set it may not be decided again before then. When it
        # fires, look at once.
        fired = state.next_timed is not None and state.next_timed <= now
        if fired:
            state.next_timed = None
        # Runs are created, triggered and unpaused by others (whose commits wake this loop) or when a
        # timer set here fires; anything else (another scheduler, a lost wake-up) is found by polling.
        # Passes that only follow up finished attempts skip these reads.
        if woken or fired or time.monotonic() - state.last_poll >= self.options.poll_interval:
            self._look_around(now)
        self._decide(now)
        queued = queue_tasks.queue_scheduled(
            self.db,
            self.dags,
            parallelism=self.options.parallelism,
            job_id=self.job_id,
            now=now,
            # several schedulers: each queues the task instances of the runs it decides
            runs=self.ownership.owned if self.ownership.shared else None,
            alone=self.ownership.shared and not state.other_schedulers,
        )
        state.waiting_for_slots = queued.waiting
        self._apply_workloads(queued.workloads)
        # last: a compensation handed out here is claimed by its worker while this loop waits, not
        # while a write of its own holds the store (SQLite's one writer)
        self._compensate(now, fired)

    def _look_around(self, now: datetime) -> None:
        """Read what others changed; create and start runs if some are due or queued."""
        state = self.state
        state.last_poll = time.monotonic()
        if self.ownership.shared and state.last_poll - state.last_full_look >= FULL_LOOK_EVERY:
            state.changed_since, state.last_full_look = None, state.last_poll  # all running runs
        with self.db.reading() as session:
            due, outcome = create_runs.due_dags(session, self.dags, now)
            starting = scheduling.has_queued_runs(session)
            changed, state.changed_since = decide_runs.changed_runs(
                session, since=state.changed_since, now=now
            )
            # a compensation started by hand (or by another scheduler) is found by polling too; read
            # here, in the same transaction, rather than by the compensation phase on every poll
            if comp_store.compensating_runs(session, limit=1):
                state.compensation_due = True
        state.dirty_runs |= changed | state.due_deadlines(now) | state.recheck_runs
        state.recheck_runs = set()
        self._apply(outcome)
        if due or starting:
            with self.db.session(write=True) as session:
                outcome = create_runs.create_due_runs(session, self.dags, due, now)
                outcome.merge(create_runs.start_queued_runs(session, self.dags, now))
            self._apply(outcome)

    def _decide(self, now: datetime) -> None:
        state = self.state
        dirty, state.dirty_runs = state.dirty_runs, set()
        try:
            decided = decide_runs.decide_runs(
                self.db,
                self.cache,
                self.dags,
                dirty=dirty,
                held_by_pause=state.held_by_pause,
                now=now,
                ownership=self.ownership,
                job_id=self.job_id,
                # schedulers on one machine share its cores: sharing the runs among them would only
                # make each one's passes smaller; across machines, each decides its share
                machines=state.scheduler_hosts,
            )
        except Exception:  # nothing of it was recorded: decide these runs again on the next pass
            state.dirty_runs |= dirty
            raise
        state.held_by_pause = decided.held_by_pause
        if decided.handed_out_by and self._wakeup is not None:  # runs taken over: hear their outcomes
            self._wakeup.follow(decided.handed_out_by)
        if decided.left_for_others or decided.given_up:  # theirs to take now, not at their next poll
            with self.db.session(write=True) as session:
                scheduling.mark_runs_changed(session, decided.given_up, now)
                wake_after_commit(session)
        self._apply(decided)

    def _compensate(self, now: datetime, fired: bool) -> None:
        """Drive the runs being compensated, when something happened that may move them."""
        state = self.state
        if not (state.compensation_due or fired):
            return
        state.compensation_due = False
        self._apply(compensate_runs.compensate_runs(self.db, self.dags, job_id=self.job_id, now=now))

    def _check_compensation_liveness(self, now: datetime) -> None:
        interval = max(1.0, self.options.task_heartbeat_timeout / 3)
        last = self.state.last_compensation_check
        if last is not None and time.monotonic() - last < interval:
            return
        self.state.last_compensation_check = time.monotonic()
        settings = liveness.LivenessSettings(
            task_heartbeat_timeout=self.options.task_heartbeat_timeout,
            health_threshold=self.options.health_threshold,
            log_folder=self.settings.log_folder,
            job_id=self.job_id,
        )
        if compensation_liveness.check_compensations(
            self.db, self.dags, settings=settings, kill=self.executor.kill, now=now
        ):
            self.state.compensation_due = True

    def _check_liveness(self, now: datetime) -> PassOutcome:
        settings = liveness.LivenessSettings(
            task_heartbeat_timeout=self.options.task_heartbeat_timeout,
            health_threshold=self.options.health_threshold,
            log_folder=self.settings.log_folder,
            job_id=self.job_id,
        )
        return liveness.check_liveness(
            self.db,
            self.heartbeats,
            self.dags,
            settings=settings,
            in_flight=self.state.in_flight.keys(),
            kill=self.executor.kill,
            now=now,
        )

    def _apply(self, outcome: PassOutcome) -> None:
        self._apply_workloads(self.state.merge(outcome))

    def _apply_workloads(self, workloads: list[Workload]) -> None:
        """Hand workloads to the executor, keeping track of them until it reports them back."""
        if not workloads:
            return
        for workload in workloads:
            self.state.in_flight[workload.token] = workload
        self.executor.submit(workloads)

    def wait(self) -> None:
        self._space_out_passes()
        waitables: list[Any] = [self._stop_reader]
        if self._wakeup is not None:
            waitables.append(self._wakeup)
        if self._processor_conn is not None:
            waitables.append(self._processor_conn)
        timeout = self.options.max_wait
        if self.state.next_timed is not None:
            timeout = min(timeout, max(0.0, (self.state.next_timed - utcnow()).total_seconds()))
        if self.state.dirty_runs:
            timeout = 0.0
        if self.state.in_flight:
            timeout = min(timeout, self.options.heartbeat_interval)
        if self.state.waiting_for_slots and self.state.other_schedulers and self.ownership.shared:
            # the outcomes that free them may be other schedulers', which wake only their own
            timeout = min(timeout, self.options.others_outcomes_interval)
        deadline = time.monotonic() + timeout
        self.executor.wait(timeout, waitables)
        # Woken only by outcomes of attempts other schedulers handed out: their owners act on them,
        # so this one looks at most every others_outcomes_interval, not at each of them.
        while self._woken_only_by_others(waitables):
            until = min(deadline, self.state.last_pass + self.options.others_outcomes_interval)
            if until <= time.monotonic():
                break
            self.executor.wait(until - time.monotonic(), waitables)

    def _woken_only_by_others(self, waitables: list[Any]) -> bool:
        """Whether the wait just ended only for outcomes of attempts other schedulers handed out
        (the wake-ups drained to tell are kept for the next pass)."""
        if self._wakeup is None:
            return False
        drained = self._wakeup.drain()  # first: the cheapest look, and mostly the answer
        self.state.wakeups += drained
        if not drained.others_outcomes or self.state.wakeups.changes or self.state.wakeups.outcomes:
            return False
        if self.executor.has_events():
            return False
        others = [w for w in waitables if w is not self._wakeup]
        return not (others and multiprocessing.connection.wait(others, timeout=0))

    def _space_out_passes(self) -> None:
        """With a backlog in the executor there is no hurry: let finished attempts gather into a batch."""
        if not self.executor.has_backlog(len(self.state.in_flight)):
            return
        pause = self.options.batch_interval - (time.monotonic() - self.state.last_pass)
        if pause > 0:
            time.sleep(pause)

    def _idle(self) -> bool:
        with self.db.session() as session:
            active = scheduling.active_run_count(session) or comp_store.compensating_runs(session, limit=1)
        return not active and not self.state.in_flight

    # -- reports from the executor and the DAG processor -----------------------------------------

    def _handle_events(self, events: list[ExecutorEvent], now: datetime) -> None:
        for event in events:
            self.state.in_flight.pop(event.workload.token, None)
            if event.workload.compensation:
                self.state.compensation_due = True
            else:
                self.state.dirty_runs.add(event.workload.key.run)
        ended = [e for e in events if e.kind in (EventKind.LOST, EventKind.UNCLAIMED)]
        if ended:
            with self.db.session(write=True) as session:
                callbacks = [w for event in ended if (w := self._record_ended(session, event, now))]
            self._apply_workloads(callbacks)  # the tries' task callbacks, once their ends are committed

    def _record_ended(self, session: Session, event: ExecutorEvent, now: datetime) -> Workload | None:
        """Record a try whose worker died, or that no worker took from its queue; return the workload
        that runs its task's callbacks, if any (or the callbacks again, if they were lost unstarted)."""
        workload, folder, job_id = event.workload, self.settings.log_folder, self.job_id
        if event.kind is EventKind.UNCLAIMED and workload.compensation:
            compensation_liveness.fail_unclaimed(session, self.dags, workload, event.detail, now)
        elif event.kind is EventKind.UNCLAIMED:
            return liveness.fail_unclaimed(
                session, self.dags, workload, event.detail, now, folder, job_id=job_id
            )
        elif workload.compensation:
            compensation_liveness.fail_lost(session, self.dags, workload, event.detail, now)
        elif workload.task_callback is not None:
            return liveness.lost_callbacks(session, workload, started=event.started)
        else:
            return liveness.fail_attempt(
                session, self.dags, workload, event.detail, now, folder, job_id=job_id
            )
        return None

    def _keep_processor_alive(self) -> None:
        """A DAG processor that died (out of memory, killed) is started again."""
        if self._processor is not None and not self._processor.is_alive() and not self.stopping:
            log.warning("the DAG processor exited with code %s; starting a new one", self._processor.exitcode)
            self._start_processor()

    def _read_wakeups(self) -> bool:
        """Whether a commit woke this loop since the last pass (see :mod:`dagflow.store.notify`)."""
        with contextlib.suppress(OSError):
            while self._stop_reader.recv(64):
                pass
        if self._wakeup is not None:
            self.state.wakeups += self._wakeup.drain()
        found, self.state.wakeups = self.state.wakeups, Wakeups()
        return found.changes > 0

    def _read_processor(self) -> bool:
        """Reload the DAGs the DAG processor reports changed; whether it reported any."""
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
        return bool(changed)

    def _reload_dags(self, dag_ids: set[str] | None) -> None:
        with self.db.session() as session:
            self.dags.reload(session, dag_ids)

    def _heartbeat(self, now: datetime) -> None:
        last = self.state.last_heartbeat
        if last is not None and 0 <= (now - last).total_seconds() < self.options.heartbeat_interval:
            return  # (a clock stepped back is no reason to stop beating)
        detail = job_store.local_workers_detail(self.executor.live_workers())
        with self.db.session(write=True) as session:
            if not scheduling.scheduler_heartbeat(session, self.job_id, now, detail=detail):  # taken for dead
                log.warning("this scheduler was taken for dead; its queued work was handed out again")
            if self.ownership.shared:
                alive_since = now - timedelta(seconds=self.options.health_threshold)
                self.state.other_schedulers, self.state.scheduler_hosts = scheduling.live_schedulers(
                    session, job_id=self.job_id, hostname=self.hostname, alive_since=alive_since
                )
        self.state.last_heartbeat = now
        self.metrics.heartbeat()
        if self.state.tables_without_statistics:
            with self.db.reading() as session:
                analyzed, self.state.tables_without_statistics = planner.analyze_new_tables(
                    session.connection()
                )
            if analyzed:
                log.info("analyzed %s: a new database's first statistics", ", ".join(analyzed))
