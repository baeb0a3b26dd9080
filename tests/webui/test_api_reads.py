"""Reading through /api/v1: what each route returns, its filters and pages, and 4xx for bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dagflow import actions
from tests.webui.routes import API, API_RUN, API_TI
from tests.webui.seeding import DAG_ID, RUN_ID, XSS


@pytest.fixture
def api(seeded, token, client):
    """``api(path, **query)``: a viewer's GET, returning (status, JSON)."""
    headers = {"Authorization": f"Bearer {token('viewer')}"}

    def get(path: str, **query):
        response = client.get(path, query_string=query, headers=headers)
        assert response.is_json, response.get_data(as_text=True)
        return response.status_code, response.get_json()

    return get


def more_runs(seeded) -> None:
    """Two more runs of the DAG: one succeeded (started 2024-02-01), one queued (logical date 2024-03-01)."""
    with seeded.database.session(write=True) as session:
        done = actions.trigger_dag(session, DAG_ID, logical_date=datetime(2024, 2, 1, tzinfo=UTC))
        done.state, done.start_date = "success", datetime(2024, 2, 1, 1, tzinfo=UTC)
        actions.trigger_dag(session, DAG_ID, logical_date=datetime(2024, 3, 1, tzinfo=UTC))


def test_dags_are_listed_with_their_page_and_filters(api):
    status, body = api(f"{API}/dags")
    assert status == 200
    assert body["total_entries"] == 1 and body["offset"] == 0 and body["limit"] == 100
    assert body["dags"][0]["dag_id"] == DAG_ID and body["dags"][0]["tags"] == ["nightly", XSS]
    assert api(f"{API}/dags", dag_id_pattern="sho")[1]["total_entries"] == 1
    assert api(f"{API}/dags", dag_id_pattern="%")[1]["total_entries"] == 0
    assert api(f"{API}/dags", tags="nightly")[1]["total_entries"] == 1
    assert api(f"{API}/dags", tags="other")[1]["total_entries"] == 0
    assert api(f"{API}/dags", paused="true")[1]["total_entries"] == 1
    assert api(f"{API}/dags", paused="false")[1]["total_entries"] == 0
    assert api(f"{API}/dags", offset=1)[1]["dags"] == []


def test_a_dag_comes_with_its_params_and_its_source(api):
    status, body = api(f"{API}/dags/{DAG_ID}")
    assert status == 200 and body["params"]["count"]["default"] == 3
    assert body["params"]["count"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 10}
    status, source = api(f"{API}/dags/{DAG_ID}/source")
    assert (
        status == 200
        and source["fileloc"].endswith("shop.py")
        and 'with DAG(\n    "shop"' in source["source"]
    )


def test_runs_are_listed_newest_first_and_filtered_by_state_and_dates(seeded, api):
    more_runs(seeded)
    status, body = api(f"{API}/dags/{DAG_ID}/dagRuns")
    assert status == 200 and body["total_entries"] == 3
    assert [r["state"] for r in api(f"{API}/dags/{DAG_ID}/dagRuns", state="success")[1]["dag_runs"]] == [
        "success"
    ]
    assert api(f"{API}/dags/{DAG_ID}/dagRuns", state="success,queued")[1]["total_entries"] == 2
    found = api(f"{API}/dags/{DAG_ID}/dagRuns", start_date_gte="2024-01-15T00:00:00Z")[1]["dag_runs"]
    assert [r["logical_date"][:10] for r in found] == ["2024-02-01"]
    found = api(f"{API}/dags/{DAG_ID}/dagRuns", start_date_lte="2024-01-15T00:00:00+00:00")[1]["dag_runs"]
    assert [r["run_id"] for r in found] == [RUN_ID]
    found = api(f"{API}/dags/{DAG_ID}/dagRuns", logical_date_gte="2024-01-15", logical_date_lte="2024-02-15")
    assert [r["logical_date"][:10] for r in found[1]["dag_runs"]] == ["2024-02-01"]
    assert api(f"{API}/dags/~/dagRuns", limit=2)[1] | {"dag_runs": None} == {
        "dag_runs": None,
        "total_entries": 3,
        "offset": 0,
        "limit": 2,
    }


def test_a_run_its_task_instances_and_their_state_filter(api):
    status, run = api(API_RUN)
    assert status == 200 and run["conf"] == {"note": XSS} and run["state"] == "running"
    status, body = api(f"{API_RUN}/taskInstances")
    assert [t["task_id"] for t in body["task_instances"]] == [
        "extract",
        "load",
        "process.transform",
        "report",
    ]
    failed = api(f"{API_RUN}/taskInstances", state="failed,upstream_failed")[1]
    assert [t["task_id"] for t in failed["task_instances"]] == ["load", "process.transform"]
    assert api(f"{API_RUN}/taskInstances", limit=1, offset=1)[1]["task_instances"][0]["task_id"] == "load"


