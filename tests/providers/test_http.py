"""HttpHook, HttpOperator and HttpSensor against a real HTTP server on this machine (a small Flask
app served by werkzeug in a thread), never the internet."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from dagflow import DAG
from dagflow.exceptions import ConnectionNotFound
from dagflow.providers.http import HttpError, HttpHook, HttpOperator, HttpSensor

LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)


def service() -> Flask:
    app = Flask("fake_service")
    state = {"polls": 0}

    @app.route("/echo", methods=["GET", "POST", "PUT", "DELETE"])
    def echo():
        return jsonify(
            method=request.method,
            args=request.args.to_dict(),
            body=request.get_data(as_text=True),
            auth=request.authorization.username if request.authorization else None,
            headers={k: v for k, v in request.headers.items() if k.startswith("X-")},
        )

    @app.route("/ready")
    def ready():
        state["polls"] += 1
        if state["polls"] < 3:
            return "not yet", 404
        return jsonify(status="ok", polls=state["polls"])

    @app.route("/broken")
    def broken():
        return "boom", 500

    return app


@pytest.fixture
def http_service(monkeypatch) -> Iterator[str]:
    """The fake service on a free local port, as connection ``svc`` (login, and an extra header)."""
    server = make_server("127.0.0.1", 0, service(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    conn = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": server.server_port,
        "login": "robot",
        "password": "s3cret-pw",
        "extra": {"X-Team": "data", "timeout": 5},
    }
    monkeypatch.setenv("DAGFLOW_CONN_SVC", json.dumps(conn))
    yield base
    server.shutdown()
    thread.join(5)


def run(dag: DAG):
    return dag.test(logical_date=LOGICAL_DATE, log_stream=io.StringIO())


def test_the_hook_sends_auth_extra_headers_and_query_or_body_by_method(http_service):
    got = HttpHook("GET", http_conn_id="svc").run("echo", data={"q": "1"}, headers={"X-Call": "yes"}).json()
    assert got == {
        "method": "GET",
        "args": {"q": "1"},
        "body": "",
        "auth": "robot",
        "headers": {"X-Team": "data", "X-Call": "yes"},
    }
    posted = HttpHook("POST", http_conn_id="svc").run("/echo", data='{"a": 1}').json()
    assert (posted["method"], posted["body"], posted["args"]) == ("POST", '{"a": 1}', {})


def test_an_error_status_raises_with_airflows_message_unless_unchecked(http_service):
    with pytest.raises(HttpError, match=r"^500:"):
        HttpHook("GET", http_conn_id="svc").run("broken")
    response = HttpHook("GET", http_conn_id="svc").run("broken", extra_options={"check_response": False})
    assert response.status_code == 500


def test_the_operator_pushes_the_filtered_response_and_renders_its_fields(http_service):
    with DAG("http_call", schedule=None) as dag:
        HttpOperator(
            task_id="call",
            http_conn_id="svc",
            method="POST",
            endpoint="echo",
            data='{"day": "{{ ds }}"}',
            headers={"X-Run": "{{ run_id }}"},
            response_check=lambda response: response.json()["method"] == "POST",
            response_filter=lambda response, ds: [response.json()["body"], ds],
        )
        HttpOperator(
            task_id="text",
            http_conn_id="svc",
            method="GET",
            endpoint="ready",
            extra_options={"check_response": False},
        )
    result = run(dag)
    assert result.xcom("call") == ['{"day": "2024-01-01"}', "2024-01-01"]
    assert result.xcom("text") == "not yet"


def test_a_false_response_check_fails_the_task(http_service):
    with DAG("http_check", schedule=None) as dag:
        HttpOperator(
            task_id="call",
            http_conn_id="svc",
            method="GET",
            endpoint="echo",
            response_check=lambda response: False,
            retries=0,
        )
    result = run(dag)
    assert result.get("call").state.value == "failed"
    assert "response check returned False" in (result.get("call").error or "")


def test_the_sensor_waits_through_404s_until_the_check_passes(http_service):
    with DAG("http_wait", schedule=None) as dag:
        HttpSensor(
            task_id="wait",
            http_conn_id="svc",
            endpoint="ready",
            poke_interval=0.01,
            timeout=10,
            response_check=lambda response: response.json()["status"] == "ok",
        )
    assert run(dag).get("wait").state.value == "success"


def test_the_sensor_fails_on_an_error_status_outside_its_allowlist(http_service):
    with DAG("http_wait_broken", schedule=None) as dag:
        HttpSensor(
            task_id="wait", http_conn_id="svc", endpoint="broken", poke_interval=0.01, timeout=5, retries=0
        )
    result = run(dag)
    assert result.get("wait").state.value == "failed" and "500" in (result.get("wait").error or "")


def test_a_missing_connection_names_it():
    with pytest.raises(ConnectionNotFound, match="'nope'"):
        HttpHook("GET", http_conn_id="nope").run("x")
