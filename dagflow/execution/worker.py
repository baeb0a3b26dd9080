"""A worker: runs attempts handed out by the scheduler, recording each outcome in the metadata store.

For each workload it claims the task instance (only if it is still queued with the workload's
token), heartbeats while the attempt runs, and records the outcome, the XComs and the try history
in one transaction. If its task instance is changed from outside meanwhile (cleared, marked), the
attempt is stopped and its outcome discarded.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dagflow.context import DagRunInfo
from dagflow.dagbag import DagBag
from dagflow.exceptions import DagflowError, TaskTerminated
from dagflow.execution.tasklog import TaskLog, attempt_log_path
from dagflow.execution.taskrunner import Attempt, AttemptOutcome, run_attempt, utcnow
from dagflow.executors.base import Workload
from dagflow.models.dag import DAG
from dagflow.retries import next_try_at, should_retry
from dagflow.states import TaskState
from dagflow.store.engine import Database
from dagflow.store.models import DagRunRow, TaskInstanceRow
from dagflow.store.task_instances import Outcome, TIKey, claim, heartbeat, record_outcome
from dagflow.store.xcoms import DbXComStore


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker process needs to know, passed explicitly when it starts."""

    database_url: str
    log_folder: str
    heartbeat_interval: float = 2.0
    import_timeout: float = 30.0


class _Heartbeat(threading.Thread):
    """Beats every ``interval`` while the attempt runs; stops the attempt if it stops being ours."""

    def __init__(self, worker: Worker, key: TIKey, token: str):
        super().__init__(daemon=True, name="dagflow-heartbeat")
        self.worker, self.key, self.token = worker, key, token
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.worker.settings.heartbeat_interval):
            try:
                with self.worker.db.session(write=True) as session:
                    alive = heartbeat(session, self.key, token=self.token, now=utcnow())
            except Exception:  # a failed beat is retried at the next interval
                continue
            if not alive and not self.done.is_set():
                self.worker.interrupt("its task instance was changed while it ran")
                return


