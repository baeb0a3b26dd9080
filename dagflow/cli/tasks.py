"""``dagflow tasks``: list a DAG's tasks, test one, and read, clear or follow the logs of task instances.

``tasks list`` reads the DAG the metadata store recorded, ``tasks test`` imports that DAG's own file
only (see :mod:`dagflow.cli.sources`).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dagflow.cli.common import (
    act,
    aware,
    dags_folder_option,
    fail,
    load_settings,
    open_database,
    parse_conf,
    parse_datetime,
)
from dagflow.cli.sources import load_dag, task_order
from dagflow.core.keys import TIKey
from dagflow.core.states import TaskState
from dagflow.exceptions import DagflowError

if TYPE_CHECKING:
    from dagflow.remote.logs import TryLog
    from dagflow.store.engine import Database


@click.group()
def tasks() -> None:
    """Inspect, test, clear and read the logs of task instances."""


@tasks.command("list")
@click.argument("dag_id")
@dags_folder_option
def tasks_list(dag_id: str, dags_folder: Path | None) -> None:
    """List DAG_ID's tasks in topological order, as the metadata store recorded them."""
    for task_id in task_order(dag_id, dags_folder):
        click.echo(task_id)


@tasks.command("test")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("logical_date", required=False)
@dags_folder_option
@click.option("--map-index", type=int, default=-1)
@click.option("--conf", "conf_text", help="The run's conf, a JSON object.")
def tasks_test(
    dag_id: str,
    task_id: str,
    logical_date: str | None,
    dags_folder: Path | None,
    map_index: int,
    conf_text: str | None,
) -> None:
    """Run one task once in this process, ignoring its dependencies and recording nothing."""
    from dagflow.context import DagRunInfo
    from dagflow.core.clock import utcnow
    from dagflow.runtime.inprocess import manual_run_id
    from dagflow.runtime.tasklog import TaskLog
    from dagflow.runtime.taskrunner import Attempt, run_attempt
    from dagflow.runtime.xcom import MemoryXComStore

    conf = parse_conf(conf_text)
    when = aware(parse_datetime(logical_date, "LOGICAL_DATE")) or utcnow()
    dag = load_dag(dag_id, dags_folder)
    try:
        spec = dag.spec().tasks[dag.get_task(task_id).task_id]
    except DagflowError as exc:
        fail(str(exc))
    interval = dag.timetable.infer_manual_data_interval(run_after=when)
    info = DagRunInfo(dag_id, manual_run_id(when), when, interval.start, interval.end, "manual", conf)
    outcome = run_attempt(
        dag,
        spec,
        Attempt(task_id, map_index, 1, 0, info),
        xcom_store=MemoryXComStore(),
        log=TaskLog(sys.stderr),
    )
    click.echo(outcome.state.value)
    sys.exit(0 if outcome.state in (TaskState.SUCCESS, TaskState.SKIPPED) else 1)


def _no_task_instance(key: TIKey) -> str:
    return (
        f"no task instance {key.task_id!r} (map index {key.map_index}) in run {key.run_id!r} "
        f"of DAG {key.dag_id!r}"
    )


@tasks.command("state")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("run_id")
@click.option("--map-index", type=int, default=-1)
def tasks_state(dag_id: str, task_id: str, run_id: str, map_index: int) -> None:
    """Print the state of one task instance."""
    from dagflow.store.reads import get_task_instance

    key = TIKey(dag_id, run_id, task_id, map_index)
    with open_database().session() as session:
        row = get_task_instance(session, key=key)
        if row is None:
            fail(_no_task_instance(key))
        click.echo(row.state)


@tasks.command("why")
@click.argument("dag_id")
@click.argument("run_id")
@click.argument("task_id")
@click.option("--map-index", type=int, default=-1)
@click.option("--compensation", is_flag=True, help="Why the task's compensation is not running.")
def tasks_why(dag_id: str, run_id: str, task_id: str, map_index: int, compensation: bool) -> None:
    """Say why a task instance (or its compensation) is not running (the same text as in the web UI)."""
    from dagflow.explain import NoTaskInstance, why

    if compensation:
        _why_compensation(TIKey(dag_id, run_id, task_id, map_index))
        return
    settings = load_settings()
    with open_database(settings).session() as session:
        try:
            found = why(
                session,
                TIKey(dag_id, run_id, task_id, map_index),
                parallelism=settings.getint("core", "parallelism"),
            )
        except NoTaskInstance as exc:
            fail(str(exc))
    click.echo(f"{found.title}:")
    for reason in found.reasons:
        click.echo(f"  - {reason}")


def _why_compensation(key: TIKey) -> None:
    from dagflow import actions
    from dagflow.exceptions import DagflowError
    from dagflow.explain import why_compensation

    with open_database().session() as session:
        try:
            run = actions.get_run(session, key.dag_id, key.run_id)
            reasons = why_compensation(session, actions.stored_dag(session, key.dag_id), run, key)
        except DagflowError as exc:
            fail(str(exc))
    click.echo(f"Compensation of {key.task_id} ({run.compensation_state}):")
    for reason in reasons:
        click.echo(f"  - {reason}")


