"""Workers are visible to ``dagflow jobs check`` and ``/api/v1/health``: the local executor's worker
processes through their scheduler's heartbeat, a ``dagflow celery worker`` through a job row of its
own that it beats until it stops."""

from __future__ import annotations

import os
import signal
import time

from click.testing import CliRunner

from dagflow.cli import cli
from dagflow.core.clock import utcnow
from dagflow.store import jobs as job_store
from tests.scheduler.conftest import Orchestrator
from tests.scheduler.processes.celery_workers import broker_url, celery_workers


def _workers(orchestrator: Orchestrator) -> list[job_store.LiveJob]:
    with orchestrator.db.session() as session:
        found = job_store.running_jobs(session, job_type="worker")
    return job_store.alive(found, now=utcnow(), threshold=30)


def _check_workers(cli_runner: CliRunner) -> list[str]:
    result = cli_runner.invoke(
        cli, ["jobs", "check", "--job-type", "worker", "--limit", "0", "--allow-multiple"]
    )
    assert result.exit_code == 0, result.stderr
    return result.stdout.splitlines()[1:]


def test_the_local_workers_are_reported_alive_by_their_schedulers_heartbeat(
    orchestrator: Orchestrator, cli_runner: CliRunner
):
    scheduler = orchestrator.scheduler(executor="local", workers=2)
    scheduler.start()
    try:
        scheduler.run_once()
        pids = sorted(pid for pid, _ in scheduler.executor.live_workers())
        assert len(pids) == 2 and os.getpid() not in pids
        found = _workers(orchestrator)
        assert sorted(w.pid for w in found) == pids
        assert {(w.executor, w.scheduler_job_id) for w in found} == {("local", scheduler.job_id)}
        lines = _check_workers(cli_runner)
        assert [line.split("  ")[3] for line in lines] == [f"pid {pid}" for pid in pids]

        os.kill(pids[0], signal.SIGKILL)  # a worker that dies is replaced; the next beat says so
        deadline = time.monotonic() + 10
        while (
            pids[0] in (pid for pid, _ in scheduler.executor.live_workers())
            or len(scheduler.executor.live_workers()) < 2
        ):
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            scheduler.executor.events()
            time.sleep(0.05)
        scheduler.state.last_heartbeat = None  # beat on this pass, not a heartbeat interval later
        scheduler.run_once()
        now_pids = sorted(w.pid for w in _workers(orchestrator))
        assert pids[0] not in now_pids and pids[1] in now_pids and len(now_pids) == 2
    finally:
        scheduler.shutdown()
    assert _workers(orchestrator) == []  # a stopped scheduler reports no worker


def test_a_celery_worker_records_its_job_beats_and_ends_it_when_stopped(
    orchestrator: Orchestrator, tmp_path, cli_runner: CliRunner
):
    url = broker_url("redis")
    (tmp_path / "machines").mkdir()
    with celery_workers(
        tmp_path / "machines", orchestrator.database_url, url, orchestrator.dags.path
    ) as workers:
        orchestrator.setenv(**{k.removeprefix("DAGFLOW__"): v for k, v in workers.env().items()})
        worker = workers.start("one")
        workers.wait_ready(worker)
        (job,) = _workers(orchestrator)
        assert (job.executor, job.name, job.pid) == ("celery", worker.name, worker.process.pid)
        first_beat = job.latest_heartbeat
        orchestrator.wait_for(lambda: _workers(orchestrator)[0].latest_heartbeat > first_beat, timeout=10)
        (line,) = _check_workers(cli_runner)
        assert line.startswith(f"worker (celery {worker.name})  job {job.id}  ")
        worker.stop()
    assert worker.process.returncode is not None
    with orchestrator.db.session() as session:
        assert job_store.running_jobs(session, job_type="worker") == []


def test_a_starting_scheduler_takes_no_live_worker_for_a_dead_scheduler(orchestrator: Orchestrator):
    from tests.cli.test_jobs_check import add_celery_worker

    job_id = add_celery_worker(orchestrator.db, age=0.5, name="one@host-c")
    scheduler = orchestrator.scheduler()  # alone on SQLite: every other scheduler is gone at once
    scheduler.start()
    try:
        scheduler.run_once()
    finally:
        scheduler.shutdown()
    (job,) = _workers(orchestrator)
    assert (job.id, job.name) == (job_id, "one@host-c")
