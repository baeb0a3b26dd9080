"""What a worker's writes cost on PostgreSQL, counted in round trips to the server (libpq's trace of
the protocol messages the worker's connection sends): every round trip is a wait for the server, and
the server's answer a wake-up of the worker."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from psycopg import pq
from sqlalchemy import text

from dagflow.core.states import TaskState
from dagflow.executors.base import EventKind, ExecutorEvent
from dagflow.executors.worker import Started, Worker
from dagflow.store.attempts import kept_connection, written_at_once
from dagflow.store.engine import Database
from tests.executors.conftest import QueuedWork


class Trace:
    def __init__(self, lines: list[str]):
        self.lines = lines

    def round_trips(self) -> int:
        """Each Sync (extended protocol) or Query (simple protocol) the client sent waits for one
        ReadyForQuery: one round trip."""
        return sum(
            1
            for line in self.lines
            if line.split("\t")[:1] == ["F"] and line.split("\t")[2] in ("Sync", "Query")
        )

    def statements(self) -> list[str]:
        return [line.split('"')[3] for line in self.lines if "\tParse\t" in line and line.startswith("F")]


@contextlib.contextmanager
def traced(worker: Worker) -> Iterator[Trace]:
    # the connection the worker keeps for its claims and outcomes (made by its first claim)
    assert worker._connection is not None
    driver: Any = worker._connection.connection.driver_connection
    trace = Trace([])
    with tempfile.TemporaryFile("w+") as sink:
        driver.pgconn.trace(sink.fileno())
        driver.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield trace
        finally:
            driver.pgconn.untrace()
            sink.seek(0)
            trace.lines = sink.read().splitlines()


@pytest.fixture
def postgres(database: Database) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("round trips to a PostgreSQL server")


def finish_traced(queued: QueuedWork, *, wake_scheduler: bool) -> tuple[Trace, ExecutorEvent, Any]:
    """``noop_0`` run by a worker, its outcome recorded with ``noop_1`` claimed, that last step traced."""
    first, second = queued.workloads(["noop_0", "noop_1"])
    worker = Worker(replace(queued.worker_settings, wake_scheduler=wake_scheduler))
    try:
        started = worker.start(first)
        assert isinstance(started, Started)
        ended = worker.attempt(started)
        with traced(worker) as trace:
            event, upcoming = worker.finish(ended, second)
    finally:
        worker.close()
    return trace, event, upcoming


def test_an_outcome_the_schedulers_wake_up_the_next_claim_and_the_commit_are_one_round_trip(
    postgres: None, queued: QueuedWork
):
    trace, event, upcoming = finish_traced(queued, wake_scheduler=True)
    assert trace.round_trips() == 1, "\n".join(trace.lines)
    sent = trace.statements()
    # the wake-up is a transaction of its own after the commit, in the same round trip: inside the
    # transaction it would hold the server's notify lock while the commit is written to disk
    assert sent[0] == "BEGIN" and sent[-2:] == ["COMMIT", "NOTIFY dagflow_scheduler, 'outcome'"]
    assert [s for s in sent if s.startswith("NOTIFY")] == [sent[-1]]
    # and it did all it should: the outcome recorded, the next try claimed, both durable
    assert (event.kind, event.state) == (EventKind.FINISHED, TaskState.SUCCESS)
    assert isinstance(upcoming, Started) and upcoming.claim.try_number == 1
    assert queued.state("noop_0") == "success"
    assert queued.state("noop_1") == "running"


def test_an_outcome_and_the_next_claim_of_a_local_worker_are_two_statements_in_one_round_trip(
    postgres: None, queued: QueuedWork
):
    # a local worker: its scheduler hears from it by pipe
    trace, event, upcoming = finish_traced(queued, wake_scheduler=False)
    assert trace.round_trips() == 1, "\n".join(trace.lines)
    # the outcome (the row, earlier XComs, the try's history) is one statement, the claim another,
    # one transaction without BEGIN and COMMIT (committed at the pipeline's sync)
    sent = trace.statements()
    assert len(sent) == 2 and sent[0].startswith("WITH finished AS") and sent[1].startswith("UPDATE"), sent
    assert (event.kind, event.state) == (EventKind.FINISHED, TaskState.SUCCESS)
    assert isinstance(upcoming, Started)
    assert queued.state("noop_0") == "success"
    assert queued.tries("noop_0") == [(1, "success")]
    assert queued.state("noop_1") == "running"


def test_a_claim_on_its_own_is_one_statement_in_one_round_trip(postgres: None, queued: QueuedWork):
    first, second = queued.workloads(["noop_0", "noop_1"])
    worker = Worker(queued.worker_settings)
    try:
        worker.start(first)
        with traced(worker) as trace:
            started = worker.start(second)
    finally:
        worker.close()
    assert isinstance(started, Started)
    assert trace.round_trips() == 1, "\n".join(trace.lines)
    assert [s.split()[0] for s in trace.statements()] == ["UPDATE"]
    assert queued.state("noop_1") == "running"


def test_statements_sent_without_begin_are_one_transaction_that_a_failure_rolls_back(
    postgres: None, database: Database
):
    connection = kept_connection(database.connect(write=True))
    with database.session() as session:
        session.execute(text("CREATE TABLE implicit_check (n integer)"))
    try:
        with (
            contextlib.suppress(psycopg.errors.DivisionByZero),
            written_at_once(connection, implicit=True),
        ):
            driver: Any = connection.connection.driver_connection
            driver.execute("INSERT INTO implicit_check VALUES (1)")
            driver.execute("SELECT 1 / 0")
        with written_at_once(connection, implicit=True):
            driver.execute("INSERT INTO implicit_check VALUES (2)")
        with database.session() as session:
            kept = session.execute(text("SELECT n FROM implicit_check")).scalars().all()
    finally:
        connection.close()
        with database.session() as session:
            session.execute(text("DROP TABLE implicit_check"))
    assert kept == [2]


def test_an_outcome_whose_task_instance_changed_meanwhile_is_discarded_and_the_next_claim_still_holds(
    postgres: None, queued: QueuedWork
):
    first, second = queued.workloads(["noop_0", "noop_1"])
    worker = Worker(queued.worker_settings)
    try:
        started = worker.start(first)
        assert isinstance(started, Started)
        ended = worker.attempt(started)
        queued.workloads(["noop_0"])  # queued again with a new token while it ran (a clear, say)
        event, upcoming = worker.finish(ended, second)
    finally:
        worker.close()
    assert event.kind is EventKind.REJECTED
    assert queued.state("noop_0") == "queued"
    assert isinstance(upcoming, Started)
    assert queued.state("noop_1") == "running"


def test_a_worker_whose_connection_the_server_dropped_claims_its_next_try_on_a_new_one(
    postgres: None, queued: QueuedWork
):
    first, second, third = queued.workloads(["noop_0", "noop_1", "noop_2"])
    worker = Worker(queued.worker_settings)
    try:
        worker.start(first)
        assert worker._connection is not None
        backend: Any = worker._connection.connection.driver_connection
        with queued.db.session() as session:  # as a server restart or an administrator would
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend.info.backend_pid})
        with pytest.raises(psycopg.OperationalError):  # lost with the connection: retried later
            worker.start(second)
        started = worker.start(third)
    finally:
        worker.close()
    assert isinstance(started, Started)
    assert queued.state("noop_2") == "running"


@pytest.mark.parametrize("fails", [False, True], ids=["committed", "rolled back"])
def test_statements_after_a_commit_are_sent_only_if_it_committed(
    postgres: None, database: Database, fails: bool
):
    listener = psycopg.connect(database.engine.url.set(drivername="postgresql").render_as_string(False))
    listener.autocommit = True
    listener.execute("LISTEN dagflow_after_commit_check")
    connection = kept_connection(database.connect(write=True))
    try:
        with contextlib.suppress(psycopg.errors.DivisionByZero), written_at_once(connection) as afterwards:
            driver: Any = connection.connection.driver_connection
            driver.execute("SELECT 1 / %s", [0 if fails else 1])
            afterwards.append("NOTIFY dagflow_after_commit_check")
        received = [n.channel for n in listener.notifies(timeout=0.5, stop_after=1)]
    finally:
        connection.close()
        listener.close()
    assert received == ([] if fails else ["dagflow_after_commit_check"])