@tasks.command("clear")
@click.argument("dag_id")
@click.argument("run_id")
@click.option("--task", "-t", "task_ids", multiple=True, help="Task id (repeatable). Default: every task.")
@click.option("--task-regex", help="Clear the tasks whose id matches this regular expression.")
@click.option("--downstream", "-d", is_flag=True, help="Also clear the tasks downstream of them.")
@click.option("--upstream", "-u", is_flag=True, help="Also clear the tasks upstream of them.")
@click.option("--only-failed", "-f", is_flag=True, help="Only failed and upstream_failed task instances.")
@click.option("--dry-run", is_flag=True, help="Show what would be cleared.")
@click.option(
    "--exclude-dependent-dags",
    is_flag=True,
    help="Do not also clear the tasks that ExternalTaskMarkers point to in other DAGs.",
)
@click.option(
    "--dag-version",
    type=click.Choice(["run", "latest"]),
    default="run",
    show_default=True,
    help="Run them again on the DAG version the run started with, or move the run to the latest.",
)
def tasks_clear(
    dag_id: str,
    run_id: str,
    task_ids: tuple[str, ...],
    task_regex: str | None,
    downstream: bool,
    upstream: bool,
    only_failed: bool,
    dry_run: bool,
    exclude_dependent_dags: bool,
    dag_version: str,
) -> None:
    """Clear task instances of one run so they run again (and, through ExternalTaskMarkers, the
    tasks they mark in other DAGs' runs)."""
    from dagflow import actions

    selected = list(task_ids)
    if task_regex:
        selected += _matching_tasks(dag_id, task_regex)
    result = act(
        actions.clear_task_instances,
        dag_id,
        run_id,
        selected,
        downstream=downstream,
        upstream=upstream,
        only_failed=only_failed,
        owner="cli",
        dry_run=dry_run,
        include_dependent_dags=not exclude_dependent_dags,
        dag_version=dag_version,
    )
    verb = "Would clear" if dry_run else "Cleared"
    click.echo(f"{verb} {len(result.cleared)} task instance(s).")
    for task_id, map_index in result.cleared:
        click.echo(f"  {task_id}" + (f"[{map_index}]" if map_index >= 0 else ""))
    for other_dag, other_run, task_id, map_index in result.dependent:
        index = f"[{map_index}]" if map_index >= 0 else ""
        click.echo(f"  {other_dag} {other_run} {task_id}{index} (through an ExternalTaskMarker)")


def _matching_tasks(dag_id: str, pattern: str) -> list[str]:
    from dagflow import actions

    try:
        regex = re.compile(pattern)
    except re.error as exc:
        fail(f"--task-regex {pattern!r} is not a valid regular expression: {exc}")
    stored = act(actions.stored_dag, dag_id)
    found = [t for t in stored.spec.tasks if regex.search(t)]
    if not found:
        fail(f"no task of DAG {dag_id!r} matches {pattern!r}")
    return found


@tasks.command("logs")
@click.argument("dag_id")
@click.argument("run_id")
@click.argument("task_id")
@click.option("--map-index", type=int, default=-1)
@click.option("--try", "try_number", type=int, help="Default: the latest try.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing while the try runs.")
def tasks_logs(
    dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int | None, follow: bool
) -> None:
    """Print the log of one try of a task instance."""
    from dagflow.remote.logs import TryLog
    from dagflow.store.reads import get_task_instance, try_log_path, try_log_url

    settings = load_settings()
    database = open_database(settings)
    key = TIKey(dag_id, run_id, task_id, map_index)
    with database.session() as session:
        row = get_task_instance(session, key=key)
        if row is None:
            fail(_no_task_instance(key))
        number = try_number or row.try_number
        stored_path = try_log_path(session, key=key, try_number=number)
        log_url = try_log_url(session, key=key, try_number=number)
    if number < 1:
        fail(f"task instance {task_id!r} has not run yet (state {row.state})")
    log = TryLog.locate(settings, key, number, stored_path=stored_path, log_url=log_url)
    if not log_url and not log.exists():  # (a log server says itself why it has none)
        fail(f"no log for try {number} of {task_id!r} at {log.local}")
    _print_log(log, follow, database, key, number)


def _print_log(log: TryLog, follow: bool, database: Database, key: TIKey, number: int) -> None:
    """Print the log from its start; with ``follow``, keep printing while the try runs."""
    offset = 0
    while True:
        try:
            chunk, start = log.read(offset, 1024 * 1024)
        except DagflowError as exc:
            fail(str(exc))
        if chunk:
            click.echo(chunk.decode("utf-8", errors="replace"), nl=False)
            offset = start + len(chunk)
            continue
        if not follow or not _still_running(database, key, number):
            return
        time.sleep(0.3)


def _still_running(database: Database, key: TIKey, number: int) -> bool:
    from dagflow.store.reads import get_task_instance

    with database.session() as session:
        row = get_task_instance(session, key=key)
        return row is not None and row.state == TaskState.RUNNING and row.try_number == number


def _register_inspection() -> None:
    from dagflow.cli import tasks_inspect

    tasks.add_command(tasks_inspect.tasks_render)
    tasks.add_command(tasks_inspect.tasks_states_for_dag_run)


_register_inspection()
