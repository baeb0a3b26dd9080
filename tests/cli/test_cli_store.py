"""The commands that act on the metadata store: a thin layer whose errors are one line and exit code 2."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import click
import pytest
from sqlalchemy import func, select

from dagflow.cli import cli
from dagflow.core.states import TaskState
from dagflow.runtime.tasklog import attempt_log_path
from dagflow.store import attempts
from dagflow.store import task_instances as tis
from dagflow.store.models import DagRow, DagRunRow, TaskInstanceRow
from tests.store.conftest import snapshot

ISO_MICROSECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
# On a whole second, so a plain isoformat() would leave the microseconds out.
QUEUED = datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC)
STARTED = QUEUED + timedelta(seconds=1, microseconds=5)
ENDED = QUEUED + timedelta(seconds=3, microseconds=250000)

ETL = """
from datetime import datetime

from dagflow import DAG, Param
from dagflow.operators import BashOperator

with DAG(
    "etl",
    schedule="0 6 * * *",
    start_date=datetime(2024, 1, 1),
    params={"n": Param(2, type="integer", minimum=0)},
):
    extract = BashOperator(task_id="extract", bash_command="echo e")
    transform = BashOperator(task_id="transform", bash_command="echo t")
    load = BashOperator(task_id="load", bash_command="echo l")
    extract >> transform >> load
"""

MANUAL = """
from dagflow import DAG
from dagflow.operators import EmptyOperator

with DAG("manual_only", schedule=None):
    EmptyOperator(task_id="only")
"""


def invoke(cli_runner, *args: str):
    return cli_runner.invoke(cli, list(args), catch_exceptions=False)


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def store(database, dags_folder, cli_runner, monkeypatch):
    """The test's store, with the DAGs of a DAGs folder recorded by ``dagflow dags reserialize``."""
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder))
    dags_folder.write("etl.py", ETL)
    dags_folder.write("manual.py", MANUAL)
    assert invoke(cli_runner, "dags", "reserialize").exit_code == 0
    return database


def run_ids(database) -> list[str]:
    with database.session() as session:
        return sorted(session.scalars(select(DagRunRow.run_id)))


def ti_state(database, run_id: str, task_id: str) -> str:
    with database.session() as session:
        row = session.get(TaskInstanceRow, ("etl", run_id, task_id, -1))
        assert row is not None
        return row.state


@pytest.fixture
def run_id(store, cli_runner) -> str:
    result = invoke(cli_runner, "dags", "trigger", "etl", "--logical-date", "2024-02-01T00:00:00+00:00")
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def run_attempt(database, run_id: str, task_id: str, state: TaskState, **outcome) -> None:
    """Take one try of a task instance through the store as the scheduler and a worker would."""
    key = tis.TIKey("etl", run_id, task_id)
    with database.session(write=True) as session:
        row = session.get(TaskInstanceRow, ("etl", run_id, task_id, -1))
        tis.mark_scheduled(session, "etl", run_id, [((task_id, -1), TaskState(row.state))], QUEUED)
        tis.queue(session, [tis.QueueItem(key, "tok")], now=QUEUED, job_id=None)
        attempts.claim(session, key, token="tok", hostname="h", pid=1, now=STARTED)
        done = attempts.Outcome(state=state, start_date=STARTED, end_date=ENDED, **outcome)
        assert attempts.record_outcome(session, key, token="tok", outcome=done, now=ENDED)


# -- dags reserialize / trigger -------------------------------------------------------------------------


def test_reserialize_records_the_dags_and_says_how_many_changed(
    database, dags_folder, cli_runner, monkeypatch
):
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder))
    dags_folder.write("etl.py", ETL)
    dags_folder.write("manual.py", MANUAL)

    first = invoke(cli_runner, "dags", "reserialize")
    second = invoke(cli_runner, "dags", "reserialize")

    assert first.exit_code == 0 and first.stdout == "2 DAG(s) in the store, 2 changed.\n"
    assert second.exit_code == 0 and second.stdout == "2 DAG(s) in the store, 0 changed.\n"
    with database.session() as session:
        assert set(session.scalars(select(DagRow.dag_id))) == {"etl", "manual_only"}


