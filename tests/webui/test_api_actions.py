"""Acting through /api/v1: each action changes the store as it says; bad input is a 4xx, changing nothing."""

from __future__ import annotations

import pytest

from tests.webui.conftest import csrf
from tests.webui.routes import API, API_RUN, API_TI
from tests.webui.seeding import DAG_ID, RUN_ID


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


def test_triggering_creates_a_queued_run_with_the_conf(seeded, call):
    status, run = call(
        "op",
        "POST",
        f"{API}/dags/{DAG_ID}/dagRuns",
        json={"conf": {"count": 5}, "dag_run_id": "by-api", "logical_date": "2024-05-01T00:00:00Z"},
    )
    assert status == 201
    assert run["run_id"] == "by-api" and run["conf"] == {"count": 5} and run["state"] == "queued"
    assert run["logical_date"].startswith("2024-05-01T00:00:00") and run["triggered_by"] == "op"
    assert seeded.run_state("by-api") == "queued"


BAD_TRIGGERS = [
    ({"conf": {"count": 11}}, 400, "11 is greater than the maximum of 10"),
    ({"conf": [1]}, 400, "conf must be a JSON object"),
    ({"logical_date": "soon"}, 400, "ISO 8601"),
    ({"logical_date": 20240101}, 400, "ISO 8601"),
    ({"dag_run_id": "a/b"}, 400, "without '/'"),
    ({"dag_run_id": ".."}, 400, "without '/'"),
    ({"dag_run_id": "x" * 251}, 400, "at most 250"),
    ({"dag_run_id": 5}, 400, "must be a string"),
    ({"dag_run_id": "a\x00b"}, 400, "NUL"),
    ({"conf": {"note": "\ud800"}}, 400, "not valid Unicode"),
    ({"dag_run_id": RUN_ID}, 409, "already has a run with id"),
    ({"logical_date": "2024-01-01T00:00:00+00:00"}, 409, "already has a run with"),
]


def test_a_bad_trigger_is_refused_and_creates_nothing(seeded, call):
    for body, status, message in BAD_TRIGGERS:
        found, error = call("op", "POST", f"{API}/dags/{DAG_ID}/dagRuns", json=body)
        assert found == status and message in error["detail"], body
    assert seeded.run_ids() == [RUN_ID]


NOT_JSON_OBJECTS = [
    ("{not json", "application/json"),
    ("[1, 2]", "application/json"),
    ('{"conf": {}}', "text/plain"),
    ('{"conf": {"x": NaN}}', "application/json"),
    ('{"conf": {"x": 1e999}}', "application/json"),
]


def test_a_body_that_is_not_a_json_object_is_a_400(seeded, call):
    for data, content_type in NOT_JSON_OBJECTS:
        status, error = call(
            "op", "POST", f"{API}/dags/{DAG_ID}/dagRuns", data=data, content_type=content_type
        )
        assert status == 400 and error["status"] == 400, data
    assert seeded.run_ids() == [RUN_ID]


def test_pausing_and_unpausing_a_dag(seeded, call):
    status, dag = call("op", "PATCH", f"{API}/dags/{DAG_ID}", json={"is_paused": False})
    assert status == 200 and dag["is_paused"] is False
    assert ("shop", False) in seeded.snapshot()["dags"]
    assert call("op", "PATCH", f"{API}/dags/{DAG_ID}", json={"is_paused": "no"})[0] == 400
    assert call("op", "PATCH", f"{API}/dags/{DAG_ID}", json={})[0] == 400
    assert call("op", "PATCH", f"{API}/dags/nope", json={"is_paused": True})[0] == 404


def test_a_page_script_acts_with_its_session_and_the_csrf_header(seeded, logged_in):
    client = logged_in("op")
    headers = {"X-CSRFToken": csrf(client, "/")}
    response = client.patch(f"{API}/dags/{DAG_ID}", json={"is_paused": False}, headers=headers)
    assert response.status_code == 200 and response.get_json()["is_paused"] is False


