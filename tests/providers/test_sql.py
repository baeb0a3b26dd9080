"""The common.sql operators and the SQLite and PostgreSQL hooks, on real databases: SQLite files, and the
PostgreSQL server of ``DAGFLOW_TEST_DATABASE_URL`` when it is set."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from dagflow import DAG
from dagflow.models.connection import Connection
from dagflow.providers.common_sql import (
    SQLCheckOperator,
    SQLExecuteQueryOperator,
    SQLValueCheckOperator,
    fetch_one_handler,
)
from dagflow.providers.postgres import PostgresHook
from dagflow.providers.sqlite import SqliteHook
from tests.backends import POSTGRES_ENV

LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)
BACKENDS = ["sqlite", "postgres"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


@dataclass
class UserDb:
    """A user's database reachable as connection ``conn_id``; ``table`` is a name of its own for the test."""

    kind: str
    conn_id: str
    table: str
    hook: SqliteHook | PostgresHook


@pytest.fixture(params=BACKENDS)
def user_db(request, tmp_path: Path, monkeypatch) -> Iterator[UserDb]:
    table = f"t_{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        monkeypatch.setenv(
            "DAGFLOW_CONN_USER_DB", f"sqlite://{(tmp_path / 'user.db').as_posix().replace('/', '%2F')}"
        )
        yield UserDb("sqlite", "user_db", table, SqliteHook("user_db"))
        return
    url = make_url(os.environ[POSTGRES_ENV])
    conn = Connection(
        conn_id="user_db",
        conn_type="postgres",
        host=url.host,
        port=url.port,
        login=url.username,
        password=url.password,
        schema=url.database,
    )
    monkeypatch.setenv("DAGFLOW_CONN_USER_DB", conn.get_uri())
    hook = PostgresHook(postgres_conn_id="user_db")
    yield UserDb("postgres", "user_db", table, hook)
    PostgresHook(postgres_conn_id="user_db").run(f"DROP TABLE IF EXISTS {table}", autocommit=True)


def run_dag(dag: DAG):
    return dag.test(logical_date=LOGICAL_DATE, log_stream=io.StringIO())


def test_the_hook_runs_statements_and_reads_rows(user_db: UserDb):
    hook, table = user_db.hook, user_db.table
    hook.run(f"CREATE TABLE {table} (id INTEGER, name VARCHAR(20))")
    assert hook.insert_rows(table, [(1, "a"), (2, "b")], target_fields=["id", "name"]) == 2
    assert hook.get_records(f"SELECT id, name FROM {table} ORDER BY id") == [(1, "a"), (2, "b")]
    assert hook.get_first(f"SELECT count(*) FROM {table}") == (2,)


def test_execute_query_returns_the_last_statements_rows_and_commits(user_db: UserDb):
    t = user_db.table
    with DAG("sql_pipeline", schedule=None) as dag:
        create = SQLExecuteQueryOperator(
            task_id="create",
            conn_id=user_db.conn_id,
            sql=(
                f"CREATE TABLE {t} (id INTEGER, day VARCHAR(10)); INSERT INTO {t} VALUES (1, '{{{{ ds }}}}');"
            ),
            split_statements=True,
        )
        select_rows = SQLExecuteQueryOperator(
            task_id="select", conn_id=user_db.conn_id, sql=f"SELECT id, day FROM {t}"
        )
        each = SQLExecuteQueryOperator(
            task_id="each",
            conn_id=user_db.conn_id,
            sql=[f"SELECT count(*) FROM {t}", f"SELECT max(id) FROM {t}"],
        )
        create >> select_rows >> each
    result = run_dag(dag)
    assert result.state.value == "success", [(ti.task_id, ti.error) for ti in result.task_instances]
    assert result.xcom("create") is None  # the last statement, an INSERT, returns no rows
    assert result.xcom("select") == [[1, "2024-01-01"]]
    assert result.xcom("each") == [[[1]], [[1]]]


def test_split_statements_without_return_last_gives_every_result(user_db: UserDb):
    t = user_db.table
    user_db.hook.run(f"CREATE TABLE {t} (id INTEGER)")
    with DAG("split_all", schedule=None) as dag:
        SQLExecuteQueryOperator(
            task_id="q",
            conn_id=user_db.conn_id,
            sql=f"INSERT INTO {t} VALUES (7); SELECT id FROM {t}; SELECT id * 2 FROM {t}",
            split_statements=True,
            return_last=False,
        )
    assert run_dag(dag).xcom("q") == [None, [[7]], [[14]]]


