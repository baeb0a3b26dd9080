"""A task callback caught by a ``kill -9`` of its scheduler and its workers runs again after a restart.

The scheduler ends the try of a worker killed mid-task and hands the task's ``on_retry_callback``
to a worker; while that callback runs, the scheduler and all its workers are SIGKILLed (the machine
is lost). The callback was kept in the store when the try ended (``callback_request``), so the next
scheduler hands it out again and it runs to its end: at least once across a crash, never lost.
"""

from __future__ import annotations

import functools

from sqlalchemy import func, select

from dagflow.store.models import CallbackRequestRow
from tests.crash.conftest import CrashHarness
from tests.crash.test_worker_loss import running_try

SLOW_CALLBACK = """
CALLBACKS = os.path.join(os.path.dirname(JOURNAL), "callbacks.txt")
FIRST_RUN = os.path.join(os.path.dirname(JOURNAL), "first-callback-run")


def record(kind):
    def callback(context):
        ti = context["ti"]
        with open(CALLBACKS, "a") as journal:
            journal.write(f"{kind}-start {ti.try_number} {os.getpid()} {context['exception']}\\n")
        if not os.path.exists(FIRST_RUN):  # the first run is slow: the machine dies during it
            open(FIRST_RUN, "w").close()
            nap(120)
        with open(CALLBACKS, "a") as journal:
            journal.write(f"{kind}-end {ti.try_number} {os.getpid()} {context['exception']}\\n")
    return callback


with DAG("doomed", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):

    @task(retries=1, retry_delay=timedelta(seconds=0), on_retry_callback=record("retry"))
    @tracked
    def doomed():
        if try_number() == 1:
            nap(120)

    doomed()
"""


def _callbacks(crash: CrashHarness) -> list[list[str]]:
    path = crash.tmp_path / "callbacks.txt"
    return [line.split(" ", 3) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_callback_killed_with_its_scheduler_and_workers_runs_again_after_a_restart(
    crash: CrashHarness,
) -> None:
    crash.write_dag("doomed.py", SLOW_CALLBACK)
    crash.register()
    settings = {"DAGFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "2"}
    first = crash.start(workers=2, **settings)
    crash.trigger("doomed")
    pid = crash.wait_for("try 1 running", functools.partial(running_try, crash, 1), 60)
    crash.kill_worker(pid, "doomed", 1)
    crash.wait_for("the retry callback running", lambda: _callbacks(crash) or None, 60)
    assert crash.wait_for_run("doomed", timeout=60) == "success"  # its second try ran meanwhile
    first.kill_group()  # the machine is lost: the scheduler, and the worker running the callback

    crash.start(workers=2, **settings)
    crash.wait_for("the callback run to its end", lambda: len(_callbacks(crash)) >= 3 or None, 60)

    lines = _callbacks(crash)
    assert [line[:2] for line in lines] == [
        ["retry-start", "1"],  # killed with its machine
        ["retry-start", "1"],  # handed out again by the next scheduler
        ["retry-end", "1"],
    ]
    assert lines[0][2] != lines[1][2] == lines[2][2]  # the second run in another (new) worker
    assert all(crash.lost_error in line[3] for line in lines), lines
    # forgotten once it ran (by the worker, just after the callback returned): a next scheduler
    # runs nothing
    crash.wait_for("the callback forgotten in the store", lambda: _kept_callbacks(crash) == 0 or None, 30)


def _kept_callbacks(crash: CrashHarness) -> int:
    with crash.store.session() as session:
        return session.scalar(select(func.count()).select_from(CallbackRequestRow)) or 0
