"""The job row of a ``dagflow celery worker`` beats on one connection to the store kept from beat to
beat, although its process forks at any time (Celery's pool processes): a child leaves that
connection to its parent and opens its own, and a connection the server dropped is replaced by the
next beat."""

from __future__ import annotations

import gc
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

import pytest
from sqlalchemy import event, text

from dagflow.config import Settings
from dagflow.core.clock import utcnow
from dagflow.executors.celery_worker import WorkerJob
from dagflow.store import jobs as job_store
from dagflow.store.engine import Database

BEAT = 0.05
DEADLINE = 30.0


@dataclass
class Uses:
    """What the job's engine did since it was watched: the connections it opened, and the one each
    beat used (its server process on PostgreSQL, the connection object on SQLite)."""

    connects: int = 0
    used: list[object] = field(default_factory=list)


def _watch(db: Database) -> Uses:
    uses = Uses()

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        uses.connects += 1

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        uses.used.append(id(dbapi_connection) if db.is_sqlite else dbapi_connection.info.backend_pid)

    event.listen(db.engine, "connect", on_connect)
    event.listen(db.engine, "checkout", on_checkout)
    return uses


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _heartbeat(database: Database, job: WorkerJob) -> datetime:
    with database.session() as session:
        (found,) = [j for j in job_store.running_jobs(session, job_type="worker") if j.id == job.job_id]
    return found.latest_heartbeat


def _beats_again(database: Database, job: WorkerJob, uses: Uses, count: int = 3) -> None:
    """Wait until the job has beaten ``count`` more times and its row shows a heartbeat from now on."""
    since, done = utcnow(), len(uses.used)
    _wait_for(lambda: len(uses.used) >= done + count, f"{count} more beats")
    _wait_for(lambda: _heartbeat(database, job) > since, "the recorded heartbeat to advance")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    ours = [r for r in caplog.records if r.name == "dagflow.celery.worker"]
    return [r.getMessage() for r in ours if r.levelno >= logging.WARNING]


def _server_process_alive(database: Database, pid: object) -> bool:
    with database.session() as session:
        found = session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
    return bool(found)


@pytest.fixture
def job(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkerJob]:
    """The job of a worker that beats every 0.05 s, not started yet (the test watches it first)."""
    monkeypatch.setenv("DAGFLOW__SCHEDULER__HEARTBEAT_SEC", str(BEAT))
    found = WorkerJob(Settings.load(), name="one@host-c", queues=["default"])
    yield found
    found.stop()


def test_the_job_beats_on_the_one_connection_it_registered_with(database: Database, job: WorkerJob, caplog):
    uses = _watch(job.db)
    job.start()
    _beats_again(database, job, uses, count=6)
    assert uses.connects == 0
    assert len(set(uses.used)) == 1
    assert _warnings(caplog) == []


def _child_beats_on_its_own_connection(job: WorkerJob, uses: Uses) -> NoReturn:
    """In a forked child: beat once (the child's copy of ``uses`` starts at the parent's counts),
    let the garbage collector see whatever the child dropped, and exit without any clean-up: 0 if
    the beat opened a connection of the child's own."""
    code = 1
    try:
        connects = uses.connects
        with job.db.session(write=True) as session:
            job_store.worker_heartbeat(session, job.job_id, utcnow())
        gc.collect()
        code = 0 if uses.connects == connects + 1 else 2
    finally:
        os._exit(code)


def _exit_code(pid: int) -> int:
    deadline = time.monotonic() + DEADLINE
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child did not exit")
        time.sleep(0.01)


def test_a_child_forked_while_the_job_beats_leaves_the_parents_connection_alone(
    database: Database, job: WorkerJob, caplog
):
    uses = _watch(job.db)
    job.start()
    _wait_for(lambda: len(uses.used) >= 2, "the job's first beats")
    for _ in range(3):  # each fork waits for the beat in progress, if any
        pid = os.fork()
        if pid == 0:
            _child_beats_on_its_own_connection(job, uses)
        assert _exit_code(pid) == 0, "the child did not beat on a connection of its own"
        time.sleep(BEAT)
    _beats_again(database, job, uses)
    assert uses.connects == 0
    assert len(set(uses.used)) == 1
    assert _warnings(caplog) == []
    if not database.is_sqlite:
        assert _server_process_alive(database, uses.used[0])


def test_a_beat_after_the_server_dropped_the_connection_reconnects(
    database: Database, request: pytest.FixtureRequest, caplog
):
    if database.is_sqlite:
        pytest.skip("a SQLite database has no server to drop a connection")
    job: WorkerJob = request.getfixturevalue("job")
    uses = _watch(job.db)
    job.start()
    _wait_for(lambda: len(uses.used) >= 2, "the job's first beats")
    dropped = uses.used[-1]
    with database.session() as session:
        assert session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    _wait_for(lambda: not _server_process_alive(database, dropped), "the server process to end")
    _beats_again(database, job, uses)
    recovered = len(uses.used)
    _beats_again(database, job, uses)
    assert uses.connects == 1
    assert len(set(uses.used[recovered:])) == 1 and uses.used[-1] != dropped
    assert len(_warnings(caplog)) <= 1
