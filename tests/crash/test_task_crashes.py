"""A task that kills its worker process is recorded with the reason, and the pool carries on.

Each crasher runs in a real worker of a real scheduler daemon: a segfault, ``os._exit``, a leak
past ``[worker] max_memory_mb``, and a try that swallows its ``execution_timeout``. The worker dies
or is killed; the attempt is recorded failed (no retries left) or up_for_retry and then retried,
the worker is replaced, and the other tasks of the run are not disturbed. On the local executor
and on Celery, whose pool processes die the same deaths (there the scheduler finds a dead process's
try by its stopped heartbeat, and Celery replaces the process).
"""

from __future__ import annotations

from tests.crash.conftest import CrashHarness, check_no_overlap, check_try_history

CRASHERS = """
with DAG("crashers", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):

    @task(retries=1, retry_delay=timedelta(seconds=0))
    @tracked
    def segfault():
        if try_number() == 1:
            ctypes.string_at(0)
        return "second try"

    @task(retries=0)
    @tracked
    def exits():
        os._exit(3)

    @task(retries=0)
    @tracked
    def leaks():
        hoard = []
        while True:
            hoard.append(b"x" * (10 << 20))
            time.sleep(0.02)

    @task(retries=1, retry_delay=timedelta(seconds=0), execution_timeout=timedelta(seconds=1))
    @tracked
    def hangs():
        if try_number() == 1:
            while True:
                try:
                    time.sleep(1)
                except BaseException:
                    pass
        return "second try"

    @task
    @tracked
    def independent():
        nap(1)
        return "fine"

    @task
    @tracked
    def after_independent(value):
        return value

    after_independent(independent())
    segfault()
    exits()
    leaks()
    hangs()
"""


def test_crashing_tasks_are_recorded_and_their_workers_replaced(
    crash: CrashHarness, crash_executor: str
) -> None:
    crash.write_dag("crashers.py", CRASHERS)
    crash.register()
    daemon = crash.start(workers=3, DAGFLOW__WORKER__MAX_MEMORY_MB="200")
    crash.trigger("crashers")

    assert crash.wait_for_run("crashers", timeout=90) == "failed"

    states = crash.states("crashers")
    assert states == {
        "segfault": "success",
        "exits": "failed",
        "leaks": "failed",
        "hangs": "success",
        "independent": "success",
        "after_independent": "success",
    }
    tries = crash.tries("crashers")
    errors = {label: [row.error or "" for row in rows] for label, rows in tries.items()}
    assert [row.state for row in tries["segfault"]] == ["up_for_retry", "success"]
    died = {"segfault": "SIGSEGV", "exits": "exited with code 3"}  # what the local executor sees
    if crash.executor != "local":
        died = dict.fromkeys(died, crash.lost_error)
    assert died["segfault"] in errors["segfault"][0]
    assert died["exits"] in errors["exits"][0]
    assert "more than 200 MB of memory" in errors["leaks"][0]
    assert [row.state for row in tries["hangs"]] == ["up_for_retry", "success"]
    assert "execution_timeout" in errors["hangs"][0]
    check_try_history(crash, "crashers")
    check_no_overlap(crash, "crashers")
    crash.check_ran_on_its_executor("crashers")

    crashed = {tries[label][0].pid for label in ("segfault", "exits", "leaks", "hangs")}
    assert daemon.process.poll() is None, "the scheduler died with its workers"
    workers = crash.wait_for(
        "the crashed workers to be replaced",
        lambda: found if len(found := crash.worker_pids(daemon)) == 3 else None,
        30,
    )
    assert not crashed & set(workers)
