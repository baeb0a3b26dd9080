"""A worker: runs attempts handed out by the scheduler, recording each outcome in the metadata store.

For each workload it claims the task instance (only if it is still queued with the workload's
token), heartbeats while the attempt runs, and records the outcome, the XComs and the try history
in one transaction. If its task instance is changed from outside meanwhile (cleared, marked), the
attempt is stopped and its outcome discarded.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from dagflow import secrets
from dagflow.config import Settings
from dagflow.context import DagRunInfo
from dagflow.core.clock import utcnow
from dagflow.core.keys import RunKey, TIKey
from dagflow.core.retries import next_retry_for, should_retry
from dagflow.core.states import TaskState
from dagflow.dagbag import DagBag
from dagflow.exceptions import DagflowError, TaskTerminated
from dagflow.executors.base import EventKind, ExecutorEvent, Workload
from dagflow.executors.callback_runs import run_dag_callbacks, run_task_callbacks
from dagflow.executors.compensation_tries import CompensationTries
from dagflow.executors.dag_trigger import DbDagTrigger
from dagflow.executors.dagfiles import DagFileCheck
from dagflow.executors.tries import Ended, Started, run_info_of
from dagflow.models.dag import DAG
from dagflow.runtime.tasklog import TaskLog, attempt_log_path
from dagflow.runtime.taskrunner import (
    DEFAULT_MAX_MAP_LENGTH,
    LINK_KEY_PREFIX,
    Attempt,
    AttemptOutcome,
    run_attempt,
)
from dagflow.secrets import EnvironmentBackend, SecretsBackend
from dagflow.secrets.fernet import FernetCodec
from dagflow.store import Connection
from dagflow.store import compensations as comp_store
from dagflow.store.attempts import (
    Claim,
    Outcome,
    claim_attempt_later,
    give_back_try,
    heartbeat,
    is_closed,
    kept_connection,
    record_outcome_later,
    written_at_once,
)
from dagflow.store.engine import Database
from dagflow.store.notify import wake_after_commit, wants_wake
from dagflow.store.run_reader import DbRunStates
from dagflow.store.runs import get_run, previous_successful_run
from dagflow.store.secrets_backend import MetastoreBackend
from dagflow.store.xcom import DbXComStore
from dagflow.utils.net import hostname


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker process needs to know, passed explicitly when it starts."""

    database_url: str
    log_folder: str
    heartbeat_interval: float = 2.0
    import_timeout: float = 30.0
    #: Wake the schedulers when an outcome is recorded (a worker on another machine has no other way
    #: to tell them; local workers report through their executor's pipe instead).
    wake_scheduler: bool = False
    #: What the worker calls itself on the attempts it runs (default: this machine's host name).
    hostname: str = ""
    #: The log server that serves this worker's logs to other machines (``http://host:port``), if any.
    log_url: str | None = None
    #: A shared folder each finished attempt's log is copied to, for readers on other machines.
    remote_log_folder: str = ""
    airflow_compat: bool = True
    #: ``[core] fernet_key``: Variables and Connections task code reads are decrypted with it.
    fernet_key: str = ""
    #: ``[core] max_map_length``: the most items an output that mapped tasks map over may have.
    max_map_length: int = DEFAULT_MAX_MAP_LENGTH

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerSettings:
        """A worker beats twice per scheduler heartbeat interval (``[scheduler] heartbeat_sec``)."""
        return cls(
            database_url=settings.database_url,
            log_folder=str(settings.log_folder),
            heartbeat_interval=settings.getfloat("scheduler", "heartbeat_sec") * 2,
            import_timeout=settings.getfloat("core", "dagbag_import_timeout"),
            airflow_compat=settings.getbool("core", "airflow_compat"),
            fernet_key=str(settings.get("core", "fernet_key", "") or ""),
            max_map_length=settings.getint("core", "max_map_length"),
            hostname=hostname(settings),
        )


