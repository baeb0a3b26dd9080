"""Which scheduler decides which run, when several share one PostgreSQL: session advisory locks.

Each scheduler decides only the runs it owns: it takes a run's advisory lock
(``pg_try_advisory_lock``) on a connection it keeps for the purpose, and gives it back once the run
is no longer running. Another scheduler passes over a run whose lock is held, as Airflow's schedulers
pass over the DAG runs another one has locked, so the deciding is shared instead of repeated by
every scheduler. A scheduler that dies loses its connection, and with it its locks: the others take
its runs on their next look. On SQLite (one scheduler) every run is this scheduler's.

While schedulers are alive on other machines, a scheduler takes new runs only up to its share of
the running runs (their number over the machines', rounded up), so that schedulers on several
machines all decide and queue, instead of the first one to look taking everything. (Schedulers on
one machine do not share among themselves: they share its cores, and smaller passes each would
only cost more of them.) The runs it leaves are
the others' to take; one that no other scheduler has taken after :data:`LEAVE_FOR` seconds is taken
whatever the share (the others may be alive but busy, or about to stop). A scheduler that owns more
than one run over its share (a scheduler started on another machine, runs that ended elsewhere) gives
the rest up for the others, never the same run twice within :data:`GIVE_UP_AGAIN_AFTER`.
"""

from __future__ import annotations

import contextlib
import time
import zlib
from collections.abc import Iterable

from sqlalchemy import Connection, TextClause, text

from dagflow.core.keys import RunKey
from dagflow.store.engine import Database

#: The first key of every run lock, so they never meet other advisory locks of the database.
NAMESPACE = 714_250
#: How long a run left for other schedulers waits for one of them before this one takes it anyway.
LEAVE_FOR = 1.0
#: A run this scheduler gave up is not given up again for this long (if no other scheduler took it,
#: this one took it back: it must not bounce).
GIVE_UP_AGAIN_AFTER = 30.0

_TAKE = text("SELECT k, pg_try_advisory_lock(:ns, hashtext(k)) FROM unnest(CAST(:keys AS text[])) AS k")
#: Those of the runs no scheduler holds (``pg_locks`` shows an advisory lock's second key as an oid;
#: advisory locks are the database's own, and the server's other databases may hold the same keys).
_FREE = text(
    "SELECT k, true FROM unnest(CAST(:keys AS text[])) AS k WHERE NOT EXISTS (SELECT 1 FROM pg_locks AS l"
    " WHERE l.locktype = 'advisory' AND l.classid = :ns AND l.objsubid = 2"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND l.objid = CAST(hashtext(k)::bigint & 4294967295 AS oid))"
)
_GIVE_BACK = text("SELECT k, pg_advisory_unlock(:ns, hashtext(k)) FROM unnest(CAST(:keys AS text[])) AS k")


def _name(key: RunKey) -> str:
    return f"{key.dag_id}\x1f{key.run_id}"


