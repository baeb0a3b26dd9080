"""``/api/v1/health``: every live scheduler with its last heartbeat."""

from __future__ import annotations

from flask import Flask

from dagflow.store.engine import Database
from tests.cli.test_jobs_check import add_scheduler


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
