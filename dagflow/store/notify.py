"""Waking the schedulers after a commit that can unblock them, from any process on any machine.

A write that can let the scheduler do something (a run triggered, a task instance cleared or
marked, a DAG unpaused, a pool grown) calls :func:`wake_after_commit` on its session; the store's
write session (:meth:`dagflow.store.engine.Database.session`) then tells its :class:`Notifier` once
the transaction commits. Nobody else sends wake-ups, so no caller can forget one or send one for a
change that was rolled back.

Two implementations, chosen by the database URL:

* SQLite (one machine): a Unix datagram socket named after the database file, so every process
  that opens the same file, whatever its ``DAGFLOW_HOME``, reaches the scheduler. One byte is sent
  after the commit.
* PostgreSQL (any machine): ``NOTIFY dagflow_scheduler`` inside the transaction; PostgreSQL delivers
  it to every listening scheduler when, and only if, the transaction commits. A worker's outcomes,
  the hottest writes, send it right after their commit instead, in the same round trip
  (:meth:`Notifier.statement_after_commit`), and on the channel of the scheduler that handed the
  attempt out (``dagflow_scheduler_<job id>``) when it is known: the others have nothing to do for
  it, and each outcome woke every one of them (each idle scheduler used a third as much CPU as the
  one that did the work).

A wake-up is a hint: a scheduler that misses one (not running yet, restarting) finds the change on
its next poll of the store.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger("dagflow.store")

#: The PostgreSQL channel the schedulers listen on.
CHANNEL = "dagflow_scheduler"
#: The key in a session's or connection's ``info`` that asks for a wake-up after its commit.
_WAKE = "dagflow_wake_scheduler"
#: A wake-up for a change others made (a trigger, a clear, a new DAG): the schedulers look around.
CHANGE = "change"
#: A wake-up for an attempt's outcome, recorded by a worker on any machine: the scheduler that
#: handed the attempt out follows it up itself, so the others need not look around for it. Sent as
#: ``outcome:<job id>`` when the scheduler that handed it out is known, to that scheduler alone on
#: PostgreSQL (:func:`channel_of`); a listener that gets another's counts it apart (see
#: :class:`Wakeups`).
OUTCOME = "outcome"


def channel_of(scheduler: int) -> str:
    """The PostgreSQL channel of the wake-ups meant for the scheduler of job ``scheduler`` alone."""
    return f"{CHANNEL}_{int(scheduler)}"


class Wakeups(NamedTuple):
    """What a drain of the wake-ups received so far found."""

    #: Commits that changed something others may act on (a trigger, a clear, a new DAG).
    changes: int = 0
    #: Outcomes of attempts this scheduler handed out, or whose scheduler is not known.
    outcomes: int = 0
    #: Outcomes of attempts another scheduler handed out: nothing for this one to follow up.
    others_outcomes: int = 0

    def __add__(self, other: object) -> Wakeups:
        assert isinstance(other, Wakeups)
        return Wakeups(*(a + b for a, b in zip(self, other, strict=True)))


def outcome_kind(scheduler: int | None) -> str:
    """The wake-up of an outcome of an attempt handed out by the scheduler of job ``scheduler``."""
    return OUTCOME if scheduler is None else f"{OUTCOME}:{scheduler}"


def is_outcome(kind: str) -> bool:
    return kind == OUTCOME or kind.startswith(f"{OUTCOME}:")


def wake_after_commit(
    session: Session | Connection, *, outcome: bool = False, scheduler: int | None = None
) -> None:
    """Have the schedulers woken once this transaction commits (nothing happens if it rolls back);
    ``outcome``: the transaction only records attempts' outcomes (a plain change outranks it), of
    attempts the scheduler of job ``scheduler`` handed out if given (outcomes of attempts of several
    schedulers wake them all)."""
    found = session.info.get(_WAKE)
    if not outcome:
        session.info[_WAKE] = CHANGE
    elif found is None or found == outcome_kind(scheduler):
        session.info[_WAKE] = outcome_kind(scheduler)
    elif is_outcome(found):
        session.info[_WAKE] = OUTCOME


def wants_wake(session: Session | Connection) -> str | None:
    """The wake-up this transaction asked for (:data:`CHANGE` or :data:`OUTCOME`), or None; the
    request is consumed."""
    found = session.info.pop(_WAKE, None)
    return None if not found else str(found)


class Notifier(Protocol):
    """Sends the wake-up of one committing transaction (``kind``: :data:`CHANGE` or :data:`OUTCOME`)."""

    def before_commit(self, connection: Connection, kind: str = CHANGE) -> None:
        """Called inside the transaction, just before it commits."""

    def after_commit(self, kind: str = CHANGE) -> None:
        """Called once the transaction has committed."""

    def statement_after_commit(self, kind: str = CHANGE) -> str | None:
        """For a connection in autocommit mode that begins and commits its transaction by statements
        (:func:`~dagflow.store.attempts.written_at_once`): a statement that sends the wake-up as a
        transaction of its own right after the commit, instead of :meth:`before_commit`; or None
        where :meth:`after_commit` alone sends it."""


class Listener(Protocol):
    """The scheduler's end: something ``multiprocessing.connection.wait`` can wait on."""

    def fileno(self) -> int: ...

    def drain(self, scheduler: int | None = None) -> Wakeups:
        """Consume the wake-ups received so far, without waiting, as the scheduler of job
        ``scheduler`` sees them (an outcome of another's attempt is counted apart); by default, as
        the schedulers this listener listens for see them."""

    def follow(self, schedulers: Iterable[int]) -> None:
        """Also hear the outcomes of attempts these schedulers handed out, as its own (their runs
        were taken over)."""

    def close(self) -> None: ...


