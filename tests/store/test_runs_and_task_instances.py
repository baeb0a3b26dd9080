"""Runs and task instances in the store: creating runs, applying decisions, queueing, and one attempt's life.

Every change is set-based and guarded by the state it expects; a worker may only record the attempt
it claimed. Each test acts in one transaction and checks in another, on every backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dagflow.core.clock import utcnow
from dagflow.core.decisions import TIRecord
from dagflow.core.keys import RunKey
from dagflow.core.states import RunState, TaskState
from dagflow.serialization import StoredDag
from dagflow.store import attempts, handed_out, scheduling
from dagflow.store import task_instances as tis
from dagflow.store.engine import Database
from dagflow.store.models import DagRow, DagRunRow, TaskInstanceRow, TaskInstanceTryRow, XComRow
from dagflow.store.runs import create_run, set_run_state
from tests.backends import statements_sent
from tests.store.conftest import snapshot

TI = TaskInstanceRow
T0 = datetime(2024, 3, 1, 8, 0, 0, 250000, tzinfo=UTC)
T1 = T0 + timedelta(seconds=1)
T2 = T0 + timedelta(seconds=2)
T3 = T0 + timedelta(seconds=3)
T4 = T0 + timedelta(seconds=4)

PIPELINE = """
from dagflow import DAG, task
from dagflow.operators import BashOperator

with DAG("pipeline", schedule=None):

    @task(retries=2, pool="etl", priority_weight=5, queue="heavy")
    def extract():
        return [1, 2, 3]

    @task
    def load(x):
        return x

    @task
    def report():
        pass

    fan = BashOperator.partial(task_id="fan").expand(bash_command=["echo 1", "echo 2", "echo 3"])
    load.expand(x=extract()) >> report()
"""

MANY = """
from dagflow import DAG
from dagflow.operators import BashOperator

with DAG("many", schedule=None):
    BashOperator.partial(task_id="echo").expand(bash_command=[f"echo {i}" for i in range(1000)])
