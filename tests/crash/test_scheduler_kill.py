"""``kill -9`` of the scheduler at any moment, then a restart: the run completes, nothing runs twice.

The scheduler is killed right after a trigger, while task instances are queued, while they run,
and while a retry is pending; each time a new scheduler takes over the dead one's work. Workers
running tries when their scheduler dies live on as orphans: one finishes and records its try; one
that is stopped (SIGSTOP) has its try given up by the next scheduler once its heartbeat is stale,
and when woken it finds the try no longer its own, records nothing and exits. At the end every
task instance has succeeded, each try is in the history once, and the journal the tasks wrote
shows no task instance in two processes at once.

Orphans are the local executor's: its workers are the scheduler's children. On Celery (Redis and
RabbitMQ) the workers are not the scheduler's and outlive it; the same kills at the same moments
leave the attempts running there, and each new scheduler carries on from what they record
(``test_a_scheduler_killed_at_any_moment_on_celery_completes_the_run``).
"""

from __future__ import annotations

import os
import signal

import pytest

from tests.crash.conftest import CrashHarness, Daemon, alive, check_no_overlap, check_try_history

PIPELINE = """
with DAG("pipeline", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):

    @task
    @tracked
    def extract():
        nap(0.3)
        return [1, 2, 3, 4]

    @task
    @tracked
    def process(item):
        nap(0.6)
        return item * 10

    @task
    @tracked
    def load(values):
        nap(0.2)
        return sum(values)

    @task
    @tracked
    def step(n):
        nap(3 if n == 1 and try_number() == 1 else 0.5)
        return n

    @task(retries=2, retry_delay=timedelta(seconds=3))
    @tracked
    def flaky():
        nap(0.2)
        if try_number() == 1:
            raise ValueError("flaky fails its first try")
        return "second try"

    @task
    @tracked
    def side(name):
        nap(1)
        return name

    @task
    @tracked
    def final(total, *others):
        return total

    loaded = load(process.expand(item=extract()))
    steps = [step.override(task_id="step_1", retries=1, retry_delay=timedelta(seconds=3))(1)]
    steps += [step.override(task_id=f"step_{n}")(n) for n in range(2, 5)]
    steps[0] >> steps[1] >> steps[2] >> flaky() >> steps[3]
    sides = [side.override(task_id=f"side_{n}")(n) for n in "ab"]
    joined = side.override(task_id="join")("join")
    steps[0] >> sides >> joined
    final(loaded, steps[3], joined)
"""

ALL_TASKS = {
    "extract",
    *(f"process[{i}]" for i in range(4)),
    "load",
    *(f"step_{n}" for n in range(1, 5)),
    "flaky",
    "side_a",
    "side_b",
    "join",
    "final",
}


