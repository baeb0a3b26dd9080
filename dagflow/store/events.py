"""The event log: one audit line per thing a person did (trigger, clear, mark, pause, pools...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dagflow.core.clock import utcnow
from dagflow.store.models import EventLogRow


def record_event(
    session: Session,
    *,
    event: str,
    when: datetime | None = None,
    owner: str | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    map_index: int | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Record who did what (at ``when``, default now), in the caller's transaction or not at all."""
    session.add(
        EventLogRow(
            dttm=when or utcnow(),
            event=event,
            owner=owner,
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=map_index,
            extra=extra,
        )
    )
