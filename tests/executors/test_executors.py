"""The executor interface, one module run against every executor (``local`` processes, ``inline``).

What the scheduler relies on: a submitted workload comes back as exactly one event, after its worker
recorded the outcome in the store; a workload that is no longer its to run comes back rejected;
``close()`` gives back what never started; ``wait`` returns as soon as there is something to read.
The tests marked local-only are about processes: a worker's death, and killing an attempt.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dagflow.core.clock import utcnow
from dagflow.core.states import TaskState
from dagflow.executors import local as local_module
from dagflow.executors.base import EventKind, Executor, ExecutorEvent
from dagflow.executors.inline import InlineExecutor
from dagflow.executors.local import LocalExecutor
from dagflow.scheduler import liveness
from dagflow.scheduler.dags import DagCache
from tests.executors.conftest import QueuedWork

#: A hang, not a slow machine.
DEADLINE = 60.0


@pytest.fixture(params=["local", "inline"])
def executor(request: pytest.FixtureRequest, queued: QueuedWork) -> Iterator[Executor]:
    made: Executor
    if request.param == "local":
        # the default grace: on a busy machine, recording a timed-out try can take over a second, and
        # a shorter grace would kill the worker first (that case is the crash tests')
        made = LocalExecutor(queued.worker_settings, workers=1)
    else:
        made = InlineExecutor(queued.worker_settings)
    yield made
    made.close(timeout=5)


def collect(executor: Executor, count: int, *, timeout: float = DEADLINE) -> list[ExecutorEvent]:
    """Wait for ``count`` events (and return every event seen by then)."""
    events: list[ExecutorEvent] = []
    deadline = time.monotonic() + timeout
    while len(events) < count:
        assert time.monotonic() < deadline, f"only {len(events)} of {count} events within {timeout:g}s"
        events.extend(executor.events())
        if len(events) < count:
            executor.wait(0.5)
    return events


def until(condition: Callable[[], bool], *, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_a_no_op_workload_finishes_once_with_its_success_recorded(executor: Executor, queued: QueuedWork):
    (workload,) = queued.workloads(["noop_0"])
    executor.submit([workload])

    (event,) = collect(executor, 1)
    assert (event.kind, event.state, event.workload) == (EventKind.FINISHED, TaskState.SUCCESS, workload)
    assert queued.state("noop_0") == "success"
    executor.wait(0)
    assert executor.events() == []


def test_many_workloads_each_finish_once(executor: Executor, queued: QueuedWork):
    workloads = queued.workloads([f"noop_{i}" for i in range(20)])
    executor.submit(workloads)

    events = collect(executor, 20)
    assert sorted(e.workload.token for e in events) == sorted(w.token for w in workloads)
    assert {e.state for e in events} == {TaskState.SUCCESS}
    assert {queued.state(f"noop_{i}") for i in range(20)} == {"success"}


def test_a_workload_whose_token_is_stale_is_rejected_and_changes_nothing(
    executor: Executor, queued: QueuedWork
):
    (current,) = queued.workloads(["noop_0"])
    (stale,) = queued.workloads(["noop_1"])
    queued.workloads(["noop_1"])  # handed out again since: ``stale`` is not its to run any more
    executor.submit([stale])

    (event,) = collect(executor, 1)
    assert event.kind is EventKind.REJECTED
    assert queued.state("noop_1") == "queued"
    assert current.token != stale.token


def test_close_gives_back_what_never_started(executor: Executor, queued: QueuedWork):
    workloads = queued.workloads(["sleepy", "noop_0", "noop_1"])
    if isinstance(executor, LocalExecutor):  # its one worker is busy with "sleepy" when it closes
        executor.submit(workloads)
        until(lambda: queued.state("sleepy") == "running")
        unfinished = executor.close(timeout=10)
        stopped = executor.events()
        assert [(e.kind, e.state, e.workload.key.task_id) for e in stopped] == [
            (EventKind.FINISHED, TaskState.NONE, "sleepy")
        ]
        assert queued.state("sleepy") == "none"  # stopped and given back by its worker
        assert unfinished == workloads[1:]
    else:
        executor.submit(workloads)
        assert executor.close() == workloads
    assert {queued.state("noop_0"), queued.state("noop_1")} == {"queued"}


def test_wait_returns_once_an_event_is_ready(executor: Executor, queued: QueuedWork):
    executor.submit(queued.workloads(["noop_0"]))
    started = time.monotonic()
    events: list[ExecutorEvent] = []
    while not events:
        executor.wait(30)
        events = executor.events()
        assert time.monotonic() - started < 10, "wait did not return when the attempt finished"
    assert events[0].state == TaskState.SUCCESS


def test_wait_returns_once_a_socket_it_watches_becomes_readable(executor: Executor):
    reader, writer = socket.socketpair()
    with reader, writer:
        threading.Timer(0.2, writer.send, [b"!"]).start()
        started = time.monotonic()
        executor.wait(30, [reader])
        waited = time.monotonic() - started
    assert 0.1 < waited < 10


def test_execution_timeout_stops_an_attempt(executor: Executor, queued: QueuedWork):
    # a worker that has its DAG already: the executor's backstop (the timeout plus its grace) counts
    # from the hand-off, and a fresh worker's first import of the DAG file, slow on a busy machine,
    # is no part of the attempt's own timeout
    (warm_up,) = queued.workloads(["noop_0"])
    executor.submit([warm_up])
    assert collect(executor, 1)[0].state == TaskState.SUCCESS
    (workload,) = queued.workloads(["timed"], timeout=1.0)
    executor.submit([workload])

    (event,) = collect(executor, 1)
    assert (event.kind, event.state) == (EventKind.FINISHED, TaskState.FAILED)
    assert "execution_timeout" in (queued.row("timed").error or "")


# -- processes: only the local executor has them --------------------------------------------------


@pytest.fixture
def local(queued: QueuedWork) -> Iterator[LocalExecutor]:
    executor = LocalExecutor(queued.worker_settings, workers=1)
    yield executor
    executor.close(timeout=5)


def test_a_worker_killed_mid_attempt_reports_it_lost_as_started(local: LocalExecutor, queued: QueuedWork):
    (workload,) = queued.workloads(["sleepy"])
    local.submit([workload])
    until(lambda: queued.state("sleepy") == "running")

    os.kill(queued.row("sleepy").pid or 0, signal.SIGKILL)

    (event,) = collect(local, 1)
    assert (event.kind, event.started, event.workload) == (EventKind.LOST, True, workload)
    assert "SIGKILL" in event.detail
    (noop,) = queued.workloads(["noop_0"])  # a new worker took the dead one's place
    local.submit([noop])
    assert collect(local, 1)[0].state == TaskState.SUCCESS


def test_kill_stops_the_running_attempt_of_a_task_instance(local: LocalExecutor, queued: QueuedWork):
    (workload,) = queued.workloads(["sleepy"])
    local.submit([workload])
    until(lambda: queued.state("sleepy") == "running")

    assert local.kill(workload.key, "killed: a test asked for it")
    assert not local.kill(queued.key("noop_0"), "not running here")

    (event,) = collect(local, 1, timeout=10)
    assert (event.kind, event.started, event.detail) == (EventKind.LOST, True, "killed: a test asked for it")


def test_a_try_the_scheduler_ended_while_its_worker_lived_runs_its_callback_once(
    local: LocalExecutor, queued: QueuedWork
):
    """The scheduler gave up a try whose worker was in fact alive (its heartbeats were late, say):
    the worker finds the try no longer its own and stops it, running none of its callbacks; the
    task's failure callback runs once, by the workload the scheduler made for it."""
    (workload,) = queued.workloads(["doomed"])
    local.submit([workload])
    until(lambda: queued.state("doomed") == "running")

    with queued.db.session(write=True) as session:
        log_folder = Path(queued.worker_settings.log_folder)
        callbacks = liveness.fail_attempt(
            session, DagCache(), workload, "its heartbeat stopped", utcnow(), log_folder
        )
    assert callbacks is not None and callbacks.task_callback is not None
    (stopped,) = collect(local, 1)
    assert stopped.kind is EventKind.REJECTED  # its outcome discarded: the scheduler's stands
    local.submit([callbacks])
    (ran,) = collect(local, 1)

    assert (ran.kind, ran.state) == (EventKind.FINISHED, TaskState.SUCCESS)
    journal = Path(queued.fileloc).parent / "callbacks.txt"
    assert journal.read_text().splitlines() == ["failure 1 failed its heartbeat stopped"]
    assert queued.tries("doomed") == [(1, "failed")]


