"""``/api/v1/health``: every live scheduler and worker with its last heartbeat; a run's DAG version on
its pages."""

from __future__ import annotations

from flask import Flask

from dagflow.store.engine import Database
from tests.cli.test_jobs_check import add_celery_worker, add_scheduler


def test_health_lists_every_live_scheduler_with_its_heartbeat(database: Database, app: Flask):
    add_scheduler(database, age=120, pid=1)
    add_scheduler(database, age=1, pid=2, hostname="host-a")
    add_scheduler(database, age=3, pid=3, hostname="host-b")
    health = app.test_client().get("/api/v1/health").get_json()
    assert health["scheduler"]["status"] == "healthy"
    live = health["schedulers"]
    assert [(j["hostname"], j["pid"]) for j in live] == [("host-a", 2), ("host-b", 3)]
    assert 1 <= live[0]["heartbeat_age_seconds"] < live[1]["heartbeat_age_seconds"] < 30
    assert health["workers"] == []


def test_health_lists_every_live_worker_local_and_celery_with_its_heartbeat(database: Database, app: Flask):
    import jsonschema

    from webui.api.schemas import HEALTH

    scheduler = add_scheduler(database, age=1, pid=2, workers=(21, 22))
    add_scheduler(database, age=120, pid=1, workers=(11,))
    celery = add_celery_worker(database, age=3, name="one@host-c", pid=31)
    health = app.test_client().get("/api/v1/health").get_json()
    jsonschema.validate(health, HEALTH)
    workers = health["workers"]
    assert [(w["executor"], w["pid"], w["id"], w["scheduler_job_id"]) for w in workers] == [
        ("local", 21, None, scheduler),
        ("local", 22, None, scheduler),
        ("celery", 31, celery, None),
    ]
    assert workers[0]["latest_heartbeat"] == health["schedulers"][0]["latest_heartbeat"]
    assert workers[2]["name"] == "one@host-c" and 3 <= workers[2]["heartbeat_age_seconds"] < 30


def test_a_run_page_shows_its_dag_version_and_the_code_page_shows_any_version(seeded, logged_in):
    client = logged_in("viewer")
    run_page = client.get(f"/dags/{seeded.dag_id}/runs/{seeded.run_id}").get_data(as_text=True)
    assert 'id="run-dag-version"><a href="/dags/shop/code?version=1">1</a>' in run_page
    code = client.get(f"/dags/{seeded.dag_id}/code?version=1").get_data(as_text=True)
    assert 'id="version-note">Version 1 of this DAG' in code and "EmptyOperator" in code
    assert client.get(f"/dags/{seeded.dag_id}/code?version=9").status_code == 404


def test_a_version_or_try_number_beyond_any_stored_integer_is_not_found(seeded, logged_in):
    client = logged_in("viewer")
    huge = 46532489167517209591808
    assert client.get(f"/api/v1/dags/{seeded.dag_id}/dagVersions/{huge}").status_code == 404
    assert client.get(f"/dags/{seeded.dag_id}/code?version={huge}").status_code == 404
    logs = f"/api/v1/dags/{seeded.dag_id}/dagRuns/{seeded.run_id}/taskInstances/t/logs/{huge}"
    assert client.get(logs).status_code == 404
