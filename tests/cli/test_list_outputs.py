"""Every command that prints records takes ``-o table|json|yaml|plain`` and prints them by the one rule
of :mod:`dagflow.cli.output`: the same fields in every format, ``[]`` or ``No data found`` when there
are none; and the flags they had before (``--json``, ``runs list -o wide``) still work."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import select

from dagflow.cli import cli
from dagflow.store.models import DagRunRow, UserRow

MANUAL = """
from dagflow import DAG
from dagflow.operators import EmptyOperator

with DAG("manual_only", schedule=None, tags=["ops", "eu"]):
    EmptyOperator(task_id="only")
"""

NIGHTLY = """
from dagflow import DAG
from dagflow.operators import EmptyOperator

with DAG("nightly", schedule="0 2 * * *"):
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""

BROKEN = """
import no_such_warehouse_client
"""

STARTED = datetime(2024, 3, 1, 9, 0, 5, tzinfo=UTC)
LAST_LOGIN = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def run(cli_runner, *args: str, code: int = 0) -> str:
    result = cli_runner.invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    return result.stdout


def parsed(cli_runner, *command: str, code: int = 0) -> list[dict]:
    """The records of ``command`` as json and as yaml, checked to be the same."""
    as_json = json.loads(run(cli_runner, *command, "-o", "json", code=code))
    assert yaml.safe_load(run(cli_runner, *command, "-o", "yaml", code=code)) == as_json
    return as_json


def headers(cli_runner, *command: str, code: int = 0) -> tuple[list[str], list[str]]:
    """The header of the table and of the plain output, and the table's rule."""
    table = run(cli_runner, *command, code=code).splitlines()
    plain = run(cli_runner, *command, "-o", "plain", code=code).splitlines()
    assert set(table[1].replace(" ", "")) == {"-"}
    assert not set(plain[1].replace(" ", "")) <= {"-"}  # no rule in plain
    assert table[0] == plain[0]
    return table[0].split(), table


@pytest.fixture
def store(database, dags_folder, cli_runner, monkeypatch):
    """Two DAGs and a file that fails to import, two runs (one done), a second pool and two users."""
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder))
    dags_folder.write("manual.py", MANUAL)
    dags_folder.write("nightly.py", NIGHTLY)
    dags_folder.write("broken.py", BROKEN)
    run(cli_runner, "dags", "reserialize")
    run(cli_runner, "dags", "unpause", "nightly")
    for dag_id, day in (("nightly", 1), ("manual_only", 2)):
        run(cli_runner, "dags", "trigger", dag_id, "--logical-date", f"2024-03-0{day}T09:00:00+00:00")
    run(cli_runner, "pools", "set", "etl", "4", "--description", "nightly loads")
    run(cli_runner, "users", "create", "-u", "ana", "-r", "admin", "-p", "secret-1")
    run(cli_runner, "users", "create", "-u", "bob", "-r", "viewer", "-p", "secret-2")
    with database.session(write=True) as session:
        done = session.scalars(select(DagRunRow).where(DagRunRow.dag_id == "nightly")).one()
        done.state = "success"
        done.start_date, done.end_date = STARTED, STARTED + timedelta(minutes=3, seconds=5)
        session.scalars(select(UserRow).where(UserRow.username == "ana")).one().last_login = LAST_LOGIN
    return database


# -- each command's records, in every format ---------------------------------------------------------


def test_dags_list(store, cli_runner, dags_folder):
    columns, table = headers(cli_runner, "dags", "list")
    records = parsed(cli_runner, "dags", "list")

    assert columns == list(records[0]) == ["dag_id", "is_paused", "schedule", "tags", "tasks", "fileloc"]
    assert records == [
        {
            "dag_id": "manual_only",
            "is_paused": True,
            "schedule": "None",  # the schedule's summary
            "tags": ["ops", "eu"],
            "tasks": 1,
            "fileloc": str(dags_folder.path / "manual.py"),
        },
        {
            "dag_id": "nightly",
            "is_paused": False,
            "schedule": "0 2 * * *",
            "tags": [],
            "tasks": 2,
            "fileloc": str(dags_folder.path / "nightly.py"),
        },
    ]
    assert table[2].split()[:5] == ["manual_only", "True", "None", "ops,eu", "1"]


