"""``dag.test()`` takes Airflow's arguments as Airflow 2 and 3 DAG files pass them in their
``if __name__ == "__main__":`` block: run_conf, execution_date, run_after, mark_success_pattern,
conn_file_path and variable_file_path."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dagflow import DAG, task
from dagflow.exceptions import DagflowError
from dagflow.models.connection import Connection
from dagflow.models.variable import Variable
from dagflow.operators import EmptyOperator

WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def quiet() -> io.StringIO:
    return io.StringIO()


def test_run_conf_is_airflows_name_for_conf() -> None:
    with DAG("run_conf", schedule=None) as dag:

        @task
        def read(dag_run=None):
            return dag_run.conf

        read()

    result = dag.test(logical_date=WHEN, run_conf={"table": "orders"}, log_stream=quiet())
    assert result.xcom("read") == {"table": "orders"}


def test_execution_date_is_airflow_2s_name_for_logical_date() -> None:
    with DAG("execution_date", schedule=None) as dag:

        @task
        def day(ds=None):
            return ds

        day()

    assert dag.test(execution_date=WHEN, log_stream=quiet()).xcom("day") == "2024-01-01"


def test_run_after_is_the_runs_run_after() -> None:
    with DAG("run_after", schedule=None) as dag:

        @task
        def after(dag_run=None):
            return dag_run.run_after.isoformat()

        after()

    later = datetime(2024, 1, 5, 6, tzinfo=UTC)
    assert dag.test(logical_date=WHEN, run_after=later, log_stream=quiet()).xcom("after") == later.isoformat()


def test_giving_a_value_under_both_names_is_an_error() -> None:
    with DAG("both_names", schedule=None) as dag:
        EmptyOperator(task_id="a")

    with pytest.raises(TypeError, match="conf or run_conf"):
        dag.test(conf={}, run_conf={})
    with pytest.raises(TypeError, match="logical_date or execution_date"):
        dag.test(logical_date=WHEN, execution_date=WHEN)


def test_use_executor_is_refused_with_what_to_do_instead() -> None:
    with DAG("executor", schedule=None) as dag:
        EmptyOperator(task_id="a")

    with pytest.raises(DagflowError, match=r"DAG 'executor'.*use_executor=True is not supported"):
        dag.test(use_executor=True)


def test_mark_success_pattern_marks_fully_matching_tasks_successful_without_running_them() -> None:
    with DAG("mark_success", schedule=None) as dag:

        @task
        def load_orders():
            raise RuntimeError("would write to production")

        @task
        def reload_orders():
            return "ran"

        @task
        def report():
            return "reported"

        [load_orders(), reload_orders()] >> report()

    result = dag.test(logical_date=WHEN, mark_success_pattern=r"load_.*", log_stream=quiet())
    # fullmatch: "reload_orders" contains the pattern but is not matched by it
    assert {ti.label: (ti.state.value, ti.try_number) for ti in result.task_instances} == {
        "load_orders": ("success", 1),
        "reload_orders": ("success", 1),
        "report": ("success", 1),
    }
    assert result.xcom("load_orders") is None
    assert result.xcom("reload_orders") == "ran"


def test_variable_and_connection_files_come_before_the_environment_for_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_REGION", "from-env")
    monkeypatch.setenv("AIRFLOW_VAR_ONLY_ENV", "env")
    variables = tmp_path / "variables.json"
    variables.write_text(json.dumps({"region": "eu-west", "limits": {"rows": 10}}))
    connections = tmp_path / "connections.yaml"
    connections.write_text(
        "warehouse:\n  conn_type: postgres\n  host: db.local\n  port: 5432\n"
        "  extra_dejson: {sslmode: require}\n"
        "api: https://user:pw@api.example.com/v1\n"
    )
    with DAG("secret_files", schedule=None) as dag:

        @task
        def read():
            warehouse = Connection.get("warehouse")
            return {
                "region": Variable.get("region"),
                "limits": Variable.get("limits", deserialize_json=True),
                "only_env": Variable.get("only_env"),
                "warehouse": [warehouse.host, warehouse.port, warehouse.extra_dejson],
                "api": Connection.get("api").host,
            }

        read()

    result = dag.test(
        logical_date=WHEN,
        variable_file_path=str(variables),
        conn_file_path=str(connections),
        log_stream=quiet(),
    )
    assert result.xcom("read") == {
        "region": "eu-west",
        "limits": {"rows": 10},
        "only_env": "env",
        "warehouse": ["db.local", 5432, {"sslmode": "require"}],
        "api": "api.example.com",
    }
    assert Variable.get("region") == "from-env"  # the files were for that run only


def test_a_bad_secrets_file_fails_before_anything_runs(tmp_path: Path) -> None:
    bad = tmp_path / "variables.env"
    bad.write_text("# regions\nREGION=eu\nno equals sign here\n")
    with DAG("bad_file", schedule=None) as dag:
        EmptyOperator(task_id="a")

    with pytest.raises(DagflowError, match=r"variables.env:3: expected key=value"):
        dag.test(variable_file_path=str(bad))


def test_log_url_links_the_web_ui_log_page_of_the_try(monkeypatch: pytest.MonkeyPatch) -> None:
    from urllib.parse import parse_qs, urlsplit

    from flask import Flask

    from webui.views import register_views

    monkeypatch.setenv("DAGFLOW__WEBSERVER__BASE_URL", "https://dagflow.example.com/")
    alerts: list[str] = []
    with DAG("log.links", schedule=None) as dag:

        @task(on_failure_callback=lambda context: alerts.append(context["ti"].log_url))
        def fails():
            raise ValueError("no")

        fails()

    dag.test(logical_date=WHEN, log_stream=quiet())
    [url] = alerts
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "dagflow.example.com",
        "/dags/log.links/tasks/fails/logs",
    )
    assert parse_qs(parts.query) == {
        "run_id": ["manual__2024-01-01T00:00:00+00:00"],
        "map_index": ["-1"],
        "try": ["1"],
    }
    app = Flask(__name__)
    register_views(app)
    endpoint, args = app.url_map.bind("dagflow.example.com").match(parts.path)
    assert (endpoint, args) == ("views.log", {"dag_id": "log.links", "task_id": "fails"})


def test_the_result_answers_what_code_reads_from_airflows_dag_run() -> None:
    from dagflow.core.states import RunState, TaskState

    with DAG("result_reads", schedule=None) as dag:

        @task
        def ok():
            return 1

        @task
        def broken():
            raise ValueError("no")

        ok()
        broken()

    run = dag.test(logical_date=WHEN, log_stream=quiet())
    assert run.state == RunState.FAILED == "failed"
    assert sorted(ti.task_id for ti in run.get_task_instances()) == ["broken", "ok"]
    assert [ti.task_id for ti in run.get_task_instances(state=[TaskState.FAILED])] == ["broken"]
    assert [ti.task_id for ti in run.get_task_instances(state="success")] == ["ok"]
    found = run.get_task_instance("ok")
    assert found is not None and found.state == TaskState.SUCCESS
    assert run.get_task_instance("nope") is None