def test_inline_cannot_kill_an_attempt(queued: QueuedWork):
    executor = InlineExecutor(queued.worker_settings)
    try:
        assert not executor.kill(queued.key("sleepy"), "no process to kill")
    finally:
        executor.close()


def test_the_pool_grows_while_a_long_attempt_holds_every_worker_and_shrinks_once_idle(queued: QueuedWork):
    """As Airflow's local executor runs up to ``parallelism`` attempts at once: a worker held by a
    long attempt (a sensor poking, a task waiting on another system) does not keep the others
    waiting; the worker started for them retires once idle."""
    local = LocalExecutor(queued.worker_settings, workers=1, max_workers=3, grow_after=0.3, idle_timeout=1.0)
    try:
        local.submit(queued.workloads(["sleepy", "noop_0", "noop_1"]))

        events = collect(local, 2)  # both no-ops, while the sleepy one still runs

        assert sorted(e.workload.key.task_id for e in events) == ["noop_0", "noop_1"]
        assert queued.state("sleepy") == "running"
        # one worker more, or two if the first no-op too ran past grow_after (a loaded machine)
        assert 2 <= local.slots == len(local.live_workers()) <= 3
        assert queued.row("sleepy").pid not in (queued.row("noop_0").pid, queued.row("noop_1").pid)
        until(lambda: not local.events() and len(local.live_workers()) == 1)  # retired once idle
        assert local.slots == 1
        (noop,) = queued.workloads(["noop_2"])  # the first worker is still there, and busy
        local.submit([noop])
        local.kill(queued.key("sleepy"), "killed: the test is over")
        assert {e.workload.key.task_id for e in collect(local, 2)} == {"sleepy", "noop_2"}
    finally:
        local.close(timeout=5)