class _Heartbeat(threading.Thread):
    """Beats for the attempt in hand every ``interval``; stops the attempt if it stops being ours."""

    def __init__(self, worker: Worker):
        super().__init__(daemon=True, name="dagflow-heartbeat")
        self.worker = worker
        self.lock = threading.Lock()
        self.current: tuple[TIKey, str, bool] | None = None
        self.stopped = threading.Event()

    def watch(self, key: TIKey | None, token: str = "", *, compensation: bool = False) -> None:
        with self.lock:
            self.current = (key, token, compensation) if key is not None else None

    def run(self) -> None:
        while not self.stopped.wait(self.worker.settings.heartbeat_interval):
            with self.lock:
                current = self.current
            if current is None:
                continue
            try:
                beat = comp_store.heartbeat if current[2] else heartbeat
                with self.worker.db.transaction(write=True) as conn:
                    alive = beat(conn, current[0], token=current[1], now=utcnow())
            except Exception:  # a failed beat is retried at the next interval
                continue
            if not alive:  # (a no-op if that attempt has ended meanwhile)
                reason = "its task instance was changed while it ran"
                self.worker.interrupt(reason, taken=True, attempt=current)


def _keep_out_of_collector(*, collect: bool) -> None:
    """Leave what the worker keeps (imports, DAGs) out of the garbage collector's later passes, which
    would otherwise walk all of it again and again as attempts come and go. ``collect``: something
    kept was just dropped (a DAG file changed), so collect it first."""
    if collect:
        gc.unfreeze()
        gc.collect()
    gc.freeze()


