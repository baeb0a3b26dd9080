"""The trigger page: a form built from the DAG's params, plus raw JSON conf, an optional logical date
and an optional run id."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from dagflow import actions
from dagflow.exceptions import DagflowError
from dagflow.store.rows import dag_json
from webui import trigger_form
from webui.auth import current_user, requires
from webui.db import write_session
from webui.views import bp
from webui.views.dag import dag_or_404


@bp.route("/dags/<dag_id>/trigger", methods=["GET", "POST"])
@requires("op")
def trigger(dag_id: str) -> Any:
    """GET shows the form with the params' defaults; POST creates the run, or shows the form's errors."""
    row, serialized = dag_or_404(dag_id)
    params = serialized["dag"].get("params") or {}
    if request.method == "GET":
        return _page(row, serialized, trigger_form.form_fields(params), {}, 200)
    submission = trigger_form.read_form(params, request.form)
    if not submission.errors:
        try:
            with write_session() as session:
                run = actions.trigger_dag(
                    session,
                    dag_id,
                    conf=submission.conf,
                    logical_date=submission.logical_date,
                    run_id=submission.run_id,
                    owner=current_user.username,
                )
                run_id = run.run_id
        except DagflowError as exc:
            submission.errors["form"] = str(exc)
        else:
            conf = json.dumps(submission.conf, ensure_ascii=False, sort_keys=True)
            flash(f"Triggered run {run_id} of DAG {dag_id} with conf {conf}.", "success")
            return redirect(url_for("views.run", dag_id=dag_id, run_id=run_id))
    fields = trigger_form.form_fields(params, request.form, submission.errors)
    return _page(row, serialized, fields, submission.errors, 400)


def _page(
    row: Any,
    serialized: dict[str, Any],
    fields: list[trigger_form.Field],
    errors: dict[str, str],
    status: int,
) -> Any:
    return (
        render_template(
            "trigger.html",
            dag=dag_json(row),
            info=serialized["dag"],
            fields=fields,
            errors=errors,
            conf_text=request.form.get("conf", ""),
            logical_date=request.form.get("logical_date", ""),
            run_id=request.form.get("run_id", ""),
            tab="trigger",
        ),
        status,
    )
