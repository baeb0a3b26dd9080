"""LocalExecutor: a pool of long-lived worker processes on this machine (one per core by default).

The executor hands each idle worker one workload at a time over a pipe of its own, which the worker
starts at once; over another pipe the worker tells it when its outcome is recorded (``finished``),
and, when it has nothing to go on with, when the attempt's task code has ended (``ending``): as
few messages per attempt as can be, as every message costs both processes a wake-up. Nothing is
shared between workers (no common queue whose lock a killed worker could take with it; each shares
one lock with the executor only, which the executor waits on for 50 ms at most), so a worker killed
at any moment, busy or idle, costs at most what it holds: its own attempt, and at most one workload
handed to it ahead or while it recorded its last outcome, which it has not started. A worker that
dies with an attempt in hand (a segfault, ``os._exit``, the OOM killer, a kill signal) is reported
as a ``lost`` event and replaced; so is one killed here because its attempt overran its
``execution_timeout`` (plus a grace period) or its memory limit. A worker whose scheduler is gone
finishes the attempt in hand and exits.

The pool grows as Airflow users expect of a local executor, which runs up to ``[core] parallelism``
attempts at once: it starts with one worker per core and, while workloads wait and every worker is
held by an attempt that has run for :data:`GROW_AFTER` or more (a sensor poking, a task waiting on
another system), starts one more worker for each such attempt, up to ``max_workers``. Short
attempts never make it grow (more processes than cores would only share them), and a worker it
added retires after :data:`IDLE_TIMEOUT` without work. A number of workers given explicitly
(``[worker] processes``, ``--workers``) is a fixed pool.

A feeder thread reads the workers' reports as they come and hands the next pending workload to a
worker the moment it is free, so the pool stays busy while the scheduler spaces out its passes. A
worker whose attempt began less than :data:`HAND_AHEAD_WITHIN` ago is handed its next try ahead
(one at most, and only a try, never callbacks); it finds it in its inbox when its attempt ends, then
records the outcome and claims that try in one transaction (one commit per attempt, not two) and
starts it, without asking. A worker with nothing handed ahead whose attempt ends while workloads wait
says so (``ending``) and waits for the answer, its next workload or :data:`NOTHING`.

An attempt's own run never holds up another workload for long: a try handed ahead to a worker whose
attempt then runs :data:`HAND_AHEAD_WITHIN` or more is taken back, put first in line again for
another worker (or for the pool to grow). Whether the first worker has taken it already is
settled under a lock the two share (a number: the last try handed ahead it took, or minus the last
one taken back; the tries handed ahead to a worker are numbered, and one is handed only once the
one before was taken or taken back, so a try numbered no higher than the last taken back was taken
back too), so a try taken back is discarded by the worker that finds it later, and each workload is
held by one worker at a time. A workload lost with its worker before it started is still queued in
the store, and the scheduler hands it out again.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dagflow.core.clock import utcnow
from dagflow.core.keys import TIKey
from dagflow.executors.base import EventKind, Executor, ExecutorEvent, Waitable, Workload, worker_failed
from dagflow.executors.worker import Started, Worker, WorkerSettings
from dagflow.runtime.tasklog import TASK_LOGGER
from dagflow.utils import processes

_CONTEXT = processes.CONTEXT
#: The executor's answer to a worker whose attempt has ended, when it has no workload for it.
NOTHING = "nothing"
#: How long a worker waits for that answer before it records its outcome alone.
ANSWER_WAIT = 1.0
#: A worker whose attempt began less than this ago is handed its next try ahead of the attempt's end;
#: a try handed ahead to an attempt that has run this long is taken back (see the module docstring).
HAND_AHEAD_WITHIN = 0.05
#: How long every worker must have been on its attempt, with workloads waiting, before the pool grows.
GROW_AFTER = 1.0
#: How long a worker the pool grew by stays without work before it retires.
IDLE_TIMEOUT = 60.0
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class _Ahead:
    """A try handed to a worker ahead of its attempt's end: the ``serial``-th handed ahead to it."""

    workload: Workload
    serial: int


#: A try handed ahead and taken back before the worker took it: discarded.
_DISCARDED = object()


