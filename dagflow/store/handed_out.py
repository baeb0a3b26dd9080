"""What became of the attempts an executor on other machines handed out, found by their claim tokens.

An executor whose workers run elsewhere (Celery) gets no report from them: the store is the truth.
It asks here which of its tokens are still queued or running; the scheduler ends here the try of a
task instance whose message no worker took in time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import ColumnElement, Executable, and_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dagflow.core.keys import TIKey
from dagflow.core.states import TaskState
from dagflow.store.models import CompensationInstanceRow, TaskInstanceRow, TaskInstanceTryRow
from dagflow.store.notify import wake_after_commit
from dagflow.store.task_instances import row_check

TI = TaskInstanceRow
C = CompensationInstanceRow
TRY = TaskInstanceTryRow
#: Tokens per statement (far below any database's limit on parameters).
CHUNK = 500


def attempt_states(
    session: Session,
    tokens: Mapping[str, TIKey],
    *,
    compensation_tokens: Mapping[str, TIKey] | None = None,
) -> dict[str, str]:
    """The state of each task instance that still holds one of ``tokens`` (each with the key of the
    task instance it was handed out for), and of each compensation that still holds one of
    ``compensation_tokens``, by token. A token missing from the answer was given up (its task
    instance was cleared or handed out again since), or its try has ended (a compensation's token is
    dropped when its try is recorded).

    Rows are found by their primary keys and their tokens compared here: no index holds the tokens
    (one would cost every write of a task instance), and a search by token alone would read the
    whole table, its history included, on every follow-up."""
    found: dict[str, str] = {}
    for table, wanted in ((TI, tokens), (C, compensation_tokens or {})):
        if not wanted:
            continue
        if session.get_bind().dialect.name == "postgresql":
            found.update(_states_by_arrays(session, table.__tablename__, wanted))
            continue
        items = list(wanted.items())
        for start in range(0, len(items), CHUNK):
            chunk = dict(items[start : start + CHUNK])
            keys = {(k.dag_id, k.run_id, k.task_id, k.map_index) for k in chunk.values()}
            query = select(table.attempt_token, table.state).where(
                tuple_(table.dag_id, table.run_id, table.task_id, table.map_index).in_(sorted(keys))
            )
            found.update(
                {str(token): str(state) for token, state in session.execute(query) if token in chunk}
            )
    return found


#: :func:`attempt_states` on PostgreSQL: the keys go as arrays, joined to the rows by their primary
#: key (as the scheduler's queueing does), so the statement is the same text whatever their number:
#: no chunks, and nothing for SQLAlchemy to build and cache per number of keys on every follow-up.
_STATES_BY_ARRAYS = (
    "SELECT t.attempt_token, t.state FROM {table} AS t"
    " JOIN unnest(CAST(:dag_ids AS text[]), CAST(:run_ids AS text[]), CAST(:task_ids AS text[]),"
    " CAST(:map_indexes AS integer[])) AS k(dag_id, run_id, task_id, map_index)"
    " ON t.dag_id = k.dag_id AND t.run_id = k.run_id AND t.task_id = k.task_id"
    " AND t.map_index = k.map_index"
)
_STATES_QUERIES = {
    table: text(_STATES_BY_ARRAYS.format(table=table)) for table in (TI.__tablename__, C.__tablename__)
}


def _states_by_arrays(session: Session, table: str, wanted: Mapping[str, TIKey]) -> dict[str, str]:
    keys = set(wanted.values())
    rows = session.connection().execute(
        _STATES_QUERIES[table],
        {
            "dag_ids": [k.dag_id for k in keys],
            "run_ids": [k.run_id for k in keys],
            "task_ids": [k.task_id for k in keys],
            "map_indexes": [k.map_index for k in keys],
        },
    )
    return {str(token): str(state) for token, state in rows if token in wanted}


def fail_unclaimed(
    session: Session,
    key: TIKey,
    *,
    token: str,
    state: TaskState,
    not_before: datetime | None,
    error: str,
    now: datetime,
) -> bool:
    """End the try of a task instance still queued with ``token`` that no worker took (its executor
    gave up sending it): it becomes ``state`` (up for retry from ``not_before``, or failed), and the try
    is recorded in its history, never started (no start date, no host), as any other failed try is.
    False, and nothing written, if it is no longer queued with that token (a worker took it meanwhile,
    or it was handed out again). Wakes the schedulers.

    A try that already ran before (a rescheduled sensor's, resumed) keeps in its history when and
    where it first started."""
    found = session.execute(
        update(TI)
        # (the state checked on the row found by its key: see row_check)
        .where(_is(key), TI.attempt_token == token, row_check(TI.state, TaskState.QUEUED.value))
        .values(
            state=state.value,
            start_date=None,
            end_date=now,
            duration=None,
            not_before=not_before,
            hostname=None,
            pid=None,
            log_url=None,
            heartbeat_at=None,
            error=error,
            updated_at=now,
        )
        .returning(TI.try_number, TI.queued_at),
        execution_options={"synchronize_session": False},
    ).first()
    if found is None:
        return False
    try_number, queued_at = found
    session.execute(_try_upsert(session, key, try_number, state, queued_at, error, now))
    wake_after_commit(session)
    return True


def _is(key: TIKey) -> ColumnElement[bool]:
    return and_(
        TI.dag_id == key.dag_id,
        TI.run_id == key.run_id,
        TI.task_id == key.task_id,
        TI.map_index == key.map_index,
    )


def _try_upsert(
    session: Session,
    key: TIKey,
    try_number: int,
    state: TaskState,
    queued_at: datetime | None,
    error: str,
    now: datetime,
) -> Executable:
    """The try's history row, added (or, for a resumed try, ended: its first start and host kept)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = {
        "dag_id": key.dag_id,
        "run_id": key.run_id,
        "task_id": key.task_id,
        "map_index": key.map_index,
        "try_number": try_number,
        "state": state.value,
        "queued_at": queued_at,
        "end_date": now,
        "error": error,
    }
    statement = insert(TRY).values(values)
    return statement.on_conflict_do_update(
        index_elements=["dag_id", "run_id", "task_id", "map_index", "try_number"],
        set_={name: statement.excluded[name] for name in ("state", "end_date", "error")},
    )
