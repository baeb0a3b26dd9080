"""``dagflow celery worker``: a Celery worker whose processes run attempts as the local workers do.

Each Celery pool process keeps one :class:`~dagflow.executors.worker.Worker`, the code the local
executor's processes run: it claims the task instance with the message's token (a message whose
token is no longer current, a redelivery, a re-sent copy, is dropped there: a try never runs
twice), heartbeats while the attempt runs, writes the attempt's log, and records the outcome, the
XComs and the try in one transaction whose commit wakes the schedulers. Its limits hold as in the
local executor: the attempt's ``execution_timeout`` stops it from inside; one that does not stop
within ``[worker] timeout_grace`` more, or whose process outgrows ``[worker] max_memory_mb``, is
recorded as failed by the process's watchdog, which then kills the process (Celery starts another;
the message, redelivered, is dropped). The task's ``on_retry_callback`` or ``on_failure_callback``
for that try runs in a worker, as for a try the scheduler ends for a lost worker (see
:func:`_send_callback`).

The worker's machine serves its logs (:mod:`dagflow.remote.logserver`) and records the server's
address on each try it claims. The worker records a job row of its own (:class:`WorkerJob`), so
``dagflow jobs check`` and ``/api/v1/health`` list it with its last heartbeat.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from dagflow.config import Settings
from dagflow.core.clock import utcnow
from dagflow.core.retries import next_retry_for, should_retry
from dagflow.core.states import TaskState
from dagflow.executors import pending_callbacks
from dagflow.executors.base import Workload, worker_failed
from dagflow.executors.celery_message import from_message, send
from dagflow.executors.local import _rss_mb
from dagflow.executors.worker import Worker, WorkerSettings
from dagflow.remote.celery_app import TASK_NAME, CelerySettings, make_app
from dagflow.runtime.tasklog import TaskLog, attempt_log_path
from dagflow.store import Database, scheduling
from dagflow.store import jobs as job_store
from dagflow.store.attempts import Outcome, record_outcome
from dagflow.store.notify import wake_after_commit
from dagflow.utils.net import hostname

log = logging.getLogger("dagflow.celery.worker")
#: Sends a workload to the workers (as the scheduler's executor does).
Send = Callable[[Workload], None]


@dataclass(frozen=True)
class AttemptLimits:
    """The limits a worker process holds its attempts to."""

    timeout_grace: float = 5.0
    memory_limit_mb: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> AttemptLimits:
        memory = settings.get("worker", "max_memory_mb")
        return cls(settings.getfloat("worker", "timeout_grace"), float(memory) if memory else None)


@dataclass(frozen=True)
class PoolSettings:
    """What each pool process needs: its worker's settings, its limits, this machine's DAGs folder."""

    worker: WorkerSettings
    limits: AttemptLimits
    dags_folder: str


class _Watchdog(threading.Thread):
    """Holds the attempt in hand to its limits (see the module docstring)."""

    def __init__(self, worker: Worker, limits: AttemptLimits, send: Send):
        super().__init__(daemon=True, name="dagflow-watchdog")
        self.worker, self.limits, self.send = worker, limits, send
        self.lock = threading.Lock()
        self.workload: Workload | None = None
        self.started = 0.0
        #: The worker is parsing the DAG file: no part of the attempt's execution_timeout.
        self.parsing = False
        self.asked_to_stop = 0.0
        #: Set once this watchdog has begun ending the attempt in hand and killing the process.
        self.killing = threading.Event()

    def watch(self, workload: Workload | None) -> None:
        with self.lock:
            self.workload, self.started, self.asked_to_stop = workload, time.monotonic(), 0.0
            self.parsing = False

    def parse(self, started: bool) -> None:
        """The worker starts or ends parsing a DAG file: the attempt's clock stops meanwhile, and
        starts again from its end (its memory is still watched)."""
        with self.lock:
            self.parsing = started
            if not started:
                self.started = time.monotonic()

    def hold_if_killing(self) -> None:
        """Block the attempt's thread for good if this process is being killed: once the watchdog
        recorded the attempt's end, the worker's heartbeat finds the try no longer its own and stops
        the task's code, and the process, free again, would take its next message (the try's
        callbacks, say) from Celery and lose it to the kill a moment later."""
        if self.killing.is_set():
            while True:
                time.sleep(60)

    def run(self) -> None:
        while True:
            time.sleep(0.25)
            with self.lock:
                workload, started, parsing = self.workload, self.started, self.parsing
            if workload is not None:
                self._check(workload, time.monotonic() - started, parsing=parsing)

    def _check(self, workload: Workload, elapsed: float, *, parsing: bool = False) -> None:
        grace = self.limits.timeout_grace
        timeout = workload.execution_timeout
        if timeout and not parsing and elapsed > timeout + grace:
            self._kill(
                workload,
                f"killed: the attempt overran its execution_timeout of {timeout:g}s and did not stop",
            )
            return
        limit = self.limits.memory_limit_mb
        if not limit or _rss_mb(os.getpid()) <= limit:
            return
        reason = f"the worker used more than {limit:g} MB of memory"
        if not self.asked_to_stop:
            self.asked_to_stop = time.monotonic()
            self.worker.interrupt(reason)
        elif time.monotonic() - self.asked_to_stop > grace:
            self._kill(workload, f"killed: {reason}")

    def _kill(self, workload: Workload, reason: str) -> None:
        """Record the attempt's end as the scheduler would for a lost worker, send the workload that
        runs the task's callbacks for it, then kill this process."""
        self.killing.set()
        try:
            _fail_try(self.worker, self.send, workload, reason)
        finally:
            os.kill(os.getpid(), signal.SIGKILL)


