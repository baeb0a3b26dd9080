"""A worker that is killed, or stops heartbeating, loses its attempt to a retry, never to a double run.

A SIGKILLed worker is noticed at once (the executor reports it ``lost``). A worker that is alive but
silent (SIGSTOPped) is noticed by its stale heartbeat within ``task_heartbeat_timeout``, and its
scheduler kills it before giving its try up, so it can never wake up beside the retry. (A silent
worker no scheduler holds, an orphan, is covered in ``test_scheduler_kill``.) Idle workers killed
take nothing with them. On the local executor and on Celery: there a pool process of the Celery
worker is killed or stopped, its try found by its stopped heartbeat, and a silent one killed by
revoking its message (asynchronously: it dies just after its try is given up, stopped meanwhile).
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
from pathlib import Path

import pytest

from dagflow.runtime.tasklog import attempt_log_path
from tests.crash.conftest import CrashHarness, alive, check_no_overlap, check_try_history

VICTIMS = """
with DAG("victims", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):

    @task(retries=1, retry_delay=timedelta(seconds=0))
    @tracked
    def killed():
        if try_number() == 1:
            nap(120)
        return "second try"

    @task(retries=0)
    @tracked
    def killed_for_good():
        nap(120)

    @task(retries=1, retry_delay=timedelta(seconds=0))
    @tracked
    def frozen():
        if try_number() == 1:
            nap(120)
        return "second try"

    @task
    @tracked
    def independent():
        nap(0.5)

    [killed(), killed_for_good(), frozen()] >> independent()
"""


def running_pids(
    crash: CrashHarness, dag_id: str, labels: list[str], run_id: str = "crash"
) -> dict[str, int]:
    """The worker pid of each of ``labels``, once all of them are running their task's code."""
    started = {line.label for line in crash.journal_lines() if line.kind == "start"}
    rows = crash.task_instances(dag_id, run_id)
    pids = {label: rows[label].pid for label in labels if rows[label].state == "running"}
    if started >= set(labels) and len(pids) == len(labels):
        return {label: pid for label, pid in pids.items() if pid}
    return {}


def test_killed_and_silent_workers_lose_their_attempts(crash: CrashHarness, crash_executor: str) -> None:
    crash.write_dag("victims.py", VICTIMS)
    crash.register()
    daemon = crash.start(workers=3, DAGFLOW__SCHEDULER__TASK_HEARTBEAT_TIMEOUT="3")
    # idle workers killed before any work arrives take nothing with them: they are replaced, and
    # the pool still gets its work (no shared queue whose lock a dead worker could keep)
    idle = crash.wait_for(
        "three idle workers", lambda: p if len(p := crash.worker_pids(daemon)) == 3 else None, 30
    )
    for pid in idle:
        os.kill(pid, signal.SIGKILL)
    crash.trigger("victims")
    labels = ["killed", "killed_for_good", "frozen"]
    pids = crash.wait_for("three tries running", lambda: running_pids(crash, "victims", labels), 60)

    crash.kill_worker(pids["killed"], "killed", 1)
    crash.kill_worker(pids["killed_for_good"], "killed_for_good", 1)
    crash.freeze_worker(pids["frozen"], "victims", "frozen")
    try:
        crash.wait_for(
            "the silent worker's try to be given up", lambda: crash.tries("victims").get("frozen"), 30
        )
        # it was stopped for good before its try was given up (on Celery: its message revoked, and it
        # is killed a moment later, still stopped), so it cannot run on beside the retry
        if crash.executor == "local":
            assert not alive(pids["frozen"])
        else:
            crash.wait_for("the silent worker to be killed", lambda: not alive(pids["frozen"]), 10)
        crash.wait_for("the retry to succeed", lambda: crash.states("victims")["frozen"] == "success", 30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pids["frozen"], signal.SIGCONT)

    assert crash.wait_for_run("victims", timeout=60) == "failed"
    assert crash.states("victims") == {
        "killed": "success",
        "killed_for_good": "failed",
        "frozen": "success",
        "independent": "upstream_failed",
    }
    tries = crash.tries("victims")
    assert [r.state for r in tries["killed"]] == ["up_for_retry", "success"]
    assert crash.lost_error in (tries["killed"][0].error or "")
    assert [r.state for r in tries["killed_for_good"]] == ["failed"]
    assert crash.lost_error in (tries["killed_for_good"][0].error or "")
    assert [r.state for r in tries["frozen"]] == ["up_for_retry", "success"]
    assert "heartbeat" in (tries["frozen"][0].error or "")
    check_try_history(crash, "victims")
    check_no_overlap(crash, "victims")
    crash.check_ran_on_its_executor("victims")