#: A dead scheduler's queued work is given back once its heartbeat is this old (the default, 30 s,
#: would be most of each test's time).
TAKE_OVER_SOON = {"DAGFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "3"}


def in_state(crash: CrashHarness, state: str) -> list[str]:
    return [label for label, s in crash.states("pipeline").items() if s == state]


def running_in(crash: CrashHarness, daemon: Daemon) -> dict[str, int]:
    """Task instances whose code runs right now in one of ``daemon``'s workers, with their pids."""
    workers = set(daemon.members())
    lines = crash.journal_lines()
    ended = {(line.label, line.try_number) for line in lines if line.kind == "end"}
    return {
        line.label: line.pid
        for line in lines
        if line.kind == "start" and line.pid in workers and (line.label, line.try_number) not in ended
    }


def started_in(crash: CrashHarness, daemon: Daemon) -> dict[str, int]:
    """Task instances whose code started in one of ``daemon``'s workers, ended or not, with their pids."""
    workers = set(daemon.members())
    return {
        line.label: line.pid for line in crash.journal_lines() if line.kind == "start" and line.pid in workers
    }


def test_a_scheduler_killed_at_any_moment_and_restarted_completes_the_run(crash: CrashHarness) -> None:
    crash.write_dag("pipeline.py", PIPELINE)
    crash.register()
    killed: list[Daemon] = []

    daemon = crash.start(2, **TAKE_OVER_SOON)
    crash.wait_for("the first scheduler to be up", lambda: crash.jobs(), 30)
    crash.trigger("pipeline")
    daemon.kill()  # right after the trigger
    killed.append(daemon)

    daemon = crash.start(2, **TAKE_OVER_SOON)
    # its workers held still, so that what it queues is still queued, not started, when it is killed
    # (a worker starts nothing its dead scheduler handed over: woken, they exit)
    held = crash.wait_for(
        "its two workers", lambda: p if len(p := crash.worker_pids(daemon)) == 2 else None, 30
    )
    for pid in held:
        os.kill(pid, signal.SIGSTOP)
    crash.wait_for("task instances to be queued", lambda: in_state(crash, "queued"), 30)
    daemon.kill()
    killed.append(daemon)
    for pid in held:
        os.kill(pid, signal.SIGCONT)

    daemon = crash.start(2, **TAKE_OVER_SOON)
    # extract (0.3 s) may have ended between two looks under load; step_1 runs 3 s
    running, started = crash.wait_for(
        "extract to have run and step_1 to run in the scheduler's workers",
        lambda: (
            (now, ever)
            if "step_1" in (now := running_in(crash, daemon))
            and "extract" in (ever := started_in(crash, daemon))
            else None
        ),
        45,
    )
    silent = running["step_1"]
    crash.freeze_worker(silent, "pipeline", "step_1")
    daemon.kill()
    killed.append(daemon)

    daemon = crash.start(2, **TAKE_OVER_SOON)
    try:
        crash.wait_for(
            "the silent orphan's try to be given up", lambda: crash.tries("pipeline").get("step_1"), 30
        )
        assert alive(silent), "a scheduler killed a worker that was not its own"
    finally:
        os.kill(silent, signal.SIGCONT)
    crash.wait_for("the woken orphan to stop and exit", lambda: not alive(silent), 20)
    crash.wait_for("flaky's retry to be pending", lambda: "flaky" in in_state(crash, "up_for_retry"), 60)
    daemon.kill()
    killed.append(daemon)

    crash.start(2, **TAKE_OVER_SOON)
    assert crash.wait_for_run("pipeline", timeout=90) == "success"

    states = crash.states("pipeline")
    assert set(states) == ALL_TASKS
    assert set(states.values()) == {"success"}
    check_try_history(crash, "pipeline")
    check_no_overlap(crash, "pipeline")
    tries = crash.tries("pipeline")
    assert [r.state for r in tries["flaky"]] == ["up_for_retry", "success"]
    assert "flaky fails its first try" in (tries["flaky"][0].error or "")
    assert [r.state for r in tries["extract"]] == ["success"]  # finished by its orphaned worker
    assert tries["extract"][0].pid == started["extract"]
    assert [r.state for r in tries["step_1"]] == ["up_for_retry", "success"]  # given up, then retried
    assert "heartbeat" in (tries["step_1"][0].error or "")
    # Woken, the orphan either finishes its task or is stopped by its own heartbeat check first (it is
    # not its try any more); either way its outcome is not the one recorded.
    orphan_lines = [line.kind for line in crash.journal_lines() if line.pid == silent]
    assert orphan_lines in (["start"], ["start", "end"])
    assert all(r.pid != silent for r in tries["step_1"][1:]), "the orphan's late outcome was recorded"
    for label, rows in tries.items():  # a try lost with its scheduler was given up, with the reason
        assert rows[-1].state == "success"
        assert all(r.state == "up_for_retry" and r.error for r in rows[:-1]), label
    journalled = {(line.label, line.try_number) for line in crash.journal_lines() if line.kind == "start"}
    recorded = {(label, r.try_number) for label, rows in tries.items() for r in rows}
    assert journalled <= recorded, "a try ran and was never recorded"

    # the orphaned workers finished their tries and left; the run could not have completed without
    # the queued work of the second scheduler reset, which closed the first two schedulers' jobs
    crash.wait_for("orphaned workers to exit", lambda: not any(d.members() for d in killed), 30)
    assert [job.state for job in crash.jobs()[:2]] == ["failed", "failed"]


def running_anywhere(crash: CrashHarness) -> set[str]:
    """Task instances whose code runs right now, in whatever process."""
    lines = crash.journal_lines()
    ended = {(line.label, line.try_number) for line in lines if line.kind == "end"}
    return {
        line.label for line in lines if line.kind == "start" and (line.label, line.try_number) not in ended
    }


@pytest.mark.parametrize("crash_executor", ["redis", "rabbitmq"], indirect=True)
def test_a_scheduler_killed_at_any_moment_on_celery_completes_the_run(
    crash: CrashHarness, crash_executor: str
) -> None:
    crash.write_dag("pipeline.py", PIPELINE)
    crash.register()

    daemon = crash.start(2, **TAKE_OVER_SOON)
    crash.wait_for("the first scheduler to be up", lambda: crash.jobs(), 30)
    crash.trigger("pipeline")
    daemon.kill()  # right after the trigger

    daemon = crash.start(2, **TAKE_OVER_SOON)
    crash.wait_for("task instances to be queued", lambda: in_state(crash, "queued"), 30)
    daemon.kill()

    daemon = crash.start(2, **TAKE_OVER_SOON)
    crash.wait_for("step_1 to run on the worker", lambda: "step_1" in running_anywhere(crash), 45)
    daemon.kill()  # step_1's first try runs on: the Celery worker is not the scheduler's

    daemon = crash.start(2, **TAKE_OVER_SOON)
    crash.wait_for("flaky's retry to be pending", lambda: "flaky" in in_state(crash, "up_for_retry"), 60)
    daemon.kill()

    crash.start(2, **TAKE_OVER_SOON)
    assert crash.wait_for_run("pipeline", timeout=90) == "success"

    states = crash.states("pipeline")
    assert set(states) == ALL_TASKS
    assert set(states.values()) == {"success"}
    check_try_history(crash, "pipeline")
    check_no_overlap(crash, "pipeline")
    crash.check_ran_on_its_executor("pipeline")
    tries = crash.tries("pipeline")
    assert [r.state for r in tries["flaky"]] == ["up_for_retry", "success"]
    for label, rows in tries.items():  # nothing was lost with a scheduler: one try each but flaky
        if label != "flaky":
            assert [r.state for r in rows] == ["success"], label
    journalled = [(line.label, line.try_number) for line in crash.journal_lines() if line.kind == "start"]
    assert sorted(journalled) == sorted((label, r.try_number) for label, rows in tries.items() for r in rows)
