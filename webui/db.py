"""The store, as the web UI uses it: one read session per request, short write sessions for actions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app, g
from sqlalchemy.orm import Session

from dagflow.config import Settings
from dagflow.store.engine import Database


def database() -> Database:
    db: Database = current_app.config["DAGFLOW_DATABASE"]
    return db


def settings() -> Settings:
    value: Settings = current_app.config["DAGFLOW_SETTINGS"]
    return value


def read_session() -> Session:
    """The request's read-only session (closed when the request ends)."""
    if "dagflow_session" not in g:
        g.dagflow_session = database()._read()
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
