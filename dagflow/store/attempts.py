"""One attempt's life in the store, as a worker lives it: claim, heartbeat, record the outcome.

These run once or twice per task, on every worker, so their statements are compiled once per
dialect here (:class:`Prepared`) and run with parameters straight on the connection's DBAPI cursor,
inside the caller's transaction: no SQL is compiled, and none of SQLAlchemy's per-statement
machinery (cache lookup, execution context, result objects) runs on the hot path. That machinery
cost a worker about as much CPU as the rest of a no-op attempt.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Connection, Table, and_, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.types import TypeEngine

from dagflow.core.keys import TIKey
from dagflow.core.states import TaskState
from dagflow.store.models import TaskInstanceRow, TaskInstanceTryRow, XComRow
from dagflow.store.task_instances import row_check, skip

T = TypeVar("T")
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


class Prepared:
    """A statement compiled once per dialect, run on the DBAPI cursor of the caller's connection.

    Parameters are given by name; literal values in the statement keep their values; each value goes
    through its column type's bind processor, and each returned column through ``returns``' result
    processor, exactly as SQLAlchemy would convert them.
    """

    def __init__(
        self, statement: Executable, returns: Sequence[TypeEngine[Any]] = (), *, literal: bool = False
    ):
        self.statement = statement
        self.returns = returns
        #: Every value is written into the SQL (a statement that takes no parameters; an ``IN`` of
        #: literal values is rendered as a list, not as SQLAlchemy's expanding parameter).
        self.literal = literal
        self._by_dialect: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = _Compiled.of(
                self.statement, self.returns, dialect, literal=self.literal
            )
        return found

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run with ``params`` and return the DBAPI cursor (closed by the caller, or collected)."""
        compiled = self.compiled(conn.dialect)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(compiled.sql, compiled.parameters(params))
        return cursor

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        compiled = self.compiled(conn.dialect)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.executemany(compiled.sql, [compiled.parameters(row) for row in rows])
        cursor.close()

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row returned, converted by the result processors; None if there is none."""
        return self.first_later(conn, params)()

    def first_later(
        self, conn: Connection, params: Mapping[str, Any]
    ) -> Callable[[], tuple[Any, ...] | None]:
        """Send the statement now; what :meth:`first` returns is read when the returned function is
        called on PostgreSQL (in a pipeline, after the round trip that carries it), at once elsewhere
        (SQLite's cursor must be read before its transaction ends)."""
        cursor = self.execute(conn, params)
        processors = self.compiled(conn.dialect).results

        def read() -> tuple[Any, ...] | None:
            row = cursor.fetchone()
            cursor.close()
            if row is None:
                return None
            return tuple(p(v) if p is not None else v for p, v in zip(processors, row, strict=True))

        if conn.dialect.name == "postgresql":
            return _once(read)
        found = read()
        return lambda: found

    def rows_later(self, conn: Connection, params: Mapping[str, Any]) -> Callable[[], list[tuple[Any, ...]]]:
        """Send the statement now; every row it returns (as the driver gives them: no result
        processors) is read when the returned function is called, as with :meth:`first_later`."""
        cursor = self.execute(conn, params)

        def read() -> list[tuple[Any, ...]]:
            rows = [tuple(row) for row in cursor.fetchall()]
            cursor.close()
            return rows

        if conn.dialect.name == "postgresql":
            return _once(read)
        found = read()
        return lambda: found


Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    #: (name in the SQL, name given, literal value, bind processor), in the order the SQL takes them.
    binds: tuple[tuple[str, str, Any, Processor], ...]
    results: tuple[Processor, ...]

    @classmethod
    def of(
        cls,
        statement: Executable,
        returns: Sequence[TypeEngine[Any]],
        dialect: Dialect,
        *,
        literal: bool = False,
    ) -> _Compiled:
        results = tuple(t.dialect_impl(dialect).result_processor(dialect, None) for t in returns)
        if literal:
            sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]
            return cls(sql, False, (), results)
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        order = list(compiled.positiontup) if compiled.positional else list(by_name)
        escaped = compiled.escaped_bind_names or {}
        binds = tuple(
            (
                escaped.get(name, name),
                name,
                by_name[name].value,
                by_name[name].type.dialect_impl(dialect).bind_processor(dialect),
            )
            for name in order
        )
        return cls(compiled.string, compiled.positional, binds, results)

    def parameters(self, given: Mapping[str, Any]) -> Any:
        values = []
        for _, name, literal, processor in self.binds:
            value = given.get(name, literal)
            values.append(processor(value) if processor is not None else value)
        if self.positional:
            return values
        return {sql_name: value for (sql_name, *_), value in zip(self.binds, values, strict=True)}


