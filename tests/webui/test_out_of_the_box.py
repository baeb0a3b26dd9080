"""Works out of the box: a login over plain HTTP from another address, a CSRF failure page that says why,
Swagger UI served from the package, and a body field the API does not know refused by name."""

from __future__ import annotations

import re
import socket

import pytest

from dagflow.config import Settings
from dagflow.core.clock import utcnow
from dagflow.exceptions import DagflowConfigError
from dagflow.store.engine import Database
from dagflow.store.users import create_user
from tests.webui.conftest import PASSWORD, csrf
from tests.webui.routes import ACTIONS
from webui import create_app
from webui.api.openapi import document

LAN = "http://192.168.1.20:8080"


@pytest.fixture
def configured_app(database_url, monkeypatch):
    """``configured_app(cookie_secure)``: the app with that setting (None: the default, not set at all)."""
    made: list[Database] = []

    def make(cookie_secure: str | None):
        if cookie_secure is None:
            monkeypatch.delenv("DAGFLOW__WEBSERVER__COOKIE_SECURE", raising=False)
        else:
            monkeypatch.setenv("DAGFLOW__WEBSERVER__COOKIE_SECURE", cookie_secure)
        database = Database(database_url)
        made.append(database)
        with database.session(write=True) as session:
            create_user(session, f"viewer{len(made)}", PASSWORD, "viewer", now=utcnow())
        return create_app(Settings.load(), database=database, TESTING=True), f"viewer{len(made)}"

    yield make
    for database in made:
        database.dispose()


def session_flags(response) -> list[str]:
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return [part.strip() for part in cookie.split(";")]


def form_token(page) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found is not None, "the login form holds a CSRF token"
    return found.group(1)


def log_in(client, username: str, base_url: str):
    page = client.get("/login", base_url=base_url)
    token = form_token(page)
    form = {"username": username, "password": PASSWORD, "csrf_token": token}
    return page, client.post("/login", base_url=base_url, data=form, headers={"Referer": f"{base_url}/login"})


# -- cookie_secure: auto by default ------------------------------------------------------------------


def test_by_default_a_login_over_plain_http_from_another_address_works(configured_app):
    app, user = configured_app(None)
    client = app.test_client()

    page, logged_in = log_in(client, user, LAN)

    assert logged_in.status_code == 302, logged_in.get_data(as_text=True)
    assert "Secure" not in session_flags(page) and "HttpOnly" in session_flags(page)
    assert client.get("/", base_url=LAN).status_code == 200


def test_by_default_the_session_cookie_is_secure_over_https(configured_app):
    app, user = configured_app(None)

    page, logged_in = log_in(app.test_client(), user, "https://dagflow.example.com")

    assert logged_in.status_code == 302
    assert "Secure" in session_flags(page) and "Secure" in session_flags(logged_in)


@pytest.mark.parametrize(("value", "secure_over_http"), [("true", True), ("False", False), ("AUTO", False)])
def test_cookie_secure_set_by_hand_wins(configured_app, value, secure_over_http):
    app, _user = configured_app(value)

    page = app.test_client().get("/login", base_url=LAN)

    assert ("Secure" in session_flags(page)) is secure_over_http


def test_a_cookie_secure_that_is_not_auto_true_or_false_is_one_clear_error(configured_app):
    with pytest.raises(DagflowConfigError, match=r"\[webserver\] cookie_secure must be auto, true or false"):
        configured_app("sometimes")


# -- the CSRF failure page ---------------------------------------------------------------------------


def test_a_login_over_http_with_secure_cookies_names_the_cause_and_the_setting(configured_app):
    app, user = configured_app("true")
    client = app.test_client()
    token = form_token(client.get("/login", base_url=LAN))
    client.delete_cookie("session", domain="192.168.1.20")  # a browser keeps a Secure cookie off plain HTTP

    refused = client.post(
        "/login", base_url=LAN, data={"username": user, "password": PASSWORD, "csrf_token": token}
    )

    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and refused.mimetype == "text/html"
    assert "only over HTTPS" in text and "plain HTTP" in text
    assert "[webserver] cookie_secure" in text and "DAGFLOW__WEBSERVER__COOKIE_SECURE=auto" in text


