"""The row locks several schedulers on one PostgreSQL share the work with (SQLite has one writer).

Two transactions stand for two schedulers: what one holds, the other passes over (``SKIP LOCKED``)
or, for the pools around queueing, waits for, and then counts what the first one wrote.
"""

from __future__ import annotations

import select
import threading
import time
from datetime import UTC, datetime

import pytest

from dagflow.core.keys import RunKey
from dagflow.core.states import TaskState
from dagflow.store import ownership, scheduling
from dagflow.store.engine import Database
from dagflow.store.models import DagRow, DagRunRow, PoolRow, TaskInstanceRow
from dagflow.store.notify import listen, wake_after_commit
from dagflow.store.ownership import RunOwnership

WHEN = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture
def postgres(database: Database) -> Database:
    if database.is_sqlite:
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
    with database.session(write=True) as session:
        for dag_id in ("one", "two"):
            session.add(DagRow(dag_id=dag_id, fileloc=f"/dags/{dag_id}.py", is_paused=False, is_active=True))
        if session.get(PoolRow, "default_pool") is None:
            session.add(PoolRow(name="default_pool", slots=128))
        session.flush()
        for dag_id in ("one", "two"):
            session.add(
                DagRunRow(
                    dag_id=dag_id, run_id="r", run_after=WHEN, run_type="manual", state="running", conf={}
                )
            )
    return database


def test_a_run_another_scheduler_holds_is_passed_over(postgres: Database):
    both = {RunKey("one", "r"), RunKey("two", "r")}
    with postgres.session(write=True) as first:
        assert scheduling.lock_runs(first, [RunKey("one", "r")]) == {RunKey("one", "r")}
        with postgres.session(write=True) as second:
            assert scheduling.lock_runs(second, both) == {RunKey("two", "r")}
    with postgres.session(write=True) as third:  # the first committed: its run is free again
        assert scheduling.lock_runs(third, both) == both


def test_a_run_another_scheduler_compensates_is_passed_over_and_ends_once(postgres: Database):
    from dagflow.core.saga import RunCompensation
    from dagflow.store import compensations as comp_store

    with postgres.session(write=True) as session:
        for run in session.query(DagRunRow):
            run.state, run.compensation_state = "failed", RunCompensation.COMPENSATING.value
    with postgres.session(write=True) as first:
        held = comp_store.compensating_runs(first, limit=1, lock=True)
        assert [run.dag_id for run in held] == ["one"]
        with postgres.session(write=True) as second:
            assert [run.dag_id for run in comp_store.compensating_runs(second, lock=True)] == ["two"]
        assert comp_store.end_run_compensation(first, RunKey("one", "r"), RunCompensation.COMPENSATED)
    with postgres.session(write=True) as late:  # a scheduler that read the run before the end
        assert not comp_store.end_run_compensation(late, RunKey("one", "r"), RunCompensation.COMPENSATED)
        assert [run.dag_id for run in comp_store.compensating_runs(late, lock=True)] == ["two"]


def test_a_dag_another_scheduler_creates_runs_of_is_passed_over(postgres: Database):
    with postgres.session(write=True) as first:
        assert [row.dag_id for row in scheduling.schedulable_dag_rows(first, ["one"])] == ["one"]
        with postgres.session(write=True) as second:
            assert [row.dag_id for row in scheduling.schedulable_dag_rows(second, ["one", "two"])] == ["two"]
            assert scheduling.lock_dags(second, ["one", "two"]) == {"two"}


def test_queueing_waits_for_another_schedulers_queueing_and_then_counts_it(postgres: Database):
    """The critical section: the second scheduler's count of what is busy includes the first's queueing."""
    counted: list[int] = []
    entered = threading.Event()

    def second_scheduler() -> None:
        with postgres.session(write=True) as session:
            entered.set()
            scheduling.lock_pools(session)
            counted.append(scheduling.busy(session).total)

    with postgres.session(write=True) as first:
        scheduling.lock_pools(first)
        waiter = threading.Thread(target=second_scheduler)
        waiter.start()
        entered.wait(5)
        time.sleep(0.3)
        assert counted == [], "the second scheduler counted while the first was queueing"
        first.add(
            TaskInstanceRow(
                dag_id="one",
                run_id="r",
                task_id="t",
                map_index=-1,
                state=TaskState.QUEUED.value,
                try_number=1,
            )
        )
    waiter.join(5)
    assert counted == [1]