def test_trigger_prints_the_new_run_id_and_nothing_else(store, cli_runner):
    result = invoke(cli_runner, "dags", "trigger", "etl", "--conf", '{"n": 3}')

    assert result.exit_code == 0, result.stderr
    [printed] = result.stdout.splitlines()
    assert printed.startswith("manual__")
    assert run_ids(store) == [printed]
    with store.session() as session:
        assert session.scalars(select(DagRunRow.conf)).one() == {"n": 3}
    assert "paused" in result.stderr  # new DAGs start paused: the note says the run waits


def test_trigger_with_run_id_and_logical_date(store, cli_runner):
    result = invoke(
        cli_runner, "dags", "trigger", "etl", "--run-id", "mine", "--logical-date", "2024-01-05T06:00:00Z"
    )

    assert (result.exit_code, result.stdout) == (0, "mine\n")
    with store.session() as session:
        run = session.scalars(select(DagRunRow)).one()
        assert run.logical_date == datetime(2024, 1, 5, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("conf", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('"text"', "JSON object"),
        ('{"n": -1}', "'n'"),
        ('{"n": "three"}', "'n'"),
    ],
)
def test_trigger_refuses_a_bad_conf_in_one_line_and_creates_no_run(store, cli_runner, conf, fragment):
    before = snapshot(store)

    result = invoke(cli_runner, "dags", "trigger", "etl", "--conf", conf)

    assert_one_line_error(result, fragment)
    assert result.stdout == ""
    assert snapshot(store) == before


def test_trigger_refuses_a_run_id_with_a_slash_in_one_line_and_creates_no_run(store, cli_runner):
    before = snapshot(store)

    result = invoke(cli_runner, "dags", "trigger", "etl", "--run-id", "../escape")

    assert_one_line_error(result, "without '/'")
    assert snapshot(store) == before


def test_trigger_refuses_an_unknown_dag(store, cli_runner):
    before = snapshot(store)

    assert_one_line_error(invoke(cli_runner, "dags", "trigger", "nope"), "nope")
    assert snapshot(store) == before


def test_trigger_refuses_a_logical_date_that_already_has_a_run_and_changes_nothing(store, cli_runner, run_id):
    before = snapshot(store)

    result = invoke(cli_runner, "dags", "trigger", "etl", "--logical-date", "2024-02-01T02:00:00+02:00")

    assert_one_line_error(result, "already has a run")
    assert snapshot(store) == before


def test_trigger_refuses_a_logical_date_that_is_not_a_date(store, cli_runner):
    assert_one_line_error(invoke(cli_runner, "dags", "trigger", "etl", "--logical-date", "soon"), "soon")
    assert run_ids(store) == []


# -- dags pause / unpause / state ----------------------------------------------------------------------------


def test_an_unknown_dag_says_that_no_dag_file_failed_to_import(store, cli_runner):
    result = invoke(cli_runner, "tasks", "list", "nope")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: DAG 'nope' not found: it is not in the metadata store; no DAG file failed to import"
    ]


def test_pause_and_unpause_set_the_flag(store, cli_runner):
    def paused() -> bool:
        with store.session() as session:
            return session.get(DagRow, "etl").is_paused

    unpaused = invoke(cli_runner, "dags", "unpause", "etl")
    assert (unpaused.exit_code, unpaused.stdout, paused()) == (0, "DAG etl is unpaused.\n", False)

    again = invoke(cli_runner, "dags", "pause", "etl")
    assert (again.exit_code, again.stdout, paused()) == (0, "DAG etl is paused.\n", True)


@pytest.mark.parametrize("command", ["pause", "unpause"])
def test_pause_and_unpause_refuse_an_unknown_dag(store, cli_runner, command):
    assert_one_line_error(invoke(cli_runner, "dags", command, "nope"), "nope")


def test_dags_state_prints_the_state_of_a_run(store, cli_runner, run_id):
    result = invoke(cli_runner, "dags", "state", "etl", run_id)

    assert (result.exit_code, result.stdout) == (0, "queued\n")


def test_dags_state_refuses_an_unknown_run(store, cli_runner):
    assert_one_line_error(invoke(cli_runner, "dags", "state", "etl", "no_run"), "no_run")


# -- runs list / show ------------------------------------------------------------------------------------


