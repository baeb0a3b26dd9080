"""A small SQL pipeline on SQLite: create and load a table, query it, check it, aggregate in Python."""

import pendulum
from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLExecuteQueryOperator,
    SQLValueCheckOperator,
)
from airflow.providers.sqlite.hooks.sqlite import SqliteHook
from airflow.sdk import DAG, task

with DAG(
    dag_id="sqlite_orders_etl",
    start_date=pendulum.datetime(2024, 3, 1, tz="UTC"),
    schedule="@daily",
    catchup=False,
    default_args={"conn_id": "orders_db"},
):
    create = SQLExecuteQueryOperator(
        task_id="create_orders",
        sql="""
            DROP TABLE IF EXISTS orders;
            CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount REAL, day TEXT);
            INSERT INTO orders (customer, amount, day) VALUES ('ada', 12.5, '{{ ds }}');
            INSERT INTO orders (customer, amount, day) VALUES ('bob', 7.5, '{{ ds }}');
            INSERT INTO orders (customer, amount, day) VALUES ('ada', 30.0, '{{ ds }}');
        """,
        split_statements=True,
    )

    big_orders = SQLExecuteQueryOperator(
        task_id="big_orders",
        sql="SELECT customer, amount FROM orders WHERE amount > ? ORDER BY amount DESC",
        parameters=(10,),
    )

    has_rows = SQLCheckOperator(task_id="has_rows", sql="SELECT COUNT(*) FROM orders WHERE day = '{{ ds }}'")

    total_is_50 = SQLValueCheckOperator(
        task_id="total_is_50",
        sql="SELECT SUM(amount) FROM orders",
        pass_value=50,
        tolerance=0.01,
    )

    @task
    def per_customer():
        hook = SqliteHook(sqlite_conn_id="orders_db")
        rows = hook.get_records(
            "SELECT customer, SUM(amount) FROM orders GROUP BY customer ORDER BY customer"
        )
        return {customer: total for customer, total in rows}

    create >> big_orders >> [has_rows, total_is_50] >> per_customer()