"""


@dataclass
class Run:
    """One run of a stored DAG, with shortcuts to act on it and read it back."""

    database: Database
    stored: StoredDag
    run_id: str = "r1"

    @property
    def dag_id(self) -> str:
        return self.stored.dag_id

    def key(self, task_id: str, map_index: int = -1) -> tis.TIKey:
        return tis.TIKey(self.dag_id, self.run_id, task_id, map_index)

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self.database.session(write=True) as session:
            yield session

    def row(self, task_id: str, map_index: int = -1) -> TaskInstanceRow:
        with self.database.session() as session:
            row = session.get(TI, (self.dag_id, self.run_id, task_id, map_index))
            assert row is not None, (task_id, map_index)
            return row

    def states(self) -> dict[tuple[str, int], str]:
        return self.column(TI.state)

    def column(self, column: Any) -> dict[tuple[str, int], Any]:
        """One column of every task instance of the run, by (task_id, map_index)."""
        query = select(TI.task_id, TI.map_index, column).where(
            TI.dag_id == self.dag_id, TI.run_id == self.run_id
        )
        with self.database.session() as session:
            return {(t, m): value for t, m, value in session.execute(query)}

    def force(self, task_id: str, map_index: int = -1, **values: Any) -> None:
        """Put a task instance in a given state directly (test set-up, not a store operation)."""
        with self.write() as session:
            session.execute(
                update(TI)
                .where(
                    TI.dag_id == self.dag_id,
                    TI.run_id == self.run_id,
                    TI.task_id == task_id,
                    TI.map_index == map_index,
                )
                .values(**values)
            )

    def hand_out(self, task_id: str, map_index: int = -1, *, token: str = "tok", now: datetime = T1) -> None:
        """Schedule and queue a task instance as the scheduler would."""
        with self.write() as session:
            row = session.get(TI, (self.dag_id, self.run_id, task_id, map_index))
            assert row is not None
            tis.mark_scheduled(
                session, self.dag_id, self.run_id, [((task_id, map_index), TaskState(row.state))], now
            )
            tis.queue(session, [tis.QueueItem(self.key(task_id, map_index), token)], now=now, job_id=1)

    def start(self, task_id: str, map_index: int = -1, *, token: str = "tok", now: datetime = T1) -> Any:
        """Schedule, queue and claim a task instance as the scheduler and a worker would."""
        self.hand_out(task_id, map_index, token=token, now=now)
        with self.write() as session:
            return attempts.claim(
                session, self.key(task_id, map_index), token=token, hostname="w1", pid=42, now=now
            )

    def finish(
        self, task_id: str, outcome: attempts.Outcome, *, token: str = "tok", map_index: int = -1
    ) -> bool:
        with self.write() as session:
            return attempts.record_outcome(
                session, self.key(task_id, map_index), token=token, outcome=outcome, now=outcome.end_date
            )

    def xcoms(self, task_id: str) -> dict[str, str]:
        query = select(XComRow.key, XComRow.value).where(
            XComRow.dag_id == self.dag_id, XComRow.run_id == self.run_id, XComRow.task_id == task_id
        )
        with self.database.session() as session:
            return {key: value for key, value in session.execute(query)}

    def tries(self, task_id: str) -> list[TaskInstanceTryRow]:
        query = (
            select(TaskInstanceTryRow)
            .where(TaskInstanceTryRow.run_id == self.run_id, TaskInstanceTryRow.task_id == task_id)
            .order_by(TaskInstanceTryRow.try_number)
        )
        with self.database.session() as session:
            return list(session.scalars(query))


def new_run(database: Database, stored: StoredDag, run_id: str = "r1", *, now: datetime = T0) -> Run:
    with database.session(write=True) as session:
        create_run(
            session,
            stored,
            run_id=run_id,
            logical_date=now,
            data_interval=(now, now),
            run_after=now,
            run_type="manual",
            conf={"x": 1},
            now=now,
        )
    return Run(database, stored, run_id)


@pytest.fixture
def run(store_dags) -> Run:
    store_dags.write("pipeline.py", PIPELINE)
    return new_run(store_dags.database, store_dags.stored("pipeline"))


def columns(row: Any, names: str) -> tuple[Any, ...]:
    """The values of the space-separated columns ``names`` of ``row``."""
    return tuple(getattr(row, name) for name in names.split())


def ended(state: TaskState, start: datetime = T1, end: datetime = T2, **kwargs: Any) -> attempts.Outcome:
    return attempts.Outcome(state=state, start_date=start, end_date=end, **kwargs)


# -- creating runs -----------------------------------------------------------------------------------


def test_a_new_run_is_queued_with_one_task_instance_per_task_or_per_literal_map_index(run):
    with run.database.session() as session:
        dag_run = session.scalars(select(DagRunRow)).one()
    assert (dag_run.state, dag_run.queued_at, dag_run.conf) == ("queued", T0, {"x": 1})
    assert run.states() == {
        ("extract", -1): "none",
        ("load", -1): "none",  # maps over extract's output: one placeholder until it is known
        ("report", -1): "none",
        ("fan", 0): "none",
        ("fan", 1): "none",
        ("fan", 2): "none",
    }


def test_a_new_task_instance_takes_its_tries_pool_priority_and_queue_from_the_task(run):
    row = run.row("extract")

    assert (row.try_number, row.max_tries) == (0, 2)
    # weight 5, plus one for each of the two tasks downstream (Airflow's default "downstream" weight rule)
    assert (row.pool, row.priority_weight, row.queue, row.pool_slots) == ("etl", 7, "heavy", 1)
    assert row.operator is not None


def test_load_records_gives_every_task_instance_and_changed_records_those_changed_since_a_moment(run):
    with run.write() as session:
        tis.mark_scheduled(session, run.dag_id, run.run_id, [(("extract", -1), TaskState.NONE)], T2)

    with run.database.session() as session:
        every = {r.key: r for r in tis.load_records(session, run.dag_id, run.run_id)}
        changed = tis.changed_records(session, T1)

    assert len(every) == 6
    assert every[("extract", -1)] == TIRecord("extract", -1, TaskState.SCHEDULED, 1, 2, None)
    assert changed == [(run.dag_id, run.run_id, every[("extract", -1)])]


# -- applying decisions --------------------------------------------------------------------------------


def test_apply_new_states_records_states_decided_without_running(run):
    with run.write() as session:
        tis.apply_new_states(
            session,
            run.dag_id,
            run.run_id,
            {("load", -1): TaskState.UPSTREAM_FAILED, ("report", -1): TaskState.UPSTREAM_FAILED},
            T2,
        )

    row = run.row("report")
    assert (row.state, row.start_date, row.end_date, row.updated_at) == ("upstream_failed", T2, T2, T2)
    assert run.states()[("load", -1)] == "upstream_failed"


def test_apply_new_states_leaves_alone_a_task_instance_that_is_no_longer_schedulable(run):
    run.start("extract")  # running meanwhile

    with run.write() as session:
        tis.apply_new_states(
            session,
            run.dag_id,
            run.run_id,
            {("extract", -1): TaskState.SKIPPED, ("report", -1): TaskState.SKIPPED},
            T2,
        )

    assert run.states()[("extract", -1)] == "running"
    assert run.states()[("report", -1)] == "skipped"


def test_mark_scheduled_counts_the_coming_try_except_when_resuming_a_reschedule(run):
    run.force("extract", state="up_for_retry", try_number=1)
    run.force("fan", 0, state="up_for_reschedule", try_number=1)

    with run.write() as session:
        tis.mark_scheduled(
            session,
            run.dag_id,
            run.run_id,
            [
                (("report", -1), TaskState.NONE),
                (("extract", -1), TaskState.UP_FOR_RETRY),
                (("fan", 0), TaskState.UP_FOR_RESCHEDULE),
            ],
            T1,
        )

    keys = [("report", -1), ("extract", -1), ("fan", 0)]
    assert {k: columns(run.row(*k), "state try_number") for k in keys} == {
        ("report", -1): ("scheduled", 1),
        ("extract", -1): ("scheduled", 2),
        ("fan", 0): ("scheduled", 1),
    }


def test_mark_scheduled_leaves_alone_a_task_instance_queued_meanwhile(run):
    run.force("report", state="queued", try_number=1)

    with run.write() as session:
        tis.mark_scheduled(session, run.dag_id, run.run_id, [(("report", -1), TaskState.NONE)], T1)

    assert (run.row("report").state, run.row("report").try_number) == ("queued", 1)


def test_mark_empty_success_succeeds_at_once_counting_one_try(run):
    with run.write() as session:
        tis.mark_empty_success(session, run.dag_id, run.run_id, [("report", -1)], T1)

    row = run.row("report")
    assert columns(row, "state try_number start_date end_date duration") == ("success", 1, T1, T1, 0.0)


# -- queueing ------------------------------------------------------------------------------------------


def test_queue_moves_only_scheduled_task_instances_and_gives_each_its_token(run):
    with run.write() as session:
        tis.mark_scheduled(session, run.dag_id, run.run_id, [(("extract", -1), TaskState.NONE)], T1)
        queued = tis.queue(
            session,
            [tis.QueueItem(run.key("extract"), "tok-e"), tis.QueueItem(run.key("report"), "tok-r")],
            now=T2,
            job_id=7,
        )

    assert queued == 1
    extract, report = run.row("extract"), run.row("report")
    assert (extract.state, extract.attempt_token, extract.queued_at, extract.queued_by_job_id) == (
        "queued",
        "tok-e",
        T2,
        7,
    )
    assert (report.state, report.attempt_token) == ("none", None)


def test_requeue_puts_back_what_a_gone_executor_had_queued(run):
    for task_id, job_id in (("extract", 1), ("report", 2)):
        run.force(
            task_id, state="queued", attempt_token=f"tok-{task_id}", queued_at=T1, queued_by_job_id=job_id
        )

    with run.write() as session:
        moved = tis.requeue(session, not_job_ids=[1], now=T2)

    assert moved == 1
    report = run.row("report")
    assert (report.state, report.attempt_token, report.queued_at) == ("scheduled", None, None)
    assert (run.row("extract").state, run.row("extract").attempt_token) == ("queued", "tok-extract")


def test_requeue_by_key_moves_only_those_task_instances_and_only_if_queued(run):
    run.force("extract", state="queued", attempt_token="a")
    run.force("report", state="queued", attempt_token="b")
    run.force("fan", 0, state="running", attempt_token="c")

    with run.write() as session:
        moved = tis.requeue(session, keys=[run.key("extract"), run.key("fan", 0)], now=T2)

    assert moved == 1
    assert run.states()[("extract", -1)] == "scheduled"
    assert run.states()[("report", -1)] == "queued"
    assert run.states()[("fan", 0)] == "running"


def test_requeue_of_no_keys_moves_nothing(run):
    """A scheduler that stops with nothing of its own unfinished gives back nothing: the task instances
    other schedulers queued (their messages on the way to workers) stay theirs."""
    run.force("extract", state="queued", attempt_token="theirs", queued_by_job_id=2)

    with run.write() as session:
        moved = tis.requeue(session, keys=[], now=T2)

    assert moved == 0
    assert (run.row("extract").state, run.row("extract").attempt_token) == ("queued", "theirs")


def test_requeue_by_scheduler_moves_only_what_that_scheduler_queued(run):
    """A scheduler that stops gives back what it queued and no worker started, never another's."""
    run.force("extract", state="queued", attempt_token="mine", queued_by_job_id=1)
    run.force("report", state="queued", attempt_token="theirs", queued_by_job_id=2)
    run.force("fan", 0, state="running", attempt_token="started", queued_by_job_id=1)

    with run.write() as session:
        moved = tis.requeue(session, job_id=1, now=T2)

    assert moved == 1
    assert run.states()[("extract", -1)] == "scheduled"
    assert (run.row("report").state, run.row("report").attempt_token) == ("queued", "theirs")
    assert run.states()[("fan", 0)] == "running"


