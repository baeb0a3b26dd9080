"""Variables and Connections in the API and the pages: everyone reads them, secrets masked unless
admin; admins create, change and delete them; bad input is a 4xx that changes nothing."""

from __future__ import annotations

import json

import pytest

from tests.webui.conftest import csrf
from tests.webui.routes import API


@pytest.fixture
def call(seeded, token, client):
    """``call(role, method, path, json=...)``: a bearer-token request, returning (status, JSON or None)."""
    tokens: dict[str, str] = {}

    def send(role: str, method: str, path: str, **kwargs):
        tokens.setdefault(role, token(role))
        response = client.open(
            path, method=method, headers={"Authorization": f"Bearer {tokens[role]}"}, **kwargs
        )
        return response.status_code, response.get_json(silent=True)

    return send


def test_an_admin_creates_changes_and_deletes_a_variable(seeded, call):
    status, var = call("admin", "POST", f"{API}/variables", json={"key": "api_token", "value": "t-123456"})
    assert status == 201 and var["value"] == "t-123456"
    assert call("admin", "POST", f"{API}/variables", json={"key": "api_token", "value": "x"})[0] == 409
    assert call("admin", "PATCH", f"{API}/variables/api_token", json={"description": "d"})[1] == {
        "key": "api_token",
        "value": "t-123456",
        "description": "d",
        "is_encrypted": False,
    }
    assert call("admin", "DELETE", f"{API}/variables/api_token")[0] == 204
    assert call("admin", "GET", f"{API}/variables/api_token")[0] == 404


def test_a_variable_key_holding_slashes_is_read_changed_and_deleted_through_the_api(seeded, call):
    status, _ = call("admin", "POST", f"{API}/variables", json={"key": "team/db/url", "value": "pg://a"})
    assert status == 201
    assert call("viewer", "GET", f"{API}/variables/team/db/url")[1]["value"] == "pg://a"
    assert call("admin", "PATCH", f"{API}/variables/team/db/url", json={"value": "pg://b"})[1] == {
        "key": "team/db/url",
        "value": "pg://b",
        "description": None,
        "is_encrypted": False,
    }
    assert call("viewer", "GET", f"{API}/variables/team%2Fdb%2Furl")[1]["value"] == "pg://b"
    assert call("admin", "DELETE", f"{API}/variables/team/db/url")[0] == 204
    assert call("viewer", "GET", f"{API}/variables/team/db/url")[0] == 404
    assert [v["key"] for v in call("viewer", "GET", f"{API}/variables")[1]["variables"]] == ["region"]


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_a_missing_variable_key_with_a_slash_is_a_404_naming_the_key(seeded, call, method):
    status, body = call("admin", method, f"{API}/variables/team/nope", json={"value": "x"})
    assert status == 404
    assert "'team/nope' does not exist" in json.dumps(body)


def test_secret_looking_values_are_masked_for_everyone_but_admins(seeded, call):
    call("admin", "POST", f"{API}/variables", json={"key": "db_password", "value": "hunter2-pw"})
    for role, expected in (("viewer", "***"), ("op", "***"), ("admin", "hunter2-pw")):
        assert call(role, "GET", f"{API}/variables/db_password")[1]["value"] == expected
        listed = {v["key"]: v["value"] for v in call(role, "GET", f"{API}/variables")[1]["variables"]}
        assert listed == {"db_password": expected, "region": "eu-west"}


def test_connection_passwords_and_secret_extras_are_masked_unless_admin(seeded, call):
    body = {
        "connection_id": "api",
        "conn_type": "http",
        "host": "example.org",
        "password": "pw-123456",
        "extra": json.dumps({"api_key": "k-123456", "timeout": 5}),
    }
    status, created = call("admin", "POST", f"{API}/connections", json=body)
    assert status == 201 and created["password"] == "pw-123456"
    shown = call("viewer", "GET", f"{API}/connections/api")[1]
    assert shown["password"] == "***" and json.loads(shown["extra"]) == {"api_key": "***", "timeout": 5}
    assert call("viewer", "GET", f"{API}/connections/warehouse")[1]["password"] == "***"


def test_patching_a_connection_keeps_the_fields_not_given(seeded, call):
    status, patched = call("admin", "PATCH", f"{API}/connections/warehouse", json={"port": 6543})
    assert status == 200
    assert (patched["host"], patched["port"], patched["password"]) == ("db.example", 6543, "hunter22")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"connection_id": "x", "conn_type": "http", "extra": "[1]"}, 400),
        ({"connection_id": "x", "conn_type": "http", "port": 70000}, 400),
        ({"connection_id": "bad id!", "conn_type": "http"}, 400),
        ({"connection_id": "x"}, 400),
        ({"connection_id": "x", "conn_type": "http", "hots": "typo"}, 422),
        ({"connection_id": "warehouse", "conn_type": "http"}, 409),
    ],
)
def test_a_bad_connection_is_refused_and_nothing_changes(seeded, call, body, status):
    before = seeded.snapshot()
    assert call("admin", "POST", f"{API}/connections", json=body)[0] == status
    assert seeded.snapshot() == before


def test_the_pages_list_both_with_secrets_masked_for_a_viewer(seeded, logged_in):
    viewer = logged_in("viewer")
    page = viewer.get("/connections").get_data(as_text=True)
    assert "db.example" in page and "hunter22" not in page and "***" in page
    assert "Save connection" not in page
    assert "eu-west" in viewer.get("/variables").get_data(as_text=True)


def test_an_admin_edits_a_connection_in_the_page_and_a_blank_password_keeps_the_old_one(
    seeded, logged_in, call
):
    admin = logged_in("admin")
    form_page = admin.get("/connections?edit=warehouse").get_data(as_text=True)
    assert 'value="db.example"' in form_page and "hunter22" not in form_page
    form = {
        "connection_id": "warehouse",
        "conn_type": "postgres",
        "host": "db2.example",
        "password": "",
        "csrf_token": csrf(admin, "/connections"),
    }
    assert admin.post("/connections", data=form).status_code == 302
    shown = call("admin", "GET", f"{API}/connections/warehouse")[1]
    assert (shown["host"], shown["password"]) == ("db2.example", "hunter22")


def test_an_admin_sets_and_deletes_a_variable_in_the_page(seeded, logged_in, call):
    admin = logged_in("admin")
    token = csrf(admin, "/variables")
    admin.post("/variables", data={"key": "batch", "value": "10", "csrf_token": token})
    assert call("viewer", "GET", f"{API}/variables/batch")[1]["value"] == "10"
    admin.post("/variables/batch/delete", data={"csrf_token": token})
    assert call("viewer", "GET", f"{API}/variables/batch")[0] == 404


def test_an_admin_deletes_a_variable_whose_key_holds_a_slash_from_the_page(seeded, logged_in, call):
    admin = logged_in("admin")
    token = csrf(admin, "/variables")
    admin.post("/variables", data={"key": "team/db_url", "value": "pg://a", "csrf_token": token})
    page = admin.get("/variables").get_data(as_text=True)
    assert 'action="/variables/team/db_url/delete"' in page
    assert admin.post("/variables/team/db_url/delete", data={"csrf_token": token}).status_code == 302
    assert call("viewer", "GET", f"{API}/variables/team/db_url")[0] == 404
