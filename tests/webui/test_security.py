"""Secure cookies by default, HTML in ids, conf, logs and XComs shown as text, and the standalone admin."""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from dagflow import actions
from dagflow.cli.scheduler_cmd import _standalone_admin
from dagflow.config import Settings
from dagflow.core.clock import utcnow
from dagflow.store.engine import Database
from dagflow.store.models import ImportErrorRow, TaskInstanceRow
from dagflow.store.users import check_password, create_user, find_user
from tests.webui.conftest import PASSWORD, csrf
from tests.webui.seeding import DAG_ID, RUN_ID, XSS
from webui import create_app

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
RUN = quote(RUN_ID, safe="")


@pytest.fixture
def secure_app(database_url, monkeypatch):
    """The app with the default settings: ``cookie_secure`` is not turned off as in the other tests."""
    monkeypatch.delenv("DAGFLOW__WEBSERVER__COOKIE_SECURE", raising=False)
    database = Database(database_url)
    with database.session(write=True) as session:
        create_user(session, "viewer", PASSWORD, "viewer", now=utcnow())
    yield create_app(Settings.load(), database=database, TESTING=True)
    database.dispose()


def session_cookie(response) -> str:
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return cookie


def test_by_default_the_session_cookie_is_secure_http_only_and_same_site_lax(secure_app):
    client = secure_app.test_client()
    page = client.get("/login", base_url="https://localhost")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found is not None, "the login form holds a CSRF token"
    token = found.group(1)
    form = {"username": "viewer", "password": PASSWORD, "csrf_token": token}
    headers = {"Referer": "https://localhost/login"}  # over HTTPS, the CSRF check also wants the same origin
    logged_in = client.post("/login", base_url="https://localhost", data=form, headers=headers)
    assert logged_in.status_code == 302
    for response in (page, logged_in):
        flags = [part.strip() for part in session_cookie(response).split(";")]
        assert "Secure" in flags and "HttpOnly" in flags and "SameSite=Lax" in flags


#: A run id may not hold a '/' (it names a folder of logs), so the hostile run id has no closing tag.
HOSTILE_RUN_ID = '<img src=x onerror="alert(1)">'
ESCAPED_RUN_ID = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"


@pytest.fixture
def hostile(seeded):
    """Besides the seeded HTML (description, doc, tag, param description, conf, log, XCom): a run and a task
    instance whose ids are HTML, and an import error whose message is."""
    with seeded.database.session(write=True) as session:
        actions.trigger_dag(
            session, DAG_ID, run_id=HOSTILE_RUN_ID, logical_date=datetime(2024, 6, 1, tzinfo=UTC)
        )
        session.add(TaskInstanceRow(dag_id=DAG_ID, run_id=RUN_ID, task_id=XSS, map_index=-1, state="removed"))
        session.add(
            ImportErrorRow(filename=f"/dags/{XSS}.py", line=3, message=XSS, traceback=XSS, timestamp=utcnow())
        )
    return seeded


PAGES_SHOWING_HTML = [
    "/",
    f"/dags/{DAG_ID}/grid",
    f"/dags/{DAG_ID}/graph",
    f"/dags/{DAG_ID}/details",
    f"/dags/{DAG_ID}/code",
    f"/dags/{DAG_ID}/trigger",
    f"/dags/{DAG_ID}/runs/{RUN}",
    f"/dags/{DAG_ID}/runs/{quote(HOSTILE_RUN_ID, safe='')}",
    f"/dags/{DAG_ID}/tasks/extract?run_id={RUN}",
    f"/dags/{DAG_ID}/tasks/extract/logs?run_id={RUN}&try=1",
    "/runs",
    "/import-errors",
]


def test_html_in_descriptions_tags_ids_conf_logs_and_xcoms_is_shown_as_text_on_every_page(hostile, logged_in):
    client = logged_in("op")
    for url in PAGES_SHOWING_HTML:
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        assert XSS not in page and HOSTILE_RUN_ID not in page, url
        assert ESCAPED in page or ESCAPED_RUN_ID in page, url
    hostile_run = client.get(f"/dags/{DAG_ID}/runs/{quote(HOSTILE_RUN_ID, safe='')}").get_data(as_text=True)
    assert ESCAPED_RUN_ID in hostile_run


def test_each_kind_of_hostile_value_reaches_its_page_escaped(hostile, logged_in):
    client = logged_in("op")
    details = client.get(f"/dags/{DAG_ID}/details").get_data(as_text=True)
    assert f"Docs {ESCAPED}" in details and f"Orders {ESCAPED}" in details
    run = client.get(f"/dags/{DAG_ID}/runs/{RUN}").get_data(as_text=True)
    assert f"&#34;note&#34;: &#34;{ESCAPED}&#34;" in run  # the conf, as readable JSON text
    assert f">{ESCAPED}</a>" in run  # the task id
    ti = client.get(f"/dags/{DAG_ID}/tasks/extract?run_id={RUN}").get_data(as_text=True)
    assert f"<code>&#34;{ESCAPED}&#34;</code>" in ti  # the XCom value
    log = client.get(f"/dags/{DAG_ID}/tasks/extract/logs?run_id={RUN}&try=1").get_data(as_text=True)
    assert f"log line {ESCAPED}" in log


def test_a_flash_message_naming_a_hostile_value_is_escaped(seeded, logged_in):
    client = logged_in("op")
    response = client.post(
        f"/dags/{DAG_ID}/trigger",
        follow_redirects=True,
        data={
            "param.who": XSS,
            "param.count": "3",
            "param.ratio": "1",
            "param.loud": "true",
            "param.colour": '"red"',
            "param.items": "[]",
            "csrf_token": csrf(client, "/"),
        },
    )
    page = response.get_data(as_text=True)
    assert "Triggered run" in page and XSS not in page and ESCAPED in page


def test_standalone_prints_the_url_user_and_a_generated_password_then_where_to_find_it(
    database_url, dagflow_home, capsys
):
    settings = Settings.load()
    secret = dagflow_home / "standalone_admin_password.txt"
    _standalone_admin(settings)
    first = capsys.readouterr().err
    password = secret.read_text().strip()
    assert "open http://127.0.0.1:8080/ and log in as 'admin' with password " + password in first
    assert str(secret) in first and stat.S_IMODE(secret.stat().st_mode) == 0o600
    database = Database(database_url)
    with database.session() as session:
        admin = find_user(session, "admin")
        assert admin is not None and admin.role == "admin" and check_password(admin, password)
    database.dispose()

    _standalone_admin(settings)
    later = capsys.readouterr().err
    assert password not in later and f"the standalone admin's password is in {secret}" in later

    secret.unlink()
    _standalone_admin(settings)
    assert "with 'dagflow users create'" in capsys.readouterr().err
