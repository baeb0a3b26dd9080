"""One attempt's life in the store, as a worker lives it: claim, heartbeat, record the outcome.

These run once or twice per task, on every worker, so their statements are built once here and
executed with parameters: no SQL is compiled on the hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dagflow.core.states import TaskState
from dagflow.store.models import TaskInstanceRow, TaskInstanceTryRow, XComRow
from dagflow.store.task_instances import TIKey, skip

TI_TABLE = cast(Table, TaskInstanceRow.__table__)
TI = TI_TABLE.c
XCOM = cast(Table, XComRow.__table__)
TRY = cast(Table, TaskInstanceTryRow.__table__)

_KEY = and_(
    TI.dag_id == bindparam("k_dag_id"),
    TI.run_id == bindparam("k_run_id"),
    TI.task_id == bindparam("k_task_id"),
    TI.map_index == bindparam("k_map_index"),
    TI.attempt_token == bindparam("k_token"),
)

_CLAIM = (
    update(TI_TABLE)
    .where(_KEY, TI.state == TaskState.QUEUED.value)
    .values(
        state=TaskState.RUNNING.value,
        start_date=bindparam("v_now"),
        end_date=None,
        duration=None,
        hostname=bindparam("v_hostname"),
        pid=bindparam("v_pid"),
        heartbeat_at=bindparam("v_now"),
        not_before=None,
        error=None,
        updated_at=bindparam("v_now"),
    )
    .returning(TI.try_number, TI.max_tries)
)

_TRY_START = select(TRY.c.start_date).where(
    TRY.c.dag_id == bindparam("k_dag_id"),
    TRY.c.run_id == bindparam("k_run_id"),
    TRY.c.task_id == bindparam("k_task_id"),
    TRY.c.map_index == bindparam("k_map_index"),
    TRY.c.try_number == bindparam("k_try_number"),
)

_HEARTBEAT = (
    update(TI_TABLE).where(_KEY, TI.state == TaskState.RUNNING.value).values(heartbeat_at=bindparam("v_now"))
)

_FINISH = (
    update(TI_TABLE)
    .where(_KEY, TI.state == TaskState.RUNNING.value)
    .values(
        state=bindparam("v_state"),
        end_date=bindparam("v_end_date"),
        duration=bindparam("v_duration"),
        not_before=bindparam("v_not_before"),
        map_length=bindparam("v_map_length"),
        rendered_fields=bindparam("v_rendered_fields", type_=TI.rendered_fields.type),
        error=bindparam("v_error"),
        heartbeat_at=None,
        updated_at=bindparam("v_now"),
    )
    .returning(TI.try_number, TI.queued_at, TI.hostname, TI.pid)
)

_DELETE_XCOMS = delete(XCOM).where(
    XCOM.c.dag_id == bindparam("k_dag_id"),
    XCOM.c.run_id == bindparam("k_run_id"),
    XCOM.c.task_id == bindparam("k_task_id"),
    XCOM.c.map_index == bindparam("k_map_index"),
)
_INSERT_XCOM = insert(XCOM)

_TRY_COLUMNS = (
    "dag_id",
    "run_id",
    "task_id",
    "map_index",
    "try_number",
    "state",
    "queued_at",
    "start_date",
    "end_date",
    "duration",
    "hostname",
    "pid",
    "error",
    "log_path",
)
#: On a second end of the same try (a rescheduled sensor), everything but the first start is updated.
_TRY_UPDATED = ("state", "end_date", "duration", "hostname", "pid", "error", "log_path")
_TRY_UPSERTS: dict[str, Any] = {}


def _try_upsert(dialect: str) -> Any:
    statement = _TRY_UPSERTS.get(dialect)
    if statement is None:
        make = pg_insert if dialect == "postgresql" else sqlite_insert
        base = make(TRY)
        statement = base.on_conflict_do_update(
            index_elements=["dag_id", "run_id", "task_id", "map_index", "try_number"],
            set_={name: base.excluded[name] for name in _TRY_UPDATED},
        )
        _TRY_UPSERTS[dialect] = statement
    return statement


def _connection(session: Session | Connection) -> Connection:
    return session.connection() if isinstance(session, Session) else session


def _key_params(key: TIKey, token: str) -> dict[str, Any]:
    return {
        "k_dag_id": key.dag_id,
        "k_run_id": key.run_id,
        "k_task_id": key.task_id,
        "k_map_index": key.map_index,
        "k_token": token,
    }


def claim(
    session: Session | Connection, key: TIKey, *, token: str, hostname: str, pid: int, now: datetime
) -> tuple[int, int] | None:
    """A worker takes a queued task instance: ``(try_number, max_tries)``, or None if not its to take."""
    row = (
        _connection(session)
        .execute(_CLAIM, {**_key_params(key, token), "v_now": now, "v_hostname": hostname, "v_pid": pid})
        .first()
    )
    return (int(row[0]), int(row[1])) if row is not None else None


def try_start(session: Session | Connection, key: TIKey, try_number: int) -> datetime | None:
    """When try ``try_number`` first started, if it already ended once (up for reschedule), else None."""
    params = {
        "k_dag_id": key.dag_id,
        "k_run_id": key.run_id,
        "k_task_id": key.task_id,
        "k_map_index": key.map_index,
        "k_try_number": try_number,
    }
    return _connection(session).execute(_TRY_START, params).scalar()


def heartbeat(session: Session | Connection, key: TIKey, *, token: str, now: datetime) -> bool:
    """Record that the attempt is alive; False if it is no longer this attempt's to run."""
    result = _connection(session).execute(_HEARTBEAT, {**_key_params(key, token), "v_now": now})
    return bool(result.rowcount)