def handed_out(database: Database, *by: tuple[str, int | None]) -> None:
    """Task instances ``t0``, ``t1``... of run ``one/r``, each in a state, queued by a scheduler's job."""
    with database.session(write=True) as session:
        for n, (state, job_id) in enumerate(by):
            session.add(
                TaskInstanceRow(
                    dag_id="one",
                    run_id="r",
                    task_id=f"t{n}",
                    map_index=-1,
                    state=state,
                    try_number=1,
                    queued_by_job_id=job_id,
                )
            )


def test_parallelism_counts_only_what_this_scheduler_queued(postgres: Database):
    handed_out(postgres, *[(TaskState.RUNNING.value, job_id) for job_id in (1, 1, 2)])
    with postgres.session() as session:
        assert scheduling.busy(session, job_id=1).total == 2
        assert scheduling.busy(session, job_id=2).total == 1
        everywhere = scheduling.busy(session)
    assert everywhere.total == 3 and everywhere.by_dag["one"] == 3


def test_a_run_taken_over_names_the_schedulers_whose_attempts_of_it_are_still_out(postgres: Database):
    handed_out(postgres, ("running", 1), ("queued", 2), ("success", 3), ("running", 4), ("scheduled", None))
    run = RunKey("one", "r")
    with postgres.reading() as session:
        assert scheduling.handed_out_by_others(session, [run], job_id=4) == {1, 2}
        assert scheduling.handed_out_by_others(session, [RunKey("two", "r")], job_id=4) == set()
        assert scheduling.handed_out_by_others(session, [], job_id=4) == set()


def test_a_run_is_decided_by_the_scheduler_that_owns_it_until_that_one_is_gone(postgres: Database):
    one, two = RunKey("one", "r"), RunKey("two", "r")
    first, second = RunOwnership(postgres), RunOwnership(postgres)
    try:
        assert first.claim([one]) == {one}
        assert second.claim([one, two]) == {two}
        assert first.claim([one, two]) == {one}, "a run owned by another is passed over"
        first.close()  # a scheduler gone: its connection, and its runs' locks, with it
        assert second.claim([one, two]) == {one, two}
        second.release([one])
        third = RunOwnership(postgres)
        assert third.claim([one, two]) == {one}
        third.close()
    finally:
        first.close()
        second.close()


def test_schedulers_sharing_runs_take_their_share_and_one_left_over_is_taken_once_overdue(
    postgres: Database, monkeypatch: pytest.MonkeyPatch
):
    runs = [RunKey("one", f"r{n}") for n in range(6)]
    first, second = RunOwnership(postgres, seed=1), RunOwnership(postgres, seed=2)
    try:
        mine = first.claim(runs, limit=3)
        assert len(mine) == 3 and first.left.keys() == set(runs) - mine
        theirs = second.claim(runs, limit=3)
        assert theirs == set(runs) - mine, "the second scheduler takes what the first left"
        assert first.claim(runs, limit=0) == mine and not first.left, "the other's runs are not left"

        more = [RunKey("two", f"r{n}") for n in range(2)]
        assert first.claim(runs + more, limit=0) == mine and first.left.keys() == set(more)
        assert first.claim(runs + more, limit=0) == mine, "left for the others a while"
        monkeypatch.setattr(ownership, "LEAVE_FOR", 0.0)
        assert first.claim(runs + more, limit=0) == mine | set(more), "nobody took these: taken anyway"
        assert not first.left
    finally:
        first.close()
        second.close()


def test_schedulers_try_different_runs_first():
    runs = [RunKey("one", f"r{n}") for n in range(20)]
    orders = [sorted(runs, key=RunOwnership(Database("sqlite://"), seed=seed).order)[:5] for seed in (1, 2)]
    assert orders[0] != orders[1]


def test_a_commit_that_wakes_the_schedulers_wakes_every_one_of_them(postgres: Database):
    listeners = [listen(postgres.url) for _ in range(3)]
    try:
        with postgres.session(write=True) as session:
            session.add(PoolRow(name="wakes", slots=1))
            wake_after_commit(session)
        for listener in listeners:
            ready, _, _ = select.select([listener], [], [], 5)
            assert ready and listener.drain().changes >= 1
    finally:
        for listener in listeners:
            listener.close()
