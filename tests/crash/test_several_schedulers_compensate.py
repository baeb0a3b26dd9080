"""Two scheduler daemons on one PostgreSQL compensate failed runs: each compensation is handed out
once, runs once, and each run's compensation ends once (its failure callback fires once).

Two real ``scheduler.py`` processes, each with its own ``DAGFLOW_HOME``, work through runs of a saga
whose every compensation appends a line to a file. Some runs' first compensation fails for good,
so their compensation ends ``compensation_failed`` and the DAG's callback (also journalled) runs.
Checked from the store and the file.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from dagflow import actions
from dagflow.store.models import CompensationInstanceRow, CompensationTryRow, DagRunRow
from tests.crash.conftest import CrashHarness

RUNS = 10
#: Runs whose ``first`` compensation fails (no retries): their compensation fails, the callback fires.
FAILING = {"r1", "r4", "r7"}

SAGA = """
from pathlib import Path

from dagflow.operators import PythonOperator

UNDONE = Path({undone!r})


def append(line):
    fd = os.open(str(UNDONE), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\\n").encode())
    finally:
        os.close(fd)


def undo(**context):
    ti, run = context["ti"], context["dag_run"]
    append(f"undo {{run.run_id}} {{ti.task_id}} {{ti.try_number}} {{os.getpid()}}")
    if ti.task_id == "first" and run.conf.get("undo_fails"):
        raise RuntimeError("cannot undo first")


def fired(context):
    append(f"callback {{context['dag_run'].run_id}} - 0 {{os.getpid()}}")


def boom():
    raise RuntimeError("boom")


with DAG(
    "saga", schedule=None, start_date=datetime(2024, 1, 1), on_compensation_failure_callback=fired
):
    first = PythonOperator(task_id="first", python_callable=lambda: 1, compensate=undo)
    second = PythonOperator(task_id="second", python_callable=lambda: 1, compensate=undo)
    third = PythonOperator(task_id="third", python_callable=lambda: 1, compensate=undo)
    first >> second >> third >> PythonOperator(task_id="boom", python_callable=boom)
"""


def _ended(crash: CrashHarness) -> int:
    with crash.store.session() as session:
        states = session.scalars(select(DagRunRow.compensation_state)).all()
    return sum(state in ("compensated", "compensation_failed") for state in states)


def test_two_schedulers_hand_out_each_compensation_once(crash: CrashHarness):
    if crash.database_url.startswith("sqlite"):
        pytest.skip("several schedulers need PostgreSQL")
    undone = crash.tmp_path / "undone.txt"
    crash.write_dag("saga.py", SAGA.format(undone=str(undone)))
    crash.register()
    for n in range(RUNS):
        run_id = f"r{n}"
        with crash.store.session(write=True) as session:
            conf = {"undo_fails": run_id in FAILING}
            actions.trigger_dag(session, "saga", run_id=run_id, conf=conf, owner="test")
    for n in range(2):
        home = crash.tmp_path / f"home-{n}"
        home.mkdir()
        crash.start(
            workers=2,
            DAGFLOW_HOME=str(home),
            DAGFLOW__CORE__PARALLELISM="4",
            # nothing is killed here: a machine busy for seconds must not fail a try or a scheduler
            DAGFLOW__SCHEDULER__TASK_HEARTBEAT_TIMEOUT="60",
            DAGFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD="60",
        )

    crash.wait_for("every run's compensation to end", lambda: _ended(crash) == RUNS, timeout=120)
    crash.wait_for(
        "every failure callback",
        lambda: undone.exists() and undone.read_text().count("callback") >= len(FAILING),
        timeout=30,
    )

    for daemon in crash.daemons:
        assert "scheduler pass failed" not in daemon.log_path.read_text(), daemon.log_tail()
    with crash.store.session() as session:
        runs = {r.run_id: r.compensation_state for r in session.scalars(select(DagRunRow))}
        rows = list(session.scalars(select(CompensationInstanceRow)))
        tries = session.execute(
            select(CompensationTryRow.run_id, CompensationTryRow.task_id, CompensationTryRow.try_number)
        ).all()
    expected_runs = {
        f"r{n}": "compensation_failed" if f"r{n}" in FAILING else "compensated" for n in range(RUNS)
    }
    assert runs == expected_runs
    # compensated in reverse: third, second, then first (the one that fails in some runs, last)
    expected = Counter({(f"r{n}", task): 1 for n in range(RUNS) for task in ("third", "second", "first")})
    assert all(row.try_number == 1 for row in rows), [(r.run_id, r.task_id, r.try_number) for r in rows]
    assert Counter((run_id, task_id) for run_id, task_id, _ in tries) == expected
    lines = [line.split() for line in undone.read_text().splitlines()]
    assert Counter((run_id, task) for kind, run_id, task, *_ in lines if kind == "undo") == expected
    assert Counter(run_id for kind, run_id, *_ in lines if kind == "callback") == Counter(FAILING)