def test_scheduled_lists_waiting_task_instances_of_running_runs_of_unpaused_dags_best_first(store_dags, run):
    other = new_run(store_dags.database, run.stored, "r2", now=T1)
    with run.write() as session:
        session.execute(update(DagRunRow).values(state="running"))
        session.execute(update(DagRow).values(is_paused=False))
        for r in (run, other):
            ready = [(("report", -1), TaskState.NONE), (("extract", -1), TaskState.NONE)]
            tis.mark_scheduled(session, r.dag_id, r.run_id, ready, T1)

    with run.database.session() as session:
        found = [(s.key.run_id, s.key.task_id) for s in tis.scheduled(session, limit=10)]
    assert found == [("r1", "extract"), ("r2", "extract"), ("r1", "report"), ("r2", "report")]
    with run.database.session() as session:  # a DAG at its max_active_tasks: none of its rows is read
        assert tis.scheduled(session, limit=10, full_dags=[run.dag_id]) == []
        assert len(tis.scheduled(session, limit=10, full_dags=["another_dag"])) == 4
    with run.database.session() as session:  # the runs one scheduler owns, of several
        mine = tis.scheduled(session, limit=10, runs=[RunKey(other.dag_id, other.run_id)])
        assert [(s.key.run_id, s.key.task_id) for s in mine] == [("r2", "extract"), ("r2", "report")]
        assert tis.scheduled(session, limit=10, runs=[]) == []

    with run.write() as session:
        session.execute(update(DagRow).values(is_paused=True))
    with run.database.session() as session:
        assert tis.scheduled(session, limit=10) == []


