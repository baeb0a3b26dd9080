"""``dagflow dags``: list DAGs and import errors, run one DAG in-process, and act on the stored ones
(trigger, pause, unpause, state, backfill, reserialize).

``dags list``, ``list-import-errors`` and ``dags test`` read what the metadata store recorded (see
:mod:`dagflow.cli.sources`): no command imports every DAG file of the folder unless asked to. The
store's modules (and their libraries) are imported when a command runs, not when it is resolved.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dagflow.cli.common import (
    F,
    act,
    aware,
    dags_folder_option,
    fail,
    load_settings,
    open_database,
    parse_conf,
    parse_datetime,
    table,
)
from dagflow.cli.output import emit, output_option
from dagflow.cli.sources import LIST_ERRORS_HINT, listing, load_dag
from dagflow.core.states import RunState
from dagflow.exceptions import DagflowError

if TYPE_CHECKING:
    from dagflow.store.engine import Database


@click.group()
def dags() -> None:
    """List, inspect and run DAGs."""


def parse_folder_option(function: F) -> F:
    return click.option(
        "--dags-folder",
        "-d",
        type=click.Path(path_type=Path),
        default=None,
        help="Parse this folder (or file) of DAG files instead of reading what the metadata store recorded.",
    )(function)


DAG_COLUMNS = ["dag_id", "is_paused", "schedule", "tags", "tasks", "fileloc"]
ERROR_COLUMNS = ["filename", "line", "message", "traceback"]


@dags.command("list")
@parse_folder_option
@output_option
def dags_list(dags_folder: Path | None, output: str) -> None:
    """List the DAGs, paused or not, as the metadata store recorded them, and say how many files failed
    to import. When the store has nothing yet, parse the DAGs folder (and say so); a DAG parsed from
    a folder has no paused flag (None)."""
    found = listing(dags_folder)
    emit(found.dags, output, DAG_COLUMNS)
    if found.import_errors:
        click.echo(f"{len(found.import_errors)} file(s) failed to import: {LIST_ERRORS_HINT}", err=True)


@dags.command("list-import-errors")
@parse_folder_option
@output_option
def dags_list_import_errors(dags_folder: Path | None, output: str) -> None:
    """List the DAG files that failed to import: file, line, message and traceback (exit 1 if there are
    any), as the metadata store recorded them; when it has nothing yet, parse the DAGs folder (and say so)."""
    errors = listing(dags_folder).import_errors
    emit(errors, output, ERROR_COLUMNS, show={"traceback": lambda error: error["traceback"].rstrip()})
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
    dag = load_dag(dag_id, dags_folder)
    try:
        result = dag.test(logical_date=when, conf=conf)
    except DagflowError as exc:
        fail(f"DAG {dag_id!r}: {exc}")
    report = result.report()
    if as_json:
        click.echo(json.dumps(report))
    else:
        tries = {ti.label: ti.try_number for ti in result.task_instances}
        table(
            ["task", "state", "tries"],
            [[label, state, tries[label]] for label, state in report["tasks"].items()],
        )
        click.echo(f"Run {report['run_id']} of {dag_id}: {report['run_state']}")
        if "compensation" in report:
            undone = report["compensation"]
            order = ", ".join(f"{t} ({undone['tasks'][t]})" for t in undone["order"]) or "nothing to undo"
            click.echo(f"Compensation: {undone['state']}; undone in this order: {order}")
    sys.exit(0 if result.state is RunState.SUCCESS else 1)


# -- the stored DAGs -------------------------------------------------------------------------------------


@dags.command("reserialize")
@dags_folder_option
def dags_reserialize(dags_folder: Path | None) -> None:
    """Parse the DAGs folder now and record every DAG and import error in the store."""
    from dagflow.scheduler.processor import DagFileProcessor, ProcessorSettings
    from dagflow.store.dags import active_dag_count

    settings = load_settings()
    database = open_database(settings)
    processor = DagFileProcessor(
        ProcessorSettings(
            database_url=settings.database_url,
            dags_folder=str(dags_folder or settings.dags_folder),
            import_timeout=settings.getfloat("core", "dagbag_import_timeout"),
            paused_at_creation=settings.getbool("core", "dags_are_paused_at_creation"),
            cron_data_intervals=settings.getbool("scheduler", "create_cron_data_intervals"),
            airflow_compat=settings.getbool("core", "airflow_compat"),
        ),
        db=database,
    )
    changed = processor.scan()
    with database.session() as session:
        total = active_dag_count(session)
    click.echo(f"{total} DAG(s) in the store, {len(set(changed))} changed.")


@dags.command("trigger")
@click.argument("dag_id")
@click.option("--conf", "conf_text", help="The run's conf, a JSON object.")
@click.option("--logical-date", help="ISO 8601 (default: now).")
@click.option("--run-id", help="Default: manual__<logical date>.")
def dags_trigger(dag_id: str, conf_text: str | None, logical_date: str | None, run_id: str | None) -> None:
    """Create a manual run of DAG_ID; the scheduler runs it. Prints the new run's id."""
    from dagflow import actions
    from dagflow.store.dags import get_dag_row

    conf = parse_conf(conf_text)
    when = aware(parse_datetime(logical_date, "--logical-date"))
    database = open_database()
    run = act(
        actions.trigger_dag,
        dag_id,
        conf=conf,
        logical_date=when,
        run_id=run_id,
        owner="cli",
        database=database,
    )
    click.echo(run.run_id)
    with database.session() as session:
        row = get_dag_row(session, dag_id)
        if row is not None and row.is_paused:
            click.echo(f"Note: DAG {dag_id!r} is paused; the run starts once it is unpaused.", err=True)