CALLBACKS = """
CALLBACKS = os.path.join(os.path.dirname(JOURNAL), "callbacks.txt")


def record(kind):
    def callback(context):
        ti = context["ti"]
        print(f"{kind} callback of try {ti.try_number}")
        line = f"{kind} {ti.try_number} {ti.state} {os.getpid()} {context['exception']}\\n"
        with open(CALLBACKS, "a") as journal:
            journal.write(line)
    return callback


def broken(context):
    raise ValueError("this callback broke")


with DAG("doomed", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):

    @task(
        retries=1,
        retry_delay=timedelta(seconds=0),
        on_retry_callback=record("retry"),
        on_failure_callback=[broken, record("failure")],
    )
    @tracked
    def doomed():
        nap(120)

    doomed()
"""


def running_try(crash: CrashHarness, try_number: int) -> int | None:
    """The pid of the worker running try ``try_number`` of ``doomed``, once its task code started."""
    started = {line.try_number for line in crash.journal_lines() if line.kind == "start"}
    row = crash.task_instances("doomed").get("doomed")
    if row is None or row.state != "running" or row.try_number != try_number or try_number not in started:
        return None
    return row.pid


def callback_lines(crash: CrashHarness) -> list[list[str]]:
    path = crash.tmp_path / "callbacks.txt"
    return [line.split(" ", 4) for line in path.read_text().splitlines()] if path.exists() else []


# the callbacks do not depend on the broker: Redis stands for Celery (RabbitMQ has the rest of this file)
@pytest.mark.parametrize("crash_executor", ["local", "redis"], indirect=True)
def test_a_killed_workers_try_runs_its_retry_then_its_failure_callback_once(
    crash: CrashHarness, crash_executor: str
) -> None:
    """The scheduler ends the tries of a worker killed mid-task (on the local executor it sees the
    process die; on Celery its heartbeat stop): each runs the task's callback for how it ended, once,
    in a worker: ``on_retry_callback`` while a retry is left, then ``on_failure_callback``, their
    ``exception`` saying why. A callback that fails changes nothing; its error is in the try's log."""
    crash.write_dag("doomed.py", CALLBACKS)
    crash.register()
    daemon = crash.start(workers=2, DAGFLOW__SCHEDULER__TASK_HEARTBEAT_TIMEOUT="3")
    crash.trigger("doomed")
    for try_number in (1, 2):
        pid = crash.wait_for(
            f"try {try_number} running", functools.partial(running_try, crash, try_number), 60
        )
        ran = len(callback_lines(crash))  # (before the kill: its callback may run before kill_worker returns)
        crash.kill_worker(pid, "doomed", try_number)

        def more_callbacks(ran: int = ran) -> bool:
            return len(callback_lines(crash)) > ran

        crash.wait_for(f"try {try_number}'s callback", more_callbacks, 60)

    assert crash.wait_for_run("doomed", timeout=60) == "failed"
    time.sleep(2)  # time enough for a second run of a callback to show
    lines = callback_lines(crash)
    assert [line[:3] for line in lines] == [["retry", "1", "up_for_retry"], ["failure", "2", "failed"]]
    assert all(crash.lost_error in line[4] for line in lines), lines
    # never in the process killed during that try (a worker killed later may have run an earlier
    # try's callback before it took the next try)
    killed = {line.try_number: line.pid for line in crash.journal_lines() if line.kind == "killed"}
    assert all(int(line[3]) != killed[int(line[1])] for line in lines), (lines, killed)
    assert [(r.try_number, r.state) for r in crash.tries("doomed")["doomed"]] == [
        (1, "up_for_retry"),
        (2, "failed"),
    ]
    logs = Path(crash.env["DAGFLOW_HOME"]) / "logs"
    first = attempt_log_path(logs, "doomed", "crash", "doomed", -1, 1).read_text()
    second = attempt_log_path(logs, "doomed", "crash", "doomed", -1, 2).read_text()
    assert "retry callback of try 1" in first and "failure" not in first
    assert "failure callback of try 2" in second and "this callback broke" in second
    assert len(daemon.members()) > 0  # the daemon lived through it all
