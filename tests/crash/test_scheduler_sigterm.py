"""SIGTERM stops the scheduler cleanly: running tries are stopped and recorded, queued ones given back.

A try stopped by a shutdown is in the try history (failed, with a ``stopped`` error) but does not
use up a retry: after a restart the task instance runs again, even with ``retries=0``.

That is the local executor, whose workers are the scheduler's. Celery's workers are not: a scheduler
stopped by SIGTERM leaves the running attempts to them (they finish and are recorded) and gives back
the queued ones (their messages, taken later, are dropped); each try runs once, and a restarted
scheduler finishes the run (``test_sigterm_on_celery_leaves_running_tries_to_the_workers``).
"""

from __future__ import annotations

import pytest

from tests.crash.conftest import CrashHarness, check_no_overlap, check_try_history

TERMINATED = """
with DAG("terminated", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):

    @task(retries=0)
    @tracked
    def long_a():
        if try_number() == 1:
            nap(120)
        return "again"

    @task(retries=1)
    @tracked
    def long_b():
        if try_number() == 1:
            nap(120)
        return "again"

    @task
    @tracked
    def queued_c():
        return "c"

    @task
    @tracked
    def queued_d():
        return "d"

    long_a()
    long_b()
    queued_c()
    queued_d()
"""


def test_sigterm_stops_tries_records_them_and_a_restart_runs_them_again(crash: CrashHarness) -> None:
    crash.write_dag("terminated.py", TERMINATED)
    crash.register()
    daemon = crash.start(workers=2)
    crash.trigger("terminated")

    def busy() -> bool:
        started = {line.label for line in crash.journal_lines() if line.kind == "start"}
        states = crash.states("terminated")
        return started == {"long_a", "long_b"} and states["queued_c"] == states["queued_d"] == "queued"

    crash.wait_for("two long tries running and two queued", busy, 60)
    assert daemon.terminate(timeout=30) == 0
    crash.wait_for("the scheduler's workers to exit", lambda: not daemon.members(), 15)

    job = crash.jobs()[-1]
    assert job.state == "success"
    assert job.detail is not None
    assert sorted(job.detail["stopped_attempts"]) == [
        "terminated.long_a crash try 1",
        "terminated.long_b crash try 1",
    ]
    assert job.detail["requeued"] == 2
    rows = crash.task_instances("terminated")
    assert {label: row.state for label, row in rows.items()} == {
        "long_a": "none",
        "long_b": "none",
        "queued_c": "scheduled",
        "queued_d": "scheduled",
    }
    tries = crash.tries("terminated")
    assert set(tries) == {"long_a", "long_b"}
    for label in ("long_a", "long_b"):
        assert [r.state for r in tries[label]] == ["failed"]
        assert "stopped" in (tries[label][0].error or "")
    started = {line.label for line in crash.journal_lines() if line.kind == "start"}
    assert started == {"long_a", "long_b"}, "a queued try was started during the shutdown"

    crash.start(workers=2)
    assert crash.wait_for_run("terminated", timeout=60) == "success"
    tries = crash.tries("terminated")
    assert [r.state for r in tries["long_a"]] == ["failed", "success"]  # retries=0, yet it ran again
    assert [r.state for r in tries["long_b"]] == ["failed", "success"]
    rows = crash.task_instances("terminated")
    # each stopped try was given back: max_tries is the task's retries plus one
    assert (rows["long_a"].max_tries, rows["long_b"].max_tries) == (0 + 1, 1 + 1)
    check_try_history(crash, "terminated")
    check_no_overlap(crash, "terminated")


LEFT_RUNNING = """
with DAG("left_running", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):

    @task(retries=0)
    @tracked
    def long_a():
        nap(3)

    @task(retries=0)
    @tracked
    def long_b():
        nap(3)

    @task(retries=0)
    @tracked
    def queued_c():
        return "c"

    @task
    @tracked
    def after(*values):
        return "after"

    after(long_a(), long_b(), queued_c())
"""


@pytest.mark.parametrize("crash_executor", ["redis", "rabbitmq"], indirect=True)
def test_sigterm_on_celery_leaves_running_tries_to_the_workers(
    crash: CrashHarness, crash_executor: str
) -> None:
    crash.write_dag("left_running.py", LEFT_RUNNING)
    crash.register()
    daemon = crash.start(workers=2)  # a Celery worker of two processes: queued_c waits at the broker
    crash.trigger("left_running")

    def busy() -> bool:
        started = {line.label for line in crash.journal_lines() if line.kind == "start"}
        return started == {"long_a", "long_b"} and crash.states("left_running")["queued_c"] == "queued"

    crash.wait_for("two long tries running and one queued", busy, 60)
    assert daemon.terminate(timeout=30) == 0
    job = crash.jobs()[-1]
    assert job.state == "success"
    assert job.detail is not None
    assert (job.detail["stopped_attempts"], job.detail["requeued"]) == ([], 1)
    crash.wait_for(
        "the long tries to end on the worker, with no scheduler",
        lambda: (
            crash.states("left_running")
            == {
                "long_a": "success",
                "long_b": "success",
                "queued_c": "scheduled",  # given back
                "after": "none",
            }
        ),
        30,
    )

    crash.start(workers=2)
    assert crash.wait_for_run("left_running", timeout=60) == "success"
    tries = crash.tries("left_running")
    assert {label: [r.state for r in rows] for label, rows in tries.items()} == {
        "long_a": ["success"],
        "long_b": ["success"],
        "queued_c": ["success"],
        "after": ["success"],
    }
    check_try_history(crash, "left_running")
    check_no_overlap(crash, "left_running")
    crash.check_ran_on_its_executor("left_running")