def test_the_best_of_several_runs_come_first_whatever_each_has_waiting(store_dags, run):
    """The best of each run, then the best of those: a run with one task instance of a higher
    priority comes before another run's many, and within a priority the older run first."""
    later = new_run(store_dags.database, run.stored, "r2", now=T2)
    with run.write() as session:
        session.execute(update(DagRunRow).values(state="running"))
        session.execute(update(DagRow).values(is_paused=False))
        tis.mark_scheduled(session, run.dag_id, run.run_id, [(("extract", -1), TaskState.NONE)], T1)
        ready = [(("report", -1), TaskState.NONE), (("extract", -1), TaskState.NONE)]
        tis.mark_scheduled(session, later.dag_id, later.run_id, ready, T1)
        session.execute(
            update(TaskInstanceRow)
            .where(TaskInstanceRow.run_id == later.run_id, TaskInstanceRow.task_id == "report")
            .values(priority_weight=100)
        )

    with run.database.session() as session:
        found = [(s.key.run_id, s.key.task_id) for s in tis.scheduled(session, limit=2)]
    assert found == [("r2", "report"), ("r1", "extract")]


# -- one attempt: claim, heartbeat, outcome ------------------------------------------------------------


def test_claim_takes_a_queued_task_instance_with_its_token_and_returns_the_try(run):
    assert run.start("extract", token="right") == (1, 2)

    row = run.row("extract")
    assert columns(row, "state start_date heartbeat_at hostname pid") == ("running", T1, T1, "w1", 42)


def test_claim_refuses_a_wrong_token_and_changes_nothing(run):
    with run.write() as session:
        tis.mark_scheduled(session, run.dag_id, run.run_id, [(("extract", -1), TaskState.NONE)], T1)
        tis.queue(session, [tis.QueueItem(run.key("extract"), "right")], now=T1, job_id=1)
    before = snapshot(run.database)

    with run.write() as session:
        claimed = attempts.claim(session, run.key("extract"), token="wrong", hostname="w", pid=1, now=T2)

    assert claimed is None
    assert snapshot(run.database) == before


