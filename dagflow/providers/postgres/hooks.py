"""``PostgresHook``: a PostgreSQL database through psycopg 3, from a ``postgres`` connection.

The connection's schema is the database (``database=`` overrides it); extras such as ``sslmode``,
``connect_timeout`` or ``application_name`` are passed to psycopg as connection options.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL

from dagflow.providers.common_sql.hooks import DbApiHook

#: Extras that are psycopg connection options (the others, such as ``cursor``, are not).
CONNECT_OPTIONS = frozenset(
    {
        "sslmode",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslcrl",
        "connect_timeout",
        "application_name",
        "options",
    }
)


class PostgresHook(DbApiHook):
    conn_name_attr = "postgres_conn_id"
    default_conn_name = "postgres_default"
    conn_type = "postgres"
    hook_name = "Postgres"

    def __init__(self, *args: Any, options: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.options = options

    @property
    def sqlalchemy_url(self) -> URL:
        conn = self.connection
        query = {k: str(v) for k, v in conn.extra_dejson.items() if k in CONNECT_OPTIONS}
        if self.options:
            query["options"] = self.options
        return URL.create(
            "postgresql+psycopg",
            username=conn.login,
            password=conn.password,
            host=conn.host,
            port=conn.port,
            database=self.schema or conn.schema,
            query=query,
        )
