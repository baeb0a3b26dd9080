"""The Celery message and settings: what a worker on another machine receives, where it finds the DAG."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dagflow.config import Settings
from dagflow.core.keys import TIKey
from dagflow.core.states import TaskState
from dagflow.exceptions import DagflowConfigError
from dagflow.executors.base import TaskCallback, Workload
from dagflow.executors.celery import CeleryExecutor
from dagflow.executors.celery_message import from_message, local_fileloc, to_message
from dagflow.remote.celery_app import CelerySettings
from tests.scheduler.processes.celery_workers import broker_url


def test_a_workload_survives_the_trip_and_its_file_is_found_under_the_workers_own_dags_folder(tmp_path: Path):
    ours = tmp_path / "checkout" / "dags"
    (ours / "team").mkdir(parents=True)
    (ours / "team" / "etl.py").write_text("")
    workload = Workload(
        TIKey("etl", "manual__1", "load", 3),
        2,
        "abc",
        "/srv/scheduler/dags/team/etl.py",
        30.0,
        5,
        compensation=True,
        queue="gpu",
    )
    received = from_message(to_message(workload, "/srv/scheduler/dags"), str(ours))
    assert received == Workload(
        TIKey("etl", "manual__1", "load", 3),
        2,
        "abc",
        str(ours / "team" / "etl.py"),
        30.0,
        5,
        compensation=True,
        queue="gpu",
    )


def test_a_task_callback_survives_the_trip_with_why_and_when_its_try_ended():
    started = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    callback = TaskCallback(TaskState.UP_FOR_RETRY, "its heartbeat stopped", 3, started, started)
    key = TIKey("etl", "manual__1", "load")
    workload = Workload(key, 2, "callback-abc", "/dags/etl.py", task_callback=callback)
    received = from_message(to_message(workload, "/dags"), "/dags")
    assert received == workload and received.is_callback


def test_a_file_missing_from_the_workers_folder_is_looked_for_at_the_schedulers_path(tmp_path: Path):
    shared = tmp_path / "shared" / "etl.py"
    assert local_fileloc(str(shared), str(tmp_path / "shared"), str(tmp_path / "elsewhere")) == str(shared)
    assert local_fileloc("/outside/etl.py", str(tmp_path / "shared"), str(tmp_path)) == "/outside/etl.py"


def test_the_authoring_default_queue_stands_for_operators_default_queue(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAGFLOW__OPERATORS__DEFAULT_QUEUE", "main")
    settings = CelerySettings.from_settings(Settings.load())
    assert settings.queue_of("default") == "main"
    assert settings.queue_of("gpu") == "gpu"


def test_the_visibility_timeout_outlasts_the_queued_timeout(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAGFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT", "50000")
    assert CelerySettings.from_settings(Settings.load()).visibility_timeout == 100000


def test_a_broker_url_that_is_neither_redis_nor_rabbitmq_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("DAGFLOW__CELERY__BROKER_URL", "kafka://127.0.0.1")
    with pytest.raises(
        DagflowConfigError, match=r"\[celery\] broker_url = 'kafka://127.0.0.1' is not a Redis"
    ):
        CelerySettings.from_settings(Settings.load())


def test_a_sent_message_shows_its_task_instance_and_try_where_celery_lists_tasks(tmp_path: Path):
    import redis

    url = broker_url("redis")
    queue = f"shown-{uuid.uuid4().hex[:8]}"
    settings = CelerySettings(url, default_queue=queue)
    executor = CeleryExecutor(settings, f"sqlite:///{tmp_path / 'store.db'}")
    workload = Workload(TIKey("etl", "manual__1", "load", 3), 2, uuid.uuid4().hex, "/dags/etl.py")
    client = redis.Redis.from_url(url)
    try:
        executor.submit([workload])
        deadline = time.monotonic() + 10
        raw = None
        while raw is None and time.monotonic() < deadline:
            raw = client.lpop(queue)
            time.sleep(0.02)
        assert isinstance(raw, bytes), "the message never reached the broker"
        headers = json.loads(raw)["headers"]
        assert (headers["id"], headers["argsrepr"], headers["kwargsrepr"]) == (
            workload.token,
            workload.label,
            "",
        )
        assert "load" in workload.label and "try 2" in workload.label
    finally:
        executor.close()
        client.delete(queue)
        client.close()
