"""``dagflow jobs check``: whether a scheduler (or a worker) is alive, as Airflow's command answers it,
and each alive one found with its last heartbeat."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest

from dagflow.cli import cli
from dagflow.core.clock import utcnow
from dagflow.scheduler import liveness
from dagflow.store import jobs as job_store
from dagflow.store import scheduling
from dagflow.store.engine import Database
from dagflow.store.models import JobRow


def add_scheduler(
    database: Database, *, age: float, hostname: str = "host-a", pid: int = 100, workers: tuple[int, ...] = ()
) -> int:
    """A running scheduler's job row whose last heartbeat is ``age`` seconds old, reporting local
    worker processes of pids ``workers`` in that heartbeat."""
    beat = utcnow() - timedelta(seconds=age)
    with database.session(write=True) as session:
        job_id = scheduling.register_scheduler(session, hostname=hostname, pid=pid, now=beat)
        detail = job_store.local_workers_detail([(worker, beat) for worker in workers])
        scheduling.scheduler_heartbeat(session, job_id, beat, detail=detail)
    return job_id


def add_celery_worker(database: Database, *, age: float, name: str, pid: int = 300) -> int:
    """A running Celery worker's job row whose last heartbeat is ``age`` seconds old."""
    beat = utcnow() - timedelta(seconds=age)
    detail = {"executor": "celery", "name": name, "queues": ["default"]}
    with database.session(write=True) as session:
        return job_store.register_worker(session, hostname="host-c", pid=pid, now=beat, detail=detail)


def check(cli_runner, *args: str):
    return cli_runner.invoke(cli, ["jobs", "check", *args], catch_exceptions=False)


def test_jobs_check_fails_when_no_scheduler_heartbeats_within_the_threshold(cli_runner, database: Database):
    add_scheduler(database, age=120)
    result = check(cli_runner, "--job-type", "SchedulerJob")
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: No alive jobs found."


def test_jobs_check_finds_one_alive_scheduler(cli_runner, database: Database):
    add_scheduler(database, age=120, pid=1)
    add_scheduler(database, age=1, pid=2)
    result = check(cli_runner, "--job-type", "SchedulerJob")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Found one alive job."


def test_jobs_check_wants_allow_multiple_for_several_schedulers(cli_runner, database: Database):
    add_scheduler(database, age=1, pid=1)
    add_scheduler(database, age=2, pid=2, hostname="host-b")
    several = check(cli_runner, "--limit", "5")
    assert several.exit_code == 1 and "Found 2 alive jobs. Expected only one." in several.stderr
    allowed = check(cli_runner, "--limit", "5", "--allow-multiple")
    assert allowed.exit_code == 0 and allowed.stdout.splitlines()[0] == "Found 2 alive jobs."
    on_b = check(cli_runner, "--hostname", "host-b")
    assert on_b.exit_code == 0 and on_b.stdout.splitlines()[0] == "Found one alive job."
    assert check(cli_runner, "--local").exit_code == (
        0 if socket.gethostname() in ("host-a", "host-b") else 1
    )


def test_jobs_check_refuses_allow_multiple_with_a_limit_of_one(cli_runner, database: Database):
    result = check(cli_runner, "--allow-multiple")
    assert result.exit_code == 2
    assert "--allow-multiple" in result.stderr and "--limit" in result.stderr


def test_jobs_check_lists_schedulers_local_workers_and_celery_workers_with_their_heartbeats(
    cli_runner, database: Database
):
    scheduler = add_scheduler(database, age=1, pid=100, workers=(101, 102))
    add_scheduler(database, age=120, pid=200, workers=(201,))  # gone, and its workers with it
    celery = add_celery_worker(database, age=2, name="one@host-c")
    result = check(cli_runner, "--limit", "0", "--allow-multiple")
    assert result.exit_code == 0, result.stderr
    first, *lines = result.stdout.splitlines()
    assert first == "Found 4 alive jobs."
    assert [line.split("  ")[:4] for line in lines] == [
        ["scheduler", f"job {scheduler}", "host host-a", "pid 100"],
        [f"worker (local, of scheduler {scheduler})", "no job row", "host host-a", "pid 101"],
        [f"worker (local, of scheduler {scheduler})", "no job row", "host host-a", "pid 102"],
        ["worker (celery one@host-c)", f"job {celery}", "host host-c", "pid 300"],
    ]
    for line in lines:
        assert "last heartbeat 20" in line and " s ago)" in line

    workers = check(cli_runner, "--job-type", "WorkerJob", "--limit", "0", "--allow-multiple")
    assert workers.stdout.splitlines()[0] == "Found 3 alive jobs."
    assert "pid 201" not in workers.stdout
    celery_only = check(cli_runner, "--job-type", "CeleryWorker", "--hostname", "host-c")
    assert celery_only.exit_code == 0 and "celery one@host-c" in celery_only.stdout


def test_jobs_check_finds_no_worker_once_the_celery_worker_stopped(cli_runner, database: Database):
    job_id = add_celery_worker(database, age=1, name="one@host-c")
    assert check(cli_runner, "--job-type", "worker").exit_code == 0
    with database.session(write=True) as session:
        job_store.end_worker(session, job_id, utcnow())
    stopped = check(cli_runner, "--job-type", "worker")
    assert stopped.exit_code == 1 and stopped.stderr.strip() == "Error: No alive jobs found."


def test_a_celery_worker_silent_past_the_threshold_is_marked_failed_and_running_again_when_it_beats(
    database: Database,
):
    silent = add_celery_worker(database, age=120, name="gone@host-c")
    beating = add_celery_worker(database, age=1, name="live@host-c", pid=301)
    scheduler = add_scheduler(database, age=120)  # schedulers are another check's to fail
    with database.session(write=True) as session:
        liveness.fail_dead_workers(session, health_threshold=30, now=utcnow())

    with database.session() as session:
        states = {job: session.get(JobRow, job).state for job in (silent, beating, scheduler)}  # type: ignore[union-attr]
    assert states == {silent: "failed", beating: "running", scheduler: "running"}

    with database.session(write=True) as session:
        job_store.worker_heartbeat(session, silent, utcnow())
    with database.session() as session:
        revived = session.get(JobRow, silent)
        assert revived is not None and (revived.state, revived.end_date) == ("running", None)


def test_jobs_check_local_means_the_machine_hostname_callable_names(
    cli_runner, database: Database, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DAGFLOW__CORE__HOSTNAME_CALLABLE", "tests.crash.machines:name")
    monkeypatch.setenv("DAGFLOW_TEST_MACHINE", "host-b")
    add_scheduler(database, age=1, hostname="host-a")
    add_scheduler(database, age=1, hostname="host-b", pid=101)
    found = check(cli_runner, "--local")
    assert found.exit_code == 0 and "host host-b  pid 101" in found.stdout, found.output


def test_a_hostname_callable_that_cannot_be_imported_is_refused_naming_the_setting(
    cli_runner, database: Database, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DAGFLOW__CORE__HOSTNAME_CALLABLE", "no_such_module.name")
    refused = check(cli_runner, "--local")
    assert refused.exit_code != 0
    assert refused.stderr.startswith("Error: [core] hostname_callable = 'no_such_module.name'"), (
        refused.output
    )
    assert "module:function" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
