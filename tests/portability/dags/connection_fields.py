"""Connections from environment variables, in Airflow's URI and JSON forms, read through BaseHook."""

import pendulum
from airflow.exceptions import AirflowNotFoundException
from airflow.sdk import DAG, BaseHook, Connection, task

with DAG(
    dag_id="connection_fields",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
):

    @task
    def from_uri():
        conn = BaseHook.get_connection("warehouse")
        return {
            "type": conn.conn_type,
            "host": conn.host,
            "port": conn.port,
            "schema": conn.schema,
            "login": conn.login,
            "has_password": bool(conn.password),
            "extra": conn.extra_dejson,
        }

    @task
    def from_json():
        conn = Connection.get("crm_api")
        return [conn.conn_type, conn.host, conn.extra_dejson["timeout"], conn.get_uri()]

    @task
    def missing():
        try:
            BaseHook.get_connection("no_such_connection")
        except AirflowNotFoundException:
            return "not found"
        return "found"

    [from_uri(), from_json(), missing()]