def test_an_attempts_execution_timeout_does_not_count_its_workers_start(queued: QueuedWork):
    """A workload handed to a worker that is still starting is on its clock only once the worker is
    up: a try with a second (and half a second's grace) is not killed for it. (Forked, a worker is up
    within milliseconds, so the window this guards is short now; the margin is for a loaded machine,
    where a no-op try's own run took longer than 0.75 s in a CI run.)"""
    local = LocalExecutor(queued.worker_settings, workers=1, timeout_grace=0.5)
    try:
        (workload,) = queued.workloads(["prompt"], timeout=1.0)
        local.submit([workload])  # at once: the worker has not said it is up yet
        events: list[ExecutorEvent] = []
        deadline = time.monotonic() + DEADLINE
        while not events:  # the scheduler's look at its workers' clocks, often
            assert time.monotonic() < deadline, "no event"
            events = local.events()
            time.sleep(0.02)

        (event,) = events

        assert (event.kind, event.state, event.workload) == (EventKind.FINISHED, TaskState.SUCCESS, workload)
    finally:
        local.close(timeout=5)


def test_a_pool_given_its_size_does_not_grow(local: LocalExecutor, queued: QueuedWork):
    local.grow_after = 0.1  # (the pool of the `local` fixture: one worker, given explicitly)
    local.submit(queued.workloads(["sleepy", "noop_0"]))
    until(lambda: queued.state("sleepy") == "running")

    time.sleep(1.0)

    assert not local.events()
    assert queued.state("noop_0") == "queued"
    assert local.slots == 1 and len(local.live_workers()) == 1