def _pause(dag_id: str, paused: bool) -> None:
    from dagflow import actions

    act(actions.set_paused, dag_id, paused, owner="cli")
    click.echo(f"DAG {dag_id} is {'paused' if paused else 'unpaused'}.")


@dags.command("pause")
@click.argument("dag_id")
def dags_pause(dag_id: str) -> None:
    """Pause DAG_ID: no new runs, and no new task instances start."""
    _pause(dag_id, True)


@dags.command("unpause")
@click.argument("dag_id")
def dags_unpause(dag_id: str) -> None:
    """Unpause DAG_ID."""
    _pause(dag_id, False)


@dags.command("state")
@click.argument("dag_id")
@click.argument("run_id")
def dags_state(dag_id: str, run_id: str) -> None:
    """Print the state of one run of DAG_ID."""
    from dagflow import actions

    run = act(actions.get_run, dag_id, run_id)
    click.echo(run.state)


@dags.command("backfill")
@click.argument("dag_id")
@click.option("--start", "start_text", required=True, help="ISO 8601: first logical date to cover.")
@click.option("--end", "end_text", required=True, help="ISO 8601: last logical date to cover.")
@click.option("--max-active-runs", type=int, default=1, show_default=True)
@click.option("--no-wait", is_flag=True, help="Create the runs and return without waiting for them.")
def dags_backfill(dag_id: str, start_text: str, end_text: str, max_active_runs: int, no_wait: bool) -> None:
    """Create the missing runs of DAG_ID's schedule between --start and --end; show progress until done."""
    from dagflow import actions

    start = aware(parse_datetime(start_text, "--start"))
    end = aware(parse_datetime(end_text, "--end"))
    assert start is not None and end is not None
    database = open_database()
    backfill, runs = act(
        actions.backfill,
        dag_id,
        start=start,
        end=end,
        max_active_runs=max_active_runs,
        owner="cli",
        database=database,
    )
    click.echo(f"Backfill {backfill.id}: {len(runs)} run(s) created for {dag_id}.", err=True)
    if no_wait or not runs:
        return
    _follow_backfill(database, backfill.id, len(runs))


def _follow_backfill(database: Database, backfill_id: int, total: int) -> None:
    from dagflow.store.runs import count_backfill_runs

    with click.progressbar(length=total, label="Backfill", file=sys.stderr, show_pos=True) as bar:
        finished = 0
        while finished < total:
            with database.session() as session:
                count = count_backfill_runs(
                    session, backfill_id=backfill_id, states=(RunState.SUCCESS, RunState.FAILED)
                )
            bar.update(count - finished)
            finished = count
            if finished < total:
                time.sleep(0.5)
    with database.session() as session:
        failed = count_backfill_runs(session, backfill_id=backfill_id, states=(RunState.FAILED,))
    click.echo(f"{total - failed} succeeded, {failed} failed.")
    if failed:
        sys.exit(1)


def _register_inspection() -> None:
    from dagflow.cli import dags_inspect

    for command in (
        dags_inspect.dags_next_execution,
        dags_inspect.dags_show,
        dags_inspect.dags_details,
        dags_inspect.dags_list_runs,
    ):
        dags.add_command(command)


_register_inspection()
