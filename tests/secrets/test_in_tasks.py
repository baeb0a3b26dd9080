"""Variables and Connections as task code sees them in ``dag.test()``: ``{{ var.* }}``, ``{{ conn.* }}``,
and secrets masked in the task log and the rendered fields."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from dagflow import DAG, task
from dagflow.context import DagRunInfo
from dagflow.models.connection import Connection
from dagflow.models.variable import Variable
from dagflow.operators import BashOperator
from dagflow.runtime.tasklog import TaskLog
from dagflow.runtime.taskrunner import Attempt, run_attempt
from dagflow.runtime.xcom import MemoryXComStore

LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)
PASSWORD = "pa55-w0rd-xyz"


@pytest.fixture
def secrets_env(monkeypatch):
    monkeypatch.setenv("DAGFLOW_VAR_GREETING", "hello")
    monkeypatch.setenv("AIRFLOW_VAR_SETTINGS", '{"batch": 3, "tables": ["a", "b"]}')
    monkeypatch.setenv("DAGFLOW_CONN_WAREHOUSE", f"postgres://loader:{PASSWORD}@db.internal:5432/sales")


def test_templates_read_var_value_var_json_and_conn_fields(secrets_env):
    with DAG("templated", schedule=None) as dag:
        echo = BashOperator(
            task_id="echo",
            bash_command=(
                "echo '{{ var.value.greeting }} {{ var.json.settings.batch }} "
                "{{ var.json.settings.tables[1] }} "
                '{{ conn.warehouse.host }}:{{ conn.warehouse.port }} {{ var.value.get("missing", "dflt") }}\''
            ),
        )
    result = dag.test(logical_date=LOGICAL_DATE, log_stream=io.StringIO())
    assert result.get(echo.task_id).state.value == "success"
    assert result.xcom("echo") == "hello 3 b db.internal:5432 dflt"


def test_a_template_naming_a_missing_variable_fails_the_task_naming_it():
    with DAG("missing_var", schedule=None) as dag:
        BashOperator(task_id="echo", bash_command="echo {{ var.value.not_there }}", retries=0)
    result = dag.test(logical_date=LOGICAL_DATE, log_stream=io.StringIO())
    assert result.get("echo").state.value == "failed"
    assert "'not_there'" in (result.get("echo").error or "")


def test_a_password_read_by_a_task_is_masked_in_its_log(secrets_env):
    with DAG("masked", schedule=None) as dag:

        @task
        def show() -> str:
            conn = Connection.get("warehouse")
            print(f"connecting with {conn.password}")
            return conn.login or ""

        show()
    log = io.StringIO()
    result = dag.test(logical_date=LOGICAL_DATE, log_stream=log)
    assert result.xcom("show") == "loader"
    assert "connecting with ***" in log.getvalue()
    assert PASSWORD not in log.getvalue()


def test_a_secret_looking_variable_is_masked_and_an_ordinary_one_is_not(monkeypatch):
    monkeypatch.setenv("DAGFLOW_VAR_SERVICE_API_KEY", "k3y-abcdef-123")
    monkeypatch.setenv("DAGFLOW_VAR_OWNER_NAME", "data-team")
    with DAG("masked_var", schedule=None) as dag:

        @task
        def show() -> None:
            print("key", Variable.get("service_api_key"), "owner", Variable.get("owner_name"))

        show()
    log = io.StringIO()
    dag.test(logical_date=LOGICAL_DATE, log_stream=log)
    assert "key *** owner data-team" in log.getvalue()


def test_rendered_fields_show_secrets_masked(secrets_env):
    with DAG("rendered", schedule=None) as dag:
        BashOperator(task_id="use", bash_command="echo {{ conn.warehouse.password }} > /dev/null")
    run = DagRunInfo("rendered", "r1", LOGICAL_DATE, LOGICAL_DATE, LOGICAL_DATE)
    outcome = run_attempt(
        dag,
        dag.spec().tasks["use"],
        Attempt("use", -1, 1, 0, run),
        xcom_store=MemoryXComStore(),
        log=TaskLog(io.StringIO()),
    )
    assert outcome.state.value == "success"
    assert outcome.rendered_fields["bash_command"] == "echo *** > /dev/null"