def test_a_try_handed_ahead_to_an_attempt_that_runs_long_is_taken_back_and_run_by_another_worker(
    queued: QueuedWork,
):
    """A worker on an attempt that just began is handed its next try ahead; when that attempt turns
    out long, the try is taken back and an idle worker runs it, once: no event says it was rejected."""
    local = LocalExecutor(queued.worker_settings, workers=2)
    try:
        local.submit(queued.workloads(["noop_2", "noop_3"]))  # both workers up, and warm
        collect(local, 2)
        sleepy, first, ahead = queued.workloads(["sleepy", "noop_0", "noop_1"])
        local.submit([sleepy, first, ahead])  # the first worker takes sleepy and is handed noop_1 ahead

        events = collect(local, 2, timeout=20)

        assert [(e.kind, e.state) for e in events] == [(EventKind.FINISHED, TaskState.SUCCESS)] * 2
        assert {e.workload.key.task_id for e in events} == {"noop_0", "noop_1"}
        assert queued.state("sleepy") == "running"
        assert queued.row("noop_1").pid == queued.row("noop_0").pid != queued.row("sleepy").pid
        assert queued.tries("noop_1") == [(1, "success")]
        local.kill(sleepy.key, "killed: the test is over")
        (killed,) = collect(local, 1)
        assert (killed.kind, killed.workload) == (EventKind.LOST, sleepy)
        local.wait(0.3)
        assert local.events() == []  # nothing more: the try taken back came back once
    finally:
        local.close(timeout=5)


def test_a_worker_takes_the_try_handed_ahead_without_asking_for_it(
    queued: QueuedWork, monkeypatch: pytest.MonkeyPatch
):
    """On a fan-out of short tries (a tenth of a second: time enough for the executor to hand the next
    one ahead on a loaded machine) the worker finds its next try in its inbox when its attempt ends,
    and claims it with its outcome, instead of saying ``ending`` and waiting for the answer."""
    monkeypatch.setattr(local_module, "HAND_AHEAD_WITHIN", 5.0)  # (nothing taken back on a slow machine)
    local = LocalExecutor(queued.worker_settings, workers=1)
    endings: list[str] = []
    handle = local._handle

    def counted(slot: object, message: tuple[object, ...]) -> None:
        if message[0] == "ending":
            endings.append(str(message[1]))
        handle(slot, message)  # type: ignore[arg-type]

    local._handle = counted  # type: ignore[method-assign]
    try:
        local.submit(queued.workloads(["noop_20"]))  # the worker up, and warm
        collect(local, 1)
        workloads = queued.workloads([f"short_{i}" for i in range(10)])
        local.submit(workloads)

        events = collect(local, 10)

        assert sorted(e.workload.token for e in events) == sorted(w.token for w in workloads)
        assert {e.state for e in events} == {TaskState.SUCCESS}
        assert endings == []
    finally:
        local.close(timeout=5)


def test_a_worker_discards_every_try_taken_back_from_it_however_many_before_it_looks(
    queued: QueuedWork,
):
    """Tries handed ahead to a worker and taken back pile up in its inbox while its attempt runs (a
    new one can be handed ahead once the last was taken back): it takes none of them, only a try
    handed ahead after them."""
    first, second, third = queued.workloads(["noop_0", "noop_1", "noop_2"])
    inbox, sender = multiprocessing.Pipe(duplex=False)
    gate = multiprocessing.Value("q", 0)
    sender.send(local_module._Ahead(first, 1))
    gate.value = -1  # taken back, as the executor does
    sender.send(local_module._Ahead(second, 2))
    gate.value = -2

    assert local_module._handed_ahead(inbox, gate) == (None, False)

    sender.send(local_module._Ahead(third, 3))
    assert local_module._handed_ahead(inbox, gate) == (third, False)
    assert gate.value == 3  # taken: the executor can no longer take it back
