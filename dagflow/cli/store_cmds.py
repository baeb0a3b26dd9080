"""Commands that act on the metadata store: trigger, pause, backfill, state; tasks and runs."""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select

from dagflow.cli.common import (
    dags_folder_option,
    echo_json,
    fail,
    load_dagbag,
    load_settings,
    open_database,
    parse_conf,
    parse_datetime,
    table,
)
from dagflow.core.states import RunState, TaskState
from dagflow.exceptions import DagflowError
from dagflow.store.engine import Database
from dagflow.store.models import DagRow, DagRunRow, TaskInstanceRow, TaskInstanceTryRow
from dagflow.store.rows import run_json, ti_json

TI = TaskInstanceRow


def _act(action: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an action in one write transaction; a bad input is a one-line error and exit 2."""
    database = kwargs.pop("database", None) or open_database()
    try:
        with database.session(write=True) as session:
            return action(session, *args, **kwargs)
    except DagflowError as exc:
        fail(str(exc))


def _wake() -> None:
    from dagflow.scheduler.wakeup import wake_scheduler

    wake_scheduler(load_settings().home)


def _aware(value: datetime | None, option: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# -- dagflow dags ... ------------------------------------------------------------------------------


@click.command("reserialize")
@dags_folder_option
def dags_reserialize(dags_folder: Path | None) -> None:
    """Parse the DAGs folder now and record every DAG and import error in the store."""
    from dagflow.scheduler.processor import DagFileProcessor, ProcessorSettings

    settings = load_settings()
    database = open_database(settings)
    processor = DagFileProcessor(
        ProcessorSettings(
            database_url=settings.database_url,
            dags_folder=str(dags_folder or settings.dags_folder),
            import_timeout=settings.getfloat("core", "dagbag_import_timeout"),
            paused_at_creation=settings.getbool("core", "dags_are_paused_at_creation"),
            cron_data_intervals=settings.getbool("scheduler", "create_cron_data_intervals"),
        ),
        db=database,
    )
    changed = processor.scan()
    with database.session() as session:
        total = session.scalar(select(func.count()).select_from(DagRow).where(DagRow.is_active.is_(True)))
    click.echo(f"{total} DAG(s) in the store, {len(set(changed))} changed.")


@click.command("trigger")
@click.argument("dag_id")
@click.option("--conf", "conf_text", help="The run's conf, a JSON object.")
@click.option("--logical-date", help="ISO 8601 (default: now).")
@click.option("--run-id", help="Default: manual__<logical date>.")
def dags_trigger(dag_id: str, conf_text: str | None, logical_date: str | None, run_id: str | None) -> None:
    """Create a manual run of DAG_ID; the scheduler runs it. Prints the new run's id."""
    from dagflow import actions

    conf = parse_conf(conf_text)
    when = _aware(parse_datetime(logical_date, "--logical-date"), "--logical-date")
    run = _act(actions.trigger_dag, dag_id, conf=conf, logical_date=when, run_id=run_id, owner="cli")
    _wake()
    click.echo(run.run_id)
    database = open_database()
    with database.session() as session:
        row = session.get(DagRow, dag_id)
        if row is not None and row.is_paused:
            click.echo(f"Note: DAG {dag_id!r} is paused; the run starts once it is unpaused.", err=True)


def _pause(dag_id: str, paused: bool) -> None:
    from dagflow import actions

    _act(actions.set_paused, dag_id, paused, owner="cli")
    _wake()
    click.echo(f"DAG {dag_id} is {'paused' if paused else 'unpaused'}.")


@click.command("pause")
@click.argument("dag_id")
def dags_pause(dag_id: str) -> None:
    """Pause DAG_ID: no new runs, and no new task instances start."""
    _pause(dag_id, True)


@click.command("unpause")
@click.argument("dag_id")
def dags_unpause(dag_id: str) -> None:
    """Unpause DAG_ID."""
    _pause(dag_id, False)


@click.command("state")
@click.argument("dag_id")
@click.argument("run_id")
def dags_state(dag_id: str, run_id: str) -> None:
    """Print the state of one run of DAG_ID."""
    from dagflow import actions

    run = _act(actions.get_run, dag_id, run_id)
    click.echo(run.state)


@click.command("backfill")
@click.argument("dag_id")
@click.option("--start", "start_text", required=True, help="ISO 8601: first logical date to cover.")
@click.option("--end", "end_text", required=True, help="ISO 8601: last logical date to cover.")
@click.option("--max-active-runs", type=int, default=1, show_default=True)
@click.option("--no-wait", is_flag=True, help="Create the runs and return without waiting for them.")
def dags_backfill(dag_id: str, start_text: str, end_text: str, max_active_runs: int, no_wait: bool) -> None:
    """Create the missing runs of DAG_ID's schedule between --start and --end; show progress until done."""
    from dagflow import actions

    start = _aware(parse_datetime(start_text, "--start"), "--start")
    end = _aware(parse_datetime(end_text, "--end"), "--end")
    assert start is not None and end is not None
    database = open_database()
    backfill, runs = _act(
        actions.backfill,
        dag_id,
        start=start,
        end=end,
        max_active_runs=max_active_runs,
        owner="cli",
        database=database,
    )
    _wake()
    click.echo(f"Backfill {backfill.id}: {len(runs)} run(s) created for {dag_id}.", err=True)
    if no_wait or not runs:
        return
    _follow_backfill(database, backfill.id, len(runs))


def _follow_backfill(database: Database, backfill_id: int, total: int) -> None:
    done_states = (RunState.SUCCESS.value, RunState.FAILED.value)
    with click.progressbar(length=total, label="Backfill", file=sys.stderr, show_pos=True) as bar:
        finished = 0
        while finished < total:
            with database.session() as session:
                count = (
                    session.scalar(
                        select(func.count())
                        .select_from(DagRunRow)
                        .where(DagRunRow.backfill_id == backfill_id, DagRunRow.state.in_(done_states))
                    )
                    or 0
                )
            bar.update(count - finished)
            finished = count
            if finished < total:
                time.sleep(0.5)
    with database.session() as session:
        failed = (
            session.scalar(
                select(func.count())
                .select_from(DagRunRow)
                .where(DagRunRow.backfill_id == backfill_id, DagRunRow.state == RunState.FAILED.value)
            )
            or 0
        )
    click.echo(f"{total - failed} succeeded, {failed} failed.")
    if failed:
        sys.exit(1)


# -- dagflow runs ... ----------------------------------------------------------------------------------


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
    query = select(DagRunRow).order_by(DagRunRow.run_after.desc(), DagRunRow.id.desc()).limit(limit)
    if dag_id:
        query = query.where(DagRunRow.dag_id == dag_id)
    if state:
        query = query.where(DagRunRow.state == state)
    with open_database().session() as session:
        rows = [run_json(r) for r in session.scalars(query)]
    if as_json:
        echo_json(rows)
        return
    table(
        ["dag_id", "run_id", "state", "run_type", "logical_date", "start_date", "end_date"],
        [
            [
                r["dag_id"],
                r["run_id"],
                r["state"],
                r["run_type"],
                r["logical_date"],
                r["start_date"],
                r["end_date"],
            ]
            for r in rows
        ],
    )


@runs.command("show")
@click.argument("dag_id")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True)
def runs_show(dag_id: str, run_id: str, as_json: bool) -> None:
    """A run's state and, per task instance, its state, try number and times."""
    from dagflow import actions

    database = open_database()
    with database.session() as session:
        try:
            run = actions.get_run(session, dag_id, run_id)
        except DagflowError as exc:
            fail(str(exc))
        query = select(TI).where(TI.dag_id == dag_id, TI.run_id == run_id).order_by(TI.task_id, TI.map_index)
        instances = [ti_json(ti) for ti in session.scalars(query)]
        report = {**run_json(run), "task_instances": instances}
    if as_json:
        echo_json(report)
        return
    click.echo(f"{dag_id} {run_id}: {report['state']}")
    table(
        ["task", "map_index", "state", "try", "queued_at", "start_date", "end_date"],
        [
            [
                t["task_id"],
                t["map_index"],
                t["state"],
                t["try_number"],
                t["queued_at"],
                t["start_date"],
                t["end_date"],
            ]
            for t in instances
        ],
    )