def test_dags_list_import_errors(store, cli_runner, dags_folder):
    columns, table = headers(cli_runner, "dags", "list-import-errors", code=1)
    (error,) = parsed(cli_runner, "dags", "list-import-errors", code=1)

    assert columns == list(error) == ["filename", "line", "message", "traceback"]
    assert (error["filename"], error["line"]) == (str(dags_folder.path / "broken.py"), 1)
    assert error["message"] == "ModuleNotFoundError: No module named 'no_such_warehouse_client'"
    assert error["traceback"].startswith("Traceback (most recent call last):")
    assert len(table) > 3  # the traceback's lines, under its first


def test_runs_list(store, cli_runner):
    columns, table = headers(cli_runner, "runs", "list")
    records = parsed(cli_runner, "runs", "list")

    assert columns == list(records[0]) == ["dag_id", "run_id", "state", "logical_date", "duration"]
    assert [(r["dag_id"], r["state"], r["logical_date"], r["duration"]) for r in records] == [
        ("manual_only", "queued", "2024-03-02T09:00:00.000000+00:00", None),
        ("nightly", "success", "2024-03-01T09:00:00.000000+00:00", 185.0),
    ]
    assert table[3].split()[2:] == ["success", "2024-03-01", "09:00:00", "3m", "05s"]
    assert table[2].split()[-1] == "None"  # not started: no duration


def test_runs_list_wide_adds_the_run_type_and_times_in_every_format(store, cli_runner):
    columns, table = headers(cli_runner, "runs", "list", "--wide")
    done = parsed(cli_runner, "runs", "list", "--wide")[1]

    assert columns == list(done) == [
        "dag_id", "run_id", "state", "run_type", "logical_date", "start_date", "end_date", "duration"
    ]  # fmt: skip
    assert (done["run_type"], done["start_date"], done["end_date"], done["duration"]) == (
        "manual",
        "2024-03-01T09:00:05.000000+00:00",
        "2024-03-01T09:03:10.000000+00:00",
        185.0,
    )
    assert run(cli_runner, "runs", "list", "-o", "wide") == "\n".join(table) + "\n"  # the older spelling


def test_pools_list(store, cli_runner):
    columns, _ = headers(cli_runner, "pools", "list")
    records = parsed(cli_runner, "pools", "list")

    assert columns == list(records[0]) == ["name", "slots", "used", "description"]
    assert records == [
        {"name": "default_pool", "slots": 128, "used": 0, "description": "Default pool"},
        {"name": "etl", "slots": 4, "used": 0, "description": "nightly loads"},
    ]


def test_users_list(store, cli_runner):
    columns, table = headers(cli_runner, "users", "list")
    records = parsed(cli_runner, "users", "list")

    assert columns == list(records[0]) == ["username", "role", "active", "last_login"]
    assert records == [
        {"username": "ana", "role": "admin", "active": True, "last_login": "2024-05-01T08:30:00+00:00"},
        {"username": "bob", "role": "viewer", "active": True, "last_login": None},
    ]
    assert table[3].split() == ["bob", "viewer", "True", "None"]
    assert "secret" not in run(cli_runner, "users", "list", "-o", "json")


def test_config_list(cli_runner, dagflow_home, monkeypatch):
    monkeypatch.setenv("DAGFLOW__CORE__PARALLELISM", "7")
    columns, _ = headers(cli_runner, "config", "list")
    records = parsed(cli_runner, "config", "list")

    assert columns == list(records[0]) == ["section", "key", "value", "source"]
    assert {
        "section": "core",
        "key": "parallelism",
        "value": "7",
        "source": "env DAGFLOW__CORE__PARALLELISM",
    } in (records)


