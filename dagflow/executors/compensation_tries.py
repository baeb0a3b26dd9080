"""A worker's compensation tries: run a claimed compensation with its own log and heartbeat, and
record its outcome (see :mod:`dagflow.runtime.compensation` for what a try runs)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dagflow.core.clock import utcnow
from dagflow.core.keys import RunKey
from dagflow.core.retries import should_retry
from dagflow.core.saga import compensation_label
from dagflow.core.states import TaskState
from dagflow.exceptions import TaskTerminated
from dagflow.executors.base import EventKind, ExecutorEvent, Workload
from dagflow.executors.tries import Ended, Started
from dagflow.runtime.compensation import CompensationAttempt, compensation_log_path, run_compensation
from dagflow.runtime.tasklog import TaskLog
from dagflow.runtime.taskrunner import AttemptOutcome
from dagflow.store import compensations as comp_store
from dagflow.store.notify import wake_after_commit
from dagflow.store.xcom import DbXComStore

if TYPE_CHECKING:
    from dagflow.executors.worker import Worker


class CompensationTries:
    """The compensation tries of one worker (its store, DAGs, log files and heartbeat)."""

    def __init__(self, worker: Worker):
        self.worker = worker
        #: Each run's failed tasks, as its compensations see them.
        self._failed: dict[RunKey, tuple[str, ...]] = {}

    def attempt(self, started: Started) -> Ended:
        """Run a claimed compensation try, heartbeating, its output in its own log."""
        workload, key, claimed = started.workload, started.workload.key, started.claim
        log_path = compensation_log_path(self.worker.settings.log_folder, key, claimed.try_number)
        xcoms = DbXComStore(self.worker.db, key)
        attempt = CompensationAttempt(
            node_id=key.task_id,
            map_index=key.map_index,
            try_number=claimed.try_number,
            max_tries=claimed.max_tries,
            dag_run=started.dag_run,
            timeout=workload.execution_timeout,
            failed_tasks=self._failed_tasks(key.run),
        )
        running = self.worker.running_attempt(key, workload.token, compensation=True)
        with self.worker.open_log(log_path) as stream, running:
            log = TaskLog(stream)
            try:
                dag = self.worker.load_dag(workload.fileloc, key.dag_id)
                outcome = run_compensation(
                    dag, attempt, xcom_store=xcoms, log=log, hostname=self.worker.hostname
                )
            except (Exception, TaskTerminated) as exc:  # the DAG could not be loaded, or it was stopped
                log.error(f"Compensation could not run: {exc}", exc)
                retry = should_retry(try_number=claimed.try_number, max_tries=claimed.max_tries)
                now = utcnow()
                state = TaskState.UP_FOR_RETRY if retry else TaskState.FAILED
                outcome = AttemptOutcome(
                    state=state, start_date=now, end_date=now, error=f"{type(exc).__name__}: {exc}"
                )
        return Ended(workload, claimed.try_number, outcome, xcoms, log_path)

    def _failed_tasks(self, run: RunKey) -> tuple[str, ...]:
        """The run's failed tasks (read once per run: a finished run's task instances stay as they are
        while it is compensated)."""
        found = self._failed.get(run)
        if found is None:
            with self.worker.db.session() as session:
                states = comp_store.forward_states(session, run)
            found = tuple(sorted({k[0] for k, (state, _) in states.items() if state is TaskState.FAILED}))
            if len(self._failed) > 512:
                self._failed.clear()
            self._failed[run] = found
        return found

    def finish(self, ended: Ended) -> ExecutorEvent:
        """Record a compensation try's outcome; a worker shutting down records it as a failed try,
        to be tried again at once."""
        workload, result = ended.workload, ended.outcome
        state, not_before = result.state, None
        if self.worker.stopping:  # shut down: recorded as failed try, to be tried again
            state = TaskState.UP_FOR_RETRY
        if state is TaskState.UP_FOR_RETRY:
            delay = self._delay(workload)
            not_before = result.end_date + timedelta(seconds=0 if self.worker.stopping else delay)
        outcome = comp_store.CompensationOutcome(
            state, result.start_date, result.end_date, not_before, result.error, str(ended.log_path)
        )
        with self.worker.writing(pipelined=False) as conn:
            recorded = comp_store.record(
                conn, workload.key, token=workload.token, outcome=outcome, given_back=self.worker.stopping
            )
            # as an attempt's outcome (the next compensation may start), but to every scheduler: runs
            # being compensated have no owner, and any of them may drive the next step
            if self.worker.settings.wake_scheduler:
                wake_after_commit(conn, outcome=True)
        if not recorded:
            detail = "its compensation was changed while it ran; outcome discarded"
            return ExecutorEvent(EventKind.REJECTED, workload, detail=detail)
        return ExecutorEvent(EventKind.FINISHED, workload, state, result.error or "")

    def _delay(self, workload: Workload) -> float:
        """The compensation's retry delay, as its DAG declares it."""
        try:
            dag = self.worker.load_dag(workload.fileloc, workload.key.dag_id)
        except Exception:  # the DAG is gone: retry at once
            return 0.0
        from dagflow.runtime.inprocess_saga import settings_of

        return settings_of(dag.spec(), workload.key.task_id)[1]

    def summary(self, run: RunKey) -> dict[str, Any]:
        """What ``on_compensation_failure_callback`` sees, as ``dag.test()`` shows it."""
        with self.worker.db.session() as session:
            rows = comp_store.compensation_rows(session, run)
            failed = [compensation_label((r.task_id, r.map_index)) for r in rows if r.state == "failed"]
            errors = {compensation_label((r.task_id, r.map_index)): r.error for r in rows if r.error}
        return {"state": "compensation_failed", "failed": failed, "errors": errors}
