"""The ``dagflow`` command: ``dags list``, ``dags list-import-errors``, ``dags test`` and ``config list``."""

from __future__ import annotations

import json

import pytest

from dagflow.cli import cli

OK_DAG = """
from dagflow import DAG, Param, task
from dagflow.operators import BashOperator, EmptyOperator

with DAG(
    "ok_dag",
    schedule="0 6 * * *",
    params={"n": Param(2, type="integer", minimum=0)},
    tags=["cli"],
):

    @task
    def double(params=None):
        print("this goes to the task log, not to stdout")
        return params["n"] * 2

    @task
    def returns_nothing(value):
        return None

    @task(retries=2, retry_delay=0)
    def flaky(ti=None):
        if ti.try_number < 2:
            raise RuntimeError("the first try fails")
        return "recovered"

    echo = BashOperator(task_id="echo", bash_command="echo noise; echo last line")
    returns_nothing(double()) >> flaky() >> echo >> EmptyOperator(task_id="end")
"""

FAILING_DAG = """
from dagflow import DAG
from dagflow.operators import PythonOperator


def boom():
    raise RuntimeError("boom")


with DAG("failing_dag"):
    PythonOperator(task_id="boom", python_callable=boom)
"""

BROKEN = """
from dagflow import DAG

raise ImportError("cannot import the warehouse client")
"""


@pytest.fixture
def folder(dags_folder):
    """A DAGs folder with a DAG that succeeds and one that fails."""
    dags_folder.write("ok.py", OK_DAG)
    dags_folder.write("failing.py", FAILING_DAG)
    return dags_folder


def invoke(cli_runner, *args: str):
    return cli_runner.invoke(cli, list(args), catch_exceptions=False)


# -- dags list ------------------------------------------------------------------------------------------


def test_dags_list_prints_a_table_of_dags_with_the_json_fields(cli_runner, folder):
    result = invoke(cli_runner, "dags", "list", "--dags-folder", str(folder))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["dag_id", "is_paused", "schedule", "tags", "tasks", "fileloc"]
    # the paused flag lives in the store, which a folder given explicitly does not read; no tags: empty
    assert lines[2].split() == ["failing_dag", "None", "None", "1", str(folder.path / "failing.py")]
    assert lines[3].split() == [
        "ok_dag",
        "None",
        "0",
        "6",
        "*",
        "*",
        "*",
        "cli",
        "5",
        str(folder.path / "ok.py"),
    ]
    assert result.stderr == ""


def test_dags_list_as_json(cli_runner, folder):
    result = invoke(cli_runner, "dags", "list", "--dags-folder", str(folder), "--output", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert rows[1] == {
        "dag_id": "ok_dag",
        "is_paused": None,
        "fileloc": str(folder.path / "ok.py"),
        "schedule": "0 6 * * *",
        "tags": ["cli"],
        "tasks": 5,
    }
    assert [r["dag_id"] for r in rows] == ["failing_dag", "ok_dag"]


def test_dags_list_warns_on_stderr_about_import_errors(cli_runner, folder):
    folder.write("broken.py", BROKEN)
    result = invoke(cli_runner, "dags", "list", "--dags-folder", str(folder), "-o", "json")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == 2
    assert "1 file(s) failed to import" in result.stderr


def test_dags_list_parses_the_dags_folder_setting_when_the_store_is_not_set_up_and_says_so(
    cli_runner, folder, monkeypatch, dagflow_home
):
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(folder))
    result = invoke(cli_runner, "dags", "list", "-o", "json")
    assert [r["dag_id"] for r in json.loads(result.stdout)] == ["failing_dag", "ok_dag"]
    assert result.stderr.splitlines() == [
        f"Note: the metadata store at sqlite:///{dagflow_home / 'dagflow.db'} is not set up "
        f"('dagflow db migrate'); parsing the DAGs folder {folder} instead."
    ]
    assert not (dagflow_home / "dagflow.db").exists()  # looking did not create it


