"""Compensation through /api/v1 and the pages: start it (confirmed), see its state, why it waits."""

from __future__ import annotations

from sqlalchemy import select

from dagflow.store.models import DagRunRow
from tests.webui.conftest import csrf
from tests.webui.routes import API_RUN, RUN
from tests.webui.seeding import DAG_ID, RUN_ID


def _set_run(seeded, state: str) -> None:
    with seeded.database.session(write=True) as session:
        run = session.scalars(select(DagRunRow).where(DagRunRow.run_id == RUN_ID)).one()
        run.state = state


def test_the_api_refuses_to_compensate_a_running_run_and_changes_nothing(seeded, token, client):
    before = seeded.snapshot()
    headers = {"Authorization": f"Bearer {token('op')}"}
    response = client.post(f"{API_RUN}/compensate", json={}, headers=headers)
    assert response.status_code == 400
    assert "is running; wait until it has finished" in response.get_json()["detail"]
    assert seeded.snapshot() == before


def test_the_api_compensates_a_failed_run_and_lists_its_compensations(seeded, token, client):
    _set_run(seeded, "failed")
    headers = {"Authorization": f"Bearer {token('op')}"}
    response = client.post(f"{API_RUN}/compensate", json={"resume": False}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["compensation_state"] == "compensating"
    listed = client.get(f"{API_RUN}/compensations", headers=headers).get_json()
    assert listed["compensations"] == [] and listed["total_entries"] == 0
    again = client.post(f"{API_RUN}/compensate", json={}, headers=headers)
    assert again.status_code == 400 and "being compensated already" in again.get_json()["detail"]


def test_the_run_page_asks_before_compensating_and_then_shows_the_state(seeded, logged_in):
    _set_run(seeded, "failed")
    client = logged_in("op")
    page = client.get(f"/dags/{DAG_ID}/runs/{RUN}").get_data(as_text=True)
    assert "Compensate run" in page
    form = {"csrf_token": csrf(client, f"/dags/{DAG_ID}/runs/{RUN}"), "run_id": RUN_ID}
    asked = client.post(f"/dags/{DAG_ID}/actions/compensate", data=form).get_data(as_text=True)
    assert "Compensate run" in asked and "Undone, last task first: extract." in asked
    assert seeded.run_state() == "failed"
    done = client.post(f"/dags/{DAG_ID}/actions/compensate", data={**form, "confirm": "yes"})
    assert done.status_code == 302
    page = client.get(f"/dags/{DAG_ID}/runs/{RUN}").get_data(as_text=True)
    assert 'id="run-compensation"' in page and "compensating" in page
    why = client.get(f"/dags/{DAG_ID}/tasks/extract/compensation?run_id={RUN}").get_data(as_text=True)
    assert "may start now" in why


def test_grid_and_graph_mark_compensated_tasks_and_reverse_the_edges_while_compensating(seeded, logged_in):
    from dagflow.store.models import CompensationInstanceRow

    with seeded.database.session(write=True) as session:
        run = session.scalars(select(DagRunRow).where(DagRunRow.run_id == RUN_ID)).one()
        run.state, run.compensation_state = "failed", "compensating"
        session.add(
            CompensationInstanceRow(
                dag_id=DAG_ID, run_id=RUN_ID, task_id="extract", map_index=-1, state="running", try_number=1
            )
        )
    client = logged_in("viewer")
    grid = client.get(f"/dags/{DAG_ID}/grid").get_data(as_text=True)
    assert 'data-compensation="running"' in grid and 'title="compensation: running"' in grid
    graph = client.get(f"/dags/{DAG_ID}/graph?run_id={RUN}").get_data(as_text=True)
    assert 'class="edge reverse"' in graph and 'marker-start="url(#arrow)"' in graph
    assert 'data-compensation="running"' in graph and 'id="run-compensation"' in graph
