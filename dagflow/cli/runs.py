"""``dagflow runs``: list DAG runs and show one with its task instances."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from dagflow.cli.common import act, aware, duration, echo_json, fail, open_database, table, when
from dagflow.core.clock import utcnow
from dagflow.core.keys import RunKey
from dagflow.core.states import RunState
from dagflow.exceptions import DagflowError


@click.group()
def runs() -> None:
    """Inspect DAG runs."""


@runs.command("list")
@click.option("--dag-id")
@click.option("--state", type=click.Choice([s.value for s in RunState]))
@click.option("--limit", type=int, default=50, show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "json", "wide"]),
    default="table",
    show_default=True,
    help="table fits 120 columns (long ids cut in the middle); wide adds the run type and times, uncut.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --output json.")
def runs_list(dag_id: str | None, state: str | None, limit: int, output: str, as_json: bool) -> None:
    """List runs, newest first; times in UTC."""
    from dagflow.store.rows import run_json
    from dagflow.store.runs import list_runs

    now = utcnow()
    with open_database().session() as session:
        found = list_runs(session, dag_id=dag_id, state=RunState(state) if state else None, limit=limit)
        rows = [(run_json(r), _took(r.start_date, r.end_date, now)) for r in found]
    if as_json or output == "json":
        echo_json([r for r, _ in rows])
    elif output == "wide":
        columns = ["dag_id", "run_id", "state", "run_type", "logical_date", "start_date", "end_date"]
        table([*columns, "duration"], [[*_cells(r, columns), took] for r, took in rows])
    else:
        columns = ["dag_id", "run_id", "state", "logical_date"]
        table(
            [*columns, "duration"],
            [[*_cells(r, columns), took] for r, took in rows],
            width=TABLE_WIDTH,
            shrink=("dag_id", "run_id"),
        )


#: What ``runs list`` fits in by default.
TABLE_WIDTH = 120
TIMES = ("logical_date", "start_date", "end_date")


def _cells(run: dict[str, Any], columns: list[str]) -> list[object]:
    return [when(_parse(run[c])) if c in TIMES else run[c] for c in columns]


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _took(start: datetime | None, end: datetime | None, now: datetime) -> str:
    """How long a run took, or has been running (then marked with a trailing +)."""
    if start is None:
        return ""
    start = aware(start)
    assert start is not None
    seconds = ((aware(end) or now) - start).total_seconds()
    return duration(max(seconds, 0.0)) + ("" if end else "+")


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
