"""A compensation's way through the store: queued once, claimed by one worker, recorded once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dagflow import actions
from dagflow.core.keys import TIKey
from dagflow.core.states import TaskState
from dagflow.store import compensations as comp
from dagflow.store.models import CompensationInstanceRow, CompensationTryRow

NOW = datetime(2024, 1, 1, tzinfo=UTC)
DAG = """
from dagflow import DAG
from dagflow.operators import PythonOperator

with DAG("shop", schedule=None):
    PythonOperator(task_id="charge", python_callable=lambda: 1, compensate=lambda: None)
"""


@pytest.fixture
def key(database, dags_folder) -> TIKey:
    from dagflow.scheduler.processor import DagFileProcessor, ProcessorSettings

    dags_folder.write("shop.py", DAG)
    DagFileProcessor(ProcessorSettings(database.url, str(dags_folder.path)), db=database).scan()
    with database.session(write=True) as session:
        run = actions.trigger_dag(session, "shop", owner="test")
        return TIKey("shop", run.run_id, "charge")


def _queue(database, key: TIKey, token: str) -> int:
    with database.session(write=True) as session:
        return len(comp.queue(session, [comp.QueueItem(key, token, 1, 1)], job_id=None, now=NOW))


def test_a_compensation_is_claimed_by_one_worker_only_and_recorded_once(database, key):
    assert _queue(database, key, "a") == 1
    assert _queue(database, key, "b") == 0  # handed out already: not queued again
    with database.session(write=True) as session:
        assert comp.claim(session, key, token="b", hostname="h", pid=1, now=NOW) is None
        assert comp.claim(session, key, token="a", hostname="h", pid=1, now=NOW) == (1, 1)
        assert comp.claim(session, key, token="a", hostname="h", pid=2, now=NOW) is None
        assert comp.heartbeat(session, key, token="a", now=NOW)
        assert not comp.heartbeat(session, key, token="b", now=NOW)
    done = comp.CompensationOutcome(TaskState.SUCCESS, NOW, NOW + timedelta(seconds=1))
    with database.session(write=True) as session:
        assert comp.record(session, key, token="a", outcome=done)
        assert not comp.record(session, key, token="a", outcome=done)
    assert _queue(database, key, "c") == 0  # succeeded: never handed out again for this try
    with database.session() as session:
        tries = list(session.scalars(select(CompensationTryRow)))
    assert [(t.try_number, t.state) for t in tries] == [(1, "success")]


def test_a_try_stopped_by_a_shutdown_does_not_count_against_the_retries(database, key):
    _queue(database, key, "a")
    with database.session(write=True) as session:
        comp.claim(session, key, token="a", hostname="h", pid=1, now=NOW)
        stopped = comp.CompensationOutcome(TaskState.UP_FOR_RETRY, NOW, NOW, not_before=NOW)
        assert comp.record(session, key, token="a", outcome=stopped, given_back=True)
    with database.session() as session:
        row = session.get(CompensationInstanceRow, (*key[:3], -1))
        assert row is not None and (row.state, row.try_number, row.max_tries) == ("up_for_retry", 1, 2)


def test_queued_compensations_of_a_scheduler_that_is_gone_are_given_back(database, key):
    with database.session(write=True) as session:
        comp.queue(session, [comp.QueueItem(key, "a", 1, 0)], job_id=41, now=NOW)
    with database.session(write=True) as session:
        assert comp.give_back_queued(session, not_job_ids=[7], now=NOW) == 1
        assert comp.claim(session, key, token="a", hostname="h", pid=1, now=NOW) is None
    assert _queue(database, key, "b") == 1


def test_an_unclaimed_compensation_is_failed_only_while_still_queued_with_its_token(database, key):
    """With two retries: an unclaimed try counts as a failed one (up for retry, then failed once no
    tries are left), as a lost try does; a try a worker took meanwhile, or another token, is left alone."""
    later = NOW + timedelta(seconds=5)

    def queue(token: str) -> None:
        with database.session(write=True) as session:
            assert comp.queue(session, [comp.QueueItem(key, token, 1, 2)], job_id=None, now=NOW)

    def unclaimed(token: str) -> TaskState | None:
        with database.session(write=True) as session:
            return comp.fail_unclaimed(session, key, token=token, error="nobody", retry_at=later, now=NOW)

    queue("a")
    assert unclaimed("b") is None
    assert unclaimed("a") is TaskState.UP_FOR_RETRY
    assert unclaimed("a") is None
    queue("c")
    with database.session(write=True) as session:
        assert comp.claim(session, key, token="c", hostname="h", pid=1, now=NOW) == (2, 2)
    assert unclaimed("c") is None
    with database.session(write=True) as session:
        assert comp.fail_lost(session, key, token="c", error="lost", retry_at=later, now=NOW)
    queue("d")
    assert unclaimed("d") is TaskState.FAILED
    with database.session() as session:
        row = session.get(CompensationInstanceRow, (*key[:3], -1))
        tries = comp.tries_of(session, key)
    assert row is not None
    assert (row.state, row.try_number, row.attempt_token, row.error) == ("failed", 3, None, "nobody")
    assert [(t.try_number, t.state, t.start_date, t.error) for t in tries] == [
        (1, "up_for_retry", None, "nobody"),
        (2, "up_for_retry", NOW, "lost"),
        (3, "failed", None, "nobody"),
    ]