#: When the try being claimed first started, if it already ended once (a rescheduled sensor).
_FIRST_START = (
    select(TRY.c.start_date)
    .where(
        TRY.c.dag_id == TI.dag_id,
        TRY.c.run_id == TI.run_id,
        TRY.c.task_id == TI.task_id,
        TRY.c.map_index == TI.map_index,
        TRY.c.try_number == TI.try_number,
    )
    .scalar_subquery()
)

_CLAIM = Prepared(
    update(TI_TABLE)
    .where(_KEY, row_check(TI.state, TaskState.QUEUED.value))
    .values(
        state=TaskState.RUNNING.value,
        start_date=bindparam("v_now"),
        end_date=None,
        duration=None,
        hostname=bindparam("v_hostname"),
        pid=bindparam("v_pid"),
        log_url=bindparam("v_log_url"),
        heartbeat_at=bindparam("v_now"),
        not_before=None,
        error=None,
        updated_at=bindparam("v_now"),
    )
    .returning(TI.try_number, TI.max_tries, _FIRST_START),
    returns=(TI.try_number.type, TI.max_tries.type, TRY.c.start_date.type),
)

_TRY_START = Prepared(
    select(TRY.c.start_date).where(
        TRY.c.dag_id == bindparam("k_dag_id"),
        TRY.c.run_id == bindparam("k_run_id"),
        TRY.c.task_id == bindparam("k_task_id"),
        TRY.c.map_index == bindparam("k_map_index"),
        TRY.c.try_number == bindparam("k_try_number"),
    ),
    returns=(TRY.c.start_date.type,),
)

_HEARTBEAT = Prepared(
    update(TI_TABLE)
    .where(_KEY, row_check(TI.state, TaskState.RUNNING.value))
    .values(heartbeat_at=bindparam("v_now"))
)

#: An attempt's end, on its task instance's row (while it still runs this attempt).
_FINISH_ROW = (
    update(TI_TABLE)
    .where(_KEY, row_check(TI.state, TaskState.RUNNING.value))
    .values(
        state=bindparam("v_state"),
        end_date=bindparam("v_end_date"),
        duration=bindparam("v_duration"),
        not_before=bindparam("v_not_before"),
        map_length=bindparam("v_map_length"),
        rendered_fields=bindparam("v_rendered_fields", type_=TI.rendered_fields.type),
        rendered_map_index=bindparam("v_rendered_map_index", type_=TI.rendered_map_index.type),
        error=bindparam("v_error"),
        heartbeat_at=None,
        updated_at=bindparam("v_now"),
    )
)
_FINISH = Prepared(
    _FINISH_ROW.returning(TI.try_number, TI.queued_at, TI.hostname, TI.pid, TI.log_url),
    returns=(TI.try_number.type, TI.queued_at.type, TI.hostname.type, TI.pid.type, TI.log_url.type),
)

_DELETE_XCOMS = Prepared(
    delete(XCOM).where(
        XCOM.c.dag_id == bindparam("k_dag_id"),
        XCOM.c.run_id == bindparam("k_run_id"),
        XCOM.c.task_id == bindparam("k_task_id"),
        XCOM.c.map_index == bindparam("k_map_index"),
    )
)
_XCOM_COLUMNS = ("dag_id", "run_id", "task_id", "map_index", "key", "value", "timestamp")
_INSERT_XCOM = Prepared(insert(XCOM).values({name: bindparam(f"x_{name}") for name in _XCOM_COLUMNS}))

#: On PostgreSQL an attempt's XComs are written only if this very outcome was recorded in its task
#: instance's row (its new state, stamped now, with the attempt's token): so they need not wait for
#: the outcome's answer, and all of them go out in one round trip (:func:`written_at_once`).
_INSERT_XCOM_IF_RECORDED = Prepared(
    insert(XCOM).from_select(
        ["dag_id", "run_id", "task_id", "map_index", "key", "value", "timestamp"],
        select(
            TI.dag_id,
            TI.run_id,
            TI.task_id,
            TI.map_index,
            bindparam("x_key", type_=XCOM.c.key.type),
            bindparam("x_value", type_=XCOM.c.value.type),
            bindparam("v_now", type_=XCOM.c.timestamp.type),
        ).where(_KEY, row_check(TI.state, bindparam("v_state")), TI.updated_at == bindparam("v_now")),
    )
)

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
    "log_url",
)
#: On a second end of the same try (a rescheduled sensor), everything but the first start is updated.
_TRY_UPDATED = ("state", "end_date", "duration", "hostname", "pid", "error", "log_path", "log_url")
_TRY_UPSERTS: dict[str, Prepared] = {}