def test_claim_refuses_a_task_instance_that_is_not_queued(run):
    run.start("extract", token="tok")

    with run.write() as session:
        again = attempts.claim(session, run.key("extract"), token="tok", hostname="w2", pid=2, now=T2)

    assert again is None
    assert run.row("extract").hostname == "w1"


def test_heartbeat_is_accepted_only_from_the_running_attempt(run):
    run.start("extract", token="tok")

    with run.write() as session:
        accepted = attempts.heartbeat(session, run.key("extract"), token="tok", now=T2)
        refused = attempts.heartbeat(session, run.key("extract"), token="other", now=T3)

    assert (accepted, refused) == (True, False)
    assert run.row("extract").heartbeat_at == T2


def test_heartbeat_is_refused_once_the_attempt_has_ended(run):
    run.start("extract", token="tok")
    run.finish("extract", ended(TaskState.SUCCESS), token="tok")

    with run.write() as session:
        assert attempts.heartbeat(session, run.key("extract"), token="tok", now=T3) is False


def test_running_attempts_lists_those_whose_heartbeat_is_older_than_a_moment(run):
    run.start("extract", token="tok", now=T1)
    run.start("report", token="tok", now=T3)

    with run.database.session() as session:
        stale = tis.running_attempts(session, heartbeat_before=T2)
        every = tis.running_attempts(session)

    assert [a.key.task_id for a in stale] == ["extract"]
    assert {a.key.task_id for a in every} == {"extract", "report"}


def test_record_outcome_writes_the_state_times_xcoms_and_one_try_row(run, tmp_path):
    run.start("extract")
    log = str(tmp_path / "attempt=1.log")

    recorded = run.finish(
        "extract",
        ended(TaskState.SUCCESS, xcoms=[("return_value", "[1, 2, 3]")], log_path=log, map_length=3),
    )

    assert recorded is True
    row = run.row("extract")
    assert columns(row, "state start_date end_date duration map_length") == ("success", T1, T2, 1.0, 3)
    assert row.heartbeat_at is None
    assert run.xcoms("extract") == {"return_value": "[1, 2, 3]"}
    [tried] = run.tries("extract")
    assert (tried.try_number, tried.state, tried.start_date, tried.end_date) == (1, "success", T1, T2)
    assert (tried.queued_at, tried.hostname, tried.pid, tried.log_path) == (T1, "w1", 42, log)


def test_a_new_try_replaces_the_xcoms_of_the_one_before_and_adds_a_try_row(run):
    run.start("extract", token="first")
    run.finish(
        "extract",
        ended(TaskState.UP_FOR_RETRY, xcoms=[("a", '"old"'), ("b", '"old"')], error="boom", not_before=T3),
        token="first",
    )
    assert run.row("extract").not_before == T3

    assert run.start("extract", token="second", now=T3) == (2, 2)
    run.finish("extract", ended(TaskState.SUCCESS, T3, T4, xcoms=[("a", '"new"')]), token="second")

    assert run.xcoms("extract") == {"a": '"new"'}
    assert [(t.try_number, t.state, t.error) for t in run.tries("extract")] == [
        (1, "up_for_retry", "boom"),
        (2, "success", None),
    ]


def test_a_try_that_ends_twice_keeps_one_history_row_with_its_first_start(run):
    """A rescheduled sensor ends its try twice: the history row is updated, its first start kept."""
    run.start("extract", now=T1)
    run.finish("extract", ended(TaskState.UP_FOR_RESCHEDULE, T1, T2, not_before=T3))

    assert run.start("extract", token="again", now=T3) == (1, 2)  # the same try continues
    run.finish("extract", ended(TaskState.SUCCESS, T3, T4), token="again")

    [tried] = run.tries("extract")
    assert (tried.try_number, tried.state, tried.start_date, tried.end_date) == (1, "success", T1, T4)


def test_record_outcome_skips_the_downstream_tasks_it_names_that_have_not_started(run):
    run.start("extract")
    run.start("fan", 0, token="fan")

    run.finish("extract", ended(TaskState.SUCCESS, skip_downstream=["report", "fan"]))

    states = run.states()
    assert states[("report", -1)] == "skipped"
    assert states[("fan", 1)] == "skipped"
    assert states[("fan", 0)] == "running"
    assert states[("load", -1)] == "none"


