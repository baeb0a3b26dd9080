"""Which scheduler decides which run, when several share one PostgreSQL: session advisory locks.

Each scheduler decides only the runs it owns: it takes a run's advisory lock
(``pg_try_advisory_lock``) on a connection it keeps for the purpose, and gives it back once the run
is no longer running. Another scheduler passes over a run whose lock is held, as Airflow's schedulers
pass over the DAG runs another one has locked, so the deciding is shared instead of repeated by
every scheduler. A scheduler that dies loses its connection, and with it its locks: the others take
its runs on their next look. On SQLite (one scheduler) every run is this scheduler's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from sqlalchemy import Connection, TextClause, text

from dagflow.core.keys import RunKey
from dagflow.store.engine import Database

#: The first key of every run lock, so they never meet other advisory locks of the database.
NAMESPACE = 714_250

_TAKE = text("SELECT k, pg_try_advisory_lock(:ns, hashtext(k)) FROM unnest(CAST(:keys AS text[])) AS k")
_GIVE_BACK = text("SELECT k, pg_advisory_unlock(:ns, hashtext(k)) FROM unnest(CAST(:keys AS text[])) AS k")


def _name(key: RunKey) -> str:
    return f"{key.dag_id}\x1f{key.run_id}"


class RunOwnership:
    """The runs this scheduler owns (see the module docstring)."""

    def __init__(self, db: Database):
        self.db = db
        self.owned: set[RunKey] = set()
        #: The runs the last :meth:`claim` took (none it already owned).
        self.taken: set[RunKey] = set()
        self._connection: Connection | None = None

    @property
    def shared(self) -> bool:
        return not self.db.is_sqlite

    def claim(self, keys: Iterable[RunKey]) -> set[RunKey]:
        """Those of ``keys`` this scheduler owns, taking the ones no other scheduler holds."""
        wanted = set(keys)
        self.taken = set()
        if not self.shared:
            return wanted
        new = sorted(wanted - self.owned)
        if new:
            names = {_name(k): k for k in new}
            rows = self._execute(_TAKE, {"ns": NAMESPACE, "keys": list(names)})
            self.taken = {names[name] for name, taken in rows if taken}
            self.owned |= self.taken
        return wanted & self.owned

    def release(self, keys: Iterable[RunKey]) -> None:
        """Give back the runs among ``keys`` this scheduler owns (they are no longer running)."""
        gone = sorted(set(keys) & self.owned)
        if not gone or not self.shared:
            return
        self.owned -= set(gone)
        self._execute(_GIVE_BACK, {"ns": NAMESPACE, "keys": [_name(k) for k in gone]})

    def _execute(self, statement: TextClause, params: dict[str, object]) -> list[tuple[str, bool]]:
        if self._connection is None:
            self._connection = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            return [(str(row[0]), bool(row[1])) for row in self._connection.execute(statement, params)]
        except Exception:  # the connection broke: its locks went with it
            self.close()
            raise

    def close(self) -> None:
        """Give back every run (closing the connection drops its locks)."""
        self.owned.clear()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                # the connection goes back to the engine's pool: its session locks must not go with it
                self._connection.execute(text("SELECT pg_advisory_unlock_all()"))
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