def test_a_task_instance_its_tries_log_and_xcoms(api):
    status, ti = api(API_TI)
    assert status == 200 and ti["state"] == "success" and ti["try_number"] == 1
    tries = api(f"{API_TI}/tries")[1]
    assert tries["total_entries"] == 1 and tries["tries"][0]["hostname"] == "worker-1"
    log = api(f"{API_TI}/logs/1")[1]
    assert log["content"] == f"starting\nlog line {XSS}\n" and log["finished"] is False
    assert api(f"{API_TI}/logs/1", offset=log["next_offset"])[1] == {
        "content": "",
        "next_offset": log["next_offset"],
        "finished": True,
    }
    # an offset past the end (from a longer file, or made up) reads nothing, wherever it points
    for offset in (log["next_offset"] + 1, 388_727_783_533_756, 2**62):
        assert api(f"{API_TI}/logs/1", offset=offset)[1]["content"] == ""
        assert api(f"{API_TI}/logs/1", offset=offset)[1]["next_offset"] == log["next_offset"]
    xcoms = api(f"{API_TI}/xcomEntries")[1]
    assert [x["key"] for x in xcoms["xcom_entries"]] == ["return_value"]
    assert api(f"{API_TI}/xcomEntries/return_value")[1]["value"] == f'"{XSS}"'
    assert api(f"{API_TI}/xcomEntries/other")[0] == 404
    assert api(API_TI, map_index=0)[0] == 404


def test_pools_import_errors_and_health(api):
    pools = api(f"{API}/pools")[1]
    assert pools["pools"][0] | {"description": None} == {
        "name": "default_pool",
        "slots": pools["pools"][0]["slots"],
        "description": None,
        "occupied_slots": 0,
    }
    assert api(f"{API}/pools/default_pool")[1]["name"] == "default_pool"
    assert api(f"{API}/importErrors")[1] == {
        "import_errors": [],
        "total_entries": 0,
        "offset": 0,
        "limit": 100,
    }
    health = api(f"{API}/health")[1]
    assert health["metadatabase"]["status"] == "healthy" and health["scheduler"]["status"] == "unhealthy"


def test_the_health_check_and_the_openapi_document_need_no_login(client):
    assert client.get(f"{API}/health").status_code == 200
    assert client.get(f"{API}/openapi.json").get_json()["openapi"].startswith("3.")


def test_users_are_listed_for_an_admin(seeded, token, client):
    response = client.get(f"{API}/users", headers={"Authorization": f"Bearer {token('admin')}"})
    assert [u["username"] for u in response.get_json()["users"]] == ["admin", "op", "viewer"]
    assert "password_hash" not in response.get_json()["users"][0]


MALFORMED_QUERIES = [
    (f"{API}/dags", {"limit": "-1"}),
    (f"{API}/dags", {"limit": "0"}),
    (f"{API}/dags", {"limit": "1001"}),
    (f"{API}/dags", {"offset": "99999999999999999999999"}),
    (f"{API}/dags", {"offset": "1.5"}),
    (f"{API}/dags", {"paused": "perhaps"}),
    (f"{API}/dags", {"dag_id_pattern": "a\x00b"}),
    (f"{API}/dags/~/dagRuns", {"state": "exploded"}),
    (f"{API}/dags/~/dagRuns", {"start_date_gte": "yesterday"}),
    (f"{API}/dags/~/dagRuns", {"logical_date_lte": "2024-13-01"}),
    (f"{API}/dags/~/dagRuns", {"start_date_gte": "0001-01-01T00:00:00+01:00"}),
    (f"{API}/dags/~/dagRuns", {"logical_date_gte": "9999-12-31T23:00:00-05:00"}),
    (f"{API_RUN}/taskInstances", {"state": "success,nope"}),
    (API_TI, {"map_index": "-2"}),
    (API_TI, {"map_index": str(2**40)}),
    (API_TI, {"map_index": "one"}),
    (f"{API_TI}/logs/1", {"offset": "-5"}),
]


def test_a_malformed_query_is_a_400_naming_the_problem(api):
    for path, query in MALFORMED_QUERIES:
        status, body = api(path, **query)
        assert status == 400, (path, query)
        assert body["status"] == 400 and body["detail"]


UNKNOWN_PATHS = [
    f"{API}/dags/sh%C3%B6p",
    f"{API}/dags/%E2%9C%93/dagRuns",
    f"{API}/dags/{DAG_ID}/dagRuns/%F0%9F%92%A5",
    f"{API}/dags/..%2F..%2Fetc%2Fpasswd",
    f"{API}/dags/{DAG_ID}/dagRuns/..%2F..",
    f"{API}/dags/{DAG_ID}/dagRuns/{'x' * 5000}",
    f"{API_RUN}/taskInstances/..",
    f"{API_RUN}/taskInstances/extract/logs/99",
    f"{API_RUN}/taskInstances/extract/logs/0",
    f"{API}/pools/{'p' * 300}",
    f"{API}/nothing/here",
]


def test_an_unknown_non_ascii_or_traversing_id_is_a_404(api):
    for path in UNKNOWN_PATHS:
        status, body = api(path)
        assert status == 404 and body["status"] == 404, path


def test_a_nul_character_in_an_id_is_a_400(api):
    assert api(f"{API}/dags/sh%00op")[0] == 400
