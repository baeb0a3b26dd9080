"""Live pages and the API answer an unchanged poll with a 304 before rendering anything, and a poll
after any change that they show with the new page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask, template_rendered
from flask.testing import FlaskClient

from dagflow import actions
from dagflow.core.states import RunState, TaskState
from dagflow.store import Session
from tests.webui.seeding import DAG_ID, RUN_ID, TASKS, Seeded

Login = Callable[[str], FlaskClient]
RUN_PAGE = f"/dags/{DAG_ID}/runs/{RUN_ID}"
RUN_API = f"/api/v1/dags/{DAG_ID}/dagRuns/{RUN_ID}"
LIVE_PATHS = [
    "/",
    f"/dags/{DAG_ID}/grid",
    f"/dags/{DAG_ID}/gantt",
    f"/dags/{DAG_ID}/calendar",
    f"/dags/{DAG_ID}/durations",
    RUN_PAGE,
    RUN_API,
    f"{RUN_API}/taskInstances?limit=1000",
]


@contextmanager
def rendered_templates(app: Flask) -> Iterator[list[str]]:
    names: list[str] = []

    def record(_sender: Any, template: Any, **_extra: Any) -> None:
        names.append(template.name)

    template_rendered.connect(record, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(record, app)


def etag(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return str(response.headers["ETag"])


@pytest.mark.parametrize("path", LIVE_PATHS)
def test_an_unchanged_live_page_answers_304_without_rendering(
    app: Flask, seeded: Seeded, logged_in: Login, path: str
):
    client = logged_in("viewer")
    tag = etag(client, path)
    with rendered_templates(app) as names:
        again = client.get(path, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"].strip('"') == tag.strip('"')
    assert names == []


def _mark_load_success(session: Session) -> None:
    actions.set_task_instance_state(session, DAG_ID, RUN_ID, "load", TaskState.SUCCESS)


def _clear_the_run(session: Session) -> None:
    actions.clear_task_instances(session, DAG_ID, RUN_ID, TASKS)


def _mark_the_run_failed(session: Session) -> None:
    actions.set_run_state(session, DAG_ID, RUN_ID, RunState.FAILED)


def _unpause(session: Session) -> None:
    actions.set_paused(session, DAG_ID, False)


def _trigger_another_run(session: Session) -> None:
    actions.trigger_dag(session, DAG_ID, run_id="manual__another")


CHANGES = {
    "a task instance marked": (_mark_load_success, LIVE_PATHS),
    "the run cleared": (_clear_the_run, LIVE_PATHS),
    "the run marked failed": (_mark_the_run_failed, LIVE_PATHS),
    "the DAG unpaused": (_unpause, ["/", f"/dags/{DAG_ID}/grid", RUN_PAGE]),
    "another run triggered": (
        _trigger_another_run,
        ["/", f"/dags/{DAG_ID}/grid", f"/dags/{DAG_ID}/calendar"],
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_a_live_page_shows_gives_it_a_new_tag(seeded: Seeded, logged_in: Login, change: str):
    write, paths = CHANGES[change]
    client = logged_in("op")
    before = {path: etag(client, path) for path in paths}
    with seeded.database.session(write=True) as session:
        write(session)
    for path in paths:
        after = client.get(path, headers={"If-None-Match": before[path]})
        assert after.status_code == 200, f"{path} still answers 304 after {change}"
        assert after.headers["ETag"] != before[path]


def test_a_deleted_run_changes_the_dags_list_and_the_grid(seeded: Seeded, logged_in: Login):
    client = logged_in("op")
    with seeded.database.session(write=True) as session:
        actions.trigger_dag(session, DAG_ID, run_id="manual__short_lived")
    paths = ["/", f"/dags/{DAG_ID}/grid"]
    before = {path: etag(client, path) for path in paths}
    with seeded.database.session(write=True) as session:
        actions.delete_run(session, DAG_ID, "manual__short_lived")
    for path in paths:
        assert client.get(path, headers={"If-None-Match": before[path]}).status_code == 200


def test_users_of_different_roles_never_share_a_tag(seeded: Seeded, logged_in: Login):
    viewer, op = logged_in("viewer"), logged_in("op")
    for path in (RUN_PAGE, "/"):
        assert etag(viewer, path) != etag(op, path)


def test_a_live_page_of_a_run_that_does_not_exist_is_still_a_404(seeded: Seeded, logged_in: Login):
    client = logged_in("viewer")
    assert client.get(f"/dags/{DAG_ID}/runs/nope", headers={"If-None-Match": "*"}).status_code == 404
    assert client.get(f"/api/v1/dags/{DAG_ID}/dagRuns/nope").status_code == 404


@pytest.mark.parametrize("path", [p for p in LIVE_PATHS if not p.startswith("/api/")])
def test_a_live_page_carries_the_tag_of_what_it_shows_so_its_first_poll_sees_later_changes(
    seeded: Seeded, logged_in: Login, path: str
):
    client = logged_in("op")
    response = client.get(path)
    carried = re.search(r'<meta name="dagflow-etag" content="([^"]+)">', response.get_data(as_text=True))
    assert carried, f"{path} does not carry its tag"
    assert response.headers["ETag"] == f'"{carried.group(1)}"'
    with seeded.database.session(write=True) as session:
        _mark_load_success(session)
    assert client.get(path, headers={"If-None-Match": response.headers["ETag"]}).status_code == 200
