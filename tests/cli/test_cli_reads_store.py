"""The listing commands read what the metadata store recorded, and ``dags test`` imports only its DAG's
file: a DAG file whose import hangs (or fails) slows none of them down.

Each command is timed against a DAG file that sleeps 60 s at import, with the default import timeout
(30 s): a command that imported it would take 30 s.
"""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from dagflow.cli import cli
from dagflow.store.models import DagRunRow

QUICK = 5.0

ETL = """
from datetime import datetime

from dagflow import DAG
from dagflow.operators import EmptyOperator

with DAG("etl", schedule="0 6 * * *", start_date=datetime(2024, 1, 1)):
    EmptyOperator(task_id="extract") >> EmptyOperator(task_id="transform") >> EmptyOperator(task_id="load")
"""

MANUAL = """
from dagflow import DAG
from dagflow.operators import EmptyOperator

with DAG("manual_only", schedule=None):
    EmptyOperator(task_id="only")
"""

HANGING = """
import time

time.sleep(60)
"""

BROKEN = """
raise ImportError("cannot import the warehouse client")
"""


def invoke(cli_runner, *args: str):
    started = time.monotonic()
    result = cli_runner.invoke(cli, list(args), catch_exceptions=False)
    result.seconds = time.monotonic() - started
    return result


@pytest.fixture
def store(database, dags_folder, cli_runner, monkeypatch):
    """The DAGs folder with a hanging and a broken file, recorded by ``dags reserialize`` (with a short
    import timeout: the hanging file is recorded as an import error)."""
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder))
    dags_folder.write("etl.py", ETL)
    dags_folder.write("manual.py", MANUAL)
    dags_folder.write("hanging.py", HANGING)
    dags_folder.write("broken.py", BROKEN)
    monkeypatch.setenv("DAGFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "1")
    assert invoke(cli_runner, "dags", "reserialize").exit_code == 0
    monkeypatch.delenv("DAGFLOW__CORE__DAGBAG_IMPORT_TIMEOUT")
    return database


def test_dags_list_reads_the_store_with_a_paused_column(store, cli_runner, dags_folder):
    assert invoke(cli_runner, "dags", "unpause", "etl").exit_code == 0

    result = invoke(cli_runner, "dags", "list")

    assert result.exit_code == 0
    assert result.seconds < QUICK
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["dag_id", "is_paused", "schedule", "tags", "tasks", "fileloc"],
        [
            "-" * len("manual_only"),
            "-" * len("is_paused"),
            "---------",
            "----",
            "-----",
            "-" * len(str(dags_folder.path / "manual.py")),
        ],
        ["etl", "False", "0", "6", "*", "*", "*", "3", str(dags_folder.path / "etl.py")],
        ["manual_only", "True", "None", "1", str(dags_folder.path / "manual.py")],
    ]
    assert result.stderr.splitlines() == ["2 file(s) failed to import: see 'dagflow dags list-import-errors'"]


def test_dags_list_json_has_the_paused_flag(store, cli_runner, dags_folder):
    result = invoke(cli_runner, "dags", "list", "-o", "json")
    assert json.loads(result.stdout)[0] == {
        "dag_id": "etl",
        "is_paused": True,
        "schedule": "0 6 * * *",
        "tags": [],
        "tasks": 3,
        "fileloc": str(dags_folder.path / "etl.py"),
    }


def test_list_import_errors_reads_the_store(store, cli_runner, dags_folder):
    result = invoke(cli_runner, "dags", "list-import-errors")

    assert result.exit_code == 1
    assert result.seconds < QUICK
    rows = [line for line in result.stdout.splitlines()[2:] if not line.startswith(" ")]
    assert [row.split("  ")[0] for row in rows] == [
        str(dags_folder.path / "broken.py"),
        str(dags_folder.path / "hanging.py"),
    ]
    assert "ImportError: cannot import the warehouse client" in rows[0]
    assert "importing the file took longer than 1s (make module-level code cheaper)" in rows[1]


def test_tasks_list_reads_the_store(store, cli_runner):
    result = invoke(cli_runner, "tasks", "list", "etl")
    assert result.exit_code == 0
    assert result.seconds < QUICK
    assert result.stdout.splitlines() == ["extract", "transform", "load"]
    assert result.stderr == ""


