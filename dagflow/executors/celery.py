"""CeleryExecutor: attempts run by ``dagflow celery worker`` processes on any machine, through a broker.

``submit`` sends one message per workload to the Celery queue its task names (``queue=``), with the
workload's claim token as the Celery task id (so the task instance's ``attempt_token`` is the id of
its message). The workers record every outcome in the metadata store and wake the schedulers with
their commit; ``events`` then asks the store what became of the workloads still in hand (one
statement, two while compensations are in hand), so the scheduler acts on a finished attempt, or a
finished compensation try, at once without any result backend.

Lost work is found here too: a message that is still queued in the store after ``[scheduler]
task_queued_timeout`` (the broker lost it when it restarted, no worker listens on its queue) is sent
again, with the same token, so that whichever copy a worker takes first runs and the other is
dropped; after ``[celery] stuck_in_queued_retries`` re-sends it is reported as an ``UNCLAIMED``
event, and the scheduler fails its try as any failed try, as Airflow does with tasks stuck in queued:
up for retry while it has tries left, else failed (a compensation's try likewise). Messages are
published by a thread of the executor, so the scheduler's loop never waits on the broker; one the
broker refused (it was down) is sent again a second later. A worker that dies mid-attempt stops
heartbeating, and the scheduler's liveness check retries its try.
"""

from __future__ import annotations

import logging
import multiprocessing.connection
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dagflow.core.keys import TIKey
from dagflow.core.states import TaskState
from dagflow.executors.base import EventKind, Executor, ExecutorEvent, Waitable, Workload
from dagflow.executors.celery_message import send
from dagflow.remote.celery_app import CelerySettings, make_app
from dagflow.store import Database
from dagflow.store.handed_out import attempt_states

log = logging.getLogger("dagflow.executor.celery")
#: The states of a workload whose attempt has not ended.
_UNFINISHED = (TaskState.QUEUED.value, TaskState.RUNNING.value)


@dataclass
class _Sent:
    workload: Workload
    #: When it was last sent (monotonic).
    sent_at: float
    resends: int = 0