class Worker:
    """Runs workloads one at a time in this process."""

    def __init__(self, settings: WorkerSettings):
        self.settings = settings
        self.db = Database(settings.database_url)
        self.hostname = socket.gethostname()
        self._bags: dict[str, tuple[float, DagBag]] = {}
        self.stopping = False
        self._running = False
        self._interrupt_reason = ""

    # -- stopping an attempt ------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_sigterm)
        signal.signal(signal.SIGUSR1, self._on_interrupt)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        self.stopping = True
        if self._running:
            raise TaskTerminated("stopped: the worker is shutting down")

    def _on_interrupt(self, signum: int, frame: Any) -> None:
        if self._running:
            raise TaskTerminated(f"stopped: {self._interrupt_reason or 'interrupted'}")

    def interrupt(self, reason: str) -> None:
        self._interrupt_reason = reason
        os.kill(os.getpid(), signal.SIGUSR1)

    # -- DAGs -------------------------------------------------------------------------------

    def load_dag(self, fileloc: str, dag_id: str) -> DAG:
        """The DAG, parsed from its file (again only when the file changed since the last parse)."""
        mtime = os.stat(fileloc).st_mtime
        cached = self._bags.get(fileloc)
        if cached is None or cached[0] != mtime:
            cached = (mtime, DagBag(fileloc, import_timeout=self.settings.import_timeout))
            self._bags[fileloc] = cached
        bag = cached[1]
        if dag_id not in bag.dags and bag.import_errors:
            error = next(iter(bag.import_errors.values()))
            raise DagflowError(f"DAG file {fileloc} failed to import: {error.message}")
        return bag.get_dag(dag_id)

    # -- running ------------------------------------------------------------------------------

    def run(self, workload: Workload) -> tuple[str, str]:
        """Run one workload; return ``(state, detail)`` (state ``rejected`` if it was not ours to run)."""
        if workload.dag_callback:
            return self._run_dag_callback(workload)
        key = TIKey(workload.dag_id, workload.run_id, workload.task_id, workload.map_index)
        with self.db.session(write=True) as session:
            claimed = claim(
                session,
                key,
                token=workload.token,
                try_number=workload.try_number,
                hostname=self.hostname,
                pid=os.getpid(),
                now=utcnow(),
            )
            details = _run_details(session, key) if claimed else None
        if details is None:
            return "rejected", "no longer queued with this token"
        dag_run, max_tries = details
        log_path = attempt_log_path(
            self.settings.log_folder, key.dag_id, key.run_id, key.task_id, key.map_index, workload.try_number
        )
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a", encoding="utf-8", buffering=1) as stream:
            log = TaskLog(stream)
            outcome, xcoms = self._attempt(workload, key, dag_run, max_tries, log)
        return self._record(workload, key, outcome, xcoms, log_path, max_tries)

    def _attempt(
        self, workload: Workload, key: TIKey, dag_run: DagRunInfo, max_tries: int, log: TaskLog
    ) -> tuple[AttemptOutcome, DbXComStore]:
        xcoms = DbXComStore(self.db, key)
        beat = _Heartbeat(self, key, workload.token)
        beat.start()
        self._running = True
        try:
            dag = self.load_dag(workload.fileloc, workload.dag_id)
            attempt = Attempt(key.task_id, key.map_index, workload.try_number, max_tries, dag_run)
            outcome = run_attempt(
                dag, dag.spec().tasks[key.task_id], attempt, xcom_store=xcoms, log=log, hostname=self.hostname
            )
            self._last_dag = dag
        except (Exception, TaskTerminated) as exc:  # the DAG could not be loaded, or the attempt was stopped
            state = (
                TaskState.UP_FOR_RETRY
                if should_retry(try_number=workload.try_number, max_tries=max_tries)
                else TaskState.FAILED
            )
            log.error(f"Attempt could not run: {exc}", exc)
            now = utcnow()
            outcome = AttemptOutcome(
                state=state, start_date=now, end_date=now, error=f"{type(exc).__name__}: {exc}"
            )
        finally:
            self._running = False
            beat.done.set()
        return outcome, xcoms

    def _record(
        self,
        workload: Workload,
        key: TIKey,
        result: AttemptOutcome,
        xcoms: DbXComStore,
        log_path: Path,
        max_tries: int,
    ) -> tuple[str, str]:
        state = result.state
        not_before = result.reschedule_at
        try_state = None
        if self.stopping:  # shut down: the attempt is recorded, and the task instance will run again
            state, not_before, try_state = TaskState.NONE, None, TaskState.FAILED
        elif state is TaskState.UP_FOR_RETRY:
            not_before = self._retry_at(workload, result)
        outcome = Outcome(
            state=state,
            start_date=result.start_date,
            end_date=result.end_date,
            not_before=not_before,
            map_length=result.map_length,
            error=result.error,
            rendered_fields=_jsonable(result.rendered_fields),
            skip_downstream=result.skip_downstream,
            xcoms=xcoms.pending() if state is TaskState.SUCCESS else (),
            log_path=str(log_path),
            try_state=try_state,
        )
        with self.db.session(write=True) as session:
            recorded = record_outcome(session, key, token=workload.token, outcome=outcome, now=utcnow())
            if recorded and self.stopping:
                _give_back_try(session, key)
        if not recorded:
            return "rejected", "its task instance was changed while it ran; outcome discarded"
        return state.value, result.error or ""

    def _retry_at(self, workload: Workload, result: AttemptOutcome) -> Any:
        dag = getattr(self, "_last_dag", None)
        spec = (
            dag.spec().tasks.get(workload.task_id)
            if dag is not None and dag.dag_id == workload.dag_id
            else None
        )
        if spec is None:
            return result.end_date
        return next_try_at(
            result.end_date,
            try_number=workload.try_number,
            delay=timedelta(seconds=spec.retry_delay),
            exponential_backoff=spec.retry_exponential_backoff,
            max_delay=timedelta(seconds=spec.max_retry_delay) if spec.max_retry_delay is not None else None,
            jitter_key=f"{workload.dag_id}#{workload.task_id}#{workload.run_id}",
        )

    def _run_dag_callback(self, workload: Workload) -> tuple[str, str]:
        with self.db.session() as session:
            run = session.scalars(
                select(DagRunRow).where(
                    DagRunRow.dag_id == workload.dag_id, DagRunRow.run_id == workload.run_id
                )
            ).first()
            info = _run_info(run) if run is not None else None
        if info is None:
            return "rejected", "run not found"
        dag = self.load_dag(workload.fileloc, workload.dag_id)
        callbacks = dag.on_success_callback if workload.dag_callback == "success" else dag.on_failure_callback
        reason = "success" if workload.dag_callback == "success" else "task_failure"
        context = {"dag": dag, "dag_run": info, "run_id": info.run_id, "reason": reason}
        errors = []
        for callback in callbacks:
            try:
                callback(context)
            except Exception as exc:  # a callback's failure never changes the run
                errors.append(f"{getattr(callback, '__name__', callback)}: {exc}")
        return "success" if not errors else "failed", "; ".join(errors)


def _run_info(run: DagRunRow) -> DagRunInfo:
    return DagRunInfo(
        dag_id=run.dag_id,
        run_id=run.run_id,
        logical_date=run.logical_date,
        data_interval_start=run.data_interval_start,
        data_interval_end=run.data_interval_end,
        run_type=run.run_type,
        conf=dict(run.conf or {}),
        start_date=run.start_date,
        run_after=run.run_after,
    )


def _run_details(session: Any, key: TIKey) -> tuple[DagRunInfo, int] | None:
    run = session.scalars(
        select(DagRunRow).where(DagRunRow.dag_id == key.dag_id, DagRunRow.run_id == key.run_id)
    ).first()
    max_tries = session.scalar(
        select(TaskInstanceRow.max_tries).where(
            TaskInstanceRow.dag_id == key.dag_id,
            TaskInstanceRow.run_id == key.run_id,
            TaskInstanceRow.task_id == key.task_id,
            TaskInstanceRow.map_index == key.map_index,
        )
    )
    if run is None or max_tries is None:
        return None
    return _run_info(run), int(max_tries)


def _give_back_try(session: Any, key: TIKey) -> None:
    """An attempt stopped by a shutdown does not use up one of the task's retries."""
    row = session.get(TaskInstanceRow, (key.dag_id, key.run_id, key.task_id, key.map_index))
    if row is not None:
        row.max_tries += 1


def _jsonable(value: Any) -> Any:
    import json

    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return {k: repr(v) for k, v in value.items()} if isinstance(value, dict) else repr(value)
