"""The executor interface: ``submit`` workloads, read ``events``, ``kill`` an attempt, ``wait``, ``close``.

Workers record each attempt's outcome in the metadata store themselves; events only tell the
scheduler what happened sooner than the store would (an attempt finished, a worker died with an
attempt in hand), so it can decide what runs next at once. The scheduler keeps track of what it
submitted; an executor only runs it.

Executors are chosen by name with ``[core] executor`` (see :mod:`dagflow.executors`).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from dagflow.core.keys import TIKey
from dagflow.core.states import TaskState


@dataclass(frozen=True, slots=True)
class TaskCallback:
    """A task's callbacks to run for a try the scheduler recorded as ended (its worker died, or no
    worker took it from its queue): ``on_retry_callback`` if it is up for retry, else
    ``on_failure_callback``, with ``reason`` as the context's ``exception``."""

    state: TaskState
    reason: str
    max_tries: int
    #: When the try started (None: it never did).
    start_date: datetime | None = None
    end_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class Workload:
    """One attempt to run: which task instance, which try, and the token proving it was handed out."""

    key: TIKey
    try_number: int
    token: str
    fileloc: str
    execution_timeout: float | None = None
    priority_weight: int = 1
    #: Run the DAG's success/failure callbacks for this run instead of a task ("success"/"failure").
    dag_callback: str | None = None
    #: Run task ``key``'s callbacks for try ``try_number``, which the scheduler ended, instead.
    task_callback: TaskCallback | None = None
    #: Run the compensation of task instance ``key`` (``task_id`` may name a task group) instead.
    compensation: bool = False
    #: The task's ``queue=``: which workers take it (executors on other machines route by it).
    queue: str = "default"
    #: The job id of the scheduler that handed it out: its outcome's wake-up is that scheduler's
    #: (the others need not hurry: see :class:`dagflow.store.notify.Wakeups`); None: everyone's.
    queued_by: int | None = None

    @property
    def label(self) -> str:
        return f"{self.key.label()} try {self.try_number}"

    @property
    def is_callback(self) -> bool:
        """Whether it runs callbacks (a DAG's, or a task's for an ended try), not a try: nothing in
        the store is claimed for it, and nothing follows it there."""
        return bool(self.dag_callback) or self.task_callback is not None


def ended_try_callback(workload: Workload, try_number: int, fileloc: str, callback: TaskCallback) -> Workload:
    """The workload that runs a task's callbacks for try ``try_number`` of ``workload``, which ended
    without its worker recording it. Its token is derived from the try's (so a message carrying it
    is told apart from the try's own), and it goes to the default queue: the task's own may have no
    worker (a task stuck in queued)."""
    token = f"callback-{workload.token}"
    return Workload(workload.key, try_number, token, fileloc, task_callback=callback)


class EventKind(StrEnum):
    """What happened to a workload."""

    #: Its worker ran it and recorded the outcome (``state``), or gave it up (``state`` none: stopped).
    FINISHED = "finished"
    #: Its worker died or was killed with it in hand; ``started`` says whether it had begun.
    LOST = "lost"
    #: It was not the worker's to run any more (its task instance changed after it was handed out).
    REJECTED = "rejected"
    #: No worker took it from its queue, however often it was sent (``detail`` says where it waited):
    #: the scheduler fails its try, with its retries, as a lost one's (the retry delay and the tries
    #: left are the scheduler's to know), unless it is no longer queued with the workload's token.
    UNCLAIMED = "unclaimed"


@dataclass(frozen=True, slots=True)
class ExecutorEvent:
    """Something that happened to a workload."""

    kind: EventKind
    workload: Workload
    state: TaskState | None = None
    detail: str = ""
    #: For ``LOST``: whether the attempt had started (False: it was handed over and never begun).
    started: bool = True


def worker_failed(workload: Workload, exc: Exception) -> ExecutorEvent:
    """What a worker reports when handling ``workload`` raised (the store unreachable while it claimed
    or recorded, its log folder not writable): ``LOST``, as if the worker had died with it, so the
    scheduler records at once what the store holds (a try still queued is handed out again, one
    left running fails with ``exc`` as its reason, with its retries) instead of waiting for the
    try's heartbeat to go stale. Its traceback is logged here, in the worker."""
    logging.getLogger("dagflow.worker").error(
        "%s: the worker failed while handling it", workload.label, exc_info=exc
    )
    detail = f"the worker failed while handling it: {type(exc).__name__}: {exc}"
    return ExecutorEvent(EventKind.LOST, workload, detail=detail, started=True)


class Waitable(Protocol):
    """Anything with a file descriptor to wait on (a socket, a pipe, a listener)."""

    def fileno(self) -> int: ...


class Executor(abc.ABC):
    """Runs workloads somewhere and reports what happened to them.

    An executor is ready to take work once constructed.
    """

    #: How many attempts it runs at once (the scheduler spaces out its passes while more wait).
    slots: int = 1

    def capacity(self) -> str:
        """How many attempts it runs at once, as the scheduler's first line says it."""
        return f"{self.slots} slot(s)"

    def has_backlog(self, in_flight: int) -> bool:
        """Whether some of the ``in_flight`` workloads wait for a slot (then the scheduler lets
        finished attempts gather before its next pass): by default, more than :attr:`slots`."""
        return in_flight > self.slots

    def has_events(self) -> bool:
        """Whether something waits to be reported (:meth:`events`), so that a :meth:`wait` would
        end at once; by default, assumed so (the scheduler then never waits longer on its account)."""
        return True

    @abc.abstractmethod
    def submit(self, workloads: Sequence[Workload]) -> None:
        """Queue workloads; they run in the order given as slots free up."""

    @abc.abstractmethod
    def events(self) -> list[ExecutorEvent]:
        """What happened since the last call, without waiting."""

    @abc.abstractmethod
    def wait(self, timeout: float, also: Sequence[Waitable] = ()) -> None:
        """Return once an event is ready, one of ``also`` is readable, or ``timeout`` seconds passed."""

    @abc.abstractmethod
    def kill(self, key: TIKey, reason: str) -> bool:
        """Stop the attempt of this task instance if it is running here; True if it was."""

    @abc.abstractmethod
    def close(self, timeout: float = 10.0) -> list[Workload]:
        """Stop taking work and stop the attempts in hand (each records that it was stopped, and is
        reported as an event); return the workloads that did not finish."""

    def live_workers(self) -> list[tuple[int, datetime]]:
        """The worker processes of this machine it keeps, alive now: ``(pid, started)`` each. Its
        scheduler reports them in its heartbeat. Empty for an executor whose workers record their own
        job (Celery) or that runs attempts in the scheduler's process."""
        return []