def test_parameters_and_a_handler_shape_the_result(user_db: UserDb):
    t = user_db.table
    user_db.hook.run(f"CREATE TABLE {t} (id INTEGER, name VARCHAR(20))")
    user_db.hook.insert_rows(t, [(1, "a"), (2, "b")])
    mark = "?" if user_db.kind == "sqlite" else "%s"
    with DAG("params", schedule=None) as dag:
        SQLExecuteQueryOperator(
            task_id="q",
            conn_id=user_db.conn_id,
            sql=f"SELECT name FROM {t} WHERE id > {mark} ORDER BY id",
            parameters=(1,),
            handler=fetch_one_handler,
        )
    assert run_dag(dag).xcom("q") == ("b",)  # one row, a tuple: XCom keeps a returned tuple a tuple


def test_sql_from_a_templated_file_beside_the_dag(user_db: UserDb, tmp_path: Path):
    t = user_db.table
    (tmp_path / "query.sql").write_text("SELECT '{{ params.who }}', {{ 40 + 2 }}")
    with DAG("from_file", schedule=None, template_searchpath=[str(tmp_path)], params={"who": "me"}) as dag:
        SQLExecuteQueryOperator(task_id="q", conn_id=user_db.conn_id, sql="query.sql")
    assert run_dag(dag).xcom("q") == [["me", 42]], t


@pytest.mark.parametrize(
    ("sql", "passes"),
    [("SELECT 1, 'x'", True), ("SELECT 1, 0", False), ("SELECT 1 WHERE 1 = 0", False)],
)
def test_the_check_operator_fails_on_a_falsy_value_or_no_row(user_db: UserDb, sql, passes):
    with DAG("check", schedule=None) as dag:
        SQLCheckOperator(task_id="check", conn_id=user_db.conn_id, sql=sql, retries=0)
    result = run_dag(dag)
    assert result.get("check").state.value == ("success" if passes else "failed")


@pytest.mark.parametrize(
    ("sql", "pass_value", "tolerance", "passes"),
    [
        ("SELECT 100", 100, None, True),
        ("SELECT 95", 100, 0.1, True),
        ("SELECT 85", 100, 0.1, False),
        ("SELECT 'ok'", "ok", None, True),
        ("SELECT 'no'", "ok", None, False),
    ],
)
def test_the_value_check_compares_numbers_within_tolerance_and_text_exactly(
    user_db: UserDb, sql, pass_value, tolerance, passes
):
    with DAG("value_check", schedule=None) as dag:
        SQLValueCheckOperator(
            task_id="check",
            conn_id=user_db.conn_id,
            sql=sql,
            pass_value=pass_value,
            tolerance=tolerance,
            retries=0,
        )
    assert run_dag(dag).get("check").state.value == ("success" if passes else "failed")


def test_a_connection_that_is_not_a_sql_database_fails_the_task_naming_it(monkeypatch):
    monkeypatch.setenv("DAGFLOW_CONN_WEB", "http://example.org")
    with DAG("wrong_type", schedule=None) as dag:
        SQLExecuteQueryOperator(task_id="q", conn_id="web", sql="SELECT 1", retries=0)
    error = run_dag(dag).get("q").error or ""
    assert "'web'" in error and "not a SQL database" in error


def test_the_postgres_hook_passes_ssl_extras_to_psycopg():
    conn = Connection(conn_id="pg", uri="postgres://u:p%40ss@h:5433/db?sslmode=require&cursor=dictcursor")
    url = PostgresHook(postgres_conn_id="pg", connection=conn).sqlalchemy_url
    assert url.drivername == "postgresql+psycopg" and url.password == "p@ss"
    assert dict(url.query) == {"sslmode": "require"} and (url.host, url.port, url.database) == (
        "h",
        5433,
        "db",
    )


def test_hook_params_reach_the_hook(monkeypatch):
    monkeypatch.setenv("DAGFLOW_CONN_PG", "postgres://u:p@h:5432/db")
    operator = SQLExecuteQueryOperator(
        task_id="q", conn_id="pg", sql="SELECT 1", hook_params={"options": "-c search_path=sales"}
    )
    hook = operator.get_db_hook()
    assert isinstance(hook, PostgresHook) and dict(hook.sqlalchemy_url.query) == {
        "options": "-c search_path=sales"
    }


def test_a_connection_gives_the_hook_of_its_type(tmp_path: Path):
    conn = Connection(conn_id="lite", conn_type="sqlite", host=str(tmp_path / "x.db"))
    hook = conn.get_hook()
    assert isinstance(hook, SqliteHook) and hook.get_first("SELECT 40 + 2") == (42,)
    assert conn.test_connection() == (True, "Connection successfully tested")
