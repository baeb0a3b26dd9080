"""The callbacks a worker runs as workloads of their own: a DAG's (``on_success_callback``,
``on_failure_callback``, ``on_compensation_failure_callback``) once its run ended, and a task's
(``on_retry_callback``, ``on_failure_callback``) for a try that ended without its worker (see
:class:`~dagflow.executors.base.TaskCallback`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dagflow import secrets
from dagflow.core.states import TaskState
from dagflow.executors import pending_callbacks
from dagflow.executors.base import EventKind, ExecutorEvent, Workload
from dagflow.executors.tries import run_info_of
from dagflow.models.dag import DAG
from dagflow.runtime.tasklog import TaskLog, attempt_log_path
from dagflow.runtime.taskrunner import Attempt, run_ended_try_callbacks
from dagflow.store.runs import get_run
from dagflow.store.xcom import DbXComStore

if TYPE_CHECKING:
    from dagflow.executors.worker import Worker


def run_dag_callbacks(worker: Worker, workload: Workload) -> ExecutorEvent:
    """Run a DAG's success, failure or compensation-failure callbacks for one of its runs."""
    run_key = workload.key.run
    with worker.db.session() as session:
        run = get_run(session, run_key.dag_id, run_key.run_id)
        info = run_info_of(run) if run is not None else None
    if info is None:
        return ExecutorEvent(EventKind.REJECTED, workload, detail="run not found")
    dag = worker.load_dag(workload.fileloc, run_key.dag_id)
    callbacks, reason = _dag_callbacks(dag, workload.dag_callback)
    context: dict[str, Any] = {
        "dag": dag,
        "dag_run": info,  # (its dates are pendulum's: see run_info_of)
        "run_id": info.run_id,
        "reason": reason,
    }
    if reason == "compensation_failed":
        context["compensation"] = worker.compensations.summary(run_key)
    errors = []
    for callback in callbacks:
        try:
            with secrets.using(worker.secrets):
                callback(context)
        except Exception as exc:  # a callback's failure never changes the run
            errors.append(f"{getattr(callback, '__name__', callback)}: {exc}")
    state = TaskState.SUCCESS if not errors else TaskState.FAILED
    return ExecutorEvent(EventKind.FINISHED, workload, state, "; ".join(errors))


def run_task_callbacks(worker: Worker, workload: Workload) -> ExecutorEvent:
    """Run a task's callbacks for a try ended without its worker (see :class:`TaskCallback`), their
    output in that try's log, unless they ran already; then forget them in the store (see
    :mod:`dagflow.executors.pending_callbacks`)."""
    with worker.db.session() as session:
        pending = pending_callbacks.is_pending(session, workload)
    if not pending:  # they ran (a copy handed out again), or the run was deleted
        return ExecutorEvent(EventKind.REJECTED, workload, detail="its callbacks are not pending")
    event = _task_callbacks(worker, workload)
    with worker.db.session(write=True) as session:
        pending_callbacks.done(session, workload)
    return event


def _task_callbacks(worker: Worker, workload: Workload) -> ExecutorEvent:
    key, callback = workload.key, workload.task_callback
    assert callback is not None
    info = worker.run_info(key)
    if info is None:
        return ExecutorEvent(EventKind.REJECTED, workload, detail="run not found")
    dag = worker.load_dag(workload.fileloc, key.dag_id)
    if key.task_id not in dag.task_dict:
        return ExecutorEvent(EventKind.REJECTED, workload, detail="task not in the DAG any more")
    attempt = Attempt(key.task_id, key.map_index, workload.try_number, callback.max_tries, info)
    log_path = attempt_log_path(worker.settings.log_folder, *key, workload.try_number)
    with worker.open_log(log_path) as stream, secrets.using(worker.secrets):
        errors = run_ended_try_callbacks(
            dag,
            attempt,
            callback.state,
            callback.reason,
            xcom_store=DbXComStore(worker.db, key),
            log=TaskLog(stream),
            start_date=callback.start_date,
            end_date=callback.end_date,
            run_states=worker.run_states,
        )
    worker.copy_to_remote_folder(log_path)
    state = TaskState.SUCCESS if not errors else TaskState.FAILED
    return ExecutorEvent(EventKind.FINISHED, workload, state, "; ".join(errors))


def _dag_callbacks(dag: DAG, kind: str | None) -> tuple[list[Callable[..., Any]], str]:
    """The DAG-level callbacks of one kind, and the ``reason`` their context names."""
    if kind == "success":
        return dag.on_success_callback, "success"
    if kind == "compensation_failure":
        return dag.on_compensation_failure_callback, "compensation_failed"
    return dag.on_failure_callback, "task_failure"