def test_runs_list_json_lists_runs_newest_first_with_filters(store, cli_runner, run_id):
    other = invoke(cli_runner, "dags", "trigger", "manual_only").stdout.strip()

    every = json.loads(invoke(cli_runner, "runs", "list", "--json").stdout)
    of_etl = json.loads(invoke(cli_runner, "runs", "list", "--json", "--dag-id", "etl").stdout)
    failed = json.loads(invoke(cli_runner, "runs", "list", "--json", "--state", "failed").stdout)

    assert [(r["dag_id"], r["run_id"], r["state"]) for r in every] == [
        ("manual_only", other, "queued"),
        ("etl", run_id, "queued"),
    ]
    assert [r["run_id"] for r in of_etl] == [run_id]
    assert failed == []
    assert ISO_MICROSECONDS.match(every[1]["logical_date"])


LONG_ID = "quarterly_revenue_reconciliation_for_every_region_and_currency"


@pytest.fixture
def long_runs(store, cli_runner, dags_folder) -> list[str]:
    """Two runs of a DAG with a long id, with long run ids: one finished, one still running."""
    dags_folder.write("long.py", MANUAL.replace("manual_only", LONG_ID))
    assert invoke(cli_runner, "dags", "reserialize").exit_code == 0
    ids = []
    for day in (1, 2):
        result = invoke(
            cli_runner, "dags", "trigger", LONG_ID, "--logical-date", f"2024-03-0{day}T09:00:00.123456+00:00"
        )
        ids.append(result.stdout.strip())
    with store.session(write=True) as session:
        for run_id, end in zip(ids, (ENDED + timedelta(minutes=3), None), strict=True):
            run = session.scalars(select(DagRunRow).where(DagRunRow.run_id == run_id)).one()
            run.state = "success" if end else "running"
            run.start_date, run.end_date = QUEUED, end
    return ids


def test_runs_list_fits_120_columns_cutting_long_ids_in_the_middle(long_runs, cli_runner):
    result = invoke(cli_runner, "runs", "list")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 120
    assert lines[0].split() == ["dag_id", "run_id", "state", "logical_date", "duration"]
    finished = lines[3].split()
    assert finished[0].startswith("quarterly_revenue") and "…" in finished[0]
    assert finished[0].endswith("and_currency")
    assert finished[1].startswith("manual__2024-03-01") and finished[1].endswith("+00:00")
    assert finished[2:] == ["success", "2024-03-01", "09:00:00", "3m", "03s"]
    running = lines[2].split()
    assert running[2:5] == ["running", "2024-03-02", "09:00:00"]
    assert running[-1].endswith("+")  # still running: the time so far


def test_runs_list_wide_shows_whole_ids_the_run_type_and_times(long_runs, cli_runner):
    result = invoke(cli_runner, "runs", "list", "--output", "wide", "--dag-id", LONG_ID)

    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == [
        "dag_id", "run_id", "state", "run_type", "logical_date", "start_date", "end_date", "duration"
    ]  # fmt: skip
    assert rows[3] == [
        LONG_ID, long_runs[0], "success", "manual",
        "2024-03-01", "09:00:00", "2024-03-01", "09:00:00", "2024-03-01", "09:03:03", "3m", "03s",
    ]  # fmt: skip


def test_runs_list_output_json_is_the_json_flag(long_runs, cli_runner):
    def runs(*args: str) -> list[dict]:
        found = json.loads(invoke(cli_runner, "runs", "list", *args).stdout)
        running = found[0].pop("duration")  # the time so far, which goes on between the two commands
        assert found[0]["state"] == "running" and running > 0
        return found

    assert runs("--json") == runs("-o", "json")
    assert [r["run_id"] for r in runs("-o", "json")] == [long_runs[1], long_runs[0]]


