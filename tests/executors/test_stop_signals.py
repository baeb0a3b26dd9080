"""A worker's stop signal (SIGUSR1) for the attempt in hand is sent from another thread (the
heartbeat's, when the scheduler ended the attempt; a Celery pool process's watchdog): it stops that
attempt, and never the next one, even when it lands after the attempt it was sent for has ended."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from dagflow.exceptions import TaskTerminated
from dagflow.executors.worker import Worker
from tests.executors.conftest import QueuedWork


@pytest.fixture
def worker(queued: QueuedWork) -> Iterator[Worker]:
    previous = signal.getsignal(signal.SIGUSR1)
    worker = Worker(queued.worker_settings)
    worker.install_interrupt_handler()
    try:
        yield worker
    finally:
        worker.close()
        signal.signal(signal.SIGUSR1, previous)


def _from_another_thread(worker: Worker, **kwargs: object) -> None:
    thread = threading.Thread(target=worker.interrupt, args=("its task instance was changed",), kwargs=kwargs)
    thread.start()
    thread.join()


def test_a_stop_for_the_attempt_in_hand_stops_it(worker: Worker, queued: QueuedWork):
    key = queued.key("noop_0")
    stopped = pytest.raises(TaskTerminated, match="its task instance was changed")
    with stopped, worker.running_attempt(key, "first"):
        _from_another_thread(worker, taken=True, attempt=(key, "first", False))
        time.sleep(10)  # (the signal breaks into the sleep)


def test_a_stop_for_an_attempt_that_has_ended_leaves_the_next_one_running(worker: Worker, queued: QueuedWork):
    key = queued.key("noop_0")
    with worker.running_attempt(key, "second"):
        _from_another_thread(worker, taken=True, attempt=(key, "first", False))
        time.sleep(0.3)
        assert not worker._taken  # its callbacks are still this worker's to run


def test_a_stop_signal_that_lands_once_its_attempt_has_ended_does_not_stop_the_next(queued: QueuedWork):
    """The heartbeat thread found the first attempt ended by the scheduler and sent the signal; the
    main thread finished that attempt and started the next before the signal was handled. (The
    signal is sent here by hand once the next attempt runs: the worker's handler is installed only
    then, so that the heartbeat thread's own signal is not sent.)"""
    first, second = queued.key("noop_0"), queued.key("noop_1")
    previous = signal.getsignal(signal.SIGUSR1)
    worker = Worker(queued.worker_settings)
    try:
        with worker.running_attempt(first, "first"):
            _from_another_thread(worker, taken=True, attempt=(first, "first", False))
        worker.install_interrupt_handler()
        with worker.running_attempt(second, "second"):
            os.kill(os.getpid(), signal.SIGUSR1)
            time.sleep(0.3)  # the signal is handled here: it must not stop this attempt
            assert not worker._taken
    finally:
        worker.close()
        signal.signal(signal.SIGUSR1, previous)