def test_record_outcome_with_a_skip_map_index_skips_only_that_index(run):
    """A branch in an expanded task group decides for its own index of the group's tasks."""
    run.start("extract")

    run.finish("extract", ended(TaskState.SUCCESS, skip_downstream=["fan"], skip_map_index=1))

    states = run.states()
    assert states[("fan", 1)] == "skipped"
    assert states[("fan", 0)] == "none"


@pytest.mark.parametrize("meanwhile", ["other token", "cleared"])
def test_a_stale_attempt_records_nothing(run, meanwhile):
    run.start("extract", token="old")
    if meanwhile == "cleared":
        run.force("extract", state="none", attempt_token=None)
    else:
        run.force("extract", attempt_token="new")
    before = snapshot(run.database)

    recorded = run.finish(
        "extract",
        ended(TaskState.FAILED, xcoms=[("return_value", "1")], skip_downstream=["report"]),
        token="old",
    )

    assert recorded is False
    assert snapshot(run.database) == before


def test_a_run_started_is_changed_though_none_of_its_task_instances_is(run):
    """Another scheduler may start a run long after it was queued: its row is what changed."""
    since = utcnow()
    with run.write() as session:
        assert scheduling.runs_changed_since(session, since) == set()
        dag_run = session.scalars(select(DagRunRow)).one()
        set_run_state(session, dag_run, RunState.RUNNING, since)
    with run.database.session() as session:
        assert scheduling.runs_changed_since(session, since) == {RunKey(run.dag_id, run.run_id)}


# -- what became of the attempts handed out -------------------------------------------------------------


def test_handed_out_tokens_are_followed_up_by_state_and_a_replaced_token_is_not_found(run):
    run.hand_out("extract", token="queued-one")
    run.start("fan", 0, token="running-one")
    run.start("fan", 1, token="done-one")
    run.finish("fan", ended(TaskState.SUCCESS), token="done-one", map_index=1)
    run.hand_out("fan", 2, token="newer")
    wanted = {
        "queued-one": run.key("extract"),
        "running-one": run.key("fan", 0),
        "done-one": run.key("fan", 1),
        "older": run.key("fan", 2),  # handed out again since, with another token
        "never": run.key("report"),
    }

    with run.database.session() as session:
        states = handed_out.attempt_states(session, wanted)

    assert states == {"queued-one": "queued", "running-one": "running", "done-one": "success"}


# -- an attempt no worker took -------------------------------------------------------------------------


def unclaimed(run: Run, task_id: str, token: str, state: TaskState, *, now: datetime = T2) -> bool:
    not_before = T4 if state is TaskState.UP_FOR_RETRY else None
    with run.write() as session:
        return handed_out.fail_unclaimed(
            session,
            run.key(task_id),
            token=token,
            state=state,
            not_before=not_before,
            error="nobody",
            now=now,
        )


def test_an_unclaimed_try_ends_as_decided_and_is_recorded_never_started(run):
    run.start("extract", token="first", now=T0)
    run.finish("extract", ended(TaskState.UP_FOR_RETRY, T0, T1, not_before=T1), token="first")
    run.hand_out("extract", token="second", now=T1)

    assert unclaimed(run, "extract", "second", TaskState.UP_FOR_RETRY) is True

    row = run.row("extract")
    assert columns(row, "state try_number not_before end_date start_date hostname pid error") == (
        "up_for_retry",
        2,
        T4,
        T2,
        None,  # the first try's start and host are not this try's
        None,
        None,
        "nobody",
    )
    assert [
        columns(t, "try_number state queued_at start_date end_date hostname error")
        for t in run.tries("extract")
    ] == [
        (1, "up_for_retry", T0, T0, T1, "w1", None),
        (2, "up_for_retry", T1, None, T2, None, "nobody"),
    ]


@pytest.mark.parametrize("meanwhile", ["claimed", "other token", "cleared"])
def test_an_unclaimed_try_is_left_alone_unless_still_queued_with_its_token(run, meanwhile):
    if meanwhile == "claimed":
        run.start("extract", token="old")
    else:
        run.hand_out("extract", token="old")
        run.force(
            "extract", **({"attempt_token": "new"} if meanwhile == "other token" else {"state": "none"})
        )
    before = snapshot(run.database)

    assert unclaimed(run, "extract", "old", TaskState.FAILED) is False
    assert snapshot(run.database) == before