# -- dagflow tasks ... -----------------------------------------------------------------------------------


@click.group()
def tasks() -> None:
    """Inspect, test, clear and read the logs of task instances."""


@tasks.command("list")
@click.argument("dag_id")
@dags_folder_option
def tasks_list(dag_id: str, dags_folder: Path | None) -> None:
    """List DAG_ID's tasks in topological order."""
    bag = load_dagbag(dags_folder)
    try:
        dag = bag.get_dag(dag_id)
    except DagflowError as exc:
        fail(str(exc))
    for task_id in dag.topological_order:
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
    when = _aware(parse_datetime(logical_date, "LOGICAL_DATE"), "LOGICAL_DATE") or utcnow()
    bag = load_dagbag(dags_folder)
    try:
        dag = bag.get_dag(dag_id)
        spec = dag.spec().tasks[dag.get_task(task_id).task_id]
    except DagflowError as exc:
        fail(str(exc))
    interval = dag.timetable.infer_manual_data_interval(when)
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


@tasks.command("state")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("run_id")
@click.option("--map-index", type=int, default=-1)
def tasks_state(dag_id: str, task_id: str, run_id: str, map_index: int) -> None:
    """Print the state of one task instance."""
    with open_database().session() as session:
        row = session.get(TI, (dag_id, run_id, task_id, map_index))
        if row is None:
            fail(f"no task instance {task_id!r} (map index {map_index}) in run {run_id!r} of DAG {dag_id!r}")
        click.echo(row.state)