def _try_upsert(dialect: str) -> Prepared:
    statement = _TRY_UPSERTS.get(dialect)
    if statement is None:
        make = pg_insert if dialect == "postgresql" else sqlite_insert
        base = make(TRY).values({name: bindparam(f"t_{name}") for name in _TRY_COLUMNS})
        statement = _TRY_UPSERTS[dialect] = Prepared(
            base.on_conflict_do_update(
                index_elements=["dag_id", "run_id", "task_id", "map_index", "try_number"],
                set_={name: base.excluded[name] for name in _TRY_UPDATED},
            )
        )
    return statement


_OUTCOME_AT_ONCE: list[Prepared] = []


def _outcome_at_once() -> Prepared:
    """PostgreSQL: an attempt's outcome in one statement: the task instance's row (:data:`_FINISH`),
    its XComs of an earlier try deleted, and the try's history row, its try number, queue time, host
    and log server taken from the row as just written; it returns a row if the outcome was recorded
    (nothing is written otherwise). One statement is one transaction of its own, so an outcome
    without anything else to write needs no ``BEGIN`` and ``COMMIT``, and each statement a worker
    sends costs it about as much as a no-op task's own code."""
    if not _OUTCOME_AT_ONCE:
        returned = ("dag_id", "run_id", "task_id", "map_index", "try_number", "queued_at", "hostname", "pid")
        finished = _FINISH_ROW.returning(*(TI[name] for name in (*returned, "log_url"))).cte("finished")
        same_task = [
            XCOM.c[name] == finished.c[name] for name in ("dag_id", "run_id", "task_id", "map_index")
        ]
        cleared = delete(XCOM).where(*same_task).cte("cleared")
        given = {name: bindparam(f"t_{name}", type_=TRY.c[name].type) for name in _TRY_COLUMNS}
        columns = [finished.c[name] if name in finished.c else given[name] for name in _TRY_COLUMNS]
        base = pg_insert(TRY).from_select(list(_TRY_COLUMNS), select(*columns).select_from(finished))
        statement = (
            base.add_cte(cleared)
            .on_conflict_do_update(
                index_elements=["dag_id", "run_id", "task_id", "map_index", "try_number"],
                set_={name: base.excluded[name] for name in _TRY_UPDATED},
            )
            .returning(TRY.c.try_number)
        )
        _OUTCOME_AT_ONCE.append(Prepared(statement))
    return _OUTCOME_AT_ONCE[0]


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


class Claim(NamedTuple):
    """A task instance a worker took: its try, and when that try first started if it is resumed."""

    try_number: int
    max_tries: int
    #: When this try first started, if it already ended once (up for reschedule), else None.
    first_start: datetime | None


def claim_attempt(
    session: Session | Connection,
    key: TIKey,
    *,
    token: str,
    hostname: str,
    pid: int,
    now: datetime,
    log_url: str | None = None,
) -> Claim | None:
    """A worker takes a queued task instance (one statement); None if it is not its to take.
    ``log_url``: the log server that serves the try's log while it runs, if not this machine's files."""
    return claim_attempt_later(
        session, key, token=token, hostname=hostname, pid=pid, now=now, log_url=log_url
    )()


def claim_attempt_later(
    session: Session | Connection,
    key: TIKey,
    *,
    token: str,
    hostname: str,
    pid: int,
    now: datetime,
    log_url: str | None = None,
) -> Callable[[], Claim | None]:
    """:func:`claim_attempt`, its answer read when the returned function is called: inside
    :func:`written_at_once`, the claim then travels with the statements sent before and after it."""
    params = {
        **_key_params(key, token),
        "v_now": now,
        "v_hostname": hostname,
        "v_pid": pid,
        "v_log_url": log_url,
    }
    read = _CLAIM.first_later(_connection(session), params)

    def claimed() -> Claim | None:
        row = read()
        return Claim(int(row[0]), int(row[1]), row[2]) if row is not None else None

    return claimed


def claim(
    session: Session | Connection, key: TIKey, *, token: str, hostname: str, pid: int, now: datetime
) -> tuple[int, int] | None:
    """A worker takes a queued task instance: ``(try_number, max_tries)``, or None if not its to take."""
    claimed = claim_attempt(session, key, token=token, hostname=hostname, pid=pid, now=now)
    return (claimed.try_number, claimed.max_tries) if claimed is not None else None