def test_a_resumed_try_no_worker_took_keeps_its_first_start_in_the_history(run):
    run.start("extract", now=T1)
    run.finish("extract", ended(TaskState.UP_FOR_RESCHEDULE, T1, T2, not_before=T3))
    run.hand_out("extract", token="again", now=T3)

    assert unclaimed(run, "extract", "again", TaskState.FAILED, now=T4) is True

    [tried] = run.tries("extract")
    assert columns(tried, "try_number state start_date end_date hostname error") == (
        1,
        "failed",
        T1,
        T4,
        "w1",
        "nobody",
    )


# -- mapping and counting ----------------------------------------------------------------------------


def test_expand_mapped_turns_the_placeholder_into_index_0_and_adds_the_others(run):
    run.force("load", note="the placeholder")

    with run.write() as session:
        tis.expand_mapped(session, run.stored.spec, run.dag_id, run.run_id, "load", 3, T2)

    assert sorted(k for k in run.states() if k[0] == "load") == [("load", 0), ("load", 1), ("load", 2)]
    assert run.row("load", 0).note == "the placeholder"
    assert (run.row("load", 2).state, run.row("load", 2).updated_at) == ("none", T2)


def test_expand_mapped_to_fewer_indexes_marks_the_extra_ones_removed(run):
    with run.write() as session:
        tis.expand_mapped(session, run.stored.spec, run.dag_id, run.run_id, "load", 3, T1)
    with run.write() as session:
        tis.expand_mapped(session, run.stored.spec, run.dag_id, run.run_id, "load", 2, T2)

    load = {k[1]: s for k, s in run.states().items() if k[0] == "load"}
    assert load == {0: "none", 1: "none", 2: "removed"}


def test_unfinished_count_counts_what_has_not_reached_a_finished_state(run):
    for task_id, map_index, state in [
        ("extract", -1, "success"),
        ("fan", 0, "skipped"),
        ("fan", 1, "removed"),
        ("fan", 2, "up_for_retry"),
        ("report", -1, "upstream_failed"),
    ]:
        run.force(task_id, map_index, state=state)

    with run.database.session() as session:
        assert tis.unfinished_count(session, run.dag_id, run.run_id) == 2  # fan[2] and load


# -- many rows at once ------------------------------------------------------------------------------------


@pytest.fixture
def many(store_dags) -> Run:
    store_dags.write("many.py", MANY)
    return new_run(store_dags.database, store_dags.stored("many"))


@contextmanager
def counting_updates(database: Database) -> Iterator[list[str]]:
    with statements_sent(database) as sent:
        updates: list[str] = []
        yield updates
    updates.extend(s for s in sent if s.lstrip().upper().startswith("UPDATE"))


def test_a_thousand_task_instances_change_in_a_few_statements(many):
    keys = [("echo", i) for i in range(1000)]
    assert len(many.states()) == 1000

    with counting_updates(many.database) as statements, many.write() as session:
        tis.mark_scheduled(session, many.dag_id, many.run_id, [(k, TaskState.NONE) for k in keys[:500]], T1)
        tis.apply_new_states(session, many.dag_id, many.run_id, dict.fromkeys(keys, TaskState.SKIPPED), T2)

    assert 1 <= len(statements) <= 6  # chunks of a few hundred rows, not one statement per row
    states = many.states()
    assert sum(s == "scheduled" for s in states.values()) == 500
    assert sum(s == "skipped" for s in states.values()) == 500


def test_a_thousand_task_instances_queue_and_requeue_together(many):
    keys = [("echo", i) for i in range(1000)]
    with many.write() as session:
        tis.mark_scheduled(session, many.dag_id, many.run_id, [(k, TaskState.NONE) for k in keys], T1)

    with counting_updates(many.database) as queueing, many.write() as session:
        queued = tis.queue(
            session, [tis.QueueItem(many.key(*k), f"t{k[1]}") for k in keys], now=T2, job_id=None
        )
    tokens = many.column(TI.attempt_token)
    with counting_updates(many.database) as statements, many.write() as session:
        requeued = tis.requeue(session, keys=[many.key(*k) for k in keys], now=T3)

    assert (queued, requeued) == (1000, 1000)
    assert tokens == {k: f"t{k[1]}" for k in keys}
    if not many.database.is_sqlite:  # a server's statement is a round of conversions, planning and I/O
        assert len(queueing) == 1
    assert len(statements) == 1
    assert set(many.states().values()) == {"scheduled"}
