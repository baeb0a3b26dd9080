"""The scheduler compensates failed runs: order, durability in the store, failures, mapped tasks,
task groups, and the same decisions as ``dag.test()``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import select

from dagflow.executors.base import Workload
from dagflow.runtime.compensation import compensation_log_path
from dagflow.store.models import CompensationInstanceRow, CompensationTryRow
from tests.scheduler.conftest import Orchestrator

SAGA = """
from datetime import datetime
from pathlib import Path

from dagflow import DAG, TaskGroup, task
from dagflow.operators import PythonOperator

JOURNAL = Path({journal!r})


def note(text):
    with JOURNAL.open("a") as stream:
        stream.write(text + "\\n")


@task
def reserve(item):
    return item


@reserve.compensation
def release(item, reserved):
    note(f"release {{reserved}}")


@task
def book(seat):
    return seat


@book.compensation
def unbook(seat, booked, ti):
    note(f"unbook {{booked}} {{ti.map_index}}")


@task
def charge(items):
    return 42


@charge.compensation
def refund(items, charged, compensation):
    note(f"refund {{charged}} after {{','.join(compensation['failed_tasks'])}}")


def undo_group(compensation):
    note(f"undo group {{compensation['task_id']}}")


def flaky_undo(ti):
    note(f"flaky try {{ti.try_number}}")
    if ti.try_number < 2:
        raise RuntimeError("not yet")


def ship(dag_run):
    if dag_run.conf.get("fail", True):
        raise RuntimeError("truck broke down")


with DAG("saga", schedule=None, start_date=datetime(2024, 1, 1), default_args={{"retry_delay": 0}}):
    reserved = reserve("apple")
    seats = book.expand(seat=[1, 2])
    with TaskGroup("billing", compensate=undo_group) as billing:
        charged = charge(reserved)
        flaky = PythonOperator(
            task_id="flaky", python_callable=lambda: 1, compensate=flaky_undo, compensation_retries=1
        )
        charged >> flaky
    shipped = PythonOperator(task_id="ship", python_callable=ship)
    [flaky, seats] >> shipped
"""


def _journal(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_a_failed_run_is_compensated_by_the_scheduler_in_reverse_order(orchestrator: Orchestrator, tmp_path):
    journal = tmp_path / "journal.txt"
    orchestrator.write("saga.py", SAGA, journal=str(journal))
    orchestrator.record_dags()
    run_id = orchestrator.trigger("saga")
    orchestrator.run_until_idle()

    run = orchestrator.run("saga", run_id)
    assert run.state == "failed"
    assert run.compensation_state == "compensated"
    lines = _journal(journal)
    assert lines.index("flaky try 2") < lines.index("refund 42 after ship")
    assert (
        lines.index("refund 42 after ship") < lines.index("undo group billing") < lines.index("release apple")
    )
    assert sorted(line for line in lines if line.startswith("unbook")) == ["unbook 1 0", "unbook 2 1"]
    with orchestrator.db.session() as session:
        rows = {(r.task_id, r.map_index): r for r in session.scalars(select(CompensationInstanceRow))}
        tries = list(session.scalars(select(CompensationTryRow).order_by(CompensationTryRow.id)))
    assert {k: r.state for k, r in rows.items()} == {
        ("billing", -1): "success",
        ("billing.charge", -1): "success",
        ("billing.flaky", -1): "success",
        ("book", 0): "success",
        ("book", 1): "success",
        ("reserve", -1): "success",
    }
    assert rows[("billing.flaky", -1)].try_number == 2
    assert [t.state for t in tries if t.task_id == "billing.flaky"] == ["up_for_retry", "success"]
    log = compensation_log_path(orchestrator.settings().log_folder, _key(run_id, "billing.flaky"), 1)
    assert "not yet" in log.read_text()


def test_a_successful_run_is_not_compensated(orchestrator: Orchestrator, tmp_path):
    journal = tmp_path / "journal.txt"
    orchestrator.write("saga.py", SAGA, journal=str(journal))
    orchestrator.record_dags()
    run_id = orchestrator.trigger("saga", conf={"fail": False})
    orchestrator.run_until_idle()
    run = orchestrator.run("saga", run_id)
    assert (run.state, run.compensation_state) == ("success", "none")
    assert _journal(journal) == []


FAILING = """
from datetime import datetime
from pathlib import Path

from dagflow import DAG
from dagflow.operators import PythonOperator

