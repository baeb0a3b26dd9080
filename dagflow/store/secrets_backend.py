"""The metadata store as a secrets backend: what task code reads and writes as Variables and Connections."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from dagflow.models.connection import Connection
from dagflow.secrets.fernet import FernetCodec
from dagflow.store import connections, variables
from dagflow.store.engine import Database


class MetastoreBackend:
    """Variables and Connections stored in ``database``; the database is opened on first use only."""

    def __init__(self, url: str, codec: FernetCodec, *, database: Database | None = None):
        self.url, self.codec = url, codec
        self._database = database
        self._owns = database is None

    def _db(self) -> Database | None:
        """The database, or None while there is none to read (a SQLite file not created yet)."""
        if self._database is None:
            parsed = make_url(self.url)
            file = parsed.database if parsed.get_backend_name() == "sqlite" else None
            if file not in (None, "", ":memory:") and not Path(str(file)).expanduser().exists():
                return None
            self._database = Database(self.url)
        return self._database

    def get_variable(self, key: str) -> str | None:
        db = self._db()
        if db is None:
            return None
        try:
            with db.session() as session:
                return variables.read_variable(session, key, self.codec)
        except (OperationalError, ProgrammingError):  # a store without the tables yet: nothing stored
            return None

    def get_connection(self, conn_id: str) -> Connection | None:
        db = self._db()
        if db is None:
            return None
        try:
            with db.session() as session:
                return connections.read_connection(session, conn_id, self.codec)
        except (OperationalError, ProgrammingError):
            return None

    def close(self) -> None:
        """Let go of the database (only one this backend opened itself)."""
        if self._database is not None and self._owns:
            self._database.dispose()
        self._database = None

    def _writable(self) -> Database:
        self._database = self._database or Database(self.url)
        return self._database

    def set_variable(self, key: str, value: str, description: str | None = None) -> None:
        with self._writable().session(write=True) as session:
            variables.set_variable(session, key, value, self.codec, description=description)

    def delete_variable(self, key: str) -> int:
        with self._writable().session(write=True) as session:
            return variables.delete_variable(session, key)
