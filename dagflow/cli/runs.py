"""``dagflow runs``: list DAG runs and show one with its task instances."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import click

from dagflow.cli.common import act, aware, duration, echo_json, fail, open_database, table, when
from dagflow.cli.output import Show, emit, json_alias, output_choice
from dagflow.core.clock import utcnow
from dagflow.core.keys import RunKey
from dagflow.core.states import RunState
from dagflow.exceptions import DagflowError


@click.group()
def runs() -> None:
    """Inspect DAG runs."""


COLUMNS = ["dag_id", "run_id", "state", "logical_date", "duration"]
WIDE_COLUMNS = ["dag_id", "run_id", "state", "run_type", "logical_date", "start_date", "end_date", "duration"]
#: What ``runs list`` fits a table in, unless ``--wide``.
TABLE_WIDTH = 120
TIMES = ("logical_date", "start_date", "end_date")


@runs.command("list")
@click.option("--dag-id")
@click.option("--state", type=click.Choice([s.value for s in RunState]))
@click.option("--limit", type=int, default=50, show_default=True)
@click.option(
    "--wide",
    is_flag=True,
    help="Also the run type, start and end; a table shows whole ids (else it fits 120 columns, long "
    "ids cut in the middle).",
)
@output_choice("wide", kept_help="wide: deprecated, the same as --wide.")
@json_alias
def runs_list(dag_id: str | None, state: str | None, limit: int, wide: bool, output: str) -> None:
    """List runs, newest first. A table shows times in UTC to the second and durations in words (a
    running run's time so far, marked +); json and yaml show ISO 8601 times and durations in seconds."""
    from dagflow.store.rows import run_json
    from dagflow.store.runs import list_runs

    if output == "wide":
        output, wide = "table", True
    now = utcnow()
    with open_database().session() as session:
        found = list_runs(session, dag_id=dag_id, state=RunState(state) if state else None, limit=limit)
        rows = [{**run_json(r), "duration": _seconds(r.start_date, r.end_date, now)} for r in found]
    show: dict[str, Show] = {c: _time_of(c) for c in TIMES}
    emit(
        rows,
        output,
        WIDE_COLUMNS if wide else COLUMNS,
        show={**show, "duration": _took},
        width=None if wide else TABLE_WIDTH,
        shrink=("dag_id", "run_id"),
    )


def _time_of(column: str) -> Show:
    return lambda run: when(_parse(run[column])) or None


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _seconds(start: datetime | None, end: datetime | None, now: datetime) -> float | None:
    """How long a run took, or has been running; None before it starts."""
    begun = aware(start)
    if begun is None:
        return None
    return round(max(((aware(end) or now) - begun).total_seconds(), 0.0), 3)


def _took(run: Mapping[str, Any]) -> str | None:
    """A run's duration in words, a running run's marked with a trailing +."""
    if run["duration"] is None:
        return None
    return duration(run["duration"]) + ("" if run["end_date"] else "+")


@runs.command("show")
@click.argument("dag_id")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True)
def runs_show(dag_id: str, run_id: str, as_json: bool) -> None:
    """A run's state and, per task instance, its state, try number and times."""
    from dagflow import actions
    from dagflow.store.compensations import compensation_rows
    from dagflow.store.reads import run_task_instances
    from dagflow.store.rows import compensation_json, run_json, ti_json
    from dagflow.store.versions import version_of_run

    with open_database().session() as session:
        try:
            run = actions.get_run(session, dag_id, run_id)
        except DagflowError as exc:
            fail(str(exc))
        instances = [ti_json(ti) for ti in run_task_instances(session, run=RunKey(dag_id, run_id))]
        compensations = [compensation_json(c) for c in compensation_rows(session, RunKey(dag_id, run_id))]
        version = version_of_run(session, dag_id, run_id)
        report = {
            **run_json(run),
            "dag_version": version.to_json() if version is not None else None,
            "task_instances": instances,
            "compensations": compensations,
        }
    if as_json:
        echo_json(report)
        return
    said = f", DAG version {version.version_number}" if version is not None else ""
    click.echo(f"{dag_id} {run_id}: {report['state']}{said}")
    columns = ["task_id", "map_index", "state", "try_number"]
    times = ["queued_at", "start_date", "end_date"]
    headers = ["task", "map_index", "state", "try", *times, "duration"]
    rows = [
        [*(t[c] for c in columns), *(when(_parse(t[c])) for c in times), duration(t.get("duration"))]
        for t in instances
    ]
    table(headers, rows)
    if report["compensation_state"] != "none" or compensations:
        click.echo(f"compensation: {report['compensation_state']}")
        comp_rows = [
            [*(c[k] for k in columns), *(when(_parse(c[k])) for k in times), ""] for c in compensations
        ]
        table(headers, comp_rows)


@runs.command("compensate")
@click.argument("dag_id")
@click.argument("run_id")
@click.option("--resume", is_flag=True, help="Retry the compensations that failed (after a fix).")
def runs_compensate(dag_id: str, run_id: str, resume: bool) -> None:
    """Undo what a finished run did: its succeeded tasks' compensations run, in reverse order.

    The scheduler runs them; ``dagflow runs show`` follows their progress.
    """
    from dagflow import actions

    act(actions.compensate_run, dag_id, run_id, resume=resume, owner="cli")
    verb = "resumed" if resume else "started"
    click.echo(f"compensation of {dag_id} {run_id} {verb}; the scheduler runs it")