MARK = Path({mark!r})


def undo(name):
    def run():
        MARK.open("a").write(name + "\\n")
        if name == "middle" and not MARK.with_suffix(".fixed").exists():
            raise RuntimeError("cannot undo middle")
    return run


def fired(context):
    MARK.with_suffix(".callback").write_text(",".join(context["compensation"]["failed"]))


def boom():
    raise RuntimeError("boom")


with DAG("failing", schedule=None, start_date=datetime(2024, 1, 1), on_compensation_failure_callback=fired):
    first = PythonOperator(task_id="first", python_callable=lambda: 1, compensate=undo("first"))
    middle = PythonOperator(task_id="middle", python_callable=lambda: 1, compensate=undo("middle"))
    side = PythonOperator(task_id="side", python_callable=lambda: 1, compensate=undo("side"))
    first >> [middle, side]
    middle >> PythonOperator(task_id="last", python_callable=boom)
"""


def test_a_failing_compensation_blocks_its_upstream_until_resumed(orchestrator: Orchestrator, tmp_path):
    from dagflow import actions

    mark = tmp_path / "mark.txt"
    orchestrator.write("failing.py", FAILING, mark=str(mark))
    orchestrator.record_dags()
    run_id = orchestrator.trigger("failing")
    orchestrator.run_until_idle()
    run = orchestrator.run("failing", run_id)
    assert (run.state, run.compensation_state) == ("failed", "compensation_failed")
    assert sorted(_journal(mark)) == ["middle", "side"]
    assert mark.with_suffix(".callback").read_text() == "middle"

    mark.with_suffix(".fixed").write_text("")
    with orchestrator.db.session(write=True) as session:
        actions.compensate_run(session, "failing", run_id, resume=True, owner="test")
    orchestrator.run_until_idle()
    assert orchestrator.run("failing", run_id).compensation_state == "compensated"
    lines = _journal(mark)
    assert sorted(lines[:2]) == ["middle", "side"]
    assert lines[2:] == ["middle", "first"]


def _key(run_id: str, task_id: str, map_index: int = -1):
    from dagflow.core.keys import TIKey

    return TIKey("saga", run_id, task_id, map_index)


def test_a_run_cleared_and_failed_again_compensates_the_new_tries_only(orchestrator: Orchestrator, tmp_path):
    from dagflow import actions

    mark = tmp_path / "mark.txt"
    mark.with_suffix(".fixed").write_text("")
    orchestrator.write("failing.py", FAILING, mark=str(mark))
    orchestrator.record_dags()
    run_id = orchestrator.trigger("failing")
    orchestrator.run_until_idle()
    assert orchestrator.run("failing", run_id).compensation_state == "compensated"
    first_round = sorted(_journal(mark))

    with orchestrator.db.session(write=True) as session:  # only the failed task: the others keep their try
        actions.clear_task_instances(session, "failing", run_id, [], only_failed=True, owner="test")
    assert orchestrator.run("failing", run_id).compensation_state == "none"
    orchestrator.run_until_idle()
    assert orchestrator.run("failing", run_id).compensation_state == "compensated"
    assert sorted(_journal(mark)) == first_round  # nothing undone twice for the same try

    with orchestrator.db.session(write=True) as session:  # every task runs again: a new try to undo
        actions.clear_task_instances(session, "failing", run_id, [], owner="test")
    orchestrator.run_until_idle()
    assert orchestrator.run("failing", run_id).compensation_state == "compensated"
    assert sorted(_journal(mark)) == sorted(first_round * 2)
    with orchestrator.db.session() as session:
        row = session.get(CompensationInstanceRow, ("failing", run_id, "first", -1))
        assert row is not None and (row.forward_try_number, row.try_number) == (2, 2)


def test_the_scheduler_compensates_in_the_order_dag_test_does(orchestrator: Orchestrator, tmp_path):
    from dagflow.dagbag import DagBag

    journal = tmp_path / "journal.txt"
    path = orchestrator.write("saga.py", SAGA, journal=str(journal))
    orchestrator.record_dags()
    run_id = orchestrator.trigger("saga")
    orchestrator.run_until_idle()
    with orchestrator.db.session() as session:
        tries = session.scalars(select(CompensationTryRow).order_by(CompensationTryRow.start_date))
        started = list(dict.fromkeys(_label(t.task_id, t.map_index) for t in tries))
        states = {
            _label(r.task_id, r.map_index): r.state for r in session.scalars(select(CompensationInstanceRow))
        }
    scheduled = orchestrator.run("saga", run_id).compensation_state

    journal.unlink()
    result = DagBag(path).get_dag("saga").test(log_stream=__import__("io").StringIO(), sleep=lambda s: None)
    report = result.report()["compensation"]
    assert report["state"] == scheduled == "compensated"
    assert report["tasks"] == states
    assert report["order"] == started


def _label(task_id: str, map_index: int) -> str:
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def test_a_successful_run_compensated_by_hand_is_undone_whole(orchestrator: Orchestrator, tmp_path):
    from dagflow import actions

    journal = tmp_path / "journal.txt"
    orchestrator.write("saga.py", SAGA, journal=str(journal))
    orchestrator.record_dags()
    run_id = orchestrator.trigger("saga", conf={"fail": False})
    orchestrator.run_until_idle()
    assert _journal(journal) == []
    with orchestrator.db.session(write=True) as session:
        actions.compensate_run(session, "saga", run_id, owner="test")
    orchestrator.run_until_idle()
    run = orchestrator.run("saga", run_id)
    assert (run.state, run.compensation_state) == ("success", "compensated")
    assert "refund 42 after " in _journal(journal)  # no task failed: the list is empty
    assert _journal(journal)[-1] == "release apple"


ROUTED = """
from datetime import datetime
from pathlib import Path