def test_runs_show_json_has_the_run_and_each_task_instance_with_times_to_the_microsecond(
    store, cli_runner, run_id
):
    run_attempt(store, run_id, "extract", TaskState.SUCCESS)

    result = invoke(cli_runner, "runs", "show", "etl", run_id, "--json")

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["dag_id"], report["run_id"], report["state"]) == ("etl", run_id, "queued")
    by_task = {t["task_id"]: t for t in report["task_instances"]}
    assert set(by_task) == {"extract", "transform", "load"}
    extract = by_task["extract"]
    assert (extract["state"], extract["try_number"]) == ("success", 1)
    assert (extract["queued_at"], extract["start_date"], extract["end_date"]) == (
        "2024-03-01T09:00:00.000000+00:00",
        "2024-03-01T09:00:01.000005+00:00",
        "2024-03-01T09:00:03.250000+00:00",
    )
    assert (by_task["load"]["state"], by_task["load"]["try_number"], by_task["load"]["start_date"]) == (
        "none",
        0,
        None,
    )
    assert ISO_MICROSECONDS.match(report["queued_at"])


def test_runs_show_prints_a_table_without_json_with_times_to_the_second(store, cli_runner, run_id):
    run_attempt(store, run_id, "extract", TaskState.SUCCESS)

    result = invoke(cli_runner, "runs", "show", "etl", run_id)

    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f"etl {run_id}: queued, DAG version 1"
    extract = next(line for line in result.stdout.splitlines() if line.startswith("extract "))
    assert extract.split() == [
        "extract", "-1", "success", "1",
        "2024-03-01", "09:00:00", "2024-03-01", "09:00:01", "2024-03-01", "09:00:03", "2.2s",
    ]  # fmt: skip


def test_runs_show_refuses_an_unknown_run(store, cli_runner):
    assert_one_line_error(invoke(cli_runner, "runs", "show", "etl", "no_run", "--json"), "no_run")


# -- tasks clear / state / logs ----------------------------------------------------------------------------


@pytest.fixture
def failed_run(store, run_id) -> str:
    run_attempt(store, run_id, "extract", TaskState.SUCCESS)
    run_attempt(store, run_id, "transform", TaskState.FAILED)
    return run_id


def test_tasks_clear_clears_the_named_task(store, cli_runner, failed_run):
    result = invoke(cli_runner, "tasks", "clear", "etl", failed_run, "-t", "transform")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Cleared 1 task instance(s).\n  transform\n"
    assert ti_state(store, failed_run, "transform") == "none"
    assert ti_state(store, failed_run, "extract") == "success"


def test_tasks_clear_downstream_clears_what_follows(store, cli_runner, failed_run):
    result = invoke(cli_runner, "tasks", "clear", "etl", failed_run, "-t", "extract", "--downstream")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Cleared 3 task instance(s).")
    assert {ti_state(store, failed_run, t) for t in ("extract", "transform", "load")} == {"none"}


def test_tasks_clear_dry_run_lists_and_changes_nothing(store, cli_runner, failed_run):
    before = snapshot(store)

    result = invoke(cli_runner, "tasks", "clear", "etl", failed_run, "-t", "transform", "-d", "--dry-run")

    assert result.exit_code == 0
    assert result.stdout == "Would clear 2 task instance(s).\n  load\n  transform\n"
    assert snapshot(store) == before


def test_tasks_clear_selects_tasks_by_regular_expression(store, cli_runner, failed_run):
    result = invoke(cli_runner, "tasks", "clear", "etl", failed_run, "--task-regex", "^trans")

    assert result.exit_code == 0, result.stderr
    assert ti_state(store, failed_run, "transform") == "none"
    assert ti_state(store, failed_run, "extract") == "success"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--task-regex", "(unclosed"], "not a valid regular expression"),
        (["--task-regex", "^zzz"], "no task"),
        (["-t", "nope"], "nope"),
    ],
)
def test_tasks_clear_refuses_a_bad_selection_and_changes_nothing(
    store, cli_runner, failed_run, args, fragment
):
    before = snapshot(store)

    assert_one_line_error(invoke(cli_runner, "tasks", "clear", "etl", failed_run, *args), fragment)
    assert snapshot(store) == before


def test_tasks_state_prints_the_state_of_a_task_instance(store, cli_runner, failed_run):
    result = invoke(cli_runner, "tasks", "state", "etl", "transform", failed_run)

    assert (result.exit_code, result.stdout) == (0, "failed\n")


def test_tasks_state_refuses_an_unknown_task_instance(store, cli_runner, run_id):
    assert_one_line_error(invoke(cli_runner, "tasks", "state", "etl", "nope", run_id), "nope")