def try_start(session: Session | Connection, key: TIKey, try_number: int) -> datetime | None:
    """When try ``try_number`` first started, if it already ended once (up for reschedule), else None."""
    params = {
        "k_dag_id": key.dag_id,
        "k_run_id": key.run_id,
        "k_task_id": key.task_id,
        "k_map_index": key.map_index,
        "k_try_number": try_number,
    }
    row = _TRY_START.first(_connection(session), params)
    return row[0] if row is not None else None


def heartbeat(session: Session | Connection, key: TIKey, *, token: str, now: datetime) -> bool:
    """Record that the attempt is alive; False if it is no longer this attempt's to run."""
    cursor = _HEARTBEAT.execute(_connection(session), {**_key_params(key, token), "v_now": now})
    count = cursor.rowcount
    cursor.close()
    return bool(count)


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
    rendered_map_index: str | None = None
    skip_downstream: Sequence[str] = ()
    #: When set, only this map index of the ``skip_downstream`` tasks is skipped.
    skip_map_index: int | None = None
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
    return record_outcome_later(session, key, token=token, outcome=outcome, now=now)()


def record_outcome_later(
    session: Session | Connection, key: TIKey, *, token: str, outcome: Outcome, now: datetime
) -> Callable[[], bool]:
    """:func:`record_outcome`, whether it was recorded read when the returned function is called. On
    PostgreSQL every write is sent without waiting for an answer (see :func:`_send_outcome`), so
    inside :func:`written_at_once` the outcome, what is sent after it and the commit go out together: one
    round trip. Elsewhere it is recorded at once."""
    conn = _connection(session)
    duration = (outcome.end_date - outcome.start_date).total_seconds() if outcome.start_date else None
    finish = {
        **_key_params(key, token),
        "v_state": outcome.state.value,
        "v_end_date": outcome.end_date,
        "v_duration": duration,
        "v_not_before": outcome.not_before,
        "v_map_length": outcome.map_length,
        "v_rendered_fields": outcome.rendered_fields,
        "v_rendered_map_index": outcome.rendered_map_index,
        "v_error": outcome.error,
        "v_now": now,
    }
    if conn.dialect.name == "postgresql" and not outcome.skip_downstream:
        return _send_outcome(conn, finish, outcome, duration)
    recorded = _record_waiting(conn, key, finish, outcome, duration, now)
    return lambda: recorded


def _record_waiting(
    conn: Connection,
    key: TIKey,
    finish: dict[str, Any],
    outcome: Outcome,
    duration: float | None,
    now: datetime,
) -> bool:
    row = _FINISH.first(conn, finish)
    if row is None:
        return False
    where = {
        "k_dag_id": key.dag_id,
        "k_run_id": key.run_id,
        "k_task_id": key.task_id,
        "k_map_index": key.map_index,
    }
    _DELETE_XCOMS.execute(conn, where).close()
    if outcome.xcoms:
        _INSERT_XCOM.execute_many(
            conn,
            [
                {
                    "x_dag_id": key.dag_id,
                    "x_run_id": key.run_id,
                    "x_task_id": key.task_id,
                    "x_map_index": key.map_index,
                    "x_key": name,
                    "x_value": text,
                    "x_timestamp": now,
                }
                for name, text in outcome.xcoms
            ],
        )
    try_number, queued_at, hostname, pid, log_url = row
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
        log_url,
    )
    params = {f"t_{name}": value for name, value in zip(_TRY_COLUMNS, values, strict=True)}
    _try_upsert(conn.dialect.name).execute(conn, params).close()
    if outcome.skip_downstream:
        skip(conn, key.dag_id, key.run_id, outcome.skip_downstream, now, map_index=outcome.skip_map_index)
    return True


def _send_outcome(
    conn: Connection, finish: dict[str, Any], outcome: Outcome, duration: float | None
) -> Callable[[], bool]:
    """:func:`record_outcome` on PostgreSQL: the outcome, the XComs of an earlier try deleted and the
    try's history row in one statement (:func:`_outcome_at_once`), then this attempt's XComs,
    guarded by the task instance's row as it wrote it (:data:`_INSERT_XCOM_IF_RECORDED`), all sent
    before the first answer is read; the returned function reads whether the outcome was recorded."""
    given = {
        "state": (outcome.try_state or outcome.state).value,
        "start_date": outcome.start_date,
        "end_date": outcome.end_date,
        "duration": duration,
        "error": outcome.error,
        "log_path": outcome.log_path,
    }
    cursor = _outcome_at_once().execute(
        conn, {**finish, **{f"t_{name}": value for name, value in given.items()}}
    )
    if outcome.xcoms:
        guard = {
            name: finish[name] for name in ("k_dag_id", "k_run_id", "k_task_id", "k_map_index", "k_token")
        }
        guard |= {"v_state": finish["v_state"], "v_now": finish["v_now"]}
        rows = [{**guard, "x_key": name, "x_value": text} for name, text in outcome.xcoms]
        _INSERT_XCOM_IF_RECORDED.execute_many(conn, rows)

    def recorded() -> bool:
        found = cursor.fetchone() is not None
        cursor.close()
        return found

    return _once(recorded)