def _worker_main(settings: WorkerSettings, inbox: Any, events: Any, backlog: Any, gate: Any) -> None:
    """A worker process: run what the executor hands over, one attempt at a time, until told to stop
    (``None``), stopped by a signal, or orphaned (see :func:`_run_chain`)."""
    worker = Worker(settings)
    worker.install_signal_handlers()
    # the executor's clock on an attempt (its execution_timeout) stops while the DAG file is parsed
    worker.on_parsing = lambda started: _send(events, ("parsing" if started else "parsed",))
    _send(events, ("ready",))  # (a workload handed to it while it started waits in its inbox)
    # tasks log at INFO here, as they do while an attempt runs: its capture need not change the levels
    # (each change empties the level cache of every logger in the process)
    logging.getLogger(TASK_LOGGER).setLevel(logging.INFO)
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)
    upcoming: Workload | None = None
    while not worker.stopping:
        workload = upcoming or _receive(inbox, worker, gate)
        if workload is None:
            break
        upcoming, stop = _run_chain(worker, workload, inbox, events, backlog, gate)
        if stop:
            break


def _run_chain(
    worker: Worker, workload: Workload, inbox: Any, events: Any, backlog: Any, gate: Any
) -> tuple[Workload | None, bool]:
    """Run ``workload``, and the next ones the executor hands over meanwhile, back to back.

    When an attempt's task code has ended, the worker takes the try handed to it ahead, if any;
    failing that, if the executor has workloads waiting (``backlog``, a count it shares with its
    workers), it says so (``ending``) and waits a moment for the executor's answer, its next workload
    or :data:`NOTHING`. It then records the outcome and claims that next workload in one
    transaction. With nothing waiting (a chain of tasks: the next one is not even decided before
    this outcome is recorded) it records at once, without that round trip.
    It reports the outcome (``finished``). Returns a workload handed over but not started here (the
    caller runs it), and whether to stop.
    """
    upcoming: Workload | None = None
    stop = False
    try:
        started: Started | ExecutorEvent | None = worker.start(workload)
        while isinstance(started, Started):
            ended = worker.attempt(started)
            if not worker.stopping:  # (stopping: what was handed ahead is given back, not taken)
                upcoming, stop = _handed_ahead(inbox, gate)
            if upcoming is None and not stop and backlog.value > 0:
                _send(events, ("ending", workload.key))
                upcoming, stop = _answer(inbox, gate)
            event, started = worker.finish(ended, upcoming)
            _send(events, ("finished", event))
            if started is None:
                return upcoming, stop
            workload, upcoming = started.workload, None
        if started is not None:  # rejected, or a DAG callback that ran
            _send(events, ("finished", started))
    except Exception as exc:  # the worker survives anything a workload does in Python
        _send(events, ("finished", worker_failed(workload, exc)))
    return upcoming, stop


def _read(inbox: Any, gate: Any) -> Any:
    """The next message in the inbox; a try handed ahead is taken if the executor has not taken it
    back (:data:`_DISCARDED` if it has). A worker that cannot get the lock within a second finds its
    executor gone or stuck, and leaves the try queued in the store."""
    message = inbox.recv()
    if not isinstance(message, _Ahead):
        return message
    lock = gate.get_lock()
    if not lock.acquire(timeout=1.0):
        return _DISCARDED
    try:
        if message.serial <= abs(gate.value):  # taken back (it, or one handed after it, was)
            return _DISCARDED
        gate.value = message.serial
    finally:
        lock.release()
    return message.workload


def _receive(inbox: Any, worker: Worker, gate: Any) -> Workload | None:
    """The next workload, polling so as to notice a signal or the parent's death; None: stop."""
    while not worker.stopping and processes.parent_alive():
        try:
            if not inbox.poll(0.5):
                continue
            message = _read(inbox, gate)
        except (EOFError, OSError):  # the scheduler is gone: its workload is not ours to start
            return None
        if message is None or isinstance(message, Workload):
            # a workload its scheduler handed over before it died is not started: it is still queued
            # in the store, and another scheduler gives it out again
            return message if processes.parent_alive() else None
        # (NOTHING: an answer that came after the worker stopped waiting for it; or a try taken back)
    return None


def _handed_ahead(inbox: Any, gate: Any) -> tuple[Workload | None, bool]:
    """The workload in the inbox when an attempt ends, if any, without waiting: ``(workload or
    None, whether to stop)``."""
    try:
        while inbox.poll():
            message = _read(inbox, gate)
            if message is None or isinstance(message, Workload):
                return message, message is None
    except (EOFError, OSError):
        return None, True
    return None, False


