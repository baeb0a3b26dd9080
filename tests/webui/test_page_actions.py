"""Acting from the run and task instance pages: each action asks first, then does it and says what changed."""

from __future__ import annotations

from html import unescape
from urllib.parse import quote

import pytest

from dagflow import actions
from dagflow.core.states import RunState
from tests.webui.conftest import csrf
from tests.webui.seeding import DAG_ID, RUN_ID

ACT = f"/dags/{DAG_ID}/actions"


def post(client, url: str, **form: str):
    return client.post(url, data={**form, "csrf_token": csrf(client, "/")})


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


@pytest.fixture
def op(seeded, logged_in):
    return logged_in("op")


def test_the_run_and_task_instance_pages_offer_the_actions_to_an_op_only(seeded, logged_in):
    run_page = f"/dags/{DAG_ID}/runs/{quote(RUN_ID, safe='')}"
    ti_page = f"/dags/{DAG_ID}/tasks/extract?run_id={quote(RUN_ID, safe='')}"
    op, viewer = logged_in("op"), logged_in("viewer")
    for action in ("actions/clear", "actions/mark-run", "actions/delete-run"):
        assert f"{ACT}/{action.split('/')[1]}" in op.get(run_page).get_data(as_text=True)
        assert f"{ACT}/{action.split('/')[1]}" not in viewer.get(run_page).get_data(as_text=True)
    for action in ("clear", "mark-task"):
        assert f"{ACT}/{action}" in op.get(ti_page).get_data(as_text=True)
        assert f"{ACT}/{action}" not in viewer.get(ti_page).get_data(as_text=True)


def test_clear_first_shows_what_it_would_clear_and_changes_nothing(seeded, op):
    before = seeded.snapshot()
    response = post(op, f"{ACT}/clear", run_id=RUN_ID, task_id="process.transform", downstream="true")
    assert response.status_code == 200
    page = text(response)
    assert f"Clear 3 task instance(s) of run {RUN_ID}?" in page
    assert "They run again: load, process.transform, report." in page
    assert 'name="confirm" value="yes"' in page and 'name="downstream" value="true"' in page
    assert seeded.snapshot() == before


