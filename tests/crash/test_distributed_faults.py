"""Faults of a distributed deployment: three schedulers and two Celery workers through 300 runs.

Real processes, as separate machines would run them: three ``scheduler.py`` daemons with ``[core]
executor = celery`` and two ``dagflow celery worker`` processes, each with its own ``DAGFLOW_HOME``
and log folder (the workers with their own copy of the DAG files), on one PostgreSQL database and
a Redis of the test's own. While 300 runs of a small DAG go through, three things go wrong, one after
the other:

* one scheduler is killed (``kill -9``): the others take over its runs and its queued work;
* one worker is killed (``kill -9`` of it and its pool processes) in the middle of an attempt: the
  attempt's heartbeat stops, the try is retried on the other worker (a replacement worker is then
  started, as a supervisor would);
* Redis is restarted (shut down without saving, so every message it held is lost, then started
  again as ``.ci/run`` starts it) while an attempt runs: what the store says is queued is sent
  again, and the running attempt ends once.

Checked from the store's tries table and from an execution journal the tasks write (start and end
of every attempt, with its pid): every run succeeds; no try starts twice; one task instance never
runs in two processes at once; the pool, ``max_active_tasks`` and ``max_active_runs`` are never
exceeded, even for an instant.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from dagflow import actions
from dagflow.store.models import DagRunRow, JobRow, TaskInstanceRow, TaskInstanceTryRow
from tests.backends import POSTGRES_ENV
from tests.crash.conftest import CrashHarness, group_members
from tests.crash.test_several_schedulers import most_at_once
from tests.scheduler.processes.celery_workers import (
    CeleryWorker,
    CeleryWorkers,
    celery_workers,
)

RUNS = 300
POOL_SLOTS = 2
MAX_ACTIVE_TASKS = 3
MAX_ACTIVE_RUNS = 8
#: Runs one of whose attempts is slow on its first try, so a fault lands while it runs.
WORKER_VICTIM = "run_0090"
BROKER_VICTIM = "run_0180"
T = TypeVar("T")

#: Every task journals ``start|end run task try pid time``; ``pooled`` takes a slot of the small
#: pool; the ``pooled`` task of a victim run sleeps long on its first try.
DAG_SOURCE = """
import os
import time
from datetime import datetime, timedelta

from dagflow import DAG, get_current_context, task

JOURNAL = {journal!r}
SLOW = {slow!r}


def note(kind):
    ti = get_current_context()["ti"]
    fields = (kind, ti.run_id, ti.task_id, ti.try_number, os.getpid(), f"{{time.time():.6f}}")
    fd = os.open(JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (" ".join(str(f) for f in fields) + "\\n").encode())
    finally:
        os.close(fd)


def work(seconds):
    note("start")
    ti = get_current_context()["ti"]
    if ti.run_id in SLOW and ti.try_number == 1:
        seconds = SLOW[ti.run_id]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)
    note("end")


with DAG(
    "faults",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    max_active_runs={max_active_runs},
    max_active_tasks={max_active_tasks},
    default_args={{"retries": 2, "retry_delay": timedelta(0)}},
):

    @task
    def first():
        work(0.01)

    @task(pool="tight")
    def pooled():
        work(0.03)

    @task
    def last():
        work(0.01)

    first() >> pooled() >> last()
