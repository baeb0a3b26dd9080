"""HttpOperator's ``request_kwargs``, ``retry_args`` and ``deferrable``, HttpHook's request options and
TCP keep-alive, and HttpSensor's allowlist, against a scripted HTTP/1.1 server on this machine (the
standard library's, in a thread: :mod:`tests.scripted_http`) that counts the requests it gets."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import tenacity

from dagflow import DAG
from dagflow.dagbag import DagBag
from dagflow.exceptions import DagDefinitionError, DagflowError
from dagflow.providers.http import HttpError, HttpHook, HttpOperator, HttpSensor
from tests.conftest import DagsFolder
from tests.scripted_http import ScriptedServer, serving

LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def server(monkeypatch) -> Iterator[ScriptedServer]:
    """The scripted server, as connection ``api``."""
    with serving() as scripted:
        conn = {"conn_type": "http", "host": "127.0.0.1", "port": scripted.server_port}
        monkeypatch.setenv("DAGFLOW_CONN_API", json.dumps(conn))
        yield scripted


def run(dag: DAG, log: io.StringIO | None = None):
    return dag.test(logical_date=LOGICAL_DATE, log_stream=log or io.StringIO())


def one_task_dag(dag_id: str, **operator: Any) -> DAG:
    with DAG(dag_id, schedule=None) as dag:
        HttpOperator(task_id="call", http_conn_id="api", retries=0, **operator)
    return dag


# request_kwargs ---------------------------------------------------------------------------------


def test_request_kwargs_reach_the_request_as_a_json_body(server):
    dag = one_task_dag("json_body", endpoint="echo", request_kwargs={"json": {"id": 7}})
    echo = json.loads(run(dag).xcom("call"))
    assert (echo["method"], echo["body"], echo["content_type"]) == ("POST", '{"id": 7}', "application/json")


def test_request_kwargs_go_with_every_page(server):
    def next_page(response):
        page = int(response.json()["query"].get("page", 1))
        return {"data": {"page": page + 1}} if page < 3 else None

    dag = one_task_dag(
        "paged_cookies",
        method="GET",
        endpoint="echo",
        request_kwargs={"cookies": {"session": "s1"}},
        pagination_function=next_page,
        response_filter=lambda responses: [r.json()["cookie"] for r in responses],
    )
    assert run(dag).xcom("call") == ["session=s1"] * 3


def test_request_kwargs_that_requests_would_refuse_fail_when_the_dag_loads():
    with pytest.raises(DagDefinitionError, match=r"task_id='call'.*\['timeout'\].*extra_options"):
        one_task_dag("bad_kwargs", endpoint="echo", request_kwargs={"timeout": 3})
    with pytest.raises(DagDefinitionError, match=r"'params' clashes with the GET request's data"):
        one_task_dag("clash", method="GET", endpoint="echo", request_kwargs={"params": {"a": 1}})


# extra_options ----------------------------------------------------------------------------------


def test_extra_options_allow_redirects_and_timeout_change_the_request(server):
    server.script["redirect"] = [302]
    hook = HttpHook("GET", http_conn_id="api")
    assert hook.run("redirect").json()["method"] == "GET" and server.hits["echo"] == 1
    kept = hook.run("redirect", extra_options={"allow_redirects": False})
    assert kept.status_code == 302 and server.hits["echo"] == 1
    with pytest.raises(requests.Timeout):
        hook.run("slow", extra_options={"timeout": 0.2})


def test_the_connections_check_response_extra_is_overridden_by_the_tasks(server, monkeypatch):
    server.script["down"] = [500]
    conn = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": server.server_port,
        "extra": {"check_response": False},
    }
    monkeypatch.setenv("DAGFLOW_CONN_LENIENT", json.dumps(conn))
    assert HttpHook("GET", http_conn_id="lenient").run("down").status_code == 500
    with pytest.raises(HttpError, match=r"^500:"):
        HttpHook("GET", http_conn_id="lenient").run("down", extra_options={"check_response": True})


def test_the_connections_max_redirects_extra_limits_the_redirects_followed(server, monkeypatch):
    server.script["redirect"] = [302]
    conn = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": server.server_port,
        "extra": {"max_redirects": 0},
    }
    monkeypatch.setenv("DAGFLOW_CONN_NO_HOPS", json.dumps(conn))
    with pytest.raises(requests.TooManyRedirects):
        HttpHook("GET", http_conn_id="no_hops").run("redirect")
    assert HttpHook("GET", http_conn_id="no_hops").run("redirect", extra_options={"max_redirects": 1}).ok


# TCP keep-alive ---------------------------------------------------------------------------------


def socket_options(hook: HttpHook) -> tuple[int, int]:
    """SO_KEEPALIVE and TCP_KEEPIDLE of the socket the hook's request went over."""
    seen: list[tuple[int, int]] = []

    def look(response: requests.Response, **_: Any) -> None:
        connection = response.raw._connection
        assert connection is not None and connection.sock is not None, "the answer closed the connection"
        sock = connection.sock
        seen.append(
            (
                sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            )
        )

    hook.run("echo", hooks={"response": look})
    return seen[0]