def test_celery_status(cli_runner, dagflow_home, monkeypatch):
    """The workers as the broker reports them (live workers are run in
    tests/scheduler/processes/test_celery_executor.py): each running attempt on its own line."""
    from dagflow.remote import inspect

    busy = inspect.WorkerStatus(
        "one@host-a",
        ["default", "special"],
        2,
        [
            inspect.RunningAttempt("etl", "r1", "load", -1, 1, "c-1"),
            inspect.RunningAttempt("etl", "r1", "fan", 3, 2, "c-2"),
        ],
    )
    idle = inspect.WorkerStatus("two@host-b", ["default"], None)
    monkeypatch.setattr(inspect, "workers_status", lambda app, timeout: [busy, idle])

    columns, table = headers(cli_runner, "celery", "status")
    records = parsed(cli_runner, "celery", "status")

    assert columns == list(records[0]) == ["name", "queues", "concurrency", "running"]
    assert records[0]["queues"] == ["default", "special"] and records[1]["concurrency"] is None
    assert [a["label"] for a in records[0]["running"]] == ["etl.load r1 try 1", "etl.fan[3] r1 try 2"]
    assert records[1]["running"] == []
    assert [line.split() for line in table[2:]] == [
        ["one@host-a", "default,special", "2", "etl.load", "r1", "try", "1"],
        ["etl.fan[3]", "r1", "try", "2"],
        ["two@host-b", "default", "None", "idle"],
    ]
    assert run(cli_runner, "celery", "status", "--json") == run(cli_runner, "celery", "status", "-o", "json")


# -- none -------------------------------------------------------------------------------------------


@pytest.fixture
def nothing(database, dags_folder, monkeypatch):
    """A store with no DAG, run, import error, user, or pool (not even the default one)."""
    from dagflow.store.pools import delete_pool

    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder))
    with database.session(write=True) as session:
        delete_pool(session, name="default_pool")
    return database


EMPTY = [
    ["dags", "list"],
    ["dags", "list-import-errors"],
    ["runs", "list"],
    ["runs", "list", "--wide"],
    ["pools", "list"],
    ["users", "list"],
]


@pytest.mark.parametrize("command", EMPTY, ids=" ".join)
def test_no_records_is_no_data_found_in_table_and_plain_and_an_empty_list_in_json_and_yaml(
    nothing, cli_runner, command
):
    assert run(cli_runner, *command) == "No data found\n"
    assert run(cli_runner, *command, "-o", "plain") == "No data found\n"
    assert run(cli_runner, *command, "-o", "json") == "[]\n"
    assert yaml.safe_load(run(cli_runner, *command, "-o", "yaml")) == []


def test_no_celery_worker_is_no_data_found(cli_runner, dagflow_home, monkeypatch):
    from dagflow.remote import inspect

    monkeypatch.setattr(inspect, "workers_status", lambda app, timeout: [])
    assert run(cli_runner, "celery", "status") == "No data found\n"
    assert run(cli_runner, "celery", "status", "--json") == "[]\n"


# -- the older flags --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["pools", "list"], ["runs", "list"]], ids=" ".join)
def test_the_json_flag_is_dash_o_json_and_says_so_in_help(store, cli_runner, command):
    assert json.loads(run(cli_runner, *command, "--json")) == json.loads(
        run(cli_runner, *command, "-o", "json")
    )
    assert "Deprecated: the same as -o json." in run(cli_runner, *command, "--help")


def test_the_json_flag_with_another_output_is_a_usage_error(store, cli_runner):
    result = cli_runner.invoke(cli, ["pools", "list", "--json", "-o", "yaml"])
    assert result.exit_code == 2
    assert "--json is -o json: give it or -o yaml, not both" in result.stderr
    assert run(cli_runner, "pools", "list", "--json", "-o", "json").startswith("[")


@pytest.mark.parametrize("command", [c for c in EMPTY if "--wide" not in c], ids=" ".join)
def test_every_list_command_takes_dash_o_with_the_four_formats(cli_runner, command):
    assert "-o, --output [table|json|yaml|plain" in run(cli_runner, *command, "--help")
