"""Task callbacks still to run for tries that ended without their worker: recorded in the transaction
that ends the try, deleted by the worker that ran them, handed out again when whoever handed them
out is gone.

A try the scheduler ends (a zombie, a task stuck in queued) or a worker's watchdog ends (an attempt
past its limits) runs the task's ``on_retry_callback`` or ``on_failure_callback`` in a worker, by a
workload made for it. That workload exists only in memory until a worker takes it: a scheduler that
dies after committing the try's end and before handing the workload to its executor would lose it,
so the request is kept here, as Airflow keeps its ``callback_request`` rows, until the callbacks ran.
Exactly once while nothing crashes; across a crash at least once (a worker that dies after running
the callbacks and before deleting the request leaves it to be handed out again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from dagflow.core.keys import TIKey
from dagflow.core.states import TaskState
from dagflow.store.models import CallbackRequestRow

CB = CallbackRequestRow


@dataclass(frozen=True)
class CallbackRequest:
    """The callbacks of one ended try, as the workload that runs them carries them."""

    key: TIKey
    try_number: int
    token: str
    fileloc: str
    state: TaskState
    reason: str
    max_tries: int
    start_date: datetime | None = None
    end_date: datetime | None = None


def record(session: Session, request: CallbackRequest, *, handed_out_by: int | None, now: datetime) -> None:
    """Keep ``request`` until its callbacks ran, as handed out by the scheduler ``handed_out_by``
    (None: by nobody, for any scheduler to hand out). In the transaction that ends the try."""
    key = request.key
    session.add(
        CB(
            dag_id=key.dag_id,
            run_id=key.run_id,
            task_id=key.task_id,
            map_index=key.map_index,
            try_number=request.try_number,
            token=request.token,
            fileloc=request.fileloc,
            state=request.state.value,
            reason=request.reason,
            max_tries=request.max_tries,
            start_date=request.start_date,
            end_date=request.end_date,
            created_at=now,
            handed_out_by=handed_out_by,
            handed_out_at=now if handed_out_by is not None else None,
        )
    )


def is_pending(session: Session, token: str) -> bool:
    """Whether the callbacks of the request with ``token`` are still to run."""
    return session.scalar(select(CB.id).where(CB.token == token)) is not None


def done(session: Session, token: str) -> bool:
    """The callbacks of the request with ``token`` ran (or have nothing left to run): forget it.
    False if it was already gone."""
    result = session.execute(delete(CB).where(CB.token == token))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def hand_back(session: Session, token: str) -> None:
    """The request with ``token`` is handed out by nobody now: the next scheduler that looks does."""
    session.execute(update(CB).where(CB.token == token).values(handed_out_by=None, handed_out_at=None))


def adopt(
    session: Session, *, alive: Sequence[int], job_id: int | None, now: datetime
) -> list[CallbackRequest]:
    """The pending requests nobody hands out any more (handed out by no scheduler in ``alive``, or by
    none at all), now handed out by ``job_id``. Rows another scheduler is adopting at this moment
    are skipped (PostgreSQL), so each is adopted by one."""
    orphaned = or_(CB.handed_out_by.is_(None), CB.handed_out_by.not_in(list(alive)))
    rows = list(session.scalars(select(CB).where(orphaned).order_by(CB.id).with_for_update(skip_locked=True)))
    if rows:
        session.execute(
            update(CB).where(CB.id.in_([r.id for r in rows])).values(handed_out_by=job_id, handed_out_at=now)
        )
    return [_request(row) for row in rows]


def _request(row: CallbackRequestRow) -> CallbackRequest:
    return CallbackRequest(
        key=TIKey(row.dag_id, row.run_id, row.task_id, row.map_index),
        try_number=row.try_number,
        token=row.token,
        fileloc=row.fileloc,
        state=TaskState(row.state),
        reason=row.reason,
        max_tries=row.max_tries,
        start_date=row.start_date,
        end_date=row.end_date,
    )
