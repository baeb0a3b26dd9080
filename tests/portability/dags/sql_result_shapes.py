"""What SQLExecuteQueryOperator returns: the last statement, every statement, a handler's row, a list."""

import pendulum
from airflow.providers.common.sql.hooks.handlers import fetch_one_handler
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG

with DAG(
    dag_id="sql_result_shapes",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    params={"multiplier": 3},
):
    setup = SQLExecuteQueryOperator(
        task_id="setup",
        conn_id="shapes_db",
        sql="DROP TABLE IF EXISTS numbers; CREATE TABLE numbers (n INTEGER); "
        "INSERT INTO numbers VALUES (1); INSERT INTO numbers VALUES (2); INSERT INTO numbers VALUES (3);",
        split_statements=True,
    )

    last_only = SQLExecuteQueryOperator(
        task_id="last_only",
        conn_id="shapes_db",
        sql="SELECT COUNT(*) FROM numbers; SELECT MAX(n) * {{ params.multiplier }} FROM numbers;",
        split_statements=True,
    )

    every_statement = SQLExecuteQueryOperator(
        task_id="every_statement",
        conn_id="shapes_db",
        sql="SELECT MIN(n) FROM numbers; SELECT SUM(n) FROM numbers",
        split_statements=True,
        return_last=False,
    )

    as_list = SQLExecuteQueryOperator(
        task_id="as_list",
        conn_id="shapes_db",
        sql=["SELECT n FROM numbers WHERE n < 3 ORDER BY n", "SELECT 'done'"],
    )

    one_row = SQLExecuteQueryOperator(
        task_id="one_row",
        conn_id="shapes_db",
        sql="SELECT n, n * n FROM numbers ORDER BY n DESC",
        handler=fetch_one_handler,
    )

    no_push = SQLExecuteQueryOperator(
        task_id="no_push",
        conn_id="shapes_db",
        sql="SELECT * FROM numbers",
        do_xcom_push=False,
    )

    setup >> [last_only, every_statement, as_list, one_row, no_push]