def socket_path(database_url: str) -> Path:
    """The wake-up socket of a SQLite database: named after the file, in the temporary folder (a
    Unix socket's path is limited to about 100 bytes, too short for a path under the database)."""
    database = make_url(database_url).database or ""
    digest = hashlib.sha256(os.path.realpath(database).encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"dagflow-{digest}.sock"


_OUTCOME_BYTE = b"o"


class SocketNotifier:
    """SQLite: one datagram to the scheduler's socket after the commit."""

    def __init__(self, database_url: str):
        self.path = str(socket_path(database_url))

    def before_commit(self, connection: Connection, kind: str = CHANGE) -> None:
        """Nothing: the datagram goes after the commit, or the scheduler could read too early."""

    def statement_after_commit(self, kind: str = CHANGE) -> str | None:
        return None

    def after_commit(self, kind: str = CHANGE) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            with contextlib.suppress(OSError):  # no scheduler listening, or its buffer is full
                sock.sendto(_OUTCOME_BYTE if is_outcome(kind) else b"!", self.path)


class SocketListener:
    """SQLite: the scheduler's socket, drained after each wake-up."""

    def __init__(self, database_url: str):
        self.path = socket_path(database_url)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self, scheduler: int | None = None) -> Wakeups:
        """(One scheduler per SQLite database: every outcome is its own.)"""
        changes = outcomes = 0
        while True:
            try:
                received = self.sock.recv(64)
            except OSError:  # BlockingIOError: nothing more
                return Wakeups(changes, outcomes)
            if received == _OUTCOME_BYTE:
                outcomes += 1
            else:
                changes += 1

    def follow(self, schedulers: Iterable[int]) -> None:
        """(One scheduler per SQLite database: every outcome wakes it.)"""

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _notify_statement(kind: str) -> str:
    if not is_outcome(kind):
        return f"NOTIFY {CHANNEL}"
    assert kind.replace(":", "").isalnum()  # "outcome" or "outcome:<job id>": nothing to quote
    _, _, scheduler = kind.partition(":")
    return f"NOTIFY {channel_of(int(scheduler)) if scheduler else CHANNEL}, '{kind}'"