def _answer(inbox: Any, gate: Any) -> tuple[Workload | None, bool]:
    """The executor's answer to ``ending``: ``(next workload or None, whether to stop)``."""
    deadline = time.monotonic() + ANSWER_WAIT
    try:
        while inbox.poll(max(0.0, deadline - time.monotonic())):
            message = _read(inbox, gate)
            if message is not _DISCARDED:  # (a try taken back: the answer is still to come)
                return (message, False) if isinstance(message, Workload) else (None, message is None)
    except (EOFError, OSError):
        return None, True
    return None, False


def _send(events: Any, message: tuple[Any, ...]) -> None:
    with contextlib.suppress(OSError):
        events.send(message)


@dataclass
class _Slot:
    process: Any
    events: Any  # the worker's reports
    inbox: Any  # its workloads
    #: The workload handed to this worker and not finished yet.
    workload: Workload | None = None
    #: Its attempt has ended and the worker is recording the outcome: it may be handed ``next``.
    ending: bool = False
    #: The workload handed to it ahead, or while it records the last outcome; it starts it next.
    next: Workload | None = None
    #: ``next`` was handed ahead, the ``serial``-th so: it can be taken back while the worker has not
    #: taken it (``gate``, shared with the worker: see the module docstring).
    ahead: bool = False
    serial: int = 0
    gate: Any = None
    #: Its ``ending`` was answered (with ``next``, or with NOTHING).
    answered: bool = False
    #: When the worker started ``workload`` (monotonic): when it was handed to it idle, or when it
    #: finished the one before; 0 while it has none, and while it starts up or parses a DAG file.
    started: float = 0.0
    pid: int = 0
    #: When the worker process was started (wall clock: reported with the scheduler's heartbeat).
    born: datetime | None = None
    retired: bool = False
    #: Its report pipe reached its end (the worker is gone): the feeder stops watching it.
    eof: bool = False
    #: Why it was killed here, if it was (reported with what it held).
    kill_reason: str = ""
    #: Started when the pool grew: it retires once idle for the executor's ``idle_timeout``.
    extra: bool = False
    #: When it last became idle (monotonic).
    idle_since: float = 0.0
    #: The process has started and said so: a workload handed to it runs from then.
    ready: bool = False


