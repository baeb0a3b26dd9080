"""Runs on the Celery executor: the scheduler here, real ``dagflow celery worker`` processes each with
its own ``DAGFLOW_HOME`` and copy of the DAG files (as on other machines), on Redis and on RabbitMQ.

One scenario per broker (the ``celery_run`` fixture) triggers the production DAGs of
``test_production_runs`` plus a few of its own, runs the scheduler until it is idle, and each test
checks one thing: the same outcomes as ``dag.test()`` and as the local executor, retries, callbacks
in the workers, logs read from the worker's log server, ``queue=`` routing, a message no worker
takes failed after being sent again, a stale message dropped, and ``dagflow celery status``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dagflow.cli import cli
from dagflow.config import Settings
from dagflow.core.keys import TIKey
from dagflow.executors.base import Workload
from dagflow.executors.celery_message import to_message
from dagflow.remote.celery_app import TASK_NAME, CelerySettings, make_app
from tests.backends import POSTGRES_ENV, many_processes_slot, open_backend
from tests.scheduler.conftest import Orchestrator, deployment
from tests.scheduler.processes.celery_workers import (
    CeleryWorkers,
    broker_url,
    celery_workers,
)
from tests.scheduler.processes.test_production_runs import (
    COMPARED,
    FILES,
    LOGICAL_DATE,
    Production,
    assert_matches_dag_test,
    in_process,
)

ROUTED = """
from datetime import datetime

from dagflow import DAG, task

with DAG("routed", schedule=None, start_date=datetime(2024, 1, 1)):

    @task(queue="{special}")
    def special():
        return "special"

    @task
    def ordinary(value):
        return value + " then ordinary"

    ordinary(special())
"""

NOBODY = """
from datetime import datetime

from dagflow import DAG, task

with DAG("nobody_listens", schedule=None, start_date=datetime(2024, 1, 1)):

    @task(queue="{nobody}")
    def stranded():
        return 1

    stranded()
"""


LIMITS = """
import time
from datetime import datetime, timedelta

from dagflow import DAG, task

with DAG("limits", schedule=None, start_date=datetime(2024, 1, 1)):

    @task(execution_timeout=timedelta(seconds=1))
    def polite():
        time.sleep(10)

    @task(execution_timeout=timedelta(seconds=1))
    def stubborn():
        try:
            time.sleep(10)
        except BaseException:
            time.sleep(30)  # ignores its timeout: the worker's watchdog must end it

    @task
    def greedy():
        hoard = bytearray(400 * 1024 * 1024)
        time.sleep(10)
        return len(hoard)

    polite()
    stubborn()
    greedy()