class PostgresNotifier:
    """PostgreSQL: ``NOTIFY`` inside the transaction, delivered by the server at commit."""

    def before_commit(self, connection: Connection, kind: str = CHANGE) -> None:
        # on the driver's connection: no answer to wait for, so in a pipeline it goes with the commit
        connection.connection.driver_connection.execute(_notify_statement(kind))  # type: ignore[union-attr]

    def after_commit(self, kind: str = CHANGE) -> None:
        """Nothing: the server delivers the notification at commit."""

    def statement_after_commit(self, kind: str = CHANGE) -> str | None:
        """``NOTIFY`` as a transaction of its own after the commit: a transaction that notifies holds
        one lock of the whole server from its commit until its commit record is on disk, so commits
        that notify wait for each other's disk writes, where others share one; a ``NOTIFY`` alone
        writes nothing to disk. It is sent in the commit's round trip, and only if the commit
        succeeded (a failed statement skips the rest of its pipeline)."""
        return _notify_statement(kind)


class PostgresListener:
    """PostgreSQL: a connection of its own in autocommit mode that ``LISTEN``s on the channel, and on
    the channel of its scheduler's own wake-ups (:func:`channel_of`) if ``scheduler`` is given.

    A connection that breaks (the server restarted) is opened again at the next :meth:`drain`; the
    scheduler polls the store meanwhile, so nothing is missed for long.
    """

    def __init__(self, database_url: str, scheduler: int | None = None):
        url = make_url(database_url).set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        #: Whose outcomes are this listener's own: its scheduler's, and those it follows.
        self.schedulers: set[int] = set() if scheduler is None else {scheduler}
        self.connection: Any = None
        self._connect()

    def _connect(self) -> None:
        import psycopg

        self.connection = psycopg.connect(self.dsn, autocommit=True)
        self.connection.execute(f"LISTEN {CHANNEL}")
        for scheduler in sorted(self.schedulers):
            self.connection.execute(f"LISTEN {channel_of(scheduler)}")

    def fileno(self) -> int:
        return int(self.connection.fileno())

    def follow(self, schedulers: Iterable[int]) -> None:
        new = set(schedulers) - self.schedulers
        self.schedulers |= new
        try:
            for scheduler in sorted(new):
                self.connection.execute(f"LISTEN {channel_of(scheduler)}")
        except Exception as exc:  # the connection broke: the next drain listens again, to all of them
            log.warning("could not listen to the wake-ups of schedulers %s yet: %s", sorted(new), exc)

    def drain(self, scheduler: int | None = None) -> Wakeups:
        whose = self.schedulers if scheduler is None else {scheduler}
        mine = {OUTCOME, *(f"{OUTCOME}:{s}" for s in whose)}
        changes = outcomes = others = 0
        try:
            for found in self.connection.notifies(timeout=0):
                if not is_outcome(found.payload):
                    changes += 1
                elif found.payload in mine or not whose:
                    outcomes += 1
                else:
                    others += 1
            return Wakeups(changes, outcomes, others)
        except Exception as exc:  # the connection broke: listen again on a new one
            log.warning("the wake-up connection to PostgreSQL broke (%s); listening again", exc)
            with contextlib.suppress(Exception):
                self.connection.close()
            try:
                self._connect()
            except Exception as again:
                log.warning("could not listen again yet: %s", again)
            return Wakeups(changes=1)  # look at the store now: a wake-up may have been lost with it

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.close()


def notifier_for(database_url: str) -> Notifier:
    """The notifier that reaches the schedulers of this database."""
    if make_url(database_url).get_backend_name() == "postgresql":
        return PostgresNotifier()
    return SocketNotifier(database_url)


def listen(database_url: str, scheduler: int | None = None) -> Listener:
    """Start listening for wake-ups sent by the writers of this database (the scheduler's end): those
    for every scheduler, and those for the scheduler of job ``scheduler`` alone, if given."""
    if make_url(database_url).get_backend_name() == "postgresql":
        return PostgresListener(database_url, scheduler)
    return SocketListener(database_url)


def wake_now(database_url: str) -> None:
    """Wake the schedulers of this database now, outside any transaction (for tools and tests that
    changed the store behind the store functions' back)."""
    notifier = notifier_for(database_url)
    if isinstance(notifier, PostgresNotifier):
        import psycopg

        dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f"NOTIFY {CHANNEL}")
        return
    notifier.after_commit()
