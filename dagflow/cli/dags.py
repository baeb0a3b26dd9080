"""``dagflow dags``: list DAGs and import errors, and run one DAG in-process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from dagflow.cli.common import dags_folder_option, fail, load_dagbag, parse_conf, parse_datetime
from dagflow.cli.lazy import LazyGroup
from dagflow.core.states import RunState
from dagflow.dagbag import DagBag
from dagflow.exceptions import DagflowError, DagNotFound


@click.group(
    cls=LazyGroup,
    lazy={
        name: f"dagflow.cli.store_cmds:dags_{name.replace('-', '_')}"
        for name in ("trigger", "pause", "unpause", "state", "backfill", "reserialize")
    },
)
def dags() -> None:
    """List, inspect and run DAGs."""


@dags.command("list")
@dags_folder_option
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
def dags_list(dags_folder: Path | None, output: str) -> None:
    """List the DAGs found, and say how many files failed to import."""
    bag = load_dagbag(dags_folder)
    rows = [
        {
            "dag_id": dag.dag_id,
            "fileloc": dag.fileloc,
            "schedule": dag.timetable.summary,
            "tags": dag.tags,
            "tasks": len(dag.task_dict),
        }
        for dag in (bag.dags[d] for d in bag.dag_ids)
    ]
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        _table(
            ["dag_id", "schedule", "tasks", "fileloc"],
            [[r["dag_id"], r["schedule"], r["tasks"], r["fileloc"]] for r in rows],
        )
    if bag.import_errors:
        click.echo(
            f"{len(bag.import_errors)} file(s) failed to import: see 'dagflow dags list-import-errors'",
            err=True,
        )


@dags.command("list-import-errors")
@dags_folder_option
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
def dags_list_import_errors(dags_folder: Path | None, output: str) -> None:
    """List the DAG files that failed to import: file, line and message (exit 1 if there are any)."""
    bag = load_dagbag(dags_folder)
    errors = [bag.import_errors[f] for f in sorted(bag.import_errors)]
    if output == "json":
        click.echo(json.dumps([e.__dict__ for e in errors], indent=2))
    elif not errors:
        click.echo("No import errors.")
    else:
        for error in errors:
            click.echo(f"{error.summary()}\n{_indent(error.traceback)}")
    if errors:
        sys.exit(1)


@dags.command("test")
@click.argument("dag_id")
@dags_folder_option
@click.option("--logical-date", help="ISO 8601; default: now.")
@click.option("--conf", "conf_text", help="The run's conf, a JSON object.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary on stdout (logs go to stderr).")
def dags_test(
    dag_id: str, dags_folder: Path | None, logical_date: str | None, conf_text: str | None, as_json: bool
) -> None:
    """Run one DAG run of DAG_ID in this process and report it.

    Exit 0 when the run succeeds, 1 when it fails, 2 on bad input or when the DAG cannot be loaded.
    """
    conf = parse_conf(conf_text)
    when = parse_datetime(logical_date, "--logical-date")
    bag = load_dagbag(dags_folder)
    dag = _get_dag(bag, dag_id)
    try:
        result = dag.test(logical_date=when, conf=conf)
    except DagflowError as exc:
        fail(f"DAG {dag_id!r}: {exc}")
    report = result.report()
    if as_json:
        click.echo(json.dumps(report))
    else:
        tries = {ti.label: ti.try_number for ti in result.task_instances}
        _table(
            ["task", "state", "tries"],
            [[label, state, tries[label]] for label, state in report["tasks"].items()],
        )
        click.echo(f"Run {report['run_id']} of {dag_id}: {report['run_state']}")
    sys.exit(0 if result.state is RunState.SUCCESS else 1)


def _get_dag(bag: DagBag, dag_id: str):  # type: ignore[no-untyped-def]
    try:
        return bag.get_dag(dag_id)
    except DagNotFound as exc:
        broken = [e for e in bag.import_errors.values()]
        for error in broken:
            click.echo(f"Import error: {error.summary()}\n{_indent(error.traceback)}", err=True)
        fail(str(exc))


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.rstrip().splitlines())


def _table(headers: list[str], rows: list[list[object]]) -> None:
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))