"""


@dataclass
class CeleryRun(Production):
    workers: CeleryWorkers
    broker: str


@pytest.fixture(scope="module", params=["redis", "rabbitmq"])
def celery_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CeleryRun]:
    url = broker_url(request.param)
    root = tmp_path_factory.mktemp(f"celery_{request.param}")
    backend = open_backend("postgresql" if os.environ.get(POSTGRES_ENV) else "sqlite", root)
    try:
        with deployment(backend, root) as orchestrator, many_processes_slot(orchestrator.database_url):
            yield from _scenario(orchestrator, root, url)
    finally:
        backend.close()


def _scenario(orchestrator: Orchestrator, root: Path, url: str) -> Iterator[CeleryRun]:
    (root / "machines").mkdir()
    with celery_workers(root / "machines", orchestrator.database_url, url, orchestrator.dags.path) as workers:
        for name, source in FILES.items():
            orchestrator.write(name, source)
        orchestrator.write("routed.py", ROUTED, special=workers.queue("special"))
        orchestrator.write("nobody.py", NOBODY, nobody=workers.queue("nobody"))
        orchestrator.write("limits.py", LIMITS)
        workers.extra_env.update(DAGFLOW__WORKER__TIMEOUT_GRACE="1", DAGFLOW__WORKER__MAX_MEMORY_MB="300")
        dag_ids = orchestrator.record_dags()
        expected = {dag_id: in_process(orchestrator.dags.path, dag_id) for dag_id in COMPARED}
        (orchestrator.dags.path / "callback_events.txt").unlink(missing_ok=True)  # dag.test()'s callbacks
        orchestrator.setenv(**{k.removeprefix("DAGFLOW__"): v for k, v in workers.env().items()})
        orchestrator.setenv(SCHEDULER__TASK_QUEUED_TIMEOUT="2", CELERY__STUCK_IN_QUEUED_RETRIES="1")
        one = workers.start("one")
        two = workers.start("two", queues=["default", "special"])
        workers.wait_ready(one, two)
        run_ids = {dag_id: orchestrator.trigger(dag_id, logical_date=LOGICAL_DATE) for dag_id in dag_ids}
        orchestrator.run_until_idle(executor="celery")
        yield CeleryRun(orchestrator, run_ids, expected, workers, url)


@pytest.mark.parametrize("dag_id", COMPARED)
def test_runs_on_celery_end_with_the_states_tries_and_xcoms_dag_test_gives(
    celery_run: CeleryRun, dag_id: str
):
    assert_matches_dag_test(celery_run, dag_id)


def test_every_try_ran_on_a_celery_worker_which_recorded_itself(celery_run: CeleryRun):
    orchestrator = celery_run.orchestrator
    names = {w.name for w in celery_run.workers.workers}
    for dag_id in ("pipeline", "recovers", "chatty"):
        tries = orchestrator.tries(dag_id)
        assert tries, dag_id
        for row in tries:
            assert row.hostname in names, (dag_id, row.task_id, row.hostname)
            assert row.log_url is not None and row.log_url.startswith("http://127.0.0.1:")
    assert not (orchestrator.home / "logs" / "pipeline").exists()  # nothing ran on the scheduler's machine


def test_a_failed_try_is_retried_and_callbacks_run_once_in_the_workers(celery_run: CeleryRun):
    orchestrator, run_ids = celery_run.orchestrator, celery_run.run_ids
    assert orchestrator.run("recovers").state == "success"
    assert [(t.try_number, t.state) for t in orchestrator.tries("recovers", task_id="flaky")] == [
        (1, "up_for_retry"),
        (2, "success"),
    ]
    assert orchestrator.run("gives_up").state == "failed"
    lines = []
    for worker in celery_run.workers.workers:  # each machine's callbacks write beside its DAG files
        events = worker.home / "dags" / "callback_events.txt"
        lines += events.read_text().splitlines() if events.exists() else []
    assert sorted(line.rsplit(" pid=", 1)[0] for line in lines) == sorted(
        [
            "retry recovers.flaky try=1",
            "success recovers.flaky try=2",
            f"dag_success recovers {run_ids['recovers']} success",
            "retry gives_up.flaky try=1",
            "retry gives_up.flaky try=2",
            "failure gives_up.flaky try=3",
            f"dag_failure gives_up {run_ids['gives_up']} failed",
        ]
    )


def test_dagflow_tasks_logs_on_the_scheduler_machine_reads_the_worker_log_server(
    celery_run: CeleryRun, cli_runner: CliRunner, monkeypatch: pytest.MonkeyPatch
):
    orchestrator, run_id = celery_run.orchestrator, celery_run.run_ids["chatty"]
    for name, value in celery_run.workers.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGFLOW_HOME", str(orchestrator.home))
    monkeypatch.setenv("DAGFLOW__DATABASE__URL", orchestrator.database_url)
    first = cli_runner.invoke(cli, ["tasks", "logs", "chatty", run_id, "talk", "--try", "1"])
    assert first.exit_code == 0, first.stderr
    assert "talk prints on try 1" in first.stdout and "ValueError: first try fails on purpose" in first.stdout
    worker = next(
        w
        for w in celery_run.workers.workers
        if w.name == orchestrator.tries("chatty", task_id="talk")[0].hostname
    )
    on_worker = worker.home / "logs" / "chatty" / run_id / "talk" / "attempt=1.log"
    assert first.stdout == on_worker.read_text()

    monkeypatch.setenv("DAGFLOW__WEBSERVER__SECRET_KEY", "not-the-workers-key")
    refused = cli_runner.invoke(cli, ["tasks", "logs", "chatty", run_id, "talk", "--try", "1"])
    assert refused.exit_code != 0
    assert "bad signature" in refused.stderr


def test_a_task_queue_routes_it_to_the_workers_of_that_queue(celery_run: CeleryRun):
    orchestrator = celery_run.orchestrator
    assert orchestrator.run("routed").state == "success"
    (special,) = orchestrator.tries("routed", task_id="special")
    assert special.hostname == celery_run.workers.workers[1].name  # the only worker on "special"
    assert orchestrator.xcoms("routed", celery_run.run_ids["routed"])[("ordinary", "return_value")] == (
        "special then ordinary"
    )


def test_a_message_no_worker_takes_is_sent_again_then_failed(celery_run: CeleryRun):
    orchestrator = celery_run.orchestrator
    assert orchestrator.run("nobody_listens").state == "failed"
    ti = orchestrator.task_instances("nobody_listens", celery_run.run_ids["nobody_listens"])["stranded"]
    assert ti.state == "failed" and ti.hostname is None
    assert "no worker took it from Celery queue" in (ti.error or "")
    assert "1 time(s) sent again" in (ti.error or "")
    # no retries: its one try failed at once, recorded in the history, never started
    tries = orchestrator.tries("nobody_listens", task_id="stranded")
    assert [(t.try_number, t.state, t.start_date, t.hostname) for t in tries] == [(1, "failed", None, None)]


def test_a_message_whose_token_is_no_longer_current_is_dropped(celery_run: CeleryRun):
    orchestrator, run_id = celery_run.orchestrator, celery_run.run_ids["empty_ends"]
    (done,) = orchestrator.tries("empty_ends", run_id, "work")
    settings = Settings.load()
    app = make_app(CelerySettings(celery_run.broker, default_queue=celery_run.workers.queue()))
    # the same message again (a redelivery), and one with a token never handed out
    ti = orchestrator.task_instances("empty_ends", run_id)["work"]
    key = TIKey("empty_ends", run_id, "work", -1)
    for token in (ti.attempt_token or "", "f" * 32):
        workload = Workload(key, 1, token, str(orchestrator.dags.path / "empty_ends.py"))
        app.send_task(
            TASK_NAME, args=[to_message(workload, str(settings.dags_folder))], task_id=token + "-again"
        )
    app.close()
    orchestrator.wait_for(lambda: _dropped(celery_run.workers) >= 2, timeout=20)
    assert orchestrator.tries("empty_ends", run_id, "work") == [done] or [
        (t.try_number, t.start_date) for t in orchestrator.tries("empty_ends", run_id, "work")
    ] == [(done.try_number, done.start_date)]
    assert orchestrator.task_instances("empty_ends", run_id)["work"].try_number == 1


def test_timeouts_and_the_memory_limit_hold_on_celery_workers(celery_run: CeleryRun):
    orchestrator = celery_run.orchestrator
    tis = orchestrator.task_instances("limits", celery_run.run_ids["limits"])
    assert {name: ti.state for name, ti in tis.items()} == {
        "polite": "failed",
        "stubborn": "failed",
        "greedy": "failed",
    }
    assert "TaskTimeout" in (tis["polite"].error or "")
    assert "killed: the attempt overran its execution_timeout of 1s" in (tis["stubborn"].error or "")
    assert "used more than 300 MB" in (tis["greedy"].error or "")
    for ti in tis.values():  # each ended within seconds, not after its 10 s and more of sleep
        assert ti.duration is not None and ti.duration < 8, (ti.task_id, ti.duration)


def _dropped(workers: CeleryWorkers) -> int:
    return sum(w.output().count("no longer queued with this token") for w in workers.workers)


def test_dagflow_celery_status_lists_the_workers_and_their_queues(
    celery_run: CeleryRun, cli_runner: CliRunner, monkeypatch: pytest.MonkeyPatch
):
    for name, value in celery_run.workers.env().items():
        monkeypatch.setenv(name, value)
    result = cli_runner.invoke(cli, ["celery", "status", "--json", "--timeout", "1"])
    assert result.exit_code == 0, result.stderr
    import json

    found = {w["name"]: w for w in json.loads(result.stdout)}
    one, two = celery_run.workers.workers[:2]
    queue = celery_run.workers.queue
    assert found[one.name]["queues"] == [queue()]
    assert found[two.name]["queues"] == sorted([queue(), queue("special")])
    assert found[two.name]["concurrency"] == 2


def test_the_workers_page_and_api_show_the_live_workers_and_their_queues(
    celery_run: CeleryRun, monkeypatch: pytest.MonkeyPatch
):
    from dagflow.core.clock import utcnow
    from dagflow.store.users import create_token, create_user
    from webui import create_app

    for name, value in celery_run.workers.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGFLOW__WEBSERVER__COOKIE_SECURE", "False")
    db = celery_run.orchestrator.db
    with db.session(write=True) as session:
        user = create_user(
            session, f"viewer-{celery_run.workers.prefix}", "pw-not-used-1234", "viewer", now=utcnow()
        )
        token = create_token(session, user, "test", now=utcnow())
    client = create_app(Settings.load(), database=db, TESTING=True).test_client()
    one, two = celery_run.workers.workers[:2]

    def workers() -> dict[str, Any]:
        response = client.get("/api/v1/workers", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert body["executor"] == "celery" and body["error"] is None
        return {w["name"]: w for w in body["workers"]}

    # an attempt killed by its worker's watchdog (limits.py) has its message delivered again, and
    # the new pool process drops it (no longer its token): idle once that is done
    celery_run.orchestrator.wait_for(lambda: workers()[one.name]["running"] == [], timeout=20)
    assert workers()[two.name]["queues"] == sorted(
        [celery_run.workers.queue(), celery_run.workers.queue("special")]
    )

    monkeypatch.setenv("DAGFLOW__CELERY__BROKER_URL", "redis://127.0.0.1:1/0")  # no broker there
    down = create_app(Settings.load(), database=db, TESTING=True).test_client()
    response = down.get("/api/v1/workers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert "broker cannot be reached" in response.get_json()["detail"]
