"""Compensations on the pages: start or resume a run's compensation (confirmed), and one
compensation's tries, logs and why it is not running."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from dagflow import actions
from dagflow.core.keys import RunKey, TIKey
from dagflow.core.saga import compensation_label
from dagflow.explain import why_compensation
from dagflow.runtime.compensation import compensation_log_path
from dagflow.store import compensations as comp_store
from dagflow.store.rows import dag_json, run_json
from webui.api.common import calling_action
from webui.auth import current_user, requires
from webui.db import read_session, run_or_404, settings, write_session
from webui.views import bp
from webui.views.actions import _confirm, _run, listed
from webui.views.dag import dag_or_404, stored_dag
from webui.views.run import map_index_arg, read_log


def undo_labels(serialized: dict[str, Any], run_id: str, dag_id: str) -> list[str]:
    """The task instances a compensation of the run would undo: those that succeeded and have one."""
    spec = stored_dag(serialized).spec
    forward = comp_store.forward_states(read_session(), RunKey(dag_id, run_id))
    from dagflow.core.saga import targets_of

    found = targets_of(spec.saga_graph, {k: state for k, (state, _) in forward.items()})
    return sorted(compensation_label(k) for k in found)


@bp.route("/dags/<dag_id>/actions/compensate", methods=["POST"])
@requires("op")
def compensate_run(dag_id: str) -> Any:
    """Compensate a finished run (``resume=true``: retry the compensations that failed), once confirmed."""
    serialized, run = _run(dag_id)
    resume = request.form.get("resume") == "true"
    back = url_for("views.run", dag_id=dag_id, run_id=run.run_id)
    if request.form.get("confirm") != "yes":
        labels = undo_labels(serialized, run.run_id, dag_id)
        verb = "Resume the compensation of" if resume else "Compensate"
        lines = [
            f"The run is {run.state}; its compensation is {run.compensation_state}.",
            f"Undone, last task first: {listed(labels) or 'nothing (no task that succeeded has one)'}.",
        ]
        return _confirm(f"{verb} run {run.run_id}?", lines, back, button="Compensate", danger=True)
    with write_session() as session:
        calling_action(
            lambda: actions.compensate_run(
                session, dag_id, run.run_id, resume=resume, owner=current_user.username
            )
        )
    flash(f"The compensation of run {run.run_id} is under way; the scheduler runs it.", "success")
    return redirect(back)


@bp.route("/dags/<dag_id>/tasks/<task_id>/compensation")
def compensation(dag_id: str, task_id: str) -> Any:
    """One compensation: its state, its tries with their logs, and why it is not running."""
    row, serialized = dag_or_404(dag_id)
    run_id = request.args.get("run_id", "")
    map_index = map_index_arg()
    the_run = run_or_404(dag_id, run_id)
    stored = stored_dag(serialized)
    if task_id not in stored.spec.saga_graph.compensated:
        abort(404, description=f"DAG {dag_id!r} has no compensation for {task_id!r}")
    key = TIKey(dag_id, run_id, task_id, map_index)
    session = read_session()
    tries = comp_store.tries_of(session, key)
    current = next(
        (
            r
            for r in comp_store.compensation_rows(session, key.run)
            if r.task_id == task_id and r.map_index == map_index
        ),
        None,
    )
    shown = _try_arg(current.try_number if current is not None else 0)
    content, exists = _log(key, shown, tries)
    return render_template(
        "compensation.html",
        dag=dag_json(row),
        info=serialized["dag"],
        run=run_json(the_run),
        key=key,
        label=compensation_label((task_id, map_index)),
        current=current,
        tries=tries,
        shown=shown,
        content=content,
        exists=exists,
        why=why_compensation(session, stored, the_run, key),
        is_task=task_id in serialized["tasks"],
        tab="runs",
    )


def _try_arg(default: int) -> int:
    try:
        return int(request.args.get("try", default))
    except ValueError:
        abort(400, description="try must be an integer")


def _log(key: TIKey, try_number: int, tries: list[Any]) -> tuple[str, bool]:
    recorded = next((t.log_path for t in tries if t.try_number == try_number and t.log_path), None)
    base = settings().log_folder
    path = Path(recorded) if recorded else compensation_log_path(base, key, try_number)
    if not recorded and not path.resolve().is_relative_to(base.resolve()):
        abort(404, description="no log for this try")
    content, _ = read_log(path, 0)
    return content, path.is_file()