@pytest.mark.skipif(not hasattr(socket, "TCP_KEEPIDLE"), reason="TCP_KEEPIDLE is Linux's option")
def test_the_hooks_socket_probes_an_idle_connection_as_told(server):
    keep_alive, idle = socket_options(HttpHook("GET", "api", tcp_keep_alive_idle=77))
    assert keep_alive and idle == 77
    assert not socket_options(HttpHook("GET", "api", tcp_keep_alive=False))[0]


# retry_args -------------------------------------------------------------------------------------

RETRY = {"stop": tenacity.stop_after_attempt(5), "wait": tenacity.wait_none()}


def test_retry_args_retry_a_request_until_the_service_answers(server):
    server.script["flaky"] = [500, 500, 200]
    log = io.StringIO()
    result = run(one_task_dag("retried", method="GET", endpoint="flaky", retry_args=RETRY), log)
    assert result.get("call").state.value == "success"
    assert json.loads(result.xcom("call"))["hit"] == 3 and server.hits["flaky"] == 3
    assert log.getvalue().count("as it raised HttpError: 500:") == 2


def test_without_retry_args_the_first_error_fails_the_task(server):
    server.script["flaky"] = [500, 500, 200]
    result = run(one_task_dag("not_retried", method="GET", endpoint="flaky"))
    assert result.get("call").state.value == "failed" and server.hits["flaky"] == 1


def test_retry_args_retry_each_page(server):
    server.script["flaky"] = [200, 500, 200]

    def next_page(response):
        return {"data": {"page": 2}} if response.json()["hit"] == 1 else None

    dag = one_task_dag(
        "paged_retried", method="GET", endpoint="flaky", retry_args=RETRY, pagination_function=next_page
    )
    assert [json.loads(text)["hit"] for text in run(dag).xcom("call")] == [1, 3]


def test_the_hook_gives_up_as_the_retry_args_say(server):
    server.script["flaky"] = [500]
    hook = HttpHook("GET", http_conn_id="api")
    with pytest.raises(tenacity.RetryError):
        hook.run_with_advanced_retry({"stop": tenacity.stop_after_attempt(2)}, "flaky")
    assert server.hits["flaky"] == 2
    only_timeouts = {
        "stop": tenacity.stop_after_attempt(3),
        "retry": tenacity.retry_if_exception_type(requests.Timeout),
    }
    with pytest.raises(HttpError, match=r"^500:"):
        hook.run_with_advanced_retry(only_timeouts, endpoint="flaky")
    assert server.hits["flaky"] == 3


def test_retry_args_tenacity_does_not_take_fail_when_the_dag_loads():
    with pytest.raises(
        DagDefinitionError, match=r"task_id='call'.*not tenacity.Retrying arguments.*attempts"
    ):
        one_task_dag("bad_retry", endpoint="echo", retry_args={"attempts": 3})


# deferrable -------------------------------------------------------------------------------------


def test_a_deferrable_operator_gives_the_same_result_from_the_worker(server):
    declared = {
        "method": "GET",
        "endpoint": "echo",
        "data": {"q": "1"},
        "response_filter": lambda r: r.json()["query"],
    }
    assert run(one_task_dag("sync", **declared)).xcom("call") == {"q": "1"}
    assert run(one_task_dag("deferred", deferrable=True, **declared)).xcom("call") == {"q": "1"}