class CeleryExecutor(Executor):
    """Sends workloads to Celery workers (see the module docstring)."""

    def __init__(self, settings: CelerySettings, database_url: str, *, slots: int = 32, app: Any = None):
        self.settings = settings
        self.slots = slots
        self.app = app if app is not None else make_app(settings)
        # (no ping before each checkout: the follow-up reads on every pass; see Scheduler.db)
        self.db = Database(database_url, pool_pre_ping=False)
        self._sent: dict[str, _Sent] = {}
        #: How many of the workloads sent were still waiting for a worker at the last follow-up.
        self._waiting = 0
        self._events: list[ExecutorEvent] = []
        #: Workloads to publish, in order, by the sender thread (a round trip to the broker each: the
        #: scheduler's loop does not wait for them).
        self._outbox: deque[Workload] = deque()
        self._outbox_ready = threading.Condition()
        self._closing = False
        self._sender = threading.Thread(target=self._send_loop, name="dagflow-celery-sender", daemon=True)
        self._sender.start()

    # -- the interface -----------------------------------------------------------------------------

    def submit(self, workloads: Sequence[Workload]) -> None:
        now = time.monotonic()
        for workload in workloads:
            if workload.is_callback:  # nothing in the store to follow: reported as handed over
                self._events.append(ExecutorEvent(EventKind.FINISHED, workload, TaskState.SUCCESS))
            else:
                self._sent[workload.token] = _Sent(workload, now)
        self._post(workloads)

    def has_backlog(self, in_flight: int) -> bool:
        """Whether messages wait in the broker for a worker while others run (seen at the last
        follow-up): the slots that count are the workers', which only the broker knows, not
        :attr:`slots` (``parallelism``)."""
        return self._waiting > 0

    def events(self) -> list[ExecutorEvent]:
        if self._sent:
            self._follow_up()
        events, self._events = self._events, []
        return events

    def has_events(self) -> bool:
        """Outcomes are found by :meth:`events`' follow-up, which a wake-up asks for."""
        return bool(self._events)

    def wait(self, timeout: float, also: Sequence[Waitable] = ()) -> None:
        """The workers' commits wake the scheduler through the store's notifier (one of ``also``)."""
        if self._events or timeout <= 0:
            return
        if also:
            multiprocessing.connection.wait(list(also), timeout=timeout)  # type: ignore[arg-type]
        else:
            time.sleep(timeout)

    def kill(self, key: TIKey, reason: str) -> bool:
        """Stop the worker process running this task instance's attempt (Celery's revoke with
        terminate, by SIGKILL: a stuck attempt must not wake up beside its retry)."""
        for token, sent in self._sent.items():
            if sent.workload.key == key:
                try:
                    self.app.control.revoke(token, terminate=True, signal="SIGKILL")
                except Exception as exc:  # the broker is down: the heartbeat check still fails the try
                    log.warning("could not revoke %s: %s", sent.workload.label, exc)
                    return False
                return True
        return False

    def close(self, timeout: float = 10.0) -> list[Workload]:
        """Messages already sent stay with the broker and the workers, which record their outcomes
        (a new scheduler hands out again the ones still queued); the ones never sent are returned."""
        with self._outbox_ready:
            self._closing = True
            self._outbox_ready.notify()
        self._sender.join(timeout)
        with self._outbox_ready:
            unsent = list(self._outbox)
            self._outbox.clear()
        self._sent.clear()
        try:
            self.app.close()
        finally:
            self.db.dispose()
        return unsent

    # -- sending ------------------------------------------------------------------------------------

    def _post(self, workloads: Sequence[Workload]) -> None:
        with self._outbox_ready:
            self._outbox.extend(workloads)
            self._outbox_ready.notify()

    def _send_loop(self) -> None:
        """The sender thread: publish what is posted, in order, until the executor closes. While the
        broker is down, what waits is kept and tried again every second."""
        while True:
            with self._outbox_ready:
                while not self._outbox and not self._closing:
                    self._outbox_ready.wait()
                if self._closing:
                    return
            if not self._send_waiting():
                time.sleep(1.0)

    def _send_waiting(self) -> bool:
        """Publish the posted workloads; False if the broker failed (the rest wait in the outbox)."""
        try:
            with self.app.producer_or_acquire() as producer:
                while True:
                    with self._outbox_ready:
                        if not self._outbox or self._closing:
                            return True
                        workload = self._outbox[0]
                    self._publish(workload, producer)
                    with self._outbox_ready:
                        self._outbox.popleft()
        except Exception as exc:  # the broker refused it, or is not reachable
            log.warning("could not send to the broker (%s); %d message(s) wait", exc, len(self._outbox))
            return False

    def _publish(self, workload: Workload, producer: Any) -> None:
        send(self.app, workload, self.settings, producer=producer)

    # -- following up -------------------------------------------------------------------------------

    def _follow_up(self) -> None:
        """Report what ended since the last look; re-send or fail what is stuck in its queue."""
        compensations = {t: sent.workload.key for t, sent in self._sent.items() if sent.workload.compensation}
        attempts = {t: sent.workload.key for t, sent in self._sent.items() if not sent.workload.compensation}
        with self.db.reading() as session:
            states = attempt_states(session, attempts, compensation_tokens=compensations)
        now = time.monotonic()
        stuck: list[_Sent] = []
        # waiting while others run: the workers are busy (one attempt that is not claimed yet is not
        # a backlog: a chain's next task, whose outcome must be followed up at once)
        queued = sum(1 for state in states.values() if state == TaskState.QUEUED.value)
        running = any(state == TaskState.RUNNING.value for state in states.values())
        self._waiting = queued if running else 0
        for token, sent in list(self._sent.items()):
            state = states.get(token)
            if state in _UNFINISHED:
                if state == TaskState.QUEUED.value and now - sent.sent_at > self.settings.queued_timeout:
                    stuck.append(sent)
                continue
            del self._sent[token]
            if sent.workload.compensation:  # its token is dropped when its try is recorded: it ended
                self._events.append(ExecutorEvent(EventKind.FINISHED, sent.workload, detail="ended"))
            elif state is None:
                detail = "its task instance was cleared or handed out again"
                self._events.append(ExecutorEvent(EventKind.REJECTED, sent.workload, detail=detail))
            else:
                self._events.append(ExecutorEvent(EventKind.FINISHED, sent.workload, TaskState(state)))
        for sent in stuck:
            self._unstick(sent)

    def _unstick(self, sent: _Sent) -> None:
        """A message no worker took within ``task_queued_timeout``: send it again, or give up."""
        workload, waited = sent.workload, self.settings.queued_timeout
        if sent.resends < self.settings.stuck_retries:
            sent.resends += 1
            log.warning(
                "%s: no worker took it from queue %r within %gs; sending it again (%d of %d)",
                workload.label,
                self.settings.queue_of(workload.queue),
                waited,
                sent.resends,
                self.settings.stuck_retries,
            )
            sent.sent_at = time.monotonic()
            self._post([workload])
            return
        reason = (
            f"no worker took it from Celery queue {self.settings.queue_of(workload.queue)!r} within "
            f"{waited:g}s, {sent.resends} time(s) sent again: is a worker listening on that queue?"
        )
        # failed by the scheduler, with its retries (see EventKind.UNCLAIMED); kept here until the
        # follow-up sees its try ended: if the scheduler's pass failed, it is reported again
        sent.sent_at = time.monotonic()
        self._events.append(ExecutorEvent(EventKind.UNCLAIMED, workload, detail=reason))
