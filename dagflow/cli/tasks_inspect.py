"""The ``tasks`` commands that inspect as Airflow's do: ``render`` and ``states-for-dag-run``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from dagflow.cli.common import aware, fail, load_settings
from dagflow.cli.output import emit, output_option
from dagflow.cli.sources import load_dag, parsed_store
from dagflow.exceptions import DagflowError

RULE = "# " + "-" * 58


def _as_date(text: str) -> datetime | None:
    try:
        return aware(datetime.fromisoformat(text))
    except ValueError:
        return None


def _stored_run(dag_id: str, date_or_run_id: str) -> dict[str, Any] | None:
    """The stored run named by its run id or logical date, if the store has it."""
    from dagflow.store.runs import get_run, run_with_logical_date

    when = _as_date(date_or_run_id)
    with parsed_store(load_settings()) as session:
        if session is None:
            return None
        run = (
            run_with_logical_date(session, dag_id, when) if when else get_run(session, dag_id, date_or_run_id)
        )
        if run is None:
            return None
        return {
            "run_id": run.run_id,
            "logical_date": run.logical_date,
            "start": run.data_interval_start,
            "end": run.data_interval_end,
            "run_type": run.run_type,
            "conf": run.conf or {},
        }


@click.command("render")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("logical_date_or_run_id")
@click.option("--map-index", type=int, default=-1, show_default=True)
def tasks_render(dag_id: str, task_id: str, logical_date_or_run_id: str, map_index: int) -> None:
    """Print each rendered template field of TASK_ID for a logical date (or an existing run's id)."""
    from dagflow.context import DagRunInfo
    from dagflow.runtime.inprocess import manual_run_id
    from dagflow.runtime.render import render_task

    dag = load_dag(dag_id, None)
    stored = _stored_run(dag_id, logical_date_or_run_id)
    if stored is not None:
        when = stored["logical_date"]
        start, end = stored["start"] or when, stored["end"] or when
        info = DagRunInfo(dag_id, stored["run_id"], when, start, end, stored["run_type"], stored["conf"])
    else:
        when = _as_date(logical_date_or_run_id)
        if when is None:
            fail(
                f"{logical_date_or_run_id!r} is neither an ISO 8601 logical date nor a run of DAG {dag_id!r}"
            )
        interval = dag.timetable.infer_manual_data_interval(run_after=when)
        info = DagRunInfo(dag_id, manual_run_id(when), when, interval.start, interval.end, "manual", {})
    try:
        rendered = render_task(dag, task_id, info, map_index)
    except DagflowError as exc:
        fail(str(exc))
    for name, value in rendered.items():
        click.echo(f"\n{RULE}\n# property: {name}\n{RULE}")
        click.echo(value)


@click.command("states-for-dag-run")
@click.argument("dag_id")
@click.argument("logical_date_or_run_id")
@output_option
def tasks_states_for_dag_run(dag_id: str, logical_date_or_run_id: str, output: str) -> None:
    """Print the state of every task instance of one run (by run id or logical date)."""
    from dagflow.core.keys import RunKey
    from dagflow.store.inspection import run_task_states

    stored = _stored_run(dag_id, logical_date_or_run_id)
    if stored is None:
        fail(f"DAG {dag_id!r} has no run {logical_date_or_run_id!r} in the metadata store")
    with parsed_store(load_settings()) as session:
        assert session is not None
        states = run_task_states(session, RunKey(dag_id, stored["run_id"]))
    mapped = any(ti["map_index"] >= 0 for ti in states)
    rows = [_state_row(dag_id, stored["logical_date"], ti, mapped) for ti in states]
    columns = ["dag_id", "logical_date", "task_id", "state", "start_date", "end_date"]
    emit(rows, output, [*columns, "map_index"] if mapped else columns)


def _state_row(
    dag_id: str, logical_date: datetime | None, ti: dict[str, Any], mapped: bool
) -> dict[str, Any]:
    """One task instance as Airflow's ``states-for-dag-run`` prints it (times ISO 8601, none empty)."""
    row = {
        "dag_id": dag_id,
        "logical_date": logical_date.isoformat() if logical_date else "",
        "task_id": ti["task_id"],
        "state": ti["state"],
        "start_date": ti["start_date"].isoformat() if ti["start_date"] else "",
        "end_date": ti["end_date"].isoformat() if ti["end_date"] else "",
    }
    if mapped:
        row["map_index"] = str(ti["map_index"]) if ti["map_index"] >= 0 else ""
    return row