@dataclass
class Outcome:
    """How an attempt ended, as the store records it."""

    state: TaskState
    start_date: datetime | None
    end_date: datetime
    not_before: datetime | None = None
    map_length: int | None = None
    error: str | None = None
    rendered_fields: dict[str, Any] | None = None
    skip_downstream: Sequence[str] = ()
    xcoms: Sequence[tuple[str, str]] = ()  # (key, JSON text)
    log_path: str | None = None
    #: The state the try history records, when it differs from the task instance's new state.
    try_state: TaskState | None = None


def record_outcome(
    session: Session | Connection, key: TIKey, *, token: str, outcome: Outcome, now: datetime
) -> bool:
    """Record an attempt's end, its XComs, its try history and the skips it decided, all at once.

    Does nothing and returns False when the task instance is no longer running this attempt.
    """
    conn = _connection(session)
    duration = (outcome.end_date - outcome.start_date).total_seconds() if outcome.start_date else None
    row = conn.execute(
        _FINISH,
        {
            **_key_params(key, token),
            "v_state": outcome.state.value,
            "v_end_date": outcome.end_date,
            "v_duration": duration,
            "v_not_before": outcome.not_before,
            "v_map_length": outcome.map_length,
            "v_rendered_fields": outcome.rendered_fields,
            "v_error": outcome.error,
            "v_now": now,
        },
    ).first()
    if row is None:
        return False
    where = {
        "k_dag_id": key.dag_id,
        "k_run_id": key.run_id,
        "k_task_id": key.task_id,
        "k_map_index": key.map_index,
    }
    conn.execute(_DELETE_XCOMS, where)
    if outcome.xcoms:
        conn.execute(
            _INSERT_XCOM,
            [
                {
                    "dag_id": key.dag_id,
                    "run_id": key.run_id,
                    "task_id": key.task_id,
                    "map_index": key.map_index,
                    "key": name,
                    "value": text,
                    "timestamp": now,
                }
                for name, text in outcome.xcoms
            ],
        )
    try_number, queued_at, hostname, pid = tuple(row)
    values = (
        key.dag_id,
        key.run_id,
        key.task_id,
        key.map_index,
        try_number,
        (outcome.try_state or outcome.state).value,
        queued_at,
        outcome.start_date,
        outcome.end_date,
        duration,
        hostname,
        pid,
        outcome.error,
        outcome.log_path,
    )
    conn.execute(_try_upsert(conn.dialect.name), dict(zip(_TRY_COLUMNS, values, strict=True)))
    if outcome.skip_downstream:
        skip(conn, key.dag_id, key.run_id, outcome.skip_downstream, now)
    return True
