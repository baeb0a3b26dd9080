"""``SqliteHook``: a SQLite database file named by a ``sqlite`` connection's host (Airflow's form:
``sqlite:///%2Fpath%2Fto%2Ffile.db``, or the JSON ``{"conn_type": "sqlite", "host": "/path/to/file.db"}``)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL

from dagflow.exceptions import DagflowError
from dagflow.providers.common_sql.hooks import DbApiHook


class SqliteHook(DbApiHook):
    conn_name_attr = "sqlite_conn_id"
    default_conn_name = "sqlite_default"
    conn_type = "sqlite"
    hook_name = "Sqlite"
    placeholder = "?"

    @property
    def sqlalchemy_url(self) -> URL:
        conn = self.connection
        path = conn.host or conn.schema
        if not path:
            raise DagflowError(
                f"connection {conn.conn_id!r}: a sqlite connection names its database file as its host"
            )
        database = path if path == ":memory:" else str(Path(path).expanduser())
        return URL.create("sqlite", database=database)