def _fail_try(worker: Worker, send: Send, workload: Workload, reason: str) -> None:
    """Record the try as failed here (see :func:`_record_try_failed`) and send the workload that runs
    the task's callbacks for it, if this write ended it."""
    callbacks = _record_try_failed(worker, workload, reason)
    if callbacks is not None:
        _send_callback(worker, send, callbacks)


def _send_callback(worker: Worker, send: Send, callbacks: Workload) -> None:
    """Send the workload that runs the task's callbacks for a try this process's watchdog ended, as
    a message to the workers (the default queue), once the try's end is committed and before this
    process is killed.

    Not run here: the process is about to be killed, and its attempt's code is still running beside
    the watchdog (stuck, or holding the memory that got it killed). A message is the way the
    scheduler's executor hands out the same workload after a lost worker, so the callback runs the
    same way in any worker, at once: only the write that ended the try (guarded by its token) sends
    it, and the broker keeps it (acknowledged once run) if the worker that takes it dies. The write
    also kept it in the store (:mod:`dagflow.executors.pending_callbacks`), as handed out by the
    try's scheduler: if the broker refuses the message (down at that moment), it is handed back there
    to nobody, and the next liveness check of any scheduler hands it out through its executor, which
    sends again until the broker takes it. One try to send, not several: a process past its memory
    limit must not linger."""
    try:
        send(callbacks)
    except Exception as exc:  # the broker is down: a scheduler hands it out instead
        log.warning("%s: could not send the task's callbacks (%s); a scheduler will", callbacks.label, exc)
        with worker.db.session(write=True) as session:
            pending_callbacks.hand_back(session, callbacks)


def _record_try_failed(worker: Worker, workload: Workload, reason: str) -> Workload | None:
    """Record the try as failed (up for retry while it has tries left), as the scheduler records
    one whose worker was lost; return the workload that runs the task's callbacks for it, if this
    write ended it."""
    key, now = workload.key, utcnow()
    with worker.db.session(write=True) as session:
        row = scheduling.task_instance(session, key)
        if row is None or row.attempt_token != workload.token or row.state != TaskState.RUNNING.value:
            return None
        retry = should_retry(try_number=row.try_number, max_tries=row.max_tries)
        not_before = None
        if retry:
            spec = worker.load_dag(workload.fileloc, key.dag_id).spec().tasks[key.task_id]
            not_before = next_retry_for(
                spec, end_date=now, try_number=row.try_number, dag_id=key.dag_id, run_id=key.run_id
            )
        outcome = Outcome(
            state=TaskState.UP_FOR_RETRY if retry else TaskState.FAILED,
            start_date=row.start_date,
            end_date=now,
            not_before=not_before,
            error=reason,
        )
        if not record_outcome(session, key, token=workload.token, outcome=outcome, now=now):
            return None
        wake_after_commit(session, outcome=True, scheduler=workload.queued_by)
        path = attempt_log_path(worker.settings.log_folder, *key, row.try_number)
        try:
            with open(path, "a", encoding="utf-8") as stream:
                TaskLog(stream).error(f"worker: {reason}; marked {outcome.state.value}")
        except OSError as exc:  # the log is a courtesy: the store has the outcome
            log.warning("could not write to %s: %s", path, exc)
        # kept as handed out by the try's scheduler: if it dies with them not run, the next one
        # hands them out (see dagflow.executors.pending_callbacks)
        return pending_callbacks.record_for_ended_try(
            session,
            workload,
            row,
            fileloc=workload.fileloc,
            state=outcome.state,
            reason=reason,
            handed_out_by=workload.queued_by,
            now=now,
        )


class _PoolProcess:
    """The dagflow worker of one Celery pool process, made at its first message."""

    def __init__(self, settings: PoolSettings, send: Send):
        self.settings = settings
        self.worker = Worker(settings.worker)
        self.worker.install_interrupt_handler()
        # tasks log at INFO, as in a local worker process
        logging.getLogger("dagflow.task").setLevel(logging.INFO)
        self.send = send
        self.watchdog = _Watchdog(self.worker, settings.limits, send)
        self.worker.on_parsing = self.watchdog.parse
        self.watchdog.start()

    def run(self, message: dict[str, Any]) -> str:
        workload = from_message(message, self.settings.dags_folder)
        self.watchdog.watch(workload)
        try:
            event = self.worker.run(workload)
        except Exception as exc:  # the pool process survives it, and says so at once
            event = worker_failed(workload, exc)
            self._record_failed(workload, event.detail)
        finally:
            self.watchdog.watch(None)
            self.watchdog.hold_if_killing()
        if event.kind != "finished":
            log.info("%s: %s (%s)", workload.label, event.kind, event.detail)
        return str(event.state or event.kind)

    def _record_failed(self, workload: Workload, reason: str) -> None:
        """A try whose handling raised here (its claim committed, then the store or the log folder
        failed it) is recorded at once, as a lost worker's is, with its retries and its callbacks:
        a Celery worker reports to no scheduler, which would otherwise find it only when its
        heartbeat went stale. If the store cannot be written either, that check still finds it."""
        try:
            _fail_try(self.worker, self.send, workload, reason)
        except Exception as exc:
            log.warning(
                "%s: could not record its failure (%s); its heartbeat check will", workload.label, exc
            )


