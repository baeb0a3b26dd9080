"""``dagflow variables`` and ``dagflow connections`` on a real metadata store."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from dagflow.cli import cli
from dagflow.store.models import ConnectionRow, VariableRow


@pytest.fixture
def run(cli_runner, database_url):
    def invoke(*args: str, code: int = 0):
        result = cli_runner.invoke(cli, list(args))
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        return result

    return invoke


def test_set_get_list_and_delete_a_variable(run):
    assert (
        "Variable region created" in run("variables", "set", "region", "eu-west", "--description", "d").stdout
    )
    assert run("variables", "get", "region").stdout.strip() == "eu-west"
    assert json.loads(run("variables", "list", "-o", "json").stdout) == [
        {"key": "region", "description": "d"}
    ]
    run("variables", "delete", "region")
    result = run("variables", "get", "region", code=1)
    assert "Variable 'region' does not exist" in result.stderr and result.stderr.count("\n") == 1
    assert run("variables", "get", "region", "--default", "none").stdout.strip() == "none"


def test_json_values_are_checked_and_printed_as_json(run):
    run("variables", "set", "cfg", '{"a": [1, 2]}', "--json")
    assert json.loads(run("variables", "get", "cfg", "--json").stdout) == {"a": [1, 2]}
    bad = run("variables", "set", "cfg", "{nope", "--json", code=2)
    assert "not JSON" in bad.stderr


def test_import_then_export_round_trips_and_existing_keys_follow_the_action(run, tmp_path, database):
    source = tmp_path / "vars.json"
    source.write_text(json.dumps({"a": "text", "b": {"n": 1}, "c": [1, 2]}))
    assert "3 of 3 variables successfully updated" in run("variables", "import", str(source)).stdout
    target = tmp_path / "out.json"
    run("variables", "export", str(target))
    assert json.loads(target.read_text()) == {"a": "text", "b": {"n": 1}, "c": [1, 2]}
    source.write_text(json.dumps({"a": "new", "d": "x"}))
    failed = run("variables", "import", str(source), "--action-on-existing-key", "fail", code=2)
    assert "'a' exists already" in failed.stderr
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(VariableRow)) == 3  # nothing written
    run("variables", "import", str(source), "-a", "skip")
    assert run("variables", "get", "a").stdout.strip() == "text"
    assert run("variables", "get", "d").stdout.strip() == "x"


def test_a_variables_file_that_is_not_a_json_object_is_a_one_line_error(run, tmp_path):
    source = tmp_path / "vars.json"
    source.write_text("[1, 2]")
    assert "must hold a JSON object" in run("variables", "import", str(source), code=2).stderr


def test_the_environment_wins_for_get(run, monkeypatch):
    run("variables", "set", "color", "stored")
    monkeypatch.setenv("AIRFLOW_VAR_COLOR", "from-env")
    assert run("variables", "get", "color").stdout.strip() == "from-env"


def test_add_get_list_and_delete_a_connection_with_its_password_masked(run):
    added = run(
        "connections", "add", "db", "--conn-uri", "postgres://u:s3cret-pw@h:5432/sales?sslmode=disable"
    )
    assert "s3cret-pw" not in added.stdout and "postgres://u:***@h:5432/sales" in added.stdout
    shown = json.loads(run("connections", "get", "db", "-o", "json").stdout)[0]
    assert shown["host"] == "h" and shown["password"] == "***" and shown["extra"] == {"sslmode": "disable"}
    assert "s3cret-pw" not in run("connections", "list").stdout
    assert "db" in run("connections", "list", "-o", "plain").stdout
    run("connections", "add", "db", "--conn-type", "http", code=2)  # taken
    assert "Successfully deleted" in run("connections", "delete", "db").stdout
    assert "isn't defined" in run("connections", "delete", "db", code=2).stderr


def test_connections_are_added_from_fields_or_json(run):
    run(
        "connections",
        "add",
        "api",
        "--conn-type",
        "http",
        "--conn-host",
        "example.org",
        "--conn-port",
        "8080",
        "--conn-extra",
        '{"api_key": "k-123456"}',
    )
    run("connections", "add", "lite", "--conn-json", '{"conn_type": "sqlite", "host": "/tmp/x.db"}')
    records = {r["conn_id"]: r for r in json.loads(run("connections", "list", "-o", "json").stdout)}
    assert records["api"]["port"] == 8080 and records["api"]["extra"] == {"api_key": "***"}
    assert records["lite"]["host"] == "/tmp/x.db"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--conn-uri", "nonsense"], "malformed URI"),
        (["--conn-json", "{bad"], "not valid JSON"),
        (["--conn-host", "h"], "--conn-type is required"),
        (["--conn-uri", "http://h", "--conn-host", "x"], "not both"),
        (["--conn-type", "http", "--conn-port", "eighty"], "port must be a number"),
    ],
)
def test_a_bad_connection_is_a_one_line_error_and_nothing_is_written(run, database, args, says):
    result = run("connections", "add", "bad", *args, code=2)
    assert says in result.stderr and result.stderr.count("\n") == 1
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ConnectionRow)) == 0


def test_connections_test_is_disabled_unless_enabled_as_in_airflow(run, monkeypatch, tmp_path):
    db_file = tmp_path / "user.db"
    run("connections", "add", "lite", "--conn-type", "sqlite", "--conn-host", str(db_file))
    assert "disabled" in run("connections", "test", "lite", code=1).stderr
    monkeypatch.setenv("DAGFLOW__CORE__TEST_CONNECTION", "Enabled")
    assert "Connection success!" in run("connections", "test", "lite").stdout
    run("connections", "add", "pg", "--conn-uri", "postgres://nobody:x@127.0.0.1:1/none")
    assert "Connection failed!" in run("connections", "test", "pg", code=1).stderr


def test_a_wrong_fernet_key_is_a_one_line_error_and_nothing_is_written(run, monkeypatch, database):
    monkeypatch.setenv("DAGFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    run("variables", "set", "token", "abc-123456")
    monkeypatch.setenv("DAGFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    result = run("variables", "get", "token", code=1)
    assert "cannot be decrypted" in result.stderr and result.stderr.count("\n") == 1
    monkeypatch.setenv("DAGFLOW__CORE__FERNET_KEY", "garbage")
    assert "not a valid Fernet key" in run("variables", "set", "other", "v", code=2).stderr
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(VariableRow)) == 1
