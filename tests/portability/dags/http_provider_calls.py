"""The HTTP provider against a local service: a sensor waiting through "not yet" answers, a POST whose
JSON body comes from request_kwargs and that tenacity retries through server errors, and a
deferrable GET with a templated query."""

import json

import pendulum
import tenacity
from airflow.providers.http.operators.http import HttpOperator
from airflow.providers.http.sensors.http import HttpSensor
from airflow.sdk import DAG


def submitted(response):
    answer = response.json()
    return {"attempt": answer["hit"], "body": json.loads(answer["body"])}


with DAG(
    dag_id="http_provider_calls",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
):
    ready = HttpSensor(
        task_id="ready",
        http_conn_id="local_api",
        endpoint="ready",
        response_error_codes_allowlist=["404", "503"],
        response_check=lambda response: response.json()["hit"] == 3,
        poke_interval=0.01,
        timeout=30,
    )
    submit = HttpOperator(
        task_id="submit",
        http_conn_id="local_api",
        endpoint="reports",
        method="POST",
        request_kwargs={"json": {"report": "daily", "rows": 3}},
        retry_args=dict(
            stop=tenacity.stop_after_attempt(4),
            wait=tenacity.wait_fixed(0.01),
            retry=tenacity.retry_if_exception_type(Exception),
        ),
        response_filter=submitted,
    )
    fetch = HttpOperator(
        task_id="fetch",
        http_conn_id="local_api",
        endpoint="echo",
        method="GET",
        data={"day": "{{ ds }}"},
        deferrable=True,
        response_filter=lambda response: response.json()["query"],
    )
    ready >> submit >> fetch