def test_a_confirmed_clear_resets_the_task_and_its_downstream_and_lists_them(seeded, op):
    response = post(
        op,
        f"{ACT}/clear",
        run_id=RUN_ID,
        task_id="process.transform",
        downstream="true",
        map_index="-1",
        confirm="yes",
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/dags/{DAG_ID}/tasks/process.transform?")
    page = text(op.get(response.headers["Location"]))
    assert f"Cleared 3 task instance(s) of run {RUN_ID}: load, process.transform, report." in page
    assert [seeded.ti_state(t) for t in ("extract", "process.transform", "load", "report")] == [
        "success",
        "none",
        "none",
        "none",
    ]


def test_clearing_with_upstream_includes_the_tasks_before_it(seeded, op):
    post(op, f"{ACT}/clear", run_id=RUN_ID, task_id="load", upstream="true", confirm="yes")
    assert [seeded.ti_state(t) for t in ("extract", "process.transform", "load")] == ["none"] * 3


def test_clearing_a_runs_failed_task_instances_leaves_the_others_alone(seeded, op):
    response = post(op, f"{ACT}/clear", run_id=RUN_ID, only_failed="true", confirm="yes")
    assert response.headers["Location"] == f"/dags/{DAG_ID}/runs/{RUN_ID}"
    assert "Cleared 2 task instance(s) of run" in text(op.get(response.headers["Location"]))
    assert [seeded.ti_state(t) for t in ("extract", "process.transform", "load")] == [
        "success",
        "none",
        "none",
    ]


def test_clearing_a_finished_run_queues_it_again(seeded, op):
    with seeded.database.session(write=True) as session:
        actions.set_run_state(session, DAG_ID, RUN_ID, RunState.FAILED)
    post(op, f"{ACT}/clear", run_id=RUN_ID, task_id="process.transform", confirm="yes")
    assert seeded.run_state() == "queued"


def test_when_nothing_matches_the_clear_says_so_and_changes_nothing(seeded, op):
    before = seeded.snapshot()
    response = post(op, f"{ACT}/clear", run_id=RUN_ID, task_id="extract", only_failed="true")
    assert response.status_code == 302
    assert "Nothing to clear" in text(op.get(response.headers["Location"]))
    assert seeded.snapshot() == before


def test_marking_a_task_instance_asks_then_marks_it_and_says_what_it_was(seeded, op):
    asked = post(op, f"{ACT}/mark-task", run_id=RUN_ID, task_id="load", state="success")
    assert "Mark load in run" in text(asked) and "load is upstream_failed now." in text(asked)
    assert seeded.ti_state("load") == "upstream_failed"
    done = post(op, f"{ACT}/mark-task", run_id=RUN_ID, task_id="load", state="success", confirm="yes")
    assert seeded.ti_state("load") == "success"
    assert f"Marked load in run {RUN_ID} success (it was upstream_failed)." in text(
        op.get(done.headers["Location"])
    )


def test_marking_a_task_instance_of_a_finished_run_makes_the_run_running_again(seeded, op):
    with seeded.database.session(write=True) as session:
        actions.set_run_state(session, DAG_ID, RUN_ID, RunState.FAILED)
    done = post(
        op, f"{ACT}/mark-task", run_id=RUN_ID, task_id="process.transform", state="success", confirm="yes"
    )
    assert seeded.run_state() == "running"
    assert "The run is running now (it was failed)." in text(op.get(done.headers["Location"]))


def test_marking_a_run_failed_names_the_unfinished_task_instances_it_fails_too(seeded, op):
    asked = text(post(op, f"{ACT}/mark-run", run_id=RUN_ID, state="failed"))
    assert "1 unfinished task instance(s) are marked failed too: report." in asked
    assert seeded.run_state() == "running"
    done = post(op, f"{ACT}/mark-run", run_id=RUN_ID, state="failed", confirm="yes")
    assert seeded.run_state() == "failed" and seeded.ti_state("report") == "failed"
    assert seeded.ti_state("extract") == "success"
    assert f"Marked run {RUN_ID} failed (it was running)." in text(op.get(done.headers["Location"]))


def test_deleting_a_run_asks_then_deletes_it_with_its_task_instances(seeded, op):
    asked = text(post(op, f"{ACT}/delete-run", run_id=RUN_ID))
    assert f"Delete run {RUN_ID} of DAG {DAG_ID}?" in asked and "Its 4 task instance(s)" in asked
    assert seeded.run_ids() == [RUN_ID]
    done = post(op, f"{ACT}/delete-run", run_id=RUN_ID, confirm="yes")
    assert done.headers["Location"] == f"/dags/{DAG_ID}/grid"
    assert seeded.run_ids() == [] and seeded.ti_state("extract") is None
    assert f"Deleted run {RUN_ID} of DAG {DAG_ID} and its 4 task instance(s)." in text(
        op.get("/dags/shop/grid")
    )


BAD_ACTION_INPUTS = [
    ("mark-task", {"run_id": RUN_ID, "task_id": "load", "state": "running"}),
    ("mark-run", {"run_id": RUN_ID, "state": "queued"}),
    ("mark-task", {"run_id": RUN_ID, "task_id": "load", "state": "success", "map_index": "x"}),
    ("clear", {"run_id": RUN_ID, "task_id": "load", "map_index": "1e400"}),
    ("clear", {"task_id": "load"}),
    ("delete-run", {}),
]


def test_bad_input_to_an_action_is_a_400_and_changes_nothing(seeded, op):
    before = seeded.snapshot()
    for url, form in BAD_ACTION_INPUTS:
        assert post(op, f"{ACT}/{url}", confirm="yes", **form).status_code == 400, (url, form)
    assert seeded.snapshot() == before


def test_an_unknown_task_instance_or_map_index_in_an_action_is_a_404(seeded, op):
    for form in ({"task_id": "nope"}, {"task_id": "load", "map_index": "3"}):
        response = post(op, f"{ACT}/mark-task", run_id=RUN_ID, state="success", confirm="yes", **form)
        assert response.status_code == 404
    assert post(op, f"{ACT}/clear", run_id=RUN_ID, task_id="nope", confirm="yes").status_code == 404


def test_pausing_and_unpausing_from_the_dags_page(seeded, op):
    response = post(op, f"/dags/{DAG_ID}/pause", paused="false", next="/?status=all")
    assert response.headers["Location"] == "/?status=all"
    assert ("shop", False) in seeded.snapshot()["dags"]
    post(op, f"/dags/{DAG_ID}/pause", paused="true")
    assert ("shop", True) in seeded.snapshot()["dags"]


def test_after_pausing_the_page_returns_only_to_this_site(seeded, op):
    response = post(op, f"/dags/{DAG_ID}/pause", paused="false", next="https://evil.example/")
    assert response.headers["Location"] == "/"
