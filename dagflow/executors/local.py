"""LocalExecutor: a pool of long-lived worker processes on this machine (one per core by default).

Workers take workloads from a shared queue and tell the executor, over a pipe each, when they start
and finish one. A worker that dies with an attempt in hand (a segfault, ``os._exit``, the OOM
killer, a kill signal) is reported as a ``lost`` event and replaced; so is one killed here because
its attempt overran its ``execution_timeout`` (plus a grace period) or its memory limit.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import queue as queue_module
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from dagflow.execution.worker import Worker, WorkerSettings
from dagflow.executors.base import Executor, ExecutorEvent, Workload

_CONTEXT = multiprocessing.get_context("spawn")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _worker_main(settings: WorkerSettings, workloads: Any, events: Any, parent_pid: int) -> None:
    worker = Worker(settings)
    worker.install_signal_handlers()
    while not worker.stopping and os.getppid() == parent_pid:
        try:
            workload = workloads.get(timeout=0.5)
        except queue_module.Empty:
            continue
        if workload is None:
            break
        events.send(("started", workload, os.getpid()))
        try:
            state, detail = worker.run(workload)
        except Exception as exc:  # the worker survives anything a workload does in Python
            state, detail = "failed", f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(OSError):
            events.send(("finished", workload, state, detail))


@dataclass
class _Slot:
    process: Any
    events: Any
    workload: Workload | None = None
    started: float = 0.0
    pid: int = 0
    retired: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class LocalExecutor(Executor):
    """Runs workloads in ``workers`` local processes (see the module docstring)."""

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        workers: int | None = None,
        timeout_grace: float = 5.0,
        memory_limit_mb: float | None = None,
    ):
        self.settings = settings
        self.size = workers or os.cpu_count() or 1
        self.timeout_grace = timeout_grace
        self.memory_limit_mb = memory_limit_mb
        self._queue: Any = None
        self._slots: list[_Slot] = []
        self._outstanding: dict[str, Workload] = {}
        self._pending_events: list[ExecutorEvent] = []
        self._ending = False

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self._queue = _CONTEXT.Queue()
        self._slots = [self._spawn() for _ in range(self.size)]

    def _spawn(self) -> _Slot:
        receiver, sender = _CONTEXT.Pipe(duplex=False)
        process = _CONTEXT.Process(
            target=_worker_main,
            args=(self.settings, self._queue, sender, os.getpid()),
            daemon=False,
            name="dagflow-worker",
        )
        process.start()
        sender.close()
        return _Slot(process=process, events=receiver, pid=process.pid or 0)

    def end(self, timeout: float = 10.0) -> list[Workload]:
        self._ending = True
        for _ in self._slots:
            self._queue.put(None)
        for slot in self._slots:
            if slot.workload is not None and slot.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(1)
        self._collect_all()
        unfinished = list(self._outstanding.values())
        self._outstanding.clear()
        with contextlib.suppress(Exception):
            self._queue.close()
        return unfinished

    # -- work --------------------------------------------------------------------------------------

    def submit(self, workloads: list[Workload]) -> None:
        for workload in workloads:
            self._outstanding[workload.token] = workload
            self._queue.put(workload)

    def outstanding(self) -> int:
        return len(self._outstanding)

    def outstanding_tokens(self) -> set[str]:
        return set(self._outstanding)

    def busy(self) -> int:
        return sum(1 for slot in self._slots if slot.workload is not None)

    def waitables(self) -> list[Any]:
        return [slot.events for slot in self._slots] + [slot.process.sentinel for slot in self._slots]

    def poll(self) -> list[ExecutorEvent]:
        self._collect_all()
        self._enforce_limits()
        self._replace_dead()
        events, self._pending_events = self._pending_events, []
        return events

    def kill(self, token: str, reason: str) -> bool:
        for slot in self._slots:
            if slot.workload is not None and slot.workload.token == token:
                self._kill_slot(slot, reason)
                return True
        return False

    # -- internals --------------------------------------------------------------------------------

    def _collect_all(self) -> None:
        for slot in self._slots:
            self._collect(slot)

    def _collect(self, slot: _Slot) -> None:
        try:
            while slot.events.poll():
                self._handle(slot, slot.events.recv())
        except (EOFError, OSError):
            return

    def _handle(self, slot: _Slot, message: tuple[Any, ...]) -> None:
        kind, workload = message[0], message[1]
        if kind == "started":
            slot.workload, slot.started = workload, time.monotonic()
            self._pending_events.append(ExecutorEvent("started", workload))
        elif kind == "finished":
            slot.workload = None
            self._outstanding.pop(workload.token, None)
            state, detail = message[2], message[3]
            kind = "rejected" if state == "rejected" else "finished"
            self._pending_events.append(ExecutorEvent(kind, workload, state=state, detail=detail))

    def _enforce_limits(self) -> None:
        now = time.monotonic()
        for slot in self._slots:
            workload = slot.workload
            if workload is None or not slot.process.is_alive():
                continue
            if (
                workload.execution_timeout
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
        slot.extra["kill_reason"] = reason
        with contextlib.suppress(ProcessLookupError):
            os.kill(slot.pid, signal.SIGKILL)
        slot.process.join(5)

    def _replace_dead(self) -> None:
        for index, slot in enumerate(self._slots):
            if slot.process.is_alive() or slot.retired:
                continue
            self._collect(slot)
            if slot.workload is not None:
                workload = slot.workload
                self._outstanding.pop(workload.token, None)
                reason = slot.extra.get("kill_reason") or _exit_reason(slot.process.exitcode)
                self._pending_events.append(ExecutorEvent("lost", workload, detail=reason))
            slot.events.close()
            if self._ending:
                slot.retired = True
            else:
                self._slots[index] = self._spawn()


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