from dagflow import DAG, TaskGroup
from dagflow.operators import PythonOperator

JOURNAL = Path({journal!r})


def undo(ti):
    with JOURNAL.open("a") as stream:
        stream.write(ti.task_id + "\\n")


def ok():
    return 1


def boom():
    raise RuntimeError("the last step fails")


own_queue = PythonOperator(task_id="undo_in_vault", python_callable=undo, queue="vault")
no_queue = PythonOperator(task_id="undo_anywhere", python_callable=undo)

with DAG("routed", schedule=None, start_date=datetime(2024, 1, 1)):
    plain = PythonOperator(task_id="plain", python_callable=ok, compensate=undo)
    special = PythonOperator(task_id="special", python_callable=ok, compensate=undo, queue="special")
    named = PythonOperator(task_id="named", python_callable=ok, compensate=own_queue, queue="special")
    unnamed = PythonOperator(task_id="unnamed", python_callable=ok, compensate=no_queue, queue="special")
    with TaskGroup("same", compensate=undo) as same:
        PythonOperator(task_id="a", python_callable=ok, queue="gpu")
        PythonOperator(task_id="b", python_callable=ok, queue="gpu")
    with TaskGroup("mixed", compensate=undo) as mixed:
        PythonOperator(task_id="a", python_callable=ok, queue="gpu")
        PythonOperator(task_id="b", python_callable=ok)
    [plain, special, named, unnamed, same, mixed] >> PythonOperator(task_id="boom", python_callable=boom)
"""


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_a_compensation_is_sent_to_its_own_queue_else_to_its_tasks(
    orchestrator: Orchestrator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: str
):
    """Only the workers on a task's queue may have what it needs, so its compensation goes there too
    (a task group's: to the queue its tasks share); a compensation operator's own ``queue=`` wins.
    Executors that run everything here (inline, local) ignore the queue and compensate as before."""
    journal = tmp_path / "journal.txt"
    orchestrator.write("routed.py", ROUTED, journal=str(journal))
    orchestrator.record_dags()
    sent: list[Workload] = []
    recording = orchestrator.make_executor(executor)
    submit = recording.submit

    def record(workloads: Sequence[Workload]) -> None:
        sent.extend(workloads)
        submit(workloads)

    monkeypatch.setattr(recording, "submit", record)
    monkeypatch.setattr(orchestrator, "make_executor", lambda *_, **__: recording)
    run_id = orchestrator.trigger("routed")
    orchestrator.run_until_idle()

    run = orchestrator.run("routed", run_id)
    assert (run.state, run.compensation_state) == ("failed", "compensated")
    assert {w.key.task_id: w.queue for w in sent if w.compensation} == {
        "plain": "default",
        "special": "special",
        "named": "vault",
        "unnamed": "special",
        "same": "gpu",
        "mixed": "default",
    }
    assert sorted(_journal(journal)) == ["mixed", "named", "plain", "same", "special", "unnamed"]