def test_a_deferrable_operator_tries_a_server_error_three_times_as_airflows_trigger(server):
    server.script["flaky"] = [500, 500, 200]
    assert (
        run(one_task_dag("deferred_ok", method="GET", endpoint="flaky", deferrable=True))
        .get("call")
        .state.value
        == "success"
    )
    server.script["down"] = [503]
    result = run(one_task_dag("deferred_down", method="GET", endpoint="down", deferrable=True))
    assert result.get("call").state.value == "failed" and server.hits["down"] == 3
    server.script["missing"] = [404]
    run(one_task_dag("deferred_missing", method="GET", endpoint="missing", deferrable=True))
    assert server.hits["missing"] == 1


# HttpSensor -------------------------------------------------------------------------------------


def sensor_dag(dag_id: str, **sensor: Any) -> DAG:
    with DAG(dag_id, schedule=None) as dag:
        HttpSensor(task_id="wait", http_conn_id="api", poke_interval=0.01, timeout=10, retries=0, **sensor)
    return dag


def test_the_sensor_pokes_through_404s_until_the_endpoint_answers(server):
    server.script["ready"] = [404, 404, 200]
    result = run(sensor_dag("wait_ready", endpoint="ready", deferrable=True, tcp_keep_alive_idle=60))
    assert result.get("wait").state.value == "success" and server.hits["ready"] == 3


def test_an_allowlisted_error_status_means_not_yet(server):
    server.script["busy"] = [503, 503, 200]
    result = run(sensor_dag("wait_busy", endpoint="busy", response_error_codes_allowlist=["503"]))
    assert result.get("wait").state.value == "success" and server.hits["busy"] == 3


def test_an_empty_allowlist_fails_the_sensor_on_a_404(server):
    server.script["ready"] = [404, 200]
    result = run(sensor_dag("wait_strict", endpoint="ready", response_error_codes_allowlist=[]))
    assert result.get("wait").state.value == "failed" and server.hits["ready"] == 1
    assert "404" in (result.get("wait").error or "")


def test_the_sensor_sends_request_params_headers_and_request_kwargs(server):
    result = run(
        sensor_dag(
            "wait_echo",
            endpoint="echo",
            method="POST",
            request_params={"k": "v"},
            request_kwargs={"cookies": {"c": "1"}},
            response_check=lambda response: (
                response.json()["body"] == "k=v" and response.json()["cookie"] == "c=1"
            ),
        )
    )
    assert result.get("wait").state.value == "success"


# an Airflow DAG file ----------------------------------------------------------------------------

AIRFLOW_DAG = """
import json

import pendulum
import tenacity
from airflow import DAG
from airflow.providers.http.operators.http import HttpOperator
from airflow.providers.http.sensors.http import HttpSensor

with DAG("http_api", start_date=pendulum.datetime(2024, 1, 1), schedule=None):
    ready = HttpSensor(task_id="ready", http_conn_id="api", endpoint="ready", poke_interval=0.01,
                       response_error_codes_allowlist=["404", "503"], deferrable=True)
    post = HttpOperator(
        task_id="post",
        http_conn_id="api",
        endpoint="flaky",
        request_kwargs={"json": {"run": "{{ ds }}"}},
        retry_args=dict(wait=tenacity.wait_none(), stop=tenacity.stop_after_attempt(4),
                        retry=tenacity.retry_if_exception_type(Exception)),
        response_filter=lambda response: json.loads(response.json()["body"]),
        deferrable=True,
        tcp_keep_alive_idle=60,
    )
    ready >> post
"""


def test_an_airflow_dag_file_with_these_arguments_runs_unchanged(
    server, dags_folder: DagsFolder, airflow_layer: None
):
    server.script["ready"] = [503, 404, 200]
    server.script["flaky"] = [500, 502, 200]
    dags_folder.write("http_api.py", AIRFLOW_DAG)
    bag = DagBag(dags_folder.path)
    assert not bag.import_errors
    result = run(bag.get_dag("http_api"))
    assert result.state.value == "success"
    assert result.xcom("post") == {"run": "{{ ds }}"}  # request_kwargs are not templated, as in Airflow
    assert (server.hits["ready"], server.hits["flaky"]) == (3, 3)


def test_a_dagflow_error_names_the_hook_for_bad_request_kwargs():
    with pytest.raises(DagflowError, match=r"HttpHook\('api'\)\.run: request_kwargs \['verify'\]"):
        HttpHook("GET", http_conn_id="api").run("echo", verify=False)