def _once(read: Callable[[], T]) -> Callable[[], T]:
    """``read``, called at most once: later calls return what the first one did (a cursor's answer
    is read once, then the cursor is closed)."""
    answers: list[T] = []

    def answer() -> T:
        if not answers:
            answers.append(read())
        return answers[0]

    return answer


def kept_connection(connection: Connection) -> Connection:
    """A connection a worker keeps for its claims and outcomes, made ready for
    :func:`written_at_once`: on PostgreSQL its transactions are begun and committed by statements of
    their own (the driver in autocommit mode), which a pipeline can carry; elsewhere as it is."""
    if connection.dialect.name == "postgresql":
        return connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


@contextmanager
def written_at_once(
    connection: Connection, *, pipelined: bool = True, implicit: bool = False
) -> Iterator[list[str]]:
    """A write transaction on a :func:`kept_connection`. On PostgreSQL it is sent whole in one
    pipeline, ``BEGIN`` and ``COMMIT`` included: statements whose answers are read after the block
    (:func:`record_outcome_later`, :func:`claim_attempt_later`) cost no round trip of their own, and
    the block ends after exactly one (psycopg's own transactions wait for the ``BEGIN``'s answer, and
    for a last sync after the commit). Reading an answer inside the block costs a round trip, as
    always. Not ``pipelined``: each statement waits for its answer (for statements run through
    SQLAlchemy that read a row count, which a pipeline has not received yet). If anything fails the
    transaction is rolled back and the error raised. Elsewhere: the connection's own transaction
    (``connection.begin()``).

    The block gets a list: statements added to it are sent after the ``COMMIT``, each a transaction
    of its own, in the same round trip (a wake-up: see
    :meth:`~dagflow.store.notify.Notifier.statement_after_commit`); they are not sent if the
    transaction failed, and never elsewhere than on PostgreSQL.

    ``implicit`` (with ``pipelined``): no ``BEGIN`` and ``COMMIT`` are sent, two statements fewer for
    the driver and the server on every claim and outcome: PostgreSQL runs the statements of a pipeline
    up to its sync as one transaction of their own (an implicit transaction block), committed at the
    sync if none failed. Statements added to the list are then part of it (a wake-up is sent at its
    commit, as :meth:`~dagflow.store.notify.Notifier.before_commit` would): for a block that wakes
    the schedulers, do not ask for ``implicit``."""
    afterwards: list[str] = []
    if connection.dialect.name != "postgresql":
        with connection.begin():
            yield afterwards
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        implicit = implicit and pipelined
        with driver.pipeline() if pipelined else contextlib.nullcontext():
            if not implicit:
                driver.execute("BEGIN")
            yield afterwards
            if not implicit:
                driver.execute("COMMIT")
            for statement in afterwards:
                driver.execute(statement)
    except BaseException:
        with contextlib.suppress(Exception):  # (a connection the server dropped: see is_closed)
            driver.execute("ROLLBACK")
        if connection.in_transaction():  # statements run through SQLAlchemy began one of their own
            with contextlib.suppress(Exception):
                connection.rollback()  # (the driver's transaction has ended: nothing is sent)
        raise
    if connection.in_transaction():
        connection.commit()


def is_closed(connection: Connection) -> bool:
    """Whether the server dropped a :func:`kept_connection` (it restarted, or ended the session): its
    keeper should then make a new one. Statements run on the driver's cursor, as here, bypass
    SQLAlchemy's own check for a lost connection."""
    driver = connection.connection.driver_connection
    return bool(getattr(driver, "closed", False))


def give_back_try(connection: Session | Connection, key: TIKey) -> None:
    """An attempt stopped by a shutdown does not use up one of the task's retries."""
    ti = TaskInstanceRow
    connection.execute(
        update(ti)
        .where(
            ti.dag_id == key.dag_id,
            ti.run_id == key.run_id,
            ti.task_id == key.task_id,
            ti.map_index == key.map_index,
        )
        .values(max_tries=ti.max_tries + 1)
    )
