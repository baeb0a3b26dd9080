"""InlineExecutor: runs attempts in the scheduler's own process, one at a time, for tests and debugging.

The stub backend of the executor interface (as dramatiq ships a stub broker): ``submit`` only
queues, and the next call to ``events()`` runs what is queued right there, through the same
:class:`~dagflow.executors.worker.Worker` code path as the local worker processes (the claim with the
workload's token, heartbeats, the outcome with its XComs and try history in one transaction, the
attempt's log), then reports it. No process is started, so a scheduler pass is easy to step through
in a debugger and a test runs in a fraction of the time.

What only a separate process can do is not done here: an attempt cannot be killed from outside (it
runs in the caller's thread), and a task that crashes the interpreter takes the scheduler with it.
An attempt's ``execution_timeout`` still holds when the scheduler runs in the main thread (it is
enforced with ``SIGALRM``, see :mod:`dagflow.timeout`).
"""

from __future__ import annotations

import multiprocessing.connection
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from dagflow.core.keys import TIKey
from dagflow.executors.base import Executor, ExecutorEvent, Waitable, Workload, worker_failed
from dagflow.executors.worker import Worker, WorkerSettings


class InlineExecutor(Executor):
    """Runs queued workloads in this process when :meth:`events` is called (see the module docstring)."""

    slots = 1

    def __init__(self, settings: WorkerSettings):
        self.worker = Worker(settings)
        self._queue: deque[Workload] = deque()

    def submit(self, workloads: Sequence[Workload]) -> None:
        self._queue.extend(workloads)

    def events(self) -> list[ExecutorEvent]:
        """Run every queued workload, in order, and report each."""
        events = []
        while self._queue:
            events.append(self._run(self._queue.popleft()))
        return events

    def _run(self, workload: Workload) -> ExecutorEvent:
        try:
            return self.worker.run(workload)
        except Exception as exc:  # as a worker process survives it: the store says what was recorded
            return worker_failed(workload, exc)

    def has_events(self) -> bool:
        """Queued workloads run (and are reported) at the next :meth:`events`."""
        return bool(self._queue)

    def wait(self, timeout: float, also: Sequence[Waitable] = ()) -> None:
        if self._queue or timeout <= 0:
            return
        if also:
            watched: list[Any] = list(also)
            multiprocessing.connection.wait(watched, timeout=timeout)
        else:
            time.sleep(timeout)

    def kill(self, key: TIKey, reason: str) -> bool:
        """An attempt runs in the caller's own thread: nothing else is running to be stopped."""
        return False

    def close(self, timeout: float = 10.0) -> list[Workload]:
        unfinished = list(self._queue)
        self._queue.clear()
        self.worker.close()
        return unfinished
