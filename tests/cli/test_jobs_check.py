"""``dagflow jobs check``: whether a scheduler is alive, as Airflow's command answers it."""

from __future__ import annotations

import socket
from datetime import timedelta

from dagflow.cli import cli
from dagflow.core.clock import utcnow
from dagflow.store import scheduling
from dagflow.store.engine import Database


def add_scheduler(database: Database, *, age: float, hostname: str = "host-a", pid: int = 100) -> int:
    """A running scheduler's job row whose last heartbeat is ``age`` seconds old."""
    beat = utcnow() - timedelta(seconds=age)
    with database.session(write=True) as session:
        return scheduling.register_scheduler(session, hostname=hostname, pid=pid, now=beat)


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
    assert result.stdout.strip() == "Found one alive job."


def test_jobs_check_wants_allow_multiple_for_several_schedulers(cli_runner, database: Database):
    add_scheduler(database, age=1, pid=1)
    add_scheduler(database, age=2, pid=2, hostname="host-b")
    several = check(cli_runner, "--limit", "5")
    assert several.exit_code == 1 and "Found 2 alive jobs. Expected only one." in several.stderr
    allowed = check(cli_runner, "--limit", "5", "--allow-multiple")
    assert allowed.exit_code == 0 and allowed.stdout.strip() == "Found 2 alive jobs."
    on_b = check(cli_runner, "--hostname", "host-b")
    assert on_b.exit_code == 0 and on_b.stdout.strip() == "Found one alive job."
    assert check(cli_runner, "--local").exit_code == (
        0 if socket.gethostname() in ("host-a", "host-b") else 1
    )


def test_jobs_check_refuses_allow_multiple_with_a_limit_of_one(cli_runner, database: Database):
    result = check(cli_runner, "--allow-multiple")
    assert result.exit_code == 2
    assert "--allow-multiple" in result.stderr and "--limit" in result.stderr