@tasks.command("clear")
@click.argument("dag_id")
@click.argument("run_id")
@click.option("--task", "-t", "task_ids", multiple=True, help="Task id (repeatable). Default: every task.")
@click.option("--task-regex", help="Clear the tasks whose id matches this regular expression.")
@click.option("--downstream", "-d", is_flag=True, help="Also clear the tasks downstream of them.")
@click.option("--upstream", "-u", is_flag=True, help="Also clear the tasks upstream of them.")
@click.option("--only-failed", "-f", is_flag=True, help="Only failed and upstream_failed task instances.")
@click.option("--dry-run", is_flag=True, help="Show what would be cleared.")
def tasks_clear(
    dag_id: str,
    run_id: str,
    task_ids: tuple[str, ...],
    task_regex: str | None,
    downstream: bool,
    upstream: bool,
    only_failed: bool,
    dry_run: bool,
) -> None:
    """Clear task instances of one run so they run again."""
    from dagflow import actions

    selected = list(task_ids)
    if task_regex:
        selected += _matching_tasks(dag_id, task_regex)
    result = _act(
        actions.clear_task_instances,
        dag_id,
        run_id,
        selected,
        downstream=downstream,
        upstream=upstream,
        only_failed=only_failed,
        owner="cli",
        dry_run=dry_run,
    )
    if not dry_run:
        _wake()
    verb = "Would clear" if dry_run else "Cleared"
    click.echo(f"{verb} {len(result.cleared)} task instance(s).")
    for task_id, map_index in result.cleared:
        click.echo(f"  {task_id}" + (f"[{map_index}]" if map_index >= 0 else ""))


def _matching_tasks(dag_id: str, pattern: str) -> list[str]:
    from dagflow import actions

    try:
        regex = re.compile(pattern)
    except re.error as exc:
        fail(f"--task-regex {pattern!r} is not a valid regular expression: {exc}")
    stored = _act(actions.stored_dag, dag_id)
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
    from dagflow.runtime.tasklog import attempt_log_path

    settings = load_settings()
    database = open_database(settings)
    with database.session() as session:
        row = session.get(TI, (dag_id, run_id, task_id, map_index))
        if row is None:
            fail(f"no task instance {task_id!r} (map index {map_index}) in run {run_id!r} of DAG {dag_id!r}")
        number = try_number or row.try_number
        stored_path = session.scalar(
            select(TaskInstanceTryRow.log_path).where(
                TaskInstanceTryRow.dag_id == dag_id,
                TaskInstanceTryRow.run_id == run_id,
                TaskInstanceTryRow.task_id == task_id,
                TaskInstanceTryRow.map_index == map_index,
                TaskInstanceTryRow.try_number == number,
            )
        )
    if number < 1:
        fail(f"task instance {task_id!r} has not run yet (state {row.state})")
    path = (
        Path(stored_path)
        if stored_path
        else attempt_log_path(settings.log_folder, dag_id, run_id, task_id, map_index, number)
    )
    if not path.exists():
        fail(f"no log for try {number} of {task_id!r} at {path}")
    _print_log(path, follow, database, (dag_id, run_id, task_id, map_index), number)


def _print_log(
    path: Path, follow: bool, database: Database, key: tuple[str, str, str, int], number: int
) -> None:
    with open(path, encoding="utf-8", errors="replace") as stream:
        while True:
            chunk = stream.read()
            if chunk:
                click.echo(chunk, nl=False)
            if not follow:
                return
            with database.session() as session:
                row = session.get(TI, key)
                running = (
                    row is not None and row.state == TaskState.RUNNING.value and row.try_number == number
                )
            if not running and not chunk:
                return
            time.sleep(0.3)


def dump(value: Any) -> str:
    return json.dumps(value, default=str)


# -- dagflow pools ... ---------------------------------------------------------------------------------


@click.group()
def pools() -> None:
    """Pools: named numbers of slots that limit how many task instances using them run at once."""


@pools.command("list")
@click.option("--json", "as_json", is_flag=True)
def pools_list(as_json: bool) -> None:
    """List pools with their slots and how many are in use."""
    from dagflow.store.models import PoolRow
    from dagflow.store.scheduling import busy as busy_counts

    with open_database().session() as session:
        busy = busy_counts(session)
        rows = [
            {
                "name": p.name,
                "slots": p.slots,
                "used": busy.pool_slots.get(p.name, 0),
                "description": p.description,
            }
            for p in session.scalars(select(PoolRow).order_by(PoolRow.name))
        ]
    if as_json:
        echo_json(rows)
    else:
        table(
            ["name", "slots", "used", "description"],
            [[r["name"], r["slots"], r["used"], r["description"]] for r in rows],
        )


@pools.command("set")
@click.argument("name")
@click.argument("slots", type=int)
@click.option("--description")
def pools_set(name: str, slots: int, description: str | None) -> None:
    """Create pool NAME with SLOTS slots, or change its slots."""
    from dagflow import actions

    _act(actions.set_pool, name, slots, description=description, owner="cli")
    _wake()
    click.echo(f"Pool {name}: {slots} slot(s).")


@pools.command("delete")
@click.argument("name")
def pools_delete(name: str) -> None:
    """Delete pool NAME."""
    from dagflow import actions

    _act(actions.delete_pool, name, owner="cli")
    click.echo(f"Pool {name} deleted.")