def test_marking_a_run_success_finishes_its_unfinished_task_instances(seeded, call):
    status, run = call("op", "PATCH", API_RUN, json={"state": "success"})
    assert status == 200 and run["state"] == "success"
    assert seeded.ti_state("report") == "success" and seeded.ti_state("process.transform") == "failed"
    for bad in ({"state": "running"}, {"state": None}, {}):
        assert call("op", "PATCH", API_RUN, json=bad)[0] == 400


def test_deleting_a_run(seeded, call):
    status, body = call("op", "DELETE", API_RUN)
    assert status == 204 and body is None
    assert seeded.run_ids() == []
    assert call("op", "DELETE", API_RUN)[0] == 404


def test_a_dry_run_clear_says_what_it_would_clear_and_changes_nothing(seeded, call):
    before = seeded.snapshot()
    status, body = call("op", "POST", f"{API_RUN}/clear", json={"only_failed": True, "dry_run": True})
    assert status == 200 and body["dry_run"] is True
    assert body["task_instances"] == [
        {"task_id": "load", "map_index": -1},
        {"task_id": "process.transform", "map_index": -1},
    ]
    assert seeded.snapshot() == before


def test_clearing_a_run_and_a_task_instance_with_options(seeded, call):
    status, body = call("op", "POST", f"{API_RUN}/clear", json={"task_ids": ["load"], "upstream": True})
    assert status == 200 and body["total_entries"] == 3
    assert [seeded.ti_state(t) for t in ("extract", "process.transform", "load")] == ["none"] * 3
    status, body = call("op", "POST", f"{API_RUN}/taskInstances/report/clear", json={"downstream": True})
    assert status == 200 and body["task_instances"] == [{"task_id": "report", "map_index": -1}]


BAD_CLEARS = [
    {"task_ids": "load"},
    {"task_ids": [1]},
    {"only_failed": "yes"},
    {"dry_run": 1},
    {"task_ids": ["nope"]},
]


def test_a_bad_clear_is_refused_and_changes_nothing(seeded, call):
    before = seeded.snapshot()
    for body in BAD_CLEARS:
        status, _error = call("op", "POST", f"{API_RUN}/clear", json=body)
        assert status == (404 if body == {"task_ids": ["nope"]} else 400), body
    assert seeded.snapshot() == before


def test_marking_a_task_instance(seeded, call):
    status, ti = call("op", "PATCH", f"{API_RUN}/taskInstances/load", json={"state": "skipped"})
    assert status == 200 and ti["state"] == "skipped"
    assert seeded.ti_state("load") == "skipped"
    assert call("op", "PATCH", API_TI, json={"state": "queued"})[0] == 400
    assert call("op", "PATCH", API_TI, query_string={"map_index": 4}, json={"state": "failed"})[0] == 404
    assert seeded.ti_state("extract") == "success"


def test_an_admin_creates_changes_and_deletes_a_pool(seeded, call):
    status, pool = call("admin", "POST", f"{API}/pools", json={"name": "big", "slots": 4, "description": "d"})
    assert status == 201 and pool == {"name": "big", "slots": 4, "description": "d", "occupied_slots": 0}
    assert call("admin", "POST", f"{API}/pools", json={"name": "big", "slots": 1})[0] == 409
    assert call("admin", "PATCH", f"{API}/pools/big", json={"slots": 9})[1]["slots"] == 9
    assert ("big", 9) in seeded.snapshot()["pools"]
    assert call("admin", "DELETE", f"{API}/pools/big")[0] == 204
    assert "big" not in [name for name, _slots in seeded.snapshot()["pools"]]
    assert call("admin", "DELETE", f"{API}/pools/big")[0] == 404
    assert call("admin", "DELETE", f"{API}/pools/default_pool")[0] == 400


BAD_POOLS = [
    {"name": "p"},
    {"name": "", "slots": 1},
    {"name": "p", "slots": -1},
    {"name": "p", "slots": 2**31},
    {"name": "p", "slots": 1.5},
    {"name": "p", "slots": True},
    {"name": 3, "slots": 1},
    {"name": "x" * 251, "slots": 1},
]


def test_a_bad_pool_is_refused(seeded, call):
    before = seeded.snapshot()
    for body in BAD_POOLS:
        assert call("admin", "POST", f"{API}/pools", json=body)[0] == 400, body
    assert seeded.snapshot() == before