class LocalExecutor(Executor):
    """Runs workloads in ``workers`` local processes (default: one per core), growing to
    ``max_workers`` while long attempts hold them all (see the module docstring); the first
    processes start when it is constructed. :attr:`slots` is how many workers there are now."""

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        workers: int | None = None,
        max_workers: int | None = None,
        grow_after: float = GROW_AFTER,
        idle_timeout: float = IDLE_TIMEOUT,
        timeout_grace: float = 5.0,
        memory_limit_mb: float | None = None,
    ):
        self.settings = settings
        self.slots = self.base_workers = workers or os.cpu_count() or 1
        self.max_workers = max(self.base_workers, max_workers or 0)
        self.grow_after, self.idle_timeout = grow_after, idle_timeout
        self.timeout_grace = timeout_grace
        self.memory_limit_mb = memory_limit_mb
        self._pending: deque[Workload] = deque()
        #: How many workloads wait for a worker, shared with the workers (read without a lock: a
        #: stale value costs at most one round trip, or one transaction).
        self._backlog = _CONTEXT.RawValue("i", 0)
        self._pending_events: list[ExecutorEvent] = []
        self._closing = False
        #: Guards everything above and the slots: the scheduler's thread and the feeder thread use it.
        self._lock = threading.RLock()
        self._wake_reader, self._wake_sender = _CONTEXT.Pipe(duplex=False)
        self._woken = False
        with self._lock:
            self._slots = [self._spawn() for _ in range(self.slots)]
        self._feeder = threading.Thread(target=self._feed, name="dagflow-executor-feeder", daemon=True)
        self._feeder.start()

    def _spawn(self, *, extra: bool = False) -> _Slot:
        receiver, sender = _CONTEXT.Pipe(duplex=False)
        inbox, feeder = _CONTEXT.Pipe(duplex=False)
        gate = _CONTEXT.Value("q", 0)
        process = processes.process(
            _worker_main,
            (self.settings, inbox, sender, self._backlog, gate),
            name="dagflow-worker",
            daemon=False,
        )
        process.start()
        sender.close()
        inbox.close()
        return _Slot(
            process=process,
            events=receiver,
            inbox=feeder,
            gate=gate,
            pid=process.pid or 0,
            born=utcnow(),
            extra=extra,
            idle_since=time.monotonic(),
        )

    # -- the interface -----------------------------------------------------------------------------

    def capacity(self) -> str:
        if self.max_workers > self.base_workers:
            return f"{self.base_workers} worker(s), up to {self.max_workers} while long attempts hold them"
        return f"{self.base_workers} worker(s)"

    def submit(self, workloads: Sequence[Workload]) -> None:
        with self._lock:
            for workload in workloads:
                self._pending.append(workload)
            self._dispatch()

    def events(self) -> list[ExecutorEvent]:
        with self._lock:
            self._woken = False
            while self._wake_reader.poll():
                self._wake_reader.recv_bytes()
            self._collect_all()
            self._enforce_limits()
            self._replace_dead()
            self._dispatch()
            events, self._pending_events = self._pending_events, []
        return events

    def has_events(self) -> bool:
        with self._lock:
            if self._pending_events:
                return True
            watched: list[Any] = [self._wake_reader, *(slot.process.sentinel for slot in self._slots)]
        return bool(multiprocessing.connection.wait(watched, timeout=0))

    def wait(self, timeout: float, also: Sequence[Waitable] = ()) -> None:
        with self._lock:
            if self._pending_events:
                return
            watched: list[Any] = [self._wake_reader, *(slot.process.sentinel for slot in self._slots)]
        watched.extend(also)
        multiprocessing.connection.wait(watched, timeout=max(0.0, timeout))

    def kill(self, key: TIKey, reason: str) -> bool:
        with self._lock:
            for slot in self._slots:
                self._collect(slot)  # its worker may have moved on to the next workload meanwhile
                if slot.workload is not None and slot.workload.key == key:
                    self._kill_slot(slot, reason)
                    return True
        return False

    def live_workers(self) -> list[tuple[int, datetime]]:
        with self._lock:
            return [
                (slot.pid, slot.born or utcnow())
                for slot in self._slots
                if not slot.retired and slot.process.is_alive()
            ]

    def close(self, timeout: float = 10.0) -> list[Workload]:
        """Stop the workers: each stops its attempt in hand, records it and exits; one that does not
        exit within ``timeout`` is killed (its attempt is reported lost). Returns the workloads that
        never started: those still pending, and those handed to a worker while it recorded an outcome."""
        with self._lock:
            self._closing = True
            self._take_back(time.monotonic(), every=True)
            for slot in self._slots:
                with contextlib.suppress(OSError):
                    slot.inbox.send(None)
                if slot.workload is not None and slot.process.is_alive():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(slot.pid, signal.SIGTERM)
        self._feeder.join(5)
        deadline = time.monotonic() + timeout
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.kill_reason = "killed: the worker did not stop when the scheduler shut down"
                slot.process.kill()
                slot.process.join(1)
        with self._lock:
            self._collect_all()
            unfinished = list(self._pending)
            self._pending.clear()
            self._backlog.value = 0
            for slot in self._slots:
                if slot.next is not None:
                    unfinished.append(slot.next)
                    slot.next = None
            self._replace_dead()
        return unfinished

    # -- internals --------------------------------------------------------------------------------

    def _feed(self) -> None:
        """The feeder thread: collect reports as they arrive, refill free workers, wake the scheduler."""
        while True:
            with self._lock:
                if self._closing:
                    return
                watched = [slot.events for slot in self._slots if not slot.eof]
                timeout = self._take_back_due(time.monotonic())
            try:
                ready = multiprocessing.connection.wait(watched, timeout=timeout)
            except (OSError, ValueError):  # a pipe was closed meanwhile: its worker is being replaced
                continue
            if not ready:  # nothing reported: the pool may still have to grow or shrink meanwhile
                with self._lock:
                    if not self._closing:
                        self._dispatch()
                continue
            with self._lock:
                if self._closing:
                    return
                reported = len(self._pending_events)
                self._collect_all()
                self._dispatch()
                if len(self._pending_events) > reported and not self._woken:
                    self._woken = True  # one byte at most in the pipe, so this never blocks
                    self._wake_sender.send_bytes(b"!")

    def _dispatch(self) -> None:
        """Take back the tries handed ahead to attempts that turned out long; hand pending
        workloads, in order, to the idle live workers (started now if long attempts hold them all),
        then to those recording an outcome, then ahead to those whose attempt just began: one each;
        retire workers idle too long."""
        now = time.monotonic()
        self._take_back(now)
        self._grow()
        for slot in self._slots:
            if slot.workload is None:
                self._hand(slot)
        for slot in self._slots:
            if slot.workload is not None and slot.ending and slot.next is None:
                self._hand(slot)
                if not slot.answered:  # it waits for an answer before it records its outcome
                    slot.answered = True
                    if slot.next is None:
                        with contextlib.suppress(OSError):
                            slot.inbox.send(NOTHING)
        for slot in self._slots:
            if slot.next is None and not slot.ending and self._may_hand_ahead(slot, now):
                self._hand(slot, ahead=True)
        self._backlog.value = len(self._pending)
        self._retire_idle()

    def _may_hand_ahead(self, slot: _Slot, now: float) -> bool:
        """Whether ``slot``'s worker, on an attempt that began just now, is to be handed the next
        workload ahead: a try (callbacks are never handed ahead: they could not be taken back)."""
        return (
            slot.workload is not None
            and slot.ready
            and slot.started > 0  # (not while it parses a DAG file)
            and now - slot.started < HAND_AHEAD_WITHIN
            and bool(self._pending)
            and not self._pending[0].is_callback
            and not self._pending[0].compensation
        )

    def _take_back_due(self, now: float) -> float:
        """How long the feeder may wait for a report: half a second, or until a try handed ahead is
        to be taken back for a worker that is idle."""
        due = [_take_back_at(slot) for slot in self._slots if slot.ahead and slot.next is not None]
        if not due or not any(slot.workload is None and slot.ready for slot in self._slots):
            return 0.5
        return min(0.5, max(0.001, min(due) - now))

    def _take_back(self, now: float, *, every: bool = False) -> None:
        """Put the tries handed ahead to attempts that have run :data:`HAND_AHEAD_WITHIN` or more
        (or parse a DAG file; ``every``: all of them) first in line again, unless their worker has
        taken them already."""
        for slot in self._slots:
            if not slot.ahead or slot.next is None:
                continue
            if not every and (slot.ending or now < _take_back_at(slot)):
                continue
            lock = slot.gate.get_lock()
            if not lock.acquire(timeout=0.05):  # (its worker died holding it: replaced soon)
                continue
            try:
                taken = slot.gate.value == slot.serial
                if not taken:
                    slot.gate.value = -slot.serial
            finally:
                lock.release()
            if not taken:
                self._pending.appendleft(slot.next)
                slot.next = None
            slot.ahead = False

    def _grow(self) -> None:
        """While workloads wait and every worker holds an attempt that has run ``grow_after`` or more,
        start one more worker for each, up to ``max_workers`` in all."""
        live = [slot for slot in self._slots if not slot.retired]
        room = min(len(self._pending), self.max_workers - len(live))
        if room <= 0 or self._closing or any(slot.workload is None for slot in live):
            return
        now = time.monotonic()
        held = sum(1 for s in live if s.ready and s.started and now - s.started >= self.grow_after)
        if held < len(live):  # a worker on a short attempt (or still starting) takes the next soon
            return
        for _ in range(min(room, held)):
            self._slots.append(self._spawn(extra=True))
        self.slots = sum(1 for slot in self._slots if not slot.retired)

    def _retire_idle(self) -> None:
        """Tell the workers the pool grew by to stop once they have been idle ``idle_timeout``."""
        if self._pending:
            return
        now = time.monotonic()
        for slot in self._slots:
            idle = slot.workload is None and now - slot.idle_since >= self.idle_timeout
            if slot.extra and not slot.retired and idle:
                slot.retired = True
                with contextlib.suppress(OSError):
                    slot.inbox.send(None)
        self.slots = sum(1 for slot in self._slots if not slot.retired)

    def _hand(self, slot: _Slot, *, ahead: bool = False) -> None:
        # (a worker that died is not asked: what is handed to it is reported lost with it, and handed
        # out again)
        if not self._pending or self._closing or slot.retired:
            return
        message: Workload | _Ahead = self._pending[0]
        if ahead:
            message = _Ahead(self._pending[0], slot.serial + 1)
        try:
            slot.inbox.send(message)
        except OSError:  # it died just now: replaced at the next poll
            return
        if slot.workload is None:  # an idle worker starts it at once (one still starting, once up)
            slot.workload = self._pending.popleft()
            slot.started = time.monotonic() if slot.ready else 0.0
        else:
            slot.next = self._pending.popleft()
            if ahead:
                slot.ahead, slot.serial = True, slot.serial + 1

    def _collect_all(self) -> None:
        for slot in self._slots:
            self._collect(slot)

    def _collect(self, slot: _Slot) -> None:
        try:
            while slot.events.poll():
                self._handle(slot, slot.events.recv())
        except (EOFError, OSError):
            slot.eof = True

    def _handle(self, slot: _Slot, message: tuple[Any, ...]) -> None:
        if message[0] == "ready":  # what it was handed while it started runs from now
            slot.ready = True
            slot.started = time.monotonic() if slot.workload is not None else 0.0
            return
        if message[0] == "ending":
            slot.ending, slot.answered = True, False
            return
        if message[0] in ("parsing", "parsed"):  # the attempt's clock stops, or starts again from now
            if slot.workload is not None:
                slot.started = time.monotonic() if message[0] == "parsed" else 0.0
            return
        event: ExecutorEvent = message[1]  # it starts the workload handed to it meanwhile, if any, at once
        slot.workload, slot.next, slot.ending, slot.ahead = slot.next, None, False, False
        slot.started = time.monotonic() if slot.workload is not None else 0.0
        if slot.workload is None:
            slot.idle_since = time.monotonic()
        self._pending_events.append(event)

    def _enforce_limits(self) -> None:
        now = time.monotonic()
        for slot in self._slots:
            workload = slot.workload
            if workload is None or not slot.process.is_alive():
                continue
            if (
                workload.execution_timeout
                and slot.started  # (not while it starts, nor while it parses the DAG file)
                and now - slot.started > workload.execution_timeout + self.timeout_grace
            ):
                self._kill_slot(
                    slot,
                    f"killed: the attempt overran its execution_timeout of "
                    f"{workload.execution_timeout:g}s and did not stop",
                )
            elif self.memory_limit_mb and _rss_mb(slot.pid) > self.memory_limit_mb:
                self._kill_slot(
                    slot, f"killed: the worker used more than {self.memory_limit_mb:g} MB of memory"
                )

    def _kill_slot(self, slot: _Slot, reason: str) -> None:
        slot.kill_reason = reason
        with contextlib.suppress(ProcessLookupError):
            os.kill(slot.pid, signal.SIGKILL)
        slot.process.join(5)

    def _replace_dead(self) -> None:
        """Report what a dead worker held as lost, and start another in its place (unless closing)."""
        gone = [slot for slot in self._slots if slot.retired and slot.extra and not slot.process.is_alive()]
        for slot in gone:  # a worker the pool grew by, retired and exited
            self._collect(slot)
            slot.events.close()
            slot.inbox.close()
            self._slots.remove(slot)
        for index, slot in enumerate(self._slots):
            if slot.process.is_alive() or slot.retired:
                continue
            self._collect(slot)
            reason = slot.kill_reason or _exit_reason(slot.process.exitcode)
            for workload, started in ((slot.workload, bool(slot.started)), (slot.next, False)):
                if workload is not None:
                    self._pending_events.append(
                        ExecutorEvent(EventKind.LOST, workload, detail=reason, started=started)
                    )
            slot.events.close()
            slot.inbox.close()
            if self._closing:
                slot.retired = True
            else:
                self._slots[index] = self._spawn(extra=slot.extra)


def _take_back_at(slot: _Slot) -> float:
    """When the try handed ahead to ``slot``'s worker is to be taken back (monotonic): once its
    attempt has run :data:`HAND_AHEAD_WITHIN`; at once while it parses a DAG file (its clock stopped)."""
    return slot.started + HAND_AHEAD_WITHIN if slot.started else 0.0


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is None:
        return "the worker process disappeared"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the worker process died of {name} while running the attempt"
    return f"the worker process exited with code {exitcode} while running the attempt"


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return 0.0
