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
from dagflow.dagbag import DagBag
from dagflow.exceptions import ConnectionNotFound
from dagflow.providers.http import HttpError, HttpHook, HttpOperator, HttpSensor
from dagflow.providers.http.operators import next_page_request
from tests.conftest import DagsFolder

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

    @app.route("/pages")
    def pages():
        """Three pages of two items linked by a cursor; ``bad=<page>`` spoils that page (``"ok": false``),
        ``down=<page>`` makes it answer 500."""
        cursor = request.args.get("cursor", "c1")
        page = {"c1": 1, "c2": 2, "c3": 3}[cursor]
        if request.args.get("down") == str(page):
            return "page down", 500
        return jsonify(
            page=page,
            items=[f"item{2 * page - 1}", f"item{2 * page}"],
            next=f"c{page + 1}" if page < 3 else None,
            ok=request.args.get("bad") != str(page),
            args=request.args.to_dict(),
            headers={k: v for k, v in request.headers.items() if k.startswith("X-")},
        )

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


def next_cursor(response):
    """The pagination function of the tests: the next cursor as a query parameter, and a header
    naming it, until the last page."""
    cursor = response.json()["next"]
    return {"data": {"cursor": cursor}, "headers": {"X-Cursor": cursor}} if cursor else None


def paged(task_id: str = "pages", **kwargs):
    arguments = {
        "task_id": task_id,
        "http_conn_id": "svc",
        "method": "GET",
        "endpoint": "pages",
        "data": {"limit": "2"},
        "headers": {"X-Run": "{{ run_id }}"},
        "pagination_function": next_cursor,
        "retries": 0,
    }
    return HttpOperator(**{**arguments, **kwargs})


def test_the_operator_follows_the_pagination_function_and_returns_every_pages_text(http_service):
    with DAG("http_pages", schedule=None) as dag:
        paged()
    result = run(dag)
    pages = [json.loads(text) for text in result.xcom("pages")]
    assert [page["page"] for page in pages] == [1, 2, 3]
    assert [page["args"] for page in pages] == [
        {"limit": "2"},
        {"limit": "2", "cursor": "c2"},
        {"limit": "2", "cursor": "c3"},
    ]
    run_id = result.run_id
    assert [page["headers"] for page in pages] == [
        {"X-Team": "data", "X-Run": run_id},
        {"X-Team": "data", "X-Run": run_id, "X-Cursor": "c2"},
        {"X-Team": "data", "X-Run": run_id, "X-Cursor": "c3"},
    ]


def test_a_paging_operators_check_and_filter_receive_the_list_of_responses(http_service):
    with DAG("http_pages_filtered", schedule=None) as dag:
        paged(
            response_check=lambda responses: len(responses) == 3,
            response_filter=lambda responses, ds: [ds, [i for r in responses for i in r.json()["items"]]],
        )
    result = run(dag)
    assert result.get("pages").state.value == "success"
    assert result.xcom("pages") == ["2024-01-01", ["item1", "item2", "item3", "item4", "item5", "item6"]]


def test_a_response_check_rejecting_page_two_fails_the_paging_task(http_service):
    with DAG("http_pages_bad", schedule=None) as dag:
        paged(
            data={"bad": "2"},
            response_check=lambda responses: all(r.json()["ok"] for r in responses),
        )
    failed = run(dag).get("pages")
    assert failed.state.value == "failed"
    assert "'pages': response check returned False for the list of 3 paged responses" in (failed.error or "")


def test_an_error_status_on_page_two_fails_the_paging_task(http_service):
    with DAG("http_pages_down", schedule=None) as dag:
        paged(data={"down": "2"})
    failed = run(dag).get("pages")
    assert failed.state.value == "failed" and "500:" in (failed.error or "")


def test_a_pagination_function_answering_none_at_once_gives_a_one_element_list(http_service):
    with DAG("http_one_page", schedule=None) as dag:
        paged(pagination_function=lambda response: None)
    texts = run(dag).xcom("pages")
    assert isinstance(texts, list) and len(texts) == 1
    assert json.loads(texts[0])["items"] == ["item1", "item2"]


def test_the_next_page_starts_from_the_tasks_parameters_with_dicts_merged_and_others_replaced():
    declared = {
        "endpoint": "items",
        "data": {"limit": 2, "filter": {"state": "open", "team": "data"}},
        "headers": {"X-A": "1", "X-B": "2"},
        "extra_options": {"timeout": 5},
    }
    page = {"data": {"cursor": "c2", "filter": {"state": "closed"}}, "headers": {"X-B": "two"}}
    assert next_page_request(declared, page) == {
        "endpoint": "items",
        "data": {"limit": 2, "filter": {"state": "closed", "team": "data"}, "cursor": "c2"},
        "headers": {"X-A": "1", "X-B": "two"},
        "extra_options": {"timeout": 5},
    }
    moved = next_page_request(
        declared, {"endpoint": "items?page=2", "data": "raw", "extra_options": {"a": 1}}
    )
    assert (moved["endpoint"], moved["data"], moved["extra_options"]) == (
        "items?page=2",
        "raw",
        {"timeout": 5, "a": 1},
    )
    assert next_page_request({**declared, "data": "body"}, {"data": {"cursor": "c2"}})["data"] == {
        "cursor": "c2"
    }
    assert next_page_request(declared, {"endpoint": "", "data": None}) == {**declared}
    assert declared["data"] == {"limit": 2, "filter": {"state": "open", "team": "data"}}, "left as declared"


AIRFLOW_PAGED_DAG = """
import pendulum
from airflow.sdk import DAG
from airflow.providers.http.operators.http import HttpOperator


def next_page(response):
    cursor = response.json()["next"]
    if cursor:
        return {"data": {"cursor": cursor}}
    return None


with DAG("paged_api", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False):
    HttpOperator(
        task_id="fetch_all",
        http_conn_id="svc",
        method="GET",
        endpoint="pages",
        pagination_function=next_page,
        response_filter=lambda responses: [item for r in responses for item in r.json()["items"]],
    )
"""


def test_an_airflow_dag_file_paging_with_http_operator_runs_unchanged(
    http_service, dags_folder: DagsFolder, airflow_layer: None
):
    dags_folder.write("paged_api.py", AIRFLOW_PAGED_DAG)
    bag = DagBag(dags_folder.path)
    assert not bag.import_errors
    result = bag.get_dag("paged_api").test(logical_date=LOGICAL_DATE, log_stream=io.StringIO())
    assert result.xcom("fetch_all") == ["item1", "item2", "item3", "item4", "item5", "item6"]


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
