"""Wake-ups sent by the store after a commit that can unblock the schedulers (``dagflow.store.notify``).

An action asks for a wake-up on its session; the store's write session sends it once the
transaction commits (a datagram on SQLite, ``NOTIFY`` on PostgreSQL) and never for a rollback. A
listener needs only the database's URL, so a CLI with another ``DAGFLOW_HOME`` reaches it too.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dagflow import actions
from dagflow.core.states import RunState, TaskState
from dagflow.store.notify import Listener, Wakeups, listen, wake_after_commit

MANUAL = """
from dagflow import DAG
from dagflow.operators import EmptyOperator

with DAG("manual_only", schedule=None):
    EmptyOperator(task_id="only")
"""

DAILY = """
from datetime import datetime

from dagflow import DAG
from dagflow.operators import EmptyOperator

with DAG("daily", schedule="@daily", start_date=datetime(2024, 1, 1)):
    EmptyOperator(task_id="only")
"""


class RolledBack(Exception):
    """Raised inside a transaction to roll it back."""


@pytest.fixture
def db(store_dags):
    store_dags.write("manual.py", MANUAL)
    store_dags.write("daily.py", DAILY)
    return store_dags.database


@pytest.fixture
def listener(db):
    opened = listen(db.url)
    opened.drain()  # anything sent before the test's own action
    yield opened
    opened.close()


def wake_ups(listener: Listener, timeout: float) -> int:
    """The wake-ups received within ``timeout`` seconds (0 if none came)."""
    ready, _, _ = select.select([listener.fileno()], [], [], timeout)
    return listener.drain().changes if ready else 0


def test_a_trigger_wakes_a_listener_once_after_its_commit(db, listener):
    with db.session(write=True) as session:
        actions.trigger_dag(session, "manual_only", owner="test")
        assert wake_ups(listener, 0.2) == 0, "woken before the commit"
    assert wake_ups(listener, 2.0) == 1


def test_a_trigger_rolled_back_wakes_nobody(db, listener):
    with pytest.raises(RolledBack), db.session(write=True) as session:
        actions.trigger_dag(session, "manual_only", owner="test")
        raise RolledBack
    assert wake_ups(listener, 0.5) == 0


def test_a_refused_action_wakes_nobody(db, listener):
    with pytest.raises(actions.DagflowError), db.session(write=True) as session:
        actions.trigger_dag(session, "manual_only", owner="test", run_id="r1")
        actions.trigger_dag(session, "manual_only", owner="test", run_id="r1")
    assert wake_ups(listener, 0.5) == 0


def test_pausing_wakes_nobody_but_unpausing_does(db, listener):
    with db.session(write=True) as session:
        actions.set_paused(session, "manual_only", True)
    assert wake_ups(listener, 0.3) == 0
    with db.session(write=True) as session:
        actions.set_paused(session, "manual_only", False)
    assert wake_ups(listener, 2.0) == 1


UNBLOCKING: dict[str, Callable[..., object]] = {
    "clear": lambda s: actions.clear_task_instances(s, "manual_only", "r1", ["only"]),
    "mark a task instance": lambda s: actions.set_task_instance_state(
        s, "manual_only", "r1", "only", TaskState.SUCCESS
    ),
    "mark a run": lambda s: actions.set_run_state(s, "manual_only", "r1", RunState.FAILED),
    "delete a run": lambda s: actions.delete_run(s, "manual_only", "r1"),
    "set a pool": lambda s: actions.set_pool(s, "default_pool", 3),
    "backfill": lambda s: actions.backfill(
        s, "daily", start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2024, 1, 2, tzinfo=UTC)
    ),
}


@pytest.mark.parametrize("action", list(UNBLOCKING))
def test_every_unblocking_action_wakes_the_schedulers_after_commit(db, listener, action):
    with db.session(write=True) as session:
        actions.trigger_dag(session, "manual_only", run_id="r1")
    wake_ups(listener, 2.0)
    with db.session(write=True) as session:
        UNBLOCKING[action](session)
    assert wake_ups(listener, 2.0) == 1


def test_the_cli_of_another_home_wakes_a_listener_within_a_second(db, listener, tmp_path):
    other_home = tmp_path / "other_home"
    other_home.mkdir()
    env = {**os.environ, "DAGFLOW_HOME": str(other_home), "DAGFLOW__DATABASE__URL": db.url}
    dagflow = Path(sys.executable).with_name("dagflow")
    done = subprocess.run(
        [str(dagflow), "dags", "trigger", "manual_only", "--run-id", "from_elsewhere"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "from_elsewhere"
    assert wake_ups(listener, 1.0) == 1


def test_an_outcome_wake_up_ends_the_wait_without_asking_to_look_around(db, listener):
    """A worker's outcome wakes the scheduler (its wait ends) but counts as no change of others'."""
    with db.session(write=True) as session:
        wake_after_commit(session, outcome=True)
    ready, _, _ = select.select([listener.fileno()], [], [], 5)
    assert ready, "the outcome's commit did not wake the listener"
    assert listener.drain() == Wakeups(changes=0, outcomes=1)

    with db.session(write=True) as session:  # a change in the same transaction outranks it
        wake_after_commit(session, outcome=True)
        wake_after_commit(session)
    assert wake_ups(listener, 5) == 1


def test_an_outcome_wakes_only_the_scheduler_that_handed_the_attempt_out(db, listener):
    """The others have nothing to do for it: on PostgreSQL it does not even end their wait."""
    if not db.url.startswith("postgresql"):
        pytest.skip("one scheduler per SQLite database: every outcome is its own")
    seven, eight = listen(db.url, scheduler=7), listen(db.url, scheduler=8)
    try:
        with db.session(write=True) as session:
            wake_after_commit(session, outcome=True, scheduler=7)
        ready, _, _ = select.select([seven.fileno()], [], [], 5)
        assert ready, "the outcome's commit did not wake the scheduler that handed the attempt out"
        assert seven.drain() == Wakeups(outcomes=1)
        ready, _, _ = select.select([eight.fileno(), listener.fileno()], [], [], 0.5)
        assert not ready, "another scheduler was woken by an outcome that is not its own"

        with db.session(write=True) as session:  # outcomes of two schedulers' attempts: everyone's
            wake_after_commit(session, outcome=True, scheduler=7)
            wake_after_commit(session, outcome=True, scheduler=9)
        for each in (seven, eight):
            select.select([each.fileno()], [], [], 5)
            assert each.drain() == Wakeups(outcomes=1)

        with db.session(write=True) as session:  # a change wakes every scheduler
            wake_after_commit(session)
        for each in (seven, eight):
            select.select([each.fileno()], [], [], 5)
            assert each.drain() == Wakeups(changes=1)
    finally:
        seven.close()
        eight.close()


def test_a_scheduler_that_took_over_runs_hears_the_outcomes_of_attempts_their_owner_handed_out(db):
    """The attempts a gone scheduler handed out still wake its channel when they end."""
    if not db.url.startswith("postgresql"):
        pytest.skip("one scheduler per SQLite database: every outcome is its own")
    heir = listen(db.url, scheduler=8)
    try:
        heir.follow([7])
        with db.session(write=True) as session:
            wake_after_commit(session, outcome=True, scheduler=7)
        ready, _, _ = select.select([heir.fileno()], [], [], 5)
        assert ready, "the outcome of the gone scheduler's attempt did not wake its heir"
        assert heir.drain() == Wakeups(outcomes=1)
    finally:
        heir.close()