def test_an_expired_session_says_so_and_offers_a_reload(configured_app):
    app, user = configured_app(None)
    client = app.test_client()
    token = csrf(client)
    client.delete_cookie("session", domain="localhost")

    refused = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token})

    text = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "the session may have expired" in text and 'href="/login">Reload the page' in text
    assert "cookie_secure" not in text  # not the cause here: not named


def test_a_csrf_failure_on_the_api_is_json_with_the_reason(configured_app):
    app, user = configured_app(None)
    client = app.test_client()
    log_in(client, user, "http://localhost")

    refused = client.patch("/api/v1/dags/x", json={"is_paused": True})

    assert refused.status_code == 400
    body = refused.get_json()
    assert body["title"] == "CSRF check failed" and "The CSRF token is missing." in body["detail"]


# -- Swagger UI ----------------------------------------------------------------------------------


def test_api_docs_is_swagger_ui_from_the_package_on_the_openapi_document(client):
    page = client.get("/api/docs").get_data(as_text=True)

    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert all(s.startswith("/") or s.startswith("data:") for s in sources), sources  # no CDN
    assert 'data-spec="/api/v1/openapi.json"' in page
    for asset in ("swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css", "api-docs.js"):
        path = f"/static/{asset}"
        assert path in sources
        assert client.get(path).status_code == 200
    assert "Apache License" in client.get("/static/swagger-ui/LICENSE").get_data(as_text=True)


# -- unknown body fields ---------------------------------------------------------------------------


def test_an_unknown_field_in_a_trigger_is_a_422_naming_it_and_makes_no_run(seeded, token, client):
    headers = {"Authorization": f"Bearer {token('op')}"}

    response = client.post("/api/v1/dags/shop/dagRuns", json={"confx": {}}, headers=headers)

    assert response.status_code == 422
    assert response.get_json()["detail"] == (
        "unknown field 'confx' in the request body (expected: conf, dag_run_id, logical_date)"
    )
    assert seeded.run_ids() == [seeded.run_id]


@pytest.mark.parametrize(
    "action", [a for a in ACTIONS if a.is_api and a.json is not None], ids=lambda a: a.endpoint
)
def test_every_api_body_refuses_a_field_it_does_not_know_and_changes_nothing(seeded, token, client, action):
    headers = {"Authorization": f"Bearer {token('admin')}"}
    before = seeded.snapshot()

    response = client.open(
        action.url, method=action.method, json={**action.json, "bogus": 1}, headers=headers
    )

    assert response.status_code == 422, response.get_data(as_text=True)
    assert "unknown field 'bogus'" in response.get_json()["detail"]
    assert seeded.snapshot() == before


def test_the_openapi_document_says_bodies_are_closed_and_may_be_422():
    for path, operations in document()["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                schema = operation["requestBody"]["content"]["application/json"]["schema"]
                assert schema["additionalProperties"] is False, (method, path)
                assert "422" in operation["responses"], (method, path)


def test_the_site_icon_is_served_so_no_page_logs_a_404(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 200 and response.mimetype == "image/svg+xml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (None, "session cookie Secure only over HTTPS ([webserver] cookie_secure = auto)"),
        ("true", "session cookie Secure: log in over HTTPS only ([webserver] cookie_secure = true)"),
    ],
)
def test_the_webserver_start_up_line_says_how_the_session_cookie_is_sent(
    database_url, cli_runner, monkeypatch, value, said
):
    import webui.server
    from dagflow.cli import cli

    if value is None:
        monkeypatch.delenv("DAGFLOW__WEBSERVER__COOKIE_SECURE", raising=False)
    else:
        monkeypatch.setenv("DAGFLOW__WEBSERVER__COOKIE_SECURE", value)
    served: list[tuple[str, int]] = []

    def serve(*, sockets):  # what the command hands the web server: its socket, bound already
        served.extend(listener.getsockname() for listener in sockets)
        for listener in sockets:
            listener.close()

    monkeypatch.setattr(webui.server, "serve", serve)
    port = free_port()

    result = cli_runner.invoke(cli, ["webserver", "--port", str(port)])

    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"dagflow web UI on http://127.0.0.1:{port}/ ({said})\n"
    assert served == [("127.0.0.1", port)]
