"""The workloads that run a task's callbacks for an ended try, kept in the store until they ran
(see :mod:`dagflow.store.callback_requests`): recorded with the write that ends the try, handed out
again from there when whoever handed them out is gone, forgotten by the worker that ran them."""

from __future__ import annotations

from datetime import datetime

from dagflow.core.states import TaskState
from dagflow.executors.base import TaskCallback, Workload, ended_try_callback
from dagflow.store import Session
from dagflow.store import callback_requests as store
from dagflow.store.callback_requests import CallbackRequest
from dagflow.store.models import TaskInstanceRow


def record(session: Session, callbacks: Workload, *, handed_out_by: int | None, now: datetime) -> Workload:
    """Keep ``callbacks`` (a task callback workload) in the store until a worker ran it, as handed
    out by the scheduler ``handed_out_by``; in the transaction that ends its try. Returns it."""
    callback = callbacks.task_callback
    assert callback is not None
    request = CallbackRequest(
        key=callbacks.key,
        try_number=callbacks.try_number,
        token=callbacks.token,
        fileloc=callbacks.fileloc,
        state=callback.state,
        reason=callback.reason,
        max_tries=callback.max_tries,
        start_date=callback.start_date,
        end_date=callback.end_date,
    )
    store.record(session, request, handed_out_by=handed_out_by, now=now)
    return callbacks


def record_for_ended_try(
    session: Session,
    workload: Workload,
    row: TaskInstanceRow,
    *,
    fileloc: str,
    state: TaskState,
    reason: str,
    handed_out_by: int | None,
    now: datetime,
) -> Workload:
    """The workload that runs the task's callbacks for the try of ``workload`` (its task instance as
    ``row`` read it) that just ended as ``state`` without its worker recording it, kept in the store
    by the write that ended it (see :func:`record`)."""
    callback = TaskCallback(
        state=state, reason=reason, max_tries=row.max_tries, start_date=row.start_date, end_date=now
    )
    callbacks = ended_try_callback(workload, row.try_number, fileloc, callback)
    return record(session, callbacks, handed_out_by=handed_out_by, now=now)


def is_pending(session: Session, callbacks: Workload) -> bool:
    """Whether ``callbacks`` is still to run (kept, and no worker ran it since)."""
    return store.is_pending(session, callbacks.token)


def done(session: Session, callbacks: Workload) -> None:
    """``callbacks`` ran, or has nothing left to run: forget it."""
    store.done(session, callbacks.token)


def hand_back(session: Session, callbacks: Workload) -> None:
    """``callbacks`` never reached a worker (its message was refused): hand it to no scheduler, for
    the next one that looks to hand out (see :func:`adopt`)."""
    store.hand_back(session, callbacks.token)


def workload_of(request: CallbackRequest) -> Workload:
    """The workload a kept request runs as (on the default queue, as when it was made)."""
    callback = TaskCallback(
        state=request.state,
        reason=request.reason,
        max_tries=request.max_tries,
        start_date=request.start_date,
        end_date=request.end_date,
    )
    return Workload(request.key, request.try_number, request.token, request.fileloc, task_callback=callback)


def adopt(session: Session, *, alive: list[int], job_id: int | None, now: datetime) -> list[Workload]:
    """The kept callback workloads no live scheduler hands out (it died before handing them to its
    executor, or after, with them unsent or in a worker that died), now this scheduler's to hand out."""
    return [workload_of(request) for request in store.adopt(session, alive=alive, job_id=job_id, now=now)]
