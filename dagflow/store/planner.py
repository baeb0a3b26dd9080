"""Statistics for PostgreSQL's query planner while a database is new.

A table gets its first statistics from autovacuum, which looks at each database once a minute
(``autovacuum_naptime``) at best. Until then the planner takes the tables for empty (their indexes
were built on no rows) and ranks every index that matches a statement's first column level: a
worker's write of one task instance, found by its primary key, was planned as a scan of the DAG's
task instances through ``(dag_id, updated_at)``, and read about 1,900 rows per row written during
the first 1,000-way fan-out of a new database. The scheduler calls :func:`analyze_new_tables` on
its heartbeat until each table it writes has had statistics: it analyzes a table that holds rows
and was never analyzed, by hand or by autovacuum, as autovacuum would have. Nothing is done on
SQLite, whose planner takes the primary key.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, text

#: The tables every task writes, whose statements find their rows by key.
TABLES = ("task_instance", "task_instance_try", "dag_run", "xcom")
#: Rows a table holds before it is worth analyzing (below this a wrong plan costs little).
MIN_ROWS = 500

_NEVER_ANALYZED = text(
    """
    SELECT relname, n_live_tup + n_dead_tup >= :min_rows
    FROM pg_stat_user_tables
    WHERE schemaname = current_schema() AND relname IN :tables
      AND last_analyze IS NULL AND last_autoanalyze IS NULL
    """
).bindparams(bindparam("tables", expanding=True))


def analyze_new_tables(connection: Connection) -> tuple[list[str], bool]:
    """Analyze the tables of :data:`TABLES` that hold at least :data:`MIN_ROWS` rows and were never
    analyzed; return them, and whether to call again later: while ``task_instance``, the largest
    and hottest, has no statistics (a DAG that passes no XCom leaves ``xcom`` empty for good).
    ``connection`` must not be in a transaction that others wait for: ``ANALYZE`` reads a sample
    of each table (a few milliseconds at the sizes concerned)."""
    if connection.dialect.name != "postgresql":
        return [], False
    rows = connection.execute(_NEVER_ANALYZED, {"tables": list(TABLES), "min_rows": MIN_ROWS}).all()
    due = sorted(str(name) for name, full in rows if full)
    for name in due:
        connection.exec_driver_sql(f'ANALYZE "{name}"')
    return due, any(name == "task_instance" and not full for name, full in rows)