def test_tasks_logs_prints_the_log_at_the_standard_path(store, cli_runner, run_id, dagflow_home):
    run_attempt(store, run_id, "extract", TaskState.SUCCESS)
    path = attempt_log_path(dagflow_home / "logs", "etl", run_id, "extract", -1, 1)
    path.parent.mkdir(parents=True)
    path.write_text("line one\nline two\n")

    result = invoke(cli_runner, "tasks", "logs", "etl", run_id, "extract")

    assert (result.exit_code, result.stdout) == (0, "line one\nline two\n")


def test_tasks_logs_prints_the_log_the_try_recorded(store, cli_runner, run_id, tmp_path):
    log = tmp_path / "elsewhere.log"
    log.write_text("recorded with the try\n")
    run_attempt(store, run_id, "extract", TaskState.SUCCESS, log_path=str(log))

    result = invoke(cli_runner, "tasks", "logs", "etl", run_id, "extract", "--try", "1")

    assert (result.exit_code, result.stdout) == (0, "recorded with the try\n")


def test_tasks_logs_says_when_there_is_no_log(store, cli_runner, run_id):
    run_attempt(store, run_id, "extract", TaskState.SUCCESS)

    assert_one_line_error(invoke(cli_runner, "tasks", "logs", "etl", run_id, "extract"), "no log for try 1")
    assert_one_line_error(
        invoke(cli_runner, "tasks", "logs", "etl", run_id, "extract", "--try", "2"), "no log for try 2"
    )


def test_tasks_logs_says_when_the_task_has_not_run(store, cli_runner, run_id):
    assert_one_line_error(invoke(cli_runner, "tasks", "logs", "etl", run_id, "load"), "not run yet")


def test_tasks_logs_refuses_an_unknown_task_instance(store, cli_runner, run_id):
    assert_one_line_error(invoke(cli_runner, "tasks", "logs", "etl", run_id, "nope"), "nope")


# -- dags backfill ----------------------------------------------------------------------------------------


def test_backfill_no_wait_creates_the_runs_and_returns(store, cli_runner):
    result = invoke(
        cli_runner,
        "dags",
        "backfill",
        "etl",
        "--start",
        "2024-01-01T06:00:00",
        "--end",
        "2024-01-03T06:00:00",
        "--no-wait",
    )

    assert result.exit_code == 0, result.stderr
    assert "3 run(s) created for etl" in result.stderr
    assert run_ids(store) == [f"backfill__2024-01-0{day}T06:00:00+00:00" for day in (1, 2, 3)]


@pytest.mark.parametrize(
    ("dag_id", "start", "end", "fragment"),
    [
        ("etl", "2024-01-03", "2024-01-01", "before"),
        ("manual_only", "2024-01-01", "2024-01-03", "no schedule"),
        ("nope", "2024-01-01", "2024-01-03", "nope"),
        ("etl", "yesterday", "2024-01-03", "yesterday"),
    ],
)
def test_backfill_refuses_bad_input_and_creates_nothing(store, cli_runner, dag_id, start, end, fragment):
    before = snapshot(store)

    result = invoke(cli_runner, "dags", "backfill", dag_id, "--start", start, "--end", end, "--no-wait")

    assert_one_line_error(result, fragment)
    assert snapshot(store) == before
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(DagRunRow)) == 0


# -- help ---------------------------------------------------------------------------------------------------


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command under ``group``, found as click finds them (subcommands may load lazily)."""
    context = click.Context(group)
    paths = [prefix]
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, (*prefix, name)))
        else:
            paths.append((*prefix, name))
    return paths


def test_the_help_check_reaches_the_store_commands():
    paths = set(command_paths(cli))

    for path in [
        ("db", "migrate"),
        ("dags", "trigger"),
        ("dags", "backfill"),
        ("runs", "show"),
        ("tasks", "logs"),
    ]:
        assert path in paths


@pytest.mark.parametrize("path", command_paths(cli), ids=lambda p: " ".join(p) or "dagflow")
def test_every_command_has_help(cli_runner, path):
    result = invoke(cli_runner, *path, "--help")

    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")
    assert len(result.stdout.splitlines()) > 2