@pytest.mark.parametrize("command", [["tasks", "list"], ["dags", "test"], ["tasks", "test"]])
def test_an_unknown_dag_is_one_line_with_the_count_of_import_errors(store, cli_runner, dags_folder, command):
    args = [*command, "no_such_dag"] + (["some_task"] if command == ["tasks", "test"] else [])
    result = invoke(cli_runner, *args)

    assert result.exit_code == 2
    assert result.seconds < QUICK
    assert result.stdout == ""
    where = "" if command == ["tasks", "list"] else f", and no DAG file in {dags_folder} defines it"
    assert result.stderr.splitlines() == [
        f"Error: DAG 'no_such_dag' not found: it is not in the metadata store{where}; "
        "2 DAG file(s) failed to import (see 'dagflow dags list-import-errors')"
    ]


def test_dags_test_imports_only_the_file_the_store_recorded(store, cli_runner, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(elsewhere))  # the store still knows etl's file

    result = invoke(cli_runner, "dags", "test", "etl", "--logical-date", "2024-01-02")

    assert result.exit_code == 0, result.stderr
    assert result.seconds < QUICK
    assert result.stdout.splitlines()[-1] == "Run manual__2024-01-02T00:00:00+00:00 of etl: success"
    assert "Traceback" not in result.stderr


def test_dags_test_finds_a_dag_the_store_has_not_recorded_yet_by_its_id(store, cli_runner, dags_folder):
    dags_folder.write("fresh.py", MANUAL.replace("manual_only", "fresh_dag"))

    result = invoke(cli_runner, "dags", "test", "fresh_dag", "--json")

    assert result.exit_code == 0, result.stderr
    assert result.seconds < QUICK
    assert json.loads(result.stdout)["tasks"] == {"only": "success"}


def test_tasks_test_imports_only_its_dag_s_file(store, cli_runner):
    result = invoke(cli_runner, "tasks", "test", "etl", "transform", "2024-01-02")
    assert (result.exit_code, result.stdout) == (0, "success\n")
    assert result.seconds < QUICK


def test_dags_state_reads_the_store(store, cli_runner):
    run_id = invoke(cli_runner, "dags", "trigger", "etl").stdout.strip()
    with store.session() as session:
        assert session.scalars(select(DagRunRow.run_id)).all() == [run_id]

    result = invoke(cli_runner, "dags", "state", "etl", run_id)

    assert (result.exit_code, result.stdout) == (0, "queued\n")
    assert result.seconds < QUICK


def test_a_store_that_recorded_nothing_yet_means_parsing_the_folder_and_saying_so(
    database, cli_runner, dags_folder, monkeypatch
):
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder))
    dags_folder.write("manual.py", MANUAL)

    result = invoke(cli_runner, "dags", "list", "-o", "json")

    assert [r["dag_id"] for r in json.loads(result.stdout)] == ["manual_only"]
    assert result.stderr.splitlines() == [
        "Note: the metadata store has no DAGs yet "
        "(the scheduler records them, or 'dagflow dags reserialize'); "
        f"parsing the DAGs folder {dags_folder} instead."
    ]


def test_tasks_list_reads_the_dag_s_own_file_when_the_store_is_not_set_up(
    cli_runner, dags_folder, monkeypatch, dagflow_home
):
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder))
    dags_folder.write("etl.py", ETL)
    dags_folder.write("hanging.py", HANGING)

    result = invoke(cli_runner, "tasks", "list", "etl")

    assert result.exit_code == 0, result.stderr
    assert result.seconds < QUICK
    assert result.stdout.splitlines() == ["extract", "transform", "load"]
    assert result.stderr.startswith("Note: the metadata store at sqlite:///")
    assert not (dagflow_home / "dagflow.db").exists()


def test_dags_test_of_a_dag_that_moved_to_another_file_finds_it_there(store, cli_runner, dags_folder):
    (dags_folder.path / "etl.py").unlink()
    dags_folder.write("pipelines/etl_v2.py", ETL)  # the store still says etl.py

    result = invoke(cli_runner, "dags", "test", "etl", "--json")

    assert result.exit_code == 0, result.stderr
    assert result.seconds < QUICK
    assert json.loads(result.stdout)["run_state"] == "success"
