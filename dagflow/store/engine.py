"""The one place that opens database connections and sessions.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and write transactions start
with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing half-way. PostgreSQL
is used as is (``postgresql+psycopg://...``).
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from dagflow.exceptions import DagflowConfigError
from dagflow.store.notify import Notifier, notifier_for, wants_wake

SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITE_OPTION = "dagflow_write"
#: Set in a SQLite connection's info while its busy timeout is 0 (it takes the write lock itself).
_POLLS_FOR_LOCK = "dagflow_polls_for_lock"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # dagflow emits BEGIN itself, see on_begin
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        dbapi_connection = connection.connection.driver_connection
        info = connection.connection.info
        if connection.get_execution_options().get(_WRITE_OPTION):
            if not info.get(_POLLS_FOR_LOCK):  # SQLite's own waiting is replaced by ours, see below
                dbapi_connection.execute("PRAGMA busy_timeout=0")
                info[_POLLS_FOR_LOCK] = True
            _begin_immediate(dbapi_connection)
        else:
            if info.get(_POLLS_FOR_LOCK):
                dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                info[_POLLS_FOR_LOCK] = False
            connection.exec_driver_sql("BEGIN")


def _begin_immediate(dbapi_connection: Any) -> None:
    """Take SQLite's write lock, polling every fraction of a millisecond while another writer holds it.

    SQLite's own busy handler sleeps in steps of up to 100 ms, far longer than dagflow's write
    transactions last, which would make every writer wait for nothing; this loop waits about as long
    as the lock is actually held. The connection's busy timeout is 0 while it writes (set once, not
    around every transaction: a worker's connection only ever writes): in WAL mode a transaction
    that holds the write lock never waits for another lock, so nothing else needs SQLite's waiting.
    """
    cursor = dbapi_connection.cursor()
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = 0.0001
    try:
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
            time.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 1.5, 0.002)
    finally:
        cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; a SQLite file's folder is created if missing."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise DagflowConfigError(f"[database] url {url!r} is not a valid SQLAlchemy URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class Database:
    """Sessions on one database. The caller owns the transaction: helpers never commit.

    A write transaction that asked for it (:func:`dagflow.store.notify.wake_after_commit`) wakes the
    schedulers through ``notifier`` when it commits: this is the one place wake-ups are sent from.
    """

    def __init__(self, url: str, *, notifier: Notifier | None = None, **engine_kwargs: Any):
        self.url = url
        self.notifier = notifier if notifier is not None else notifier_for(url)
        self.engine = make_engine(url, **engine_kwargs)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        # PostgreSQL's READ COMMITTED gives each statement of a transaction a snapshot of its own, so
        # a reader gives up nothing by running without one, and spares a BEGIN and a COMMIT
        autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._reads_only = self._read if self.is_sqlite else sessionmaker(autocommit, expire_on_commit=False)

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database's file (None on PostgreSQL and for an in-memory SQLite database)."""
        name = self.engine.url.database
        if not self.is_sqlite or not name or name == ":memory:":
            return None
        return Path(name).expanduser().resolve()

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session whose transaction commits when the block ends and rolls back on error.

        ``write=True`` takes SQLite's write lock at the start, so the transaction cannot fail on
        the lock half-way.
        """
        session = (self._write if write else self._read)()
        try:
            yield session
            wake = wants_wake(session)
            if wake:
                self.notifier.before_commit(session.connection(), wake)
            session.commit()
            if wake:
                self.notifier.after_commit(wake)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session that only reads. On PostgreSQL it runs outside a transaction (autocommit): each
        statement sees what was committed when it began, as it would inside a READ COMMITTED
        transaction, and no round trip is spent on ``BEGIN`` and ``COMMIT`` (a hot loop's reads).
        Elsewhere, :meth:`session`. Writing in it is a mistake: each write would commit on its own."""
        session = self._reads_only()
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """A bare connection in a transaction (for hot paths that need no ORM session); commits on exit."""
        engine = self._write_engine if write else self.engine
        wake: str | None = None
        with engine.begin() as connection:
            try:
                yield connection
            finally:  # the flag lives on the pooled DBAPI connection: never leave it for the next user
                wake = wants_wake(connection)
            if wake:
                self.notifier.before_commit(connection, wake)
        if wake:
            self.notifier.after_commit(wake)

    def connect(self, *, write: bool = False) -> Connection:
        """A connection for a caller to keep between its transactions (``with connection.begin():``),
        sparing it a checkout from the pool for each; SQLAlchemy reconnects it after a disconnect."""
        return (self._write_engine if write else self.engine).connect()

    def dispose(self) -> None:
        self.engine.dispose()

    def forget_inherited_connections(self) -> None:
        """In a process just forked from the one that opened these connections: let go of them
        without closing them, and connect afresh if this process uses the database.

        They belong to the parent: closing one here (as :meth:`dispose` does) would end the
        parent's session on PostgreSQL (the driver says goodbye to the server over the socket both
        processes share), and using one would mix both processes' statements on it. The pool is
        dropped without being touched, as SQLAlchemy advises for ``os.fork()``; the driver's
        connections, dropped in turn, are not closed by the garbage collector of a process that did
        not open them (psycopg checks the process id)."""
        self.engine.dispose(close=False)
