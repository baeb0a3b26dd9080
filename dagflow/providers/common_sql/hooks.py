"""``DbApiHook``: run SQL on a user's database found by its Connection, through SQLAlchemy.

Subclasses say how a Connection becomes a SQLAlchemy URL (``sqlalchemy_url``). Statements run on
the database driver's own cursor (so ``parameters`` use the driver's style: ``?``/``:name`` for
SQLite, ``%s``/``%(name)s`` for PostgreSQL), as Airflow's hooks do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool

from dagflow.exceptions import DagflowError
from dagflow.hooks.base import BaseHook
from dagflow.providers.common_sql.handlers import (
    fetch_all_handler,
    fetch_one_handler,
    return_single_query_results,
)

if TYPE_CHECKING:
    from dagflow.models.connection import Connection

Parameters = Sequence[Any] | dict[str, Any] | None


class DbApiHook(BaseHook):
    """A SQL database reached through the Connection named by ``<conn_name_attr>``."""

    conn_name_attr = "conn_id"
    default_conn_name = "default_conn_id"
    placeholder = "%s"

    def __init__(
        self,
        *args: Any,
        schema: str | None = None,
        log_sql: bool = True,
        connection: Connection | None = None,
        **kwargs: Any,
    ):
        super().__init__()
        conn_id = args[0] if args else kwargs.pop(self.conn_name_attr, None)
        setattr(self, self.conn_name_attr, conn_id or self.default_conn_name)
        self.schema = schema or kwargs.pop("database", None)
        self.log_sql = log_sql
        self._connection = connection
        self._engine: Engine | None = None
        self.descriptions: list[Sequence[Any] | None] = []

    # -- the connection ---------------------------------------------------------------------------

    def get_conn_id(self) -> str:
        return str(getattr(self, self.conn_name_attr))

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = self.get_connection(self.get_conn_id())
        return self._connection

    @property
    def sqlalchemy_url(self) -> URL:
        raise NotImplementedError

    def get_uri(self) -> str:
        return self.sqlalchemy_url.render_as_string(hide_password=False)

    def get_sqlalchemy_engine(self, engine_kwargs: dict[str, Any] | None = None) -> Engine:
        """An engine on the user's database (no pool: a hook is short-lived, like the task using it)."""
        if self._engine is None:
            self._engine = create_engine(self.sqlalchemy_url, poolclass=NullPool, **(engine_kwargs or {}))
        return self._engine

    def get_conn(self) -> Any:
        """A DBAPI connection (the driver's own, proxied by SQLAlchemy): ``cursor()``, ``commit()``..."""
        return self.get_sqlalchemy_engine().raw_connection()

    def set_autocommit(self, conn: Any, autocommit: bool) -> None:
        driver = conn.driver_connection
        if hasattr(driver, "isolation_level") and not hasattr(driver, "pgconn"):  # sqlite3
            driver.isolation_level = None if autocommit else ""
        else:
            driver.autocommit = autocommit

    def get_autocommit(self, conn: Any) -> bool:
        driver = conn.driver_connection
        if hasattr(driver, "isolation_level") and not hasattr(driver, "pgconn"):
            return driver.isolation_level is None
        return bool(getattr(driver, "autocommit", False))

    # -- running SQL ------------------------------------------------------------------------------

    @staticmethod
    def split_sql_string(sql: str, strip_semicolon: bool = False) -> list[str]:
        """The statements of ``sql`` (semicolons inside strings and comments do not split)."""
        import sqlparse

        statements = [s.strip() for s in sqlparse.split(sql, strip_semicolon=strip_semicolon)]
        return [s for s in statements if s and s.strip(";").strip()]

    def run(
        self,
        sql: str | Iterable[str],
        autocommit: bool = False,
        parameters: Parameters = None,
        handler: Callable[[Any], Any] | None = None,
        split_statements: bool = False,
        return_last: bool = True,
    ) -> Any:
        """Run one statement, or several in order on one connection, then commit.

        With a ``handler``, return what it makes of the results: of the last statement for a single
        SQL string (unless it is split and ``return_last`` is False), else a list, one per statement.
        """
        single = return_single_query_results(
            sql if isinstance(sql, str) else list(sql), return_last, split_statements
        )
        statements = self._statements(sql, split_statements)
        results: list[Any] = []
        self.descriptions = []
        with closing(self.get_conn()) as conn:
            self.set_autocommit(conn, autocommit)
            with closing(conn.cursor()) as cursor:
                for statement in statements:
                    self._run_command(cursor, statement, parameters)
                    if handler is not None:
                        results.append(handler(cursor))
                        self.descriptions.append(cursor.description)
            if not self.get_autocommit(conn):
                conn.commit()
        if handler is None:
            return None
        if single:
            self.descriptions = self.descriptions[-1:]
            return results[-1]
        return results

    def _statements(self, sql: str | Iterable[str], split: bool) -> list[str]:
        if isinstance(sql, str):
            statements = self.split_sql_string(sql) if split else ([sql] if sql.strip() else [])
        else:
            statements = [s for s in sql if s.strip()]
        if not statements:
            raise DagflowError(f"{type(self).__name__}: there is no SQL statement to run")
        return statements

    def _run_command(self, cursor: Any, statement: str, parameters: Parameters) -> None:
        if self.log_sql:
            self.log.info("Running statement: %s, parameters: %s", statement, parameters)
        if parameters:
            cursor.execute(statement, parameters)
        else:
            cursor.execute(statement)
        if cursor.rowcount >= 0:
            self.log.info("Rows affected: %s", cursor.rowcount)

    def get_records(self, sql: str | list[str], parameters: Parameters = None) -> Any:
        """Every row the (last) statement returns."""
        return self.run(sql=sql, parameters=parameters, handler=fetch_all_handler)

    def get_first(self, sql: str | list[str], parameters: Parameters = None) -> Any:
        """The first row the (last) statement returns, or None."""
        return self.run(sql=sql, parameters=parameters, handler=fetch_one_handler)

    def insert_rows(
        self,
        table: str,
        rows: Iterable[Sequence[Any]],
        target_fields: Sequence[str] | None = None,
        commit_every: int = 1000,
    ) -> int:
        """Insert ``rows`` into ``table`` (committing every ``commit_every`` rows); how many were inserted."""
        fields = f" ({', '.join(target_fields)})" if target_fields else ""
        count = 0
        with closing(self.get_conn()) as conn, closing(conn.cursor()) as cursor:
            for row in rows:
                marks = ", ".join([self.placeholder] * len(row))
                cursor.execute(f"INSERT INTO {table}{fields} VALUES ({marks})", tuple(row))
                count += 1
                if commit_every and count % commit_every == 0:
                    conn.commit()
            conn.commit()
        return count

    def test_connection(self) -> tuple[bool, str]:
        try:
            self.get_first("SELECT 1")
        except Exception as exc:  # the answer to a test is the error, in one line
            return False, f"{type(exc).__name__}: {exc}".splitlines()[0]
        return True, "Connection successfully tested"
