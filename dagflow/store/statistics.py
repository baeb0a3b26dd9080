"""PostgreSQL's statistics on ``task_instance``, refreshed when a bulk insert outgrows them.

Without statistics (a new database, or a table last analyzed while it was small) the planner takes
a DAG's task instances for a handful, and ranks an index led by ``dag_id`` (``(dag_id, state)``,
``(dag_id, updated_at)``), narrower than the primary key, above it: every statement that finds one
task instance by its key (a worker's claim, outcome and heartbeat, the scheduler's queueing) then
walks all of the DAG's task instances, 0.2 ms a statement at a thousand of them, until autovacuum
analyzes the table (it looks once a minute). Analyzed, the primary key is chosen.
"""

from __future__ import annotations

import logging

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

#: A bulk insert of at least this many task instances may call for new statistics.
ANALYZE_AT = 200

_KNOWN_ROWS = text("SELECT reltuples FROM pg_class WHERE oid = CAST('task_instance' AS regclass)")
log = logging.getLogger(__name__)


def keep_statistics(session: Session, inserted: int) -> None:
    """After inserting ``inserted`` task instances in this transaction: analyze ``task_instance``
    once it has committed, if the planner's idea of the table's size (``reltuples``, -1 when never
    analyzed) is less than twice that, so that the statements that follow find their rows by key. A
    table that knows itself larger is left to autovacuum.

    Analyzed on a connection of its own after the commit, not in the transaction: an ``ANALYZE``
    holds its lock until its transaction ends, and a scheduler holding it while waiting for a row
    another one holds could deadlock with that one's own ``ANALYZE``. It waits at most 0.1 s for its
    lock (autovacuum may hold it: it analyzes then anyway), and a failure only leaves the statistics
    to autovacuum."""
    if inserted < ANALYZE_AT or session.get_bind().dialect.name != "postgresql":
        return
    known = session.scalar(_KNOWN_ROWS)
    if known is not None and known >= 2 * inserted:
        return
    if session.info.get("analyze_after_commit"):
        return
    session.info["analyze_after_commit"] = True
    engine = session.get_bind().engine

    def analyze(committed: Session) -> None:
        committed.info.pop("analyze_after_commit", None)
        try:
            with engine.connect() as connection:  # (LOCAL: the pooled connection keeps no timeout)
                connection.execute(text("SET LOCAL lock_timeout = '100ms'"))
                connection.execute(text("ANALYZE task_instance"))
                connection.commit()
        except DBAPIError as exc:
            log.debug("task_instance not analyzed now (autovacuum will): %s", exc)

    def forget(rolled_back: Session) -> None:
        rolled_back.info.pop("analyze_after_commit", None)
        if event.contains(rolled_back, "after_commit", analyze):
            event.remove(rolled_back, "after_commit", analyze)

    event.listen(session, "after_commit", analyze, once=True)
    event.listen(session, "after_rollback", forget, once=True)