class RunOwnership:
    """The runs this scheduler owns (see the module docstring)."""

    def __init__(self, db: Database, *, seed: int = 0):
        self.db = db
        self.owned: set[RunKey] = set()
        #: The runs the last :meth:`claim` took (none it already owned).
        self.taken: set[RunKey] = set()
        #: Runs left for other schedulers by a share, and when they were first left (monotonic).
        self.left: dict[RunKey, float] = {}
        #: Runs this scheduler gave up, being over its share, and when (monotonic).
        self.given_up: dict[RunKey, float] = {}
        #: Orders the runs this scheduler tries first (its job id): schedulers sharing runs try
        #: different ones first, instead of all contending for the same.
        self.seed = seed
        self._connection: Connection | None = None

    @property
    def shared(self) -> bool:
        return not self.db.is_sqlite

    def claim(self, keys: Iterable[RunKey], *, limit: int | None = None) -> set[RunKey]:
        """Those of ``keys`` this scheduler owns, taking the ones no other scheduler holds: at most
        ``limit`` new ones (its share, see the module docstring), besides those it left for others
        longer than :data:`LEAVE_FOR` ago. The runs it leaves to others, held by none yet, are in
        :attr:`left`."""
        wanted = set(keys)
        self.taken = set()
        if not self.shared:
            return wanted
        new = sorted(wanted - self.owned, key=self.order)
        now = time.monotonic()
        overdue = [k for k in new if now - self.left.get(k, now) >= LEAVE_FOR]
        rest = [k for k in new if k not in set(overdue)]
        self._take(overdue)
        if limit is None:
            self._take(rest)
            rest = []
        wanting = max(0, limit or 0)
        while wanting > 0 and rest:  # those another scheduler holds do not count: try the next ones
            tried, rest = rest[:wanting], rest[wanting:]
            wanting -= len(self._take(tried))
        free = set(self._free(rest))
        for key in rest:  # left for the others if no one holds it yet; else it is another's
            if key in free:
                self.left.setdefault(key, now)
            else:
                self.left.pop(key, None)
        self.owned |= self.taken
        return wanted & self.owned

    def _take(self, keys: list[RunKey]) -> set[RunKey]:
        """Take the locks of ``keys`` that no other scheduler holds; return the runs taken."""
        if not keys:
            return set()
        names = {_name(k): k for k in keys}
        rows = self._execute(_TAKE, {"ns": NAMESPACE, "keys": list(names)})
        taken = {names[name] for name, ok in rows if ok}
        self.taken |= taken
        for key in keys:  # taken, or held by another scheduler: not left for anyone any more
            self.left.pop(key, None)
        return taken

    def order(self, key: RunKey) -> int:
        """Where this scheduler puts ``key`` among runs it may take or give up (see :attr:`seed`)."""
        return zlib.crc32(f"{self.seed}\x1f{_name(key)}".encode())

    def _free(self, keys: list[RunKey]) -> list[RunKey]:
        """Those of ``keys`` no scheduler holds."""
        if not keys:
            return []
        names = {_name(k): k for k in keys}
        return [names[name] for name, _ in self._execute(_FREE, {"ns": NAMESPACE, "keys": list(names)})]

    def give_up(self, keys: set[RunKey]) -> None:
        """Give back runs this scheduler owns and still runs, for the others to take (it is over its
        share); they are not given up again within :data:`GIVE_UP_AGAIN_AFTER`."""
        now = time.monotonic()
        self.given_up = {k: t for k, t in self.given_up.items() if now - t < GIVE_UP_AGAIN_AFTER}
        self.given_up.update(dict.fromkeys(keys, now))
        self.release(keys)

    def may_give_up(self, key: RunKey) -> bool:
        """Whether ``key`` was not given up lately (see :meth:`give_up`)."""
        return time.monotonic() - self.given_up.get(key, float("-inf")) >= GIVE_UP_AGAIN_AFTER

    def release(self, keys: Iterable[RunKey]) -> None:
        """Give back the runs among ``keys`` this scheduler owns (they are no longer running)."""
        keys = set(keys)
        for key in keys:
            self.left.pop(key, None)
        gone = sorted(keys & self.owned)
        if not gone or not self.shared:
            return
        self.owned -= set(gone)
        self._execute(_GIVE_BACK, {"ns": NAMESPACE, "keys": [_name(k) for k in gone]})

    def _execute(self, statement: TextClause, params: dict[str, object]) -> list[tuple[str, bool]]:
        try:
            if self._connection is None:
                self._connection = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            return [(str(row[0]), bool(row[1])) for row in self._connection.execute(statement, params)]
        except Exception:  # the connection broke: its locks went with it
            self.close()
            raise

    def close(self) -> None:
        """Give back every run (closing the connection drops its locks)."""
        self.owned.clear()
        self.left.clear()
        self.given_up.clear()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                # the connection goes back to the engine's pool: its session locks must not go with it
                self._connection.execute(text("SELECT pg_advisory_unlock_all()"))
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
