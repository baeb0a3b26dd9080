"""Every route, for every role: reads allowed by role, actions refused below their role, 404 for unknown
DAGs, runs and tasks, and no state change on GET."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from dagflow.store.users import ROLE_RANK
from tests.webui.conftest import ROLES, csrf
from tests.webui.routes import (
    ACTIONS,
    API_READS,
    PAGES,
    POST_ONLY_API,
    POST_ONLY_PAGES,
    RUN,
    UNLISTED,
    Action,
)
from tests.webui.seeding import DAG_ID


def allowed(role: str, least: str) -> bool:
    return ROLE_RANK[role] >= ROLE_RANK[least]


def send(client, action: Action, *, bearer: str | None = None, token: str | None = None):
    """Make the action's request: a form with the page's CSRF token, or JSON with a bearer token."""
    if action.is_api and bearer:  # a client of its own: with a session cookie, the session's user wins
        headers = {"Authorization": f"Bearer {bearer}"}
        return client.application.test_client().open(
            action.url, method=action.method, json=action.json, headers=headers
        )
    if action.is_api:
        headers = {"X-CSRFToken": token} if token else {}
        return client.open(action.url, method=action.method, json=action.json, headers=headers)
    return client.open(action.url, method=action.method, data={**(action.form or {}), "csrf_token": token})


def test_the_route_tables_cover_every_route_and_method(app):
    listed = set(PAGES) | set(API_READS) | {a.endpoint for a in ACTIONS} | UNLISTED
    assert {rule.endpoint for rule in app.url_map.iter_rules()} == listed
    acting = {(a.endpoint, a.method) for a in ACTIONS}
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"GET", "HEAD", "OPTIONS"}:
            assert rule.endpoint in UNLISTED | {"auth.login"} or (rule.endpoint, method) in acting, rule


def test_every_page_renders_for_the_roles_that_may_read_it_and_is_403_for_the_others(seeded, logged_in):
    for role in ROLES:
        client = logged_in(role)
        for endpoint, (url, least) in PAGES.items():
            response = client.get(url)
            assert response.status_code == (200 if allowed(role, least) else 403), (role, endpoint)
            assert response.mimetype == "text/html"


def test_every_api_read_answers_json_for_the_roles_that_may_read_it(seeded, token, client):
    for role in ROLES:
        headers = {"Authorization": f"Bearer {token(role)}"}
        for endpoint, (url, least) in API_READS.items():
            response = client.get(url, headers=headers)
            assert response.status_code == (200 if allowed(role, least) else 403), (role, endpoint)
            assert response.is_json
            if response.status_code == 403:
                assert response.get_json()["status"] == 403


def test_a_viewer_is_refused_every_action_and_nothing_changes(seeded, logged_in, token):
    client, bearer = logged_in("viewer"), token("viewer")
    page_token = csrf(client, "/")
    before = seeded.snapshot()
    for action in ACTIONS:
        response = send(client, action, bearer=bearer, token=page_token)
        assert response.status_code == 403, action.endpoint
    assert seeded.snapshot() == before


def test_an_op_is_refused_the_admin_actions_on_pools_and_users(seeded, logged_in, token):
    client, bearer = logged_in("op"), token("op")
    page_token = csrf(client, "/")
    before = seeded.snapshot()
    for action in [a for a in ACTIONS if a.role == "admin"]:
        assert send(client, action, bearer=bearer, token=page_token).status_code == 403, action.endpoint
    assert seeded.snapshot() == before


def test_a_state_change_with_the_session_cookie_but_without_the_csrf_token_is_refused(seeded, logged_in):
    client = logged_in("admin")
    before = seeded.snapshot()
    for action in ACTIONS:
        response = send(client, action, token=None)
        assert response.status_code == 400, action.endpoint
        assert "CSRF" in response.get_data(as_text=True)
    assert seeded.snapshot() == before


def test_a_wrong_csrf_token_is_refused_like_a_missing_one(seeded, logged_in):
    client = logged_in("op")
    action = next(a for a in ACTIONS if a.endpoint == "views.mark_run")
    assert send(client, action, token="not-the-token").status_code == 400
    assert seeded.run_state() == "running"


def test_get_on_an_action_url_is_405_and_changes_nothing(seeded, logged_in, token):
    client = logged_in("admin")
    headers = {"Authorization": f"Bearer {token('admin')}"}
    before = seeded.snapshot()
    for url in POST_ONLY_PAGES:
        assert client.get(url).status_code == 405, url
    for url in POST_ONLY_API:
        response = client.get(url, headers=headers)
        assert response.status_code == 405, url
        assert response.get_json()["status"] == 405
    assert client.get(f"/dags/{DAG_ID}/trigger").status_code == 200  # the form: showing it creates nothing
    assert seeded.snapshot() == before


UNKNOWN = [(DAG_ID, "no_such_dag"), (RUN, "no_such_run"), ("extract", "no_such_task")]


@pytest.mark.parametrize(("known", "unknown"), UNKNOWN, ids=["dag", "run", "task"])
def test_an_unknown_dag_run_or_task_is_404_on_every_route_naming_one(
    seeded, logged_in, token, known, unknown
):
    client = logged_in("op")
    headers = {"Authorization": f"Bearer {token('op')}"}
    urls = [url for url, _role in [*PAGES.values(), *API_READS.values()] if known in url.split("?")[0]]
    urls += [url for url, _role in PAGES.values() if f"run_id={known}" in url]
    assert urls
    for url in urls:
        response = client.get(url.replace(known, unknown), headers=headers)
        assert response.status_code == 404, url
        if "/api/" in url:
            assert response.get_json()["status"] == 404


def test_an_unknown_dag_run_or_task_in_an_action_is_404_and_changes_nothing(seeded, logged_in, token):
    client, bearer = logged_in("op"), token("op")
    page_token = csrf(client, "/")
    before = seeded.snapshot()
    for action in [a for a in ACTIONS if a.role == "op"]:
        for known, unknown in UNKNOWN:
            form = action.form and {k: v.replace(unquote(known), unknown) for k, v in action.form.items()}
            url = action.url.replace(known, unknown)
            changed = Action(action.endpoint, action.method, url, action.role, form=form, json=action.json)
            if changed == action:
                continue
            response = send(client, changed, bearer=bearer, token=page_token)
            assert response.status_code == 404, (action.endpoint, known, response.get_data(as_text=True))
    assert seeded.snapshot() == before