_PROCESS: dict[int, _PoolProcess] = {}


def _pool_process(settings: PoolSettings, send: Send) -> _PoolProcess:
    """This process's dagflow worker (one per pool process: made after the fork, never inherited)."""
    found = _PROCESS.get(os.getpid())
    if found is None:
        _PROCESS.clear()
        found = _PROCESS[os.getpid()] = _PoolProcess(settings, send)
    return found


def worker_app(settings: Settings, pool: PoolSettings) -> Any:
    """The Celery app of a worker, with dagflow's one task registered on it."""
    celery_settings = CelerySettings.from_settings(settings)
    app = make_app(celery_settings)
    if pool.limits.memory_limit_mb:  # a process that grew past its limit is replaced after its task
        app.conf.worker_max_memory_per_child = int(pool.limits.memory_limit_mb * 1024)

    def send_once(workload: Workload) -> None:  # (the DAGs folder of the settings is this machine's)
        send(app, workload, celery_settings)

    @app.task(name=TASK_NAME, acks_late=True, ignore_result=True)
    def run_attempt(message: dict[str, Any]) -> str:
        return _pool_process(pool, send_once).run(message)

    return app


def pool_settings(settings: Settings, *, hostname: str, log_url: str | None) -> PoolSettings:
    """What the pool processes of ``dagflow celery worker`` run with."""
    base = WorkerSettings.from_settings(settings)
    worker = replace(
        base,
        wake_scheduler=True,
        hostname=hostname,
        log_url=log_url,
        remote_log_folder=str(settings.get("logging", "remote_base_log_folder") or ""),
    )
    return PoolSettings(worker, AttemptLimits.from_settings(settings), str(settings.dags_folder))


def advertised_host(settings: Settings) -> str:
    """The address other machines reach this worker's log server at."""
    return str(settings.get("logging", "worker_log_server_host") or "") or hostname(settings)


class WorkerJob(threading.Thread):
    """The job row of one ``dagflow celery worker`` (the main process; its pool processes record
    none), beating every ``[scheduler] heartbeat_sec``, as a scheduler does, until :meth:`stop`.

    It keeps one connection to the store from beat to beat (a connection per beat would start a
    server process a second on PostgreSQL), although Celery forks its pool processes from this
    process at any time (a process past its memory limit is replaced) and a connection must not
    cross a fork. Two things make that safe, as SQLAlchemy advises for ``os.fork()``:

    * a fork waits until the beat in progress has ended, so no child is born mid-transaction (with
      SQLite's lock state, or half a PostgreSQL exchange, that is no longer its own);
    * the child drops the pool it inherited without closing its connection
      (:meth:`~dagflow.store.engine.Database.forget_inherited_connections`): closing it there would
      end this process's PostgreSQL session, and the child never uses it.

    A beat that fails (the store unreachable a moment) is logged as a warning; the next one
    reconnects: the engine checks a PostgreSQL connection before it is used (``pool_pre_ping``) and
    replaces one that is gone, and discards one that broke during a beat.
    """

    def __init__(self, settings: Settings, *, name: str, queues: list[str]):
        super().__init__(daemon=True, name="dagflow-worker-job")
        self.db = Database(settings.database_url)
        self.interval = settings.getfloat("scheduler", "heartbeat_sec")
        self.stopped = threading.Event()
        self._beating = threading.Lock()
        os.register_at_fork(
            before=self._beating.acquire,
            after_in_parent=self._beating.release,
            after_in_child=self._after_fork_in_child,
        )
        detail = {"executor": "celery", "name": name, "queues": queues}
        with self._beating, self.db.session(write=True) as session:
            self.job_id = job_store.register_worker(
                session, hostname=hostname(settings), pid=os.getpid(), now=utcnow(), detail=detail
            )

    def _after_fork_in_child(self) -> None:
        try:
            self.db.forget_inherited_connections()
        finally:
            self._beating.release()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                with self._beating, self.db.session(write=True) as session:
                    job_store.worker_heartbeat(session, self.job_id, utcnow())
            except Exception as exc:  # the store is unreachable a moment: beat again later
                log.warning("could not record this worker's heartbeat: %s", exc)

    def stop(self) -> None:
        """Stop beating, record that the worker stopped and close the connection."""
        self.stopped.set()
        self.join(5)
        try:
            with self.db.session(write=True) as session:
                job_store.end_worker(session, self.job_id, utcnow())
        finally:
            self.db.dispose()
