"""Several scheduler daemons on one PostgreSQL share the work; SQLite refuses a second one.

Two or three real ``scheduler.py`` processes, each with its own ``DAGFLOW_HOME`` as separate machines would
have, work through scheduled and triggered runs of a DAG whose tasks journal their start and end
with the run they belong to. One scheduler is killed (``kill -9``) half-way; the others take over
its work once its heartbeat is older than ``[scheduler] scheduler_health_check_threshold``. Checked
from the store and the journal: every run is created once and succeeds, no try starts twice, every
try is in the history once, and the pool, ``max_active_tasks`` and ``max_active_runs`` are never
exceeded, even for an instant.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dagflow import actions
from dagflow.core.clock import utcnow
from dagflow.store.models import DagRunRow, JobRow, TaskInstanceRow, TaskInstanceTryRow
from tests.crash.conftest import ROOT, CrashHarness

POOL_SLOTS = 3
POOLED = 6
MAX_ACTIVE_TASKS = 4
MAX_ACTIVE_RUNS = 4
SCHEDULED_RUNS = 8
TRIGGERED_RUNS = 16
START = datetime(2024, 1, 1, tzinfo=UTC)

#: Each task journals ``start|end dag run task try pid time``; the ``p`` tasks use the small pool.
SHARED = """
import os
import time
from datetime import datetime, timedelta

from dagflow import DAG, get_current_context, task

JOURNAL = {journal!r}