class Worker:
    """Runs workloads one at a time in this process."""

    def __init__(self, settings: WorkerSettings):
        self.settings = settings
        self.db = Database(settings.database_url)
        self.run_states = DbRunStates(self.db)
        #: What task code reads Variables and Connections from: the environment, then this store.
        self.secrets: list[SecretsBackend] = [
            EnvironmentBackend(),
            MetastoreBackend(self.db.url, FernetCodec(settings.fernet_key), database=self.db),
        ]
        self.dag_trigger = DbDagTrigger(self.db)
        self.hostname = settings.hostname or socket.gethostname()
        self._bags: dict[str, tuple[tuple[int, int], DagBag]] = {}
        self._runs: dict[RunKey, DagRunInfo] = {}
        #: The DAG version each run in ``_runs`` started with.
        self._run_versions: dict[RunKey, int | None] = {}
        self._dag_files = DagFileCheck(self.db)
        self.compensations = CompensationTries(self)
        self._heartbeat = _Heartbeat(self)
        self._heartbeat.start()
        self.stopping = False
        self._running = False
        self._stop_raised = False
        self._interrupt_reason = ""
        #: The attempt running now, as ``(key, token, compensation)``, and the one the last stop signal
        #: was sent for: a signal that lands after its attempt ended must not stop the next one.
        self._in_hand: tuple[TIKey, str, bool] | None = None
        self._interrupted: tuple[TIKey, str, bool] | None = None
        self._hand_lock = threading.Lock()
        #: The attempt in hand was taken from this worker (its heartbeat found it no longer ours).
        self._taken = False
        self._connection: Connection | None = None
        self._signals = False
        self._pid = os.getpid()
        self._folders: set[str] = set()
        #: Called when the worker starts (True) and ends (False) parsing a DAG file, not when it finds
        #: one parsed already. Whoever holds an attempt to its ``execution_timeout`` from outside (the
        #: local executor, a Celery pool process's watchdog) stops its clock meanwhile: as in Airflow,
        #: the timeout is the task's, and a parse is bounded by ``[core] dagbag_import_timeout``.
        self.on_parsing: Callable[[bool], None] | None = None

    def close(self) -> None:
        """Stop heartbeating and let go of the store (for a worker that lives in another's process)."""
        self._heartbeat.stopped.set()
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.db.dispose()

    # -- stopping an attempt ------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        """SIGTERM, and SIGINT (a Ctrl-C reaches the whole process group), stop the attempt and the worker."""
        signal.signal(signal.SIGTERM, self._on_sigterm)
        signal.signal(signal.SIGINT, self._on_sigterm)
        signal.signal(signal.SIGUSR1, self._on_interrupt)
        self._signals = True

    def install_interrupt_handler(self) -> None:
        """Only SIGUSR1: an attempt can be stopped when its task instance changes, while SIGTERM and
        SIGINT stay with a host process that handles them itself (a Celery pool process)."""
        signal.signal(signal.SIGUSR1, self._on_interrupt)
        self._signals = True

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        self.stopping = True
        self._stop_attempt("stopped: the worker is shutting down")

    def _on_interrupt(self, signum: int, frame: Any) -> None:
        # (no lock here: the handler runs in the main thread, which may hold it)
        if self._interrupted is not None and self._interrupted == self._in_hand:
            self._stop_attempt(f"stopped: {self._interrupt_reason or 'interrupted'}")

    def _stop_attempt(self, reason: str) -> None:
        """Stop the running attempt, once: a second signal must not break into recording its end."""
        if self._running and not self._stop_raised:
            self._stop_raised = True
            raise TaskTerminated(reason)

    def interrupt(
        self, reason: str, *, taken: bool = False, attempt: tuple[TIKey, str, bool] | None = None
    ) -> None:
        """Stop the running attempt from another thread (its heartbeat's, a watchdog's): ``attempt``
        (``(key, token, compensation)``) if it is still the one in hand, else whichever is. Without
        this worker's own signal handlers (it runs inside the scheduler) the attempt runs on: its
        outcome is discarded then. ``taken``: the attempt is no longer this worker's (the scheduler
        ended it, or it was cleared), so its callbacks are not run here: whoever took it runs what
        follows, once."""
        with self._hand_lock:
            in_hand = self._in_hand
            if in_hand is None or (attempt is not None and attempt != in_hand):
                return  # that attempt has ended: the next one is not to be stopped for it
            self._interrupt_reason = reason
            self._interrupted = in_hand
            if taken:
                self._taken = True
        if self._signals:
            os.kill(os.getpid(), signal.SIGUSR1)

    # -- DAGs -------------------------------------------------------------------------------

    def _parsing(self, started: bool) -> None:
        if self.on_parsing is not None:
            self.on_parsing(started)

    def load_dag(self, fileloc: str, dag_id: str) -> DAG:
        """The DAG, parsed from its file (again only when the file changed since the last parse)."""
        stat = os.stat(fileloc)
        mtime = (stat.st_mtime_ns, stat.st_size)
        cached = self._bags.get(fileloc)
        if cached is None or cached[0] != mtime:
            replaced = cached is not None
            self._parsing(True)
            try:
                cached = (
                    mtime,
                    DagBag(
                        fileloc,
                        import_timeout=self.settings.import_timeout,
                        airflow_compat=self.settings.airflow_compat,
                    ),
                )
            finally:
                self._parsing(False)
            self._bags[fileloc] = cached
            _keep_out_of_collector(collect=replaced)
        bag = cached[1]
        if dag_id not in bag.dags and bag.import_errors:
            error = next(iter(bag.import_errors.values()))
            raise DagflowError(f"DAG file {fileloc} failed to import: {error.message}")
        return bag.get_dag(dag_id)

    # -- running ------------------------------------------------------------------------------

    def run(self, workload: Workload, *, before_record: Callable[[], None] | None = None) -> ExecutorEvent:
        """Run one workload: claim, run and record it; return what happened to it (``REJECTED`` if it
        was not ours to run). ``before_record`` is called once the attempt has ended, before its
        outcome is recorded."""
        started = self.start(workload)
        if isinstance(started, ExecutorEvent):
            return started
        ended = self.attempt(started)
        if before_record is not None:
            before_record()
        return self.finish(ended)[0]

    def start(self, workload: Workload) -> Started | ExecutorEvent:
        """Claim a workload in a transaction of its own (a DAG callback is run at once)."""
        if workload.dag_callback:
            return run_dag_callbacks(self, workload)
        if workload.task_callback is not None:
            return run_task_callbacks(self, workload)
        with self.writing(pipelined=not workload.compensation, implicit=True) as conn:
            claimed = self._claim(conn, workload)
        return self._started(workload, claimed)

    def _claim(self, conn: Connection, workload: Workload) -> Claim | None:
        if workload.compensation:
            taken = comp_store.claim(
                conn, workload.key, token=workload.token, hostname=self.hostname, pid=self._pid, now=utcnow()
            )
            return Claim(taken[0], taken[1], None) if taken is not None else None
        return self._claim_later(conn, workload)()

    def _claim_later(self, conn: Connection, workload: Workload) -> Callable[[], Claim | None]:
        """Claim a task's workload (not a compensation's), its answer read when the function returned
        is called."""
        return claim_attempt_later(
            conn,
            workload.key,
            token=workload.token,
            hostname=self.hostname,
            pid=self._pid,
            now=utcnow(),
            log_url=self.settings.log_url,
        )

    def attempt(self, started: Started) -> Ended:
        """Run a claimed attempt, its output in its log file; never raises for what the task does."""
        key, claimed = started.workload.key, started.claim
        if started.workload.compensation:
            return self.compensations.attempt(started)
        attempt = Attempt(
            key.task_id,
            key.map_index,
            claimed.try_number,
            claimed.max_tries,
            started.dag_run,
            claimed.first_start,
        )
        log_path = attempt_log_path(
            self.settings.log_folder, key.dag_id, key.run_id, key.task_id, key.map_index, claimed.try_number
        )
        with self.open_log(log_path) as stream:
            outcome, xcoms = self._attempt(started.workload, key, attempt, TaskLog(stream))
        return Ended(started.workload, claimed.try_number, outcome, xcoms, log_path)

    def finish(
        self, ended: Ended, upcoming: Workload | None = None
    ) -> tuple[ExecutorEvent, Started | ExecutorEvent | None]:
        """Record an attempt's outcome and claim ``upcoming`` in the same transaction (one commit
        instead of two; ``upcoming`` is running before its task code starts, as always). Returns the
        attempt's event, and ``upcoming`` claimed (or its ``REJECTED`` event); None for the second
        when there is none, or when it is not to be claimed here (a DAG callback, a worker stopping)."""
        workload, key = ended.workload, ended.workload.key
        if workload.compensation:
            return self.compensations.finish(ended), None
        outcome = self._outcome(ended)
        claim_next = (
            upcoming is not None
            and not upcoming.is_callback
            and not upcoming.compensation
            and not self.stopping
        )
        self.copy_to_remote_folder(ended.log_path)
        # the whole transaction, its commit included, in one round trip on PostgreSQL: what it
        # answers is read once it has committed
        # (a wake-up is sent after an explicit COMMIT, so as not to hold up other commits)
        with self.writing(implicit=not self.settings.wake_scheduler) as conn:
            recorded_later = record_outcome_later(
                conn, key, token=workload.token, outcome=outcome, now=utcnow()
            )
            if self.settings.wake_scheduler:
                wake_after_commit(conn, outcome=True, scheduler=workload.queued_by)
            if self.stopping and recorded_later():
                give_back_try(conn, key)
            claimed_later = self._claim_later(conn, upcoming) if claim_next and upcoming is not None else None
        recorded = recorded_later()
        claimed = claimed_later() if claimed_later is not None else None
        if not recorded:
            detail = "its task instance was changed while it ran; outcome discarded"
            event = ExecutorEvent(EventKind.REJECTED, workload, detail=detail)
        else:
            event = ExecutorEvent(EventKind.FINISHED, workload, outcome.state, ended.outcome.error or "")
        if not claim_next or upcoming is None:
            return event, None
        return event, self._started(upcoming, claimed)

    def copy_to_remote_folder(self, log_path: Path) -> None:
        """Copy a finished attempt's log to ``[logging] remote_base_log_folder``, under the same
        relative path, before its outcome is recorded (so whoever reads the outcome finds the log)."""
        if not self.settings.remote_log_folder:
            return
        try:
            relative = log_path.relative_to(self.settings.log_folder)
            target = Path(self.settings.remote_log_folder) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log_path, target)
        except (OSError, ValueError) as exc:  # the log stays on this machine, served by its log server
            logging.getLogger("dagflow.worker").warning(
                "could not copy %s to the remote log folder: %s", log_path, exc
            )

    def open_log(self, path: Path) -> TextIO:
        """Open an attempt's log to append to, creating its folder unless this worker made it already
        (a retried task's, a sensor's: one system call fewer), or it has gone since."""
        folder = str(path.parent)
        if folder not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            if len(self._folders) > 4096:
                self._folders.clear()
            self._folders.add(folder)
        try:
            return open(path, "a", encoding="utf-8", buffering=1)
        except FileNotFoundError:  # its folder was deleted meanwhile
            path.parent.mkdir(parents=True, exist_ok=True)
            return open(path, "a", encoding="utf-8", buffering=1)

    def _started(self, workload: Workload, claimed: Claim | None) -> Started | ExecutorEvent:
        dag_run = self.run_info(workload.key) if claimed is not None else None
        if claimed is None or dag_run is None:
            return ExecutorEvent(EventKind.REJECTED, workload, detail="no longer queued with this token")
        return Started(workload, claimed, dag_run)

    @contextmanager
    def writing(self, *, pipelined: bool = True, implicit: bool = False) -> Iterator[Connection]:
        """A write transaction on the connection the worker keeps for its claims and outcomes (a
        checkout from the pool for each would cost as much as their statements), sent whole, its
        commit included, in one round trip on PostgreSQL unless not ``pipelined``; without ``BEGIN``
        and ``COMMIT`` if ``implicit`` (:func:`~dagflow.store.attempts.written_at_once`)."""
        if self._connection is None:
            self._connection = kept_connection(self.db.connect(write=True))
        connection = self._connection
        try:
            with written_at_once(connection, pipelined=pipelined, implicit=implicit) as afterwards:
                try:
                    yield connection
                finally:  # the request lives on the kept connection: never leave it for the next one
                    wake = wants_wake(connection)
                if wake:
                    statement = self.db.notifier.statement_after_commit(wake)
                    if statement:  # sent after the commit, in its round trip
                        afterwards.append(statement)
                    else:
                        self.db.notifier.before_commit(connection, wake)
        except BaseException:
            if is_closed(
                connection
            ):  # the server dropped it (restarted): the next transaction gets a new one
                self._connection = None
                connection.invalidate()
            raise
        if wake:
            self.db.notifier.after_commit(wake)

    def run_info(self, key: TIKey) -> DagRunInfo | None:
        """The run a task instance belongs to (its dates and conf never change: kept after the first read)."""
        found = self._runs.get(key.run)
        if found is None:
            with self.db.session() as session:
                run = get_run(session, key.dag_id, key.run_id)
                if run is None:
                    return None
                previous = (
                    previous_successful_run(session, run.dag_id, run.logical_date)
                    if run.logical_date
                    else None
                )
                info = run_info_of(run, previous)
                version_id = run.dag_version_id
            if len(self._runs) > 512:
                self._runs.clear()
                self._run_versions.clear()
            found = self._runs[key.run] = info
            self._run_versions[key.run] = version_id
        return found

    def _attempt(
        self, workload: Workload, key: TIKey, attempt: Attempt, log: TaskLog
    ) -> tuple[AttemptOutcome, DbXComStore]:
        xcoms = DbXComStore(self.db, key)
        with self.running_attempt(key, workload.token):
            return self._run_attempt(workload, key, attempt, log, xcoms), xcoms

    @contextmanager
    def running_attempt(self, key: TIKey, token: str, *, compensation: bool = False) -> Iterator[None]:
        """While an attempt (or a compensation try) runs: heartbeats for it, and a signal stops it."""
        self._heartbeat.watch(key, token, compensation=compensation)
        with self._hand_lock:
            self._stop_raised = self._taken = False
            self._interrupted = None
            self._in_hand = (key, token, compensation)
        self._running = True
        try:
            yield
        finally:
            self._running = False
            with self._hand_lock:
                self._in_hand = None
            self._heartbeat.watch(None)

    def _run_attempt(
        self, workload: Workload, key: TIKey, attempt: Attempt, log: TaskLog, xcoms: DbXComStore
    ) -> AttemptOutcome:
        try:
            if self.stopping:  # SIGTERM came between taking the workload and now: stop it here
                self._stop_attempt("stopped: the worker is shutting down")
            self._dag_files.check(workload.fileloc, key, self._run_versions.get(key.run))
            with secrets.using(self.secrets):
                dag = self.load_dag(workload.fileloc, key.dag_id)
                outcome = run_attempt(
                    dag,
                    dag.spec().tasks[key.task_id],
                    attempt,
                    xcom_store=xcoms,
                    log=log,
                    hostname=self.hostname,
                    run_states=self.run_states,
                    max_map_length=self.settings.max_map_length,
                    dag_trigger=self.dag_trigger,
                    still_ours=lambda: not self._taken,
                )
            self._last_dag = dag
        except (Exception, TaskTerminated) as exc:  # the DAG could not be loaded, or the attempt was stopped
            retry = should_retry(try_number=attempt.try_number, max_tries=attempt.max_tries)
            state = TaskState.UP_FOR_RETRY if retry else TaskState.FAILED
            log.error(f"Attempt could not run: {exc}", exc)
            now = utcnow()
            outcome = AttemptOutcome(
                state=state, start_date=now, end_date=now, error=f"{type(exc).__name__}: {exc}"
            )
        return outcome

    def _outcome(self, ended: Ended) -> Outcome:
        result = ended.outcome
        state = result.state
        not_before = result.reschedule_at
        try_state = None
        if self.stopping:  # shut down: the attempt is recorded, and the task instance will run again
            state, not_before, try_state = TaskState.NONE, None, TaskState.FAILED
        elif state is TaskState.UP_FOR_RETRY:
            not_before = self._retry_at(ended.workload, result, ended.try_number)
        return Outcome(
            state=state,
            start_date=result.start_date,
            end_date=result.end_date,
            not_before=not_before,
            map_length=result.map_length,
            error=result.error,
            rendered_fields=_jsonable(result.rendered_fields),
            rendered_map_index=result.rendered_map_index,
            skip_downstream=result.skip_downstream,
            skip_map_index=result.skip_map_index,
            xcoms=_kept_xcoms(ended.xcoms.pending(), state),
            log_path=str(ended.log_path),
            try_state=try_state,
        )

    def _retry_at(self, workload: Workload, result: AttemptOutcome, try_number: int) -> Any:
        key = workload.key
        dag = getattr(self, "_last_dag", None)
        known = dag is not None and dag.dag_id == key.dag_id and key.task_id in dag.task_dict
        return next_retry_for(
            dag.spec().tasks[key.task_id] if known and dag is not None else None,
            end_date=result.end_date,
            try_number=try_number,
            dag_id=key.dag_id,
            run_id=key.run_id,
            chosen=result.retry_delay,
        )

    # -- compensations (see dagflow.core.saga) ------------------------------------------------------


def _jsonable(value: Any) -> Any:
    import json

    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return {k: repr(v) for k, v in value.items()} if isinstance(value, dict) else repr(value)


def _kept_xcoms(pending: list[tuple[str, str]], state: TaskState) -> list[tuple[str, str]]:
    """What a try's XComs leave in the store: all of them when it succeeded; otherwise only its
    operator extra links (a failed TriggerDagRunOperator still links to the run it triggered)."""
    if state is TaskState.SUCCESS:
        return pending
    return [(key, value) for key, value in pending if key.startswith(LINK_KEY_PREFIX)]
