"""The store, as the web UI uses it: one read session per request, short write sessions for actions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flask import abort, current_app, g

from dagflow.config import Settings
from dagflow.core.keys import TIKey
from dagflow.store import Session
from dagflow.store.engine import Database
from dagflow.store.reads import get_task_instance, request_session
from dagflow.store.runs import get_run

if TYPE_CHECKING:
    from dagflow.store.models import DagRunRow, TaskInstanceRow


def database() -> Database:
    db: Database = current_app.config["DAGFLOW_DATABASE"]
    return db


def settings() -> Settings:
    value: Settings = current_app.config["DAGFLOW_SETTINGS"]
    return value


def read_session() -> Session:
    """The request's read-only session (closed when the request ends)."""
    if "dagflow_session" not in g:
        g.dagflow_session = request_session(database())
    session: Session = g.dagflow_session
    return session


def close_session(error: Any = None) -> None:
    """End the request's read session. Rows read through it stay readable (detached, not expired)."""
    session = g.pop("dagflow_session", None)
    if session is not None:
        session.close()  # ends its transaction too; a rollback() first would expire every row read


@contextmanager
def write_session() -> Iterator[Session]:
    """A write transaction for one action; it commits when the block ends.

    The request's read session is closed afterwards, so what the request reads next sees the change
    (a read transaction begun before the write would still see the old rows, and its identity map
    would hand back the old objects).
    """
    with database().session(write=True) as session:
        yield session
    close_session()


def run_or_404(dag_id: str, run_id: str) -> DagRunRow:
    """The run a request names (read through the request's session), or a 404."""
    run = get_run(read_session(), dag_id, run_id)
    if run is None:
        abort(404, description=f"DAG {dag_id!r} has no run {run_id!r}")
    return run


def ti_or_404(key: TIKey) -> TaskInstanceRow:
    """The task instance a request names, or a 404."""
    ti = get_task_instance(read_session(), key=key)
    if ti is None:
        index = f" [{key.map_index}]" if key.map_index >= 0 else ""
        description = f"run {key.run_id!r} of DAG {key.dag_id!r} has no task instance {key.task_id!r}{index}"
        abort(404, description=description)
    return ti