def note(kind):
    ti = get_current_context()["ti"]
    fields = (kind, ti.dag_id, ti.run_id, ti.task_id, ti.try_number, os.getpid(), f"{{time.time():.6f}}")
    line = " ".join(str(field) for field in fields) + "\\n"
    fd = os.open(JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def work(seconds):
    note("start")
    time.sleep(seconds)
    note("end")


def build(dag_id, schedule, end_date):
    with DAG(
        dag_id,
        schedule=schedule,
        start_date=datetime(2024, 1, 1),
        end_date=end_date,
        catchup=True,
        max_active_runs={max_active_runs},
        max_active_tasks={max_active_tasks},
    ) as dag:

        @task
        def a():
            work(0.05)

        @task(pool="tight")
        def p(n):
            work(0.1)

        @task
        def d():
            work(0.05)

        a() >> [p.override(task_id=f"p{{n}}")(n) for n in range({pooled})] >> d()
    return dag


daily = build("daily", "@daily", datetime(2024, 1, {last_day}))
manual = build("manual", None, None)
"""


@dataclass(frozen=True)
class Span:
    dag_id: str
    run_id: str
    task_id: str
    try_number: int
    start: float
    end: float


def spans(journal: Path) -> list[Span]:
    """Each attempt's interval from the journal; asserts no try started twice."""
    starts: dict[tuple[str, str, str, int], float] = {}
    ends: dict[tuple[str, str, str, int], float] = {}
    counted: Counter[tuple[str, str, str, int]] = Counter()
    for line in journal.read_text().splitlines():
        kind, dag_id, run_id, task_id, try_number, _pid, at = line.split()
        key = (dag_id, run_id, task_id, int(try_number))
        if kind == "start":
            counted[key] += 1
            starts[key] = float(at)
        else:
            ends[key] = float(at)
    twice = [key for key, count in counted.items() if count > 1]
    assert not twice, f"tries started more than once: {twice}"
    return [Span(*key, starts[key], ends.get(key, starts[key])) for key in starts]


def journal(crash: CrashHarness) -> Path:
    """The journal of this module's tasks (lines of their own, apart from the harness's journal)."""
    return crash.tmp_path / "runs-journal.txt"


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals that overlap at one instant."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


def most_runs_at_once(found: list[Span]) -> int:
    """The largest number of runs with a task executing at one instant."""
    events = sorted([(s.start, 1, s.run_id) for s in found] + [(s.end, -1, s.run_id) for s in found])
    executing: Counter[str] = Counter()
    most = 0
    for _, step, run_id in events:
        executing[run_id] += step
        most = max(most, sum(1 for count in executing.values() if count > 0))
    return most


def start_schedulers(
    crash: CrashHarness, count: int, *, machines: bool = False, **settings: str
) -> list[int]:
    """``count`` daemons, each with a ``DAGFLOW_HOME`` of its own (and with ``machines``, a machine
    name of its own, ``machine-N``, for ``tests.crash.machines``); return their pids."""
    pids = []
    for n in range(count):
        home = crash.tmp_path / f"home-{n}"
        home.mkdir()
        env = {
            "DAGFLOW_HOME": str(home),
            "DAGFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "3",
            "DAGFLOW__CORE__PARALLELISM": "3",
            **({"DAGFLOW_TEST_MACHINE": f"machine-{n}"} if machines else {}),
            **settings,
        }
        daemon = crash.start(workers=2, **env)
        pids.append(daemon.pid)
    return pids


def finished_runs(crash: CrashHarness) -> int:
    with crash.store.session() as session:
        states = session.scalars(select(DagRunRow.state)).all()
    return (
        sum(state == "success" for state in states) if len(states) == SCHEDULED_RUNS + TRIGGERED_RUNS else 0
    )


@pytest.mark.parametrize("schedulers", [2, 3])
def test_schedulers_share_the_runs_and_survive_the_loss_of_one(crash: CrashHarness, schedulers: int):
    if crash.database_url.startswith("sqlite"):
        pytest.skip("several schedulers need PostgreSQL")
    journal(crash).touch()
    source = SHARED.format(
        journal=str(journal(crash)),
        max_active_runs=MAX_ACTIVE_RUNS,
        max_active_tasks=MAX_ACTIVE_TASKS,
        last_day=SCHEDULED_RUNS,
        pooled=POOLED,
    )
    (crash.dags_folder / "shared.py").write_text(source)
    crash.register()
    with crash.store.session(write=True) as session:
        actions.set_pool(session, "tight", POOL_SLOTS)
        for n in range(TRIGGERED_RUNS):
            actions.trigger_dag(session, "manual", run_id=f"manual_{n}", owner="test")

    pids = start_schedulers(crash, schedulers)
    crash.wait_for("a quarter of the runs to succeed", lambda: _successes(crash) >= 6, timeout=90)
    os.kill(pids[0], signal.SIGKILL)
    killed_at = utcnow()
    crash.daemons[0].process.wait(10)
    crash.wait_for(
        "every run to succeed",
        lambda: finished_runs(crash) == SCHEDULED_RUNS + TRIGGERED_RUNS,
        timeout=120,
    )

    for daemon in crash.daemons[1:]:
        assert "scheduler pass failed" not in daemon.log_path.read_text(), daemon.log_tail()
    _check_runs_created_once(crash)
    _check_tries_once(crash)
    _check_limits(crash)
    _check_each_run_queued_by_one_scheduler(crash, ended_before=killed_at)
    with crash.store.session() as session:
        dead = session.scalars(select(JobRow).where(JobRow.pid == pids[0])).one()
    assert dead.state == "failed" and dead.end_date is not None
    assert dead.end_date - killed_at < timedelta(seconds=30), "the dead scheduler was noticed late"


def _successes(crash: CrashHarness) -> int:
    with crash.store.session() as session:
        return len(session.scalars(select(DagRunRow.id).where(DagRunRow.state == "success")).all())


def _check_runs_created_once(crash: CrashHarness) -> None:
    with crash.store.session() as session:
        runs = session.execute(select(DagRunRow.dag_id, DagRunRow.run_id, DagRunRow.logical_date)).all()
    daily = sorted(logical for dag_id, _, logical in runs if dag_id == "daily" and logical is not None)
    assert daily == [START + timedelta(days=n) for n in range(SCHEDULED_RUNS)]
    assert len({(dag_id, run_id) for dag_id, run_id, _ in runs}) == len(runs)


def _check_tries_once(crash: CrashHarness) -> None:
    with crash.store.session() as session:
        tries = session.execute(
            select(
                TaskInstanceTryRow.dag_id,
                TaskInstanceTryRow.run_id,
                TaskInstanceTryRow.task_id,
                TaskInstanceTryRow.try_number,
            )
        ).all()
        states = Counter(session.scalars(select(TaskInstanceRow.state)).all())
    assert states == {"success": (POOLED + 2) * (SCHEDULED_RUNS + TRIGGERED_RUNS)}
    assert len(tries) == len(set(tries)), "a try is in the history twice"
    journalled = {(s.dag_id, s.run_id, s.task_id, s.try_number) for s in spans(journal(crash))}
    assert journalled <= {tuple(t) for t in tries}


def _check_each_run_queued_by_one_scheduler(crash: CrashHarness, *, ended_before: datetime) -> None:
    """A run's task instances are queued by the scheduler that decides it (so their outcomes wake
    that one): every run that ended before a scheduler died, and so was never taken over, had all
    of them queued by one scheduler."""
    with crash.store.session() as session:
        rows = session.execute(
            select(TaskInstanceRow.run_id, TaskInstanceRow.queued_by_job_id)
            .join(
                DagRunRow,
                (DagRunRow.dag_id == TaskInstanceRow.dag_id) & (DagRunRow.run_id == TaskInstanceRow.run_id),
            )
            .where(DagRunRow.end_date < ended_before)
        ).all()
    queuers: dict[str, set[int | None]] = {}
    for run_id, job_id in rows:
        queuers.setdefault(run_id, set()).add(job_id)
    assert queuers, "no run ended before the kill"
    assert all(len(jobs) == 1 for jobs in queuers.values()), queuers


def _check_limits(crash: CrashHarness) -> None:
    found = spans(journal(crash))
    tight = [(s.start, s.end) for s in found if s.task_id.startswith("p")]
    assert most_at_once(tight) <= POOL_SLOTS
    for dag_id in ("daily", "manual"):
        of_dag = [(s.start, s.end) for s in found if s.dag_id == dag_id]
        assert most_at_once(of_dag) <= MAX_ACTIVE_TASKS, dag_id
    # runs' own start and end stamps come from different schedulers' clocks of their passes: the
    # runs whose tasks were executing at one instant are what max_active_runs bounds
    for dag_id in ("daily", "manual"):
        assert most_runs_at_once([s for s in found if s.dag_id == dag_id]) <= MAX_ACTIVE_RUNS, dag_id


def test_a_second_scheduler_on_sqlite_is_refused_with_the_reason(crash: CrashHarness):
    if not crash.database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    first = crash.start(workers=1)
    crash.wait_for("the first scheduler's job row", lambda: crash.jobs(), timeout=30)
    second_home = crash.tmp_path / "second"
    second_home.mkdir()
    result = subprocess.run(
        [sys.executable, str(ROOT / "scheduler.py"), "--workers", "1"],
        env={**crash.env, "DAGFLOW_HOME": str(second_home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: another scheduler (pid ")
    assert "SQLite allows one scheduler" in error and "PostgreSQL" in error
    assert first.process.poll() is None, "the first scheduler goes on"
    assert len(crash.jobs()) == 1, "the refused scheduler recorded no job"


SPREAD = """
import time
from datetime import datetime

from dagflow import DAG, task

with DAG("spread", schedule=None, start_date=datetime(2024, 1, 1), max_active_runs={runs}):

    @task
    def first():
        time.sleep(0.5)

    @task
    def second():
        pass

    first() >> second()
"""


def test_runs_that_start_together_are_shared_among_schedulers_on_several_machines(crash: CrashHarness):
    """Each scheduler takes up to its share of the running runs (their number over the machines
    schedulers are alive on), so that schedulers on several machines all decide and queue, instead
    of the first one to look taking every run. Each daemon here stands for a machine of its own
    (``[core] hostname_callable``)."""
    if crash.database_url.startswith("sqlite"):
        pytest.skip("several schedulers need PostgreSQL")
    runs, schedulers = 6, 3
    (crash.dags_folder / "spread.py").write_text(SPREAD.format(runs=runs))
    crash.register()
    pids = start_schedulers(
        crash,
        schedulers,
        machines=True,
        DAGFLOW__CORE__HOSTNAME_CALLABLE="tests.crash.machines:name",
        # none of them taken for dead while a loaded machine slows their start: each counts the others
        DAGFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD="30",
    )

    def each_counted_the_others() -> bool:  # each has beaten (and counted who is alive) since all started
        jobs = [job for job in crash.jobs() if job.pid in pids]
        if len(jobs) < schedulers:
            return False
        started = max(j.start_date for j in jobs)
        return all(j.latest_heartbeat > started for j in jobs)

    crash.wait_for("every scheduler to count the others", each_counted_the_others, 60)
    with crash.store.session(write=True) as session:
        for n in range(runs):
            actions.trigger_dag(session, "spread", run_id=f"run_{n}", owner="test")
    crash.wait_for("every run to succeed", lambda: _successes(crash) == runs, timeout=90)

    with crash.store.session() as session:
        queued_by = session.execute(select(TaskInstanceRow.run_id, TaskInstanceRow.queued_by_job_id)).all()
        jobs = {job.id: job.pid for job in session.scalars(select(JobRow))}
        hosts = {job.hostname for job in session.scalars(select(JobRow))}
    assert hosts == {f"machine-{n}" for n in range(schedulers)}
    per_scheduler = Counter(jobs[job_id] for _, job_id in queued_by if job_id is not None)
    # (a scheduler slowed down by a loaded machine may find its share taken after LEAVE_FOR, and a
    # run may then move to it when the one that took it is over its share: not every scheduler need
    # have decided a run, but the first to look may not decide them all)
    assert len(per_scheduler) > 1, f"one scheduler decided every run: {per_scheduler}"


LONG = """
import time
from datetime import datetime

from dagflow import DAG, task

with DAG("long", schedule=None, start_date=datetime(2024, 1, 1), max_active_runs={runs}):
    previous = None
    for n in range(8):

        @task(task_id=f"step_{{n}}")
        def step():
            time.sleep(0.5)

        current = step()
        if previous is not None:
            previous >> current
        previous = current
"""


def test_a_scheduler_started_on_another_machine_takes_over_part_of_the_running_runs(crash: CrashHarness):
    """A scheduler that owns more than one run over its share (the running runs over the machines
    schedulers are alive on) gives the rest up, and the one on the new machine takes them: the
    runs' later task instances are queued by it. Nothing runs twice."""
    if crash.database_url.startswith("sqlite"):
        pytest.skip("several schedulers need PostgreSQL")
    runs = 4
    (crash.dags_folder / "long.py").write_text(LONG.format(runs=runs))
    crash.register()
    settings = {
        "DAGFLOW__CORE__HOSTNAME_CALLABLE": "tests.crash.machines:name",
        "DAGFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "30",
    }
    first = start_schedulers(crash, 1, machines=True, **settings)[0]
    with crash.store.session(write=True) as session:
        for n in range(runs):
            actions.trigger_dag(session, "long", run_id=f"run_{n}", owner="test")
    crash.wait_for("every run to start", lambda: _task_states(crash).get("success", 0) >= runs, 60)

    home = crash.tmp_path / "home-1"
    home.mkdir()
    second = crash.start(workers=2, DAGFLOW_HOME=str(home), DAGFLOW_TEST_MACHINE="machine-1", **settings).pid
    crash.wait_for("every run to succeed", lambda: _successes(crash) == runs, timeout=120)

    with crash.store.session() as session:
        job_ids = {job.pid: job.id for job in session.scalars(select(JobRow))}
        queued_by = session.execute(select(TaskInstanceRow.run_id, TaskInstanceRow.queued_by_job_id)).all()
        tries = session.scalars(select(TaskInstanceTryRow.try_number)).all()
    moved = {run_id for run_id, job_id in queued_by if job_id == job_ids[second]}
    assert moved, "the scheduler on the new machine took none of the running runs"
    assert {run_id for run_id, job_id in queued_by if job_id == job_ids[first]} == {
        f"run_{n}" for n in range(runs)
    }, "every run began with the first scheduler"
    assert sorted(tries) == [1] * (8 * runs), "a try ran twice"


def _task_states(crash: CrashHarness) -> Counter[str]:
    with crash.store.session() as session:
        return Counter(session.scalars(select(TaskInstanceRow.state)).all())
