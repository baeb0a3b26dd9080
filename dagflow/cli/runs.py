"""``dagflow runs``: list DAG runs and show one with its task instances."""

from __future__ import annotations

import click

from dagflow.cli.common import echo_json, fail, open_database, table
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
@click.option("--json", "as_json", is_flag=True)
def runs_list(dag_id: str | None, state: str | None, limit: int, as_json: bool) -> None:
    """List runs, newest first."""
    from dagflow.store.rows import run_json
    from dagflow.store.runs import list_runs

    with open_database().session() as session:
        found = list_runs(session, dag_id=dag_id, state=RunState(state) if state else None, limit=limit)
        rows = [run_json(r) for r in found]
    if as_json:
        echo_json(rows)
        return
    columns = ["dag_id", "run_id", "state", "run_type", "logical_date", "start_date", "end_date"]
    table(columns, [[r[c] for c in columns] for r in rows])


@runs.command("show")
@click.argument("dag_id")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True)
def runs_show(dag_id: str, run_id: str, as_json: bool) -> None:
    """A run's state and, per task instance, its state, try number and times."""
    from dagflow import actions
    from dagflow.store.reads import run_task_instances
    from dagflow.store.rows import run_json, ti_json

    with open_database().session() as session:
        try:
            run = actions.get_run(session, dag_id, run_id)
        except DagflowError as exc:
            fail(str(exc))
        instances = [ti_json(ti) for ti in run_task_instances(session, run=RunKey(dag_id, run_id))]
        report = {**run_json(run), "task_instances": instances}
    if as_json:
        echo_json(report)
        return
    click.echo(f"{dag_id} {run_id}: {report['state']}")
    columns = ["task_id", "map_index", "state", "try_number", "queued_at", "start_date", "end_date"]
    headers = ["task", "map_index", "state", "try", "queued_at", "start_date", "end_date"]
    table(headers, [[t[c] for c in columns] for t in instances])