"""


@dataclass(frozen=True)
class Attempt:
    """One attempt from the journal: its process, and when it started and ended (``None``: it died)."""

    run_id: str
    task_id: str
    try_number: int
    pid: int
    start: float
    end: float | None


def read_journal(path: Path) -> list[Attempt]:
    """Each attempt in the journal; asserts that no (task instance, try) started twice."""
    starts: dict[tuple[str, str, int], tuple[int, float]] = {}
    ends: dict[tuple[str, str, int], float] = {}
    counted: Counter[tuple[str, str, int]] = Counter()
    for line in path.read_text().splitlines():
        kind, run_id, task_id, try_number, pid, at = line.split()
        key = (run_id, task_id, int(try_number))
        if kind == "start":
            counted[key] += 1
            starts[key] = (int(pid), float(at))
        else:
            ends[key] = float(at)
    twice = sorted(key for key, count in counted.items() if count > 1)
    assert not twice, f"tries started more than once: {twice}"
    return [Attempt(*key, pid, start, ends.get(key)) for key, (pid, start) in starts.items()]


# -- Redis, restarted for real ------------------------------------------------------------------------
#
# The test's own Redis, on a free port: restarting this machine's Redis (6379) would take the messages
# of every other test (or anyone else) using it at the time.


@dataclass(frozen=True)
class Redis:
    """A ``redis-server`` of this test's own, started as ``.ci/run`` starts one: nothing kept on disk."""

    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def answers(self) -> bool:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True, check=False
        )
        return result.stdout.strip() == "PONG"

    def start(self) -> None:
        """Start it and wait until it answers."""
        options = ["--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder)]
        subprocess.run(
            ["redis-server", "--daemonize", "yes", *options, "--save", "", "--appendonly", "no"],
            capture_output=True,
            check=True,
        )
        deadline = time.monotonic() + 30
        while not self.answers():
            assert time.monotonic() < deadline, "Redis did not come up within 30s"
            time.sleep(0.05)

    def shutdown(self) -> None:
        """Shut it down without saving (every message it held is lost)."""
        command = ["redis-cli", "-p", str(self.port), "shutdown", "nosave"]
        subprocess.run(command, capture_output=True, check=False)
        deadline = time.monotonic() + 10
        while self.answers():
            assert time.monotonic() < deadline, "Redis did not shut down"
            time.sleep(0.05)

    def restart(self, down_for: float) -> None:
        self.shutdown()
        time.sleep(down_for)
        self.start()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    """The test's own Redis (see above), shut down at the end of the test, passed or failed."""
    if not os.environ.get(POSTGRES_ENV):
        if os.environ.get("DAGFLOW_TEST_REQUIRE_BROKERS"):
            pytest.fail(f"several schedulers need PostgreSQL: set {POSTGRES_ENV} (.ci/run does)")
        pytest.skip(f"several schedulers need PostgreSQL ({POSTGRES_ENV} is not set)")
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        if os.environ.get("DAGFLOW_TEST_REQUIRE_BROKERS"):
            pytest.fail("redis-server and redis-cli are needed (.ci/run's machine has them)")
        pytest.skip("redis-server and redis-cli are needed to restart the broker")
    folder = tmp_path / "redis"
    folder.mkdir()
    server = Redis(free_port(), folder)
    server.start()
    try:
        yield server
    finally:
        server.shutdown()


@dataclass(frozen=True)
class Faults:
    #: When each process of the killed worker died, by pid.
    killed: dict[int, float]
    #: When Redis was shut down.
    broker_down: float


# -- the deployment -----------------------------------------------------------------------------------


@dataclass
class Deployment:
    crash: CrashHarness
    workers: CeleryWorkers
    journal: Path
    redis: Redis
    killed_worker: CeleryWorker | None = None

    def start_schedulers(self, count: int) -> None:
        for n in range(count):
            home = self.crash.tmp_path / f"scheduler-home-{n}"
            home.mkdir()
            settings = {
                "DAGFLOW_HOME": str(home),  # its log folder too: logs/ under it
                "DAGFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "3",
                "DAGFLOW__SCHEDULER__TASK_HEARTBEAT_TIMEOUT": "3",
                "DAGFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "4",
                "DAGFLOW__CORE__PARALLELISM": "6",
                **self.workers.env(),
            }
            self.crash.start(1, **settings)

    def successes(self) -> int:
        with self.crash.store.session() as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(DagRunRow).where(DagRunRow.state == "success")
                )
                or 0
            )

    def started(self, run_id: str, task_id: str) -> Attempt | None:
        """The first try of ``run_id.task_id`` once it has started."""
        if not self.journal.exists():
            return None
        for attempt in read_journal(self.journal):
            if (attempt.run_id, attempt.task_id, attempt.try_number) == (run_id, task_id, 1):
                return attempt
        return None

    def worker_running(self, pid: int) -> CeleryWorker:
        """The live worker whose pool process ``pid`` is (each worker leads its process group)."""
        group = os.getpgid(pid)
        return next(w for w in self.workers.workers if w.process.pid == group and w.process.poll() is None)

    def wait(self, what: str, condition: Callable[[], T | None], timeout: float) -> T:
        return self.crash.wait_for(what, condition, timeout)

    def inflict_faults(self) -> Faults:
        """Kill a scheduler, then a worker mid-attempt, then restart Redis mid-attempt, one after the
        other while the runs go on."""
        self.wait("a tenth of the runs to succeed", lambda: self.successes() >= RUNS // 10, 120)
        self.crash.daemons[0].kill()

        victim = self.wait(
            f"{WORKER_VICTIM}'s slow attempt to start", lambda: self.started(WORKER_VICTIM, "pooled"), 120
        )
        worker = self.killed_worker = self.worker_running(victim.pid)
        processes = group_members(worker.process.pid)
        worker.kill()
        killed = dict.fromkeys(processes, time.time())
        self.workers.wait_ready(self.workers.start("worker-c"))  # as its supervisor would

        self.wait(
            f"{BROKER_VICTIM}'s slow attempt to start", lambda: self.started(BROKER_VICTIM, "pooled"), 120
        )
        broker_down = time.time()
        self.redis.restart(down_for=1.0)
        return Faults(killed, broker_down)


def test_schedulers_and_workers_killed_and_broker_restarted_lose_and_double_nothing(
    crash: CrashHarness, redis: Redis
):
    if crash.database_url.startswith("sqlite"):
        pytest.skip("several schedulers need PostgreSQL")
    journal = crash.tmp_path / "execution-journal.txt"
    journal.touch()
    source = DAG_SOURCE.format(
        journal=str(journal),
        slow={WORKER_VICTIM: 4.0, BROKER_VICTIM: 3.0},
        max_active_runs=MAX_ACTIVE_RUNS,
        max_active_tasks=MAX_ACTIVE_TASKS,
    )
    (crash.dags_folder / "faults.py").write_text(source)
    crash.register()
    with crash.store.session(write=True) as session:
        actions.set_pool(session, "tight", POOL_SLOTS)
        for n in range(RUNS):
            actions.trigger_dag(session, "faults", run_id=f"run_{n:04d}", owner="test")

    machines = crash.tmp_path / "machines"
    machines.mkdir()
    with celery_workers(machines, crash.database_url, redis.url, crash.dags_folder) as workers:
        deployment = Deployment(crash, workers, journal, redis)
        workers.wait_ready(workers.start("worker-a"), workers.start("worker-b"))
        deployment.start_schedulers(3)
        began = time.monotonic()
        faults = deployment.inflict_faults()
        deployment.wait("every run to succeed", lambda: deployment.successes() == RUNS, 150)
        print(f"{RUNS} runs in {time.monotonic() - began:.1f}s")
        for worker in workers.workers:
            if worker is not deployment.killed_worker:
                assert worker.process.poll() is None, f"{worker.name} exited:\n{worker.output()[-3000:]}"

    for daemon in crash.daemons[1:]:
        assert "scheduler pass failed" not in daemon.log_path.read_text(), daemon.log_tail()
    attempts = read_journal(journal)
    check_every_run_succeeded_once(crash)
    check_tries(crash, attempts)
    check_victims(crash, attempts, faults)
    check_no_overlap(attempts, faults.killed)
    check_limits(attempts, faults.killed)
    with crash.store.session() as session:
        job = session.scalars(select(JobRow).where(JobRow.pid == crash.daemons[0].pid)).one()
    assert job.state == "failed", "the killed scheduler was not noticed"
    assert deployment.killed_worker is not None
    with crash.store.session() as session:
        row = session.scalars(select(JobRow).where(JobRow.pid == deployment.killed_worker.process.pid)).one()
    assert row.state == "failed", "the killed Celery worker's row still says it runs"


def check_every_run_succeeded_once(crash: CrashHarness) -> None:
    with crash.store.session() as session:
        runs = session.execute(select(DagRunRow.run_id, DagRunRow.state)).all()
        states = Counter(session.scalars(select(TaskInstanceRow.state)).all())
    assert sorted(run_id for run_id, _ in runs) == [f"run_{n:04d}" for n in range(RUNS)]
    assert Counter(state for _, state in runs) == {"success": RUNS}
    assert states == {"success": 3 * RUNS}


def _tries(crash: CrashHarness) -> list[TaskInstanceTryRow]:
    with crash.store.session() as session:
        rows = session.scalars(select(TaskInstanceTryRow).order_by(TaskInstanceTryRow.try_number)).all()
        session.expunge_all()
    return list(rows)


def check_tries(crash: CrashHarness, attempts: list[Attempt]) -> None:
    """Each try is in the history once, tries 1..n of each task instance, and each journalled
    attempt is a try of the history; each task instance's last try is its one success."""
    tries = _tries(crash)
    keys = [(t.run_id, t.task_id, t.try_number) for t in tries]
    assert len(keys) == len(set(keys)), "a try is in the history twice"
    by_ti: dict[tuple[str, str], list[TaskInstanceTryRow]] = {}
    for row in tries:
        by_ti.setdefault((row.run_id, row.task_id), []).append(row)
    assert len(by_ti) == 3 * RUNS
    for ti, rows in by_ti.items():
        assert [r.try_number for r in rows] == list(range(1, len(rows) + 1)), ti
        assert [r.state for r in rows][-1] == "success" and all(r.state != "success" for r in rows[:-1]), ti
    journalled = {(a.run_id, a.task_id, a.try_number) for a in attempts}
    assert journalled <= set(keys), f"attempts missing from the history: {journalled - set(keys)}"
    assert {(t.run_id, t.task_id, t.try_number) for t in tries if t.state == "success"} <= journalled


def check_victims(crash: CrashHarness, attempts: list[Attempt], faults: Faults) -> None:
    """The worker's victim died mid-attempt and its try 2 ran elsewhere; the attempt running through
    the broker's restart ran once and succeeded."""
    tries = {(t.run_id, t.task_id, t.try_number): t for t in _tries(crash)}
    journal = {(a.run_id, a.task_id, a.try_number): a for a in attempts}
    first = journal[(WORKER_VICTIM, "pooled", 1)]
    assert first.end is None and first.pid in faults.killed, first
    assert tries[(WORKER_VICTIM, "pooled", 1)].state == "up_for_retry"
    assert "heartbeat stopped" in (tries[(WORKER_VICTIM, "pooled", 1)].error or "")
    second = journal[(WORKER_VICTIM, "pooled", 2)]
    assert second.end is not None and second.pid not in faults.killed
    assert tries[(WORKER_VICTIM, "pooled", 2)].state == "success"
    through = journal[(BROKER_VICTIM, "pooled", 1)]
    assert through.end is not None and through.start < faults.broker_down < through.end, through
    assert tries[(BROKER_VICTIM, "pooled", 1)].state == "success"
    assert (BROKER_VICTIM, "pooled", 2) not in tries


def _span(attempt: Attempt, killed: dict[int, float]) -> tuple[float, float]:
    """An attempt's interval: to its journalled end, or to when the test killed its process."""
    end = attempt.end if attempt.end is not None else killed.get(attempt.pid)
    assert end is not None, f"an attempt that no one killed never ended: {attempt}"
    return attempt.start, end


def check_no_overlap(attempts: list[Attempt], killed: dict[int, float]) -> None:
    """A task instance's attempts follow one another: never two at the same time."""
    by_ti: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for attempt in attempts:
        by_ti.setdefault((attempt.run_id, attempt.task_id), []).append(_span(attempt, killed))
    for ti, spans in by_ti.items():
        assert most_at_once(spans) == 1, f"{ti} ran twice at once: {sorted(spans)}"


def check_limits(attempts: list[Attempt], killed: dict[int, float]) -> None:
    """The pool, max_active_tasks and max_active_runs held at every instant."""
    pooled = [_span(a, killed) for a in attempts if a.task_id == "pooled"]
    assert most_at_once(pooled) <= POOL_SLOTS
    assert most_at_once([_span(a, killed) for a in attempts]) <= MAX_ACTIVE_TASKS
    per_run: dict[str, list[tuple[float, float]]] = {}
    for attempt in attempts:
        per_run.setdefault(attempt.run_id, []).append(_span(attempt, killed))
    # a run counts from its first attempt's start to its last attempt's end
    runs = [(min(s for s, _ in spans), max(e for _, e in spans)) for spans in per_run.values()]
    assert most_at_once(runs) <= MAX_ACTIVE_RUNS