def test_a_missing_dags_folder_is_a_usage_error(cli_runner, tmp_path):
    result = invoke(cli_runner, "dags", "list", "--dags-folder", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert f"DAGs folder {tmp_path / 'nowhere'} does not exist" in result.stderr


# -- dags list-import-errors -------------------------------------------------------------------------


def test_list_import_errors_shows_file_line_message_and_traceback_and_exits_1(cli_runner, folder):
    broken = folder.write("broken.py", BROKEN)
    result = invoke(cli_runner, "dags", "list-import-errors", "--dags-folder", str(folder))
    assert result.exit_code == 1
    header, _rule, first, *traceback = result.stdout.splitlines()
    assert header.split() == ["filename", "line", "message", "traceback"]
    message = "ImportError: cannot import the warehouse client"
    assert first.startswith(f"{broken}  3     {message}  Traceback (most recent call last):")
    # the traceback's other lines stay in its column, under its first
    column = first.index("Traceback")
    assert any(
        line[column:].strip() == 'raise ImportError("cannot import the warehouse client")'
        for line in traceback
    )
    assert all(not line[:column].strip() for line in traceback)


def test_list_import_errors_as_json(cli_runner, folder):
    broken = folder.write("broken.py", BROKEN)
    result = invoke(cli_runner, "dags", "list-import-errors", "--dags-folder", str(folder), "-o", "json")
    assert result.exit_code == 1
    (error,) = json.loads(result.stdout)
    assert (error["filename"], error["line"]) == (str(broken), 3)
    assert error["message"] == "ImportError: cannot import the warehouse client"


def test_list_import_errors_without_errors_exits_0(cli_runner, folder):
    result = invoke(cli_runner, "dags", "list-import-errors", "--dags-folder", str(folder))
    assert (result.exit_code, result.stdout) == (0, "No data found\n")


# -- dags test ------------------------------------------------------------------------------------------


def test_dags_test_json_prints_one_summary_object_on_stdout(cli_runner, folder):
    result = invoke(
        cli_runner,
        "dags", "test", "ok_dag", "--dags-folder", str(folder),
        "--logical-date", "2024-01-01T00:00:00+00:00", "--json",
    )  # fmt: skip
    assert result.exit_code == 0
    report = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert report == {
        "dag_id": "ok_dag",
        "run_id": "manual__2024-01-01T00:00:00+00:00",
        "logical_date": "2024-01-01T00:00:00+00:00",
        "run_state": "success",
        "tasks": {
            "double": "success",
            "returns_nothing": "success",
            "flaky": "success",
            "echo": "success",
            "end": "success",
        },
        "xcom": {"double": 4, "flaky": "recovered", "echo": "last line"},
        "tries": {"flaky": 2},
    }
    assert "this goes to the task log" in result.stderr


def test_dags_test_passes_the_conf_to_the_run(cli_runner, folder):
    result = invoke(
        cli_runner, "dags", "test", "ok_dag", "--dags-folder", str(folder), "--conf", '{"n": 5}', "--json"
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["xcom"]["double"] == 10


def test_dags_test_of_a_failed_run_exits_1(cli_runner, folder):
    result = invoke(cli_runner, "dags", "test", "failing_dag", "--dags-folder", str(folder), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["run_state"], report["tasks"], report["xcom"], report["tries"]) == (
        "failed",
        {"boom": "failed"},
        {},
        {},
    )


def test_dags_test_without_json_prints_a_table_and_the_run_state(cli_runner, folder):
    result = invoke(
        cli_runner, "dags", "test", "failing_dag", "-d", str(folder), "--logical-date", "2024-01-01"
    )
    assert result.exit_code == 1
    assert ["boom", "failed", "1"] in [line.split() for line in result.stdout.splitlines()]
    assert result.stdout.splitlines()[-1] == "Run manual__2024-01-01T00:00:00+00:00 of failing_dag: failed"


def test_dags_test_of_an_unknown_dag_is_one_line_without_the_tracebacks_of_other_files(cli_runner, folder):
    folder.write("broken.py", BROKEN)
    result = invoke(cli_runner, "dags", "test", "no_such_dag", "--dags-folder", str(folder), "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Error: DAG 'no_such_dag' not found: no DAG file in {folder} defines it"
    ]


def test_dags_test_of_a_dag_whose_own_file_is_broken_shows_that_file_s_error(cli_runner, folder):
    broken = folder.write("broken_dag.py", BROKEN.replace("from dagflow import DAG", "# DAG broken_dag"))
    result = invoke(cli_runner, "dags", "test", "broken_dag", "--dags-folder", str(folder))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[-1] == (
        f"Error: DAG 'broken_dag' could not be loaded: {broken}:3: "
        "ImportError: cannot import the warehouse client"
    )
    assert 'raise ImportError("cannot import the warehouse client")' in result.stderr


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--conf", "{not json", "--conf is not valid JSON"),
        ("--conf", "[1, 2]", "--conf must be a JSON object"),
        ("--conf", '"text"', "--conf must be a JSON object"),
        ("--logical-date", "yesterday", "--logical-date 'yesterday' is not an ISO 8601 date"),
        ("--conf", '{"n": -1}', "DAG 'ok_dag': param 'n': -1 is less than the minimum of 0"),
        ("--conf", '{"n": "two"}', "param 'n': 'two' is not of type 'integer'"),
    ],
)
def test_dags_test_rejects_bad_input_with_exit_2(cli_runner, folder, option, value, problem):
    result = invoke(
        cli_runner, "dags", "test", "ok_dag", "--dags-folder", str(folder), option, value, "--json"
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert problem in result.stderr
    assert "Traceback" not in result.stderr


# -- config list --------------------------------------------------------------------------------------


def settings(cli_runner, *flags: str) -> dict[str, str]:
    """``"[core] parallelism"`` -> ``"32    # default"`` for every setting ``config list -o json`` gives."""
    result = invoke(cli_runner, "config", "list", "-o", "json", *flags)
    assert result.exit_code == 0, result.stderr
    return {
        f"[{s['section']}] {s['key']}": f"{s['value']}    # {s['source']}" for s in json.loads(result.stdout)
    }


def test_config_list_shows_values_and_their_sources(cli_runner, dagflow_home):
    result = invoke(cli_runner, "config", "list")
    assert result.exit_code == 0
    assert result.stderr == f"DAGFLOW_HOME = {dagflow_home}\n"
    header, _rule, *rows = result.stdout.splitlines()
    assert header.split() == ["section", "key", "value", "source"]
    assert ["core", "parallelism", "32", "default"] in [row.split() for row in rows]
    lines = settings(cli_runner)
    assert lines["[core] parallelism"] == "32    # default"
    assert lines["[core] executor"] == "local    # default"
    assert lines["[database] url"] == f"sqlite:///{dagflow_home / 'dagflow.db'}    # default"


def test_config_list_hides_secrets_and_passwords_unless_asked(cli_runner, dagflow_home, monkeypatch):
    monkeypatch.setenv("DAGFLOW__CORE__FERNET_KEY", "a-fernet-key-value")
    monkeypatch.setenv("DAGFLOW__WEBSERVER__SECRET_KEY", "a-secret-key-value")
    monkeypatch.setenv(
        "DAGFLOW__DATABASE__URL", "postgresql+psycopg://dagflow:pg-pass@db.internal:5432/dagflow"
    )
    monkeypatch.setenv("DAGFLOW__CELERY__BROKER_URL", "amqp://guest:mq-pass@mq.internal:5672//")
    for output in ("table", "plain", "json", "yaml"):
        listed = invoke(cli_runner, "config", "list", "-o", output)
        assert listed.exit_code == 0
        for secret in ("a-fernet-key-value", "a-secret-key-value", "pg-pass", "mq-pass"):
            assert secret not in listed.stdout, (output, secret)
    lines = settings(cli_runner)
    assert lines["[core] fernet_key"] == "< hidden >    # env DAGFLOW__CORE__FERNET_KEY"
    assert lines["[webserver] secret_key"].startswith("< hidden >")
    assert lines["[database] url"].startswith(
        "postgresql+psycopg://dagflow:***@db.internal:5432/dagflow    #"
    )
    assert lines["[celery] broker_url"].startswith("amqp://guest:***@mq.internal:5672//    #")
    assert settings(cli_runner, "--hide-sensitive") == lines

    shown = settings(cli_runner, "--include-sensitive")
    assert shown["[core] fernet_key"].startswith("a-fernet-key-value    #")
    assert shown["[database] url"].startswith("postgresql+psycopg://dagflow:pg-pass@db.internal")
    # asked for by name, a setting's value is printed as it is
    assert invoke(cli_runner, "config", "get-value", "core", "fernet_key").stdout == "a-fernet-key-value\n"


def test_config_list_refuses_contradictory_flags(cli_runner):
    result = invoke(cli_runner, "config", "list", "--include-sensitive", "--hide-sensitive")
    assert result.exit_code == 2
    assert "--include-sensitive and --hide-sensitive contradict each other" in result.stderr


def test_an_environment_variable_overrides_a_setting_and_says_so(cli_runner, dagflow_home, monkeypatch):
    (dagflow_home / "dagflow.cfg").write_text("[core]\nparallelism = 8\n\n[webserver]\nport = 9090\n")
    monkeypatch.setenv("DAGFLOW__CORE__PARALLELISM", "64")
    lines = settings(cli_runner)
    assert lines["[core] parallelism"] == "64    # env DAGFLOW__CORE__PARALLELISM"
    assert lines["[webserver] port"] == f"9090    # {dagflow_home / 'dagflow.cfg'}"
    assert lines["[webserver] host"] == "127.0.0.1    # default"
