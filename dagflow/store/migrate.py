"""Schema migrations (Alembic): ``dagflow db migrate`` upgrades any older schema to the current one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from dagflow.exceptions import DagflowError
from dagflow.store.engine import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(db: Database, revision: str = "head") -> tuple[str | None, str]:
    """Upgrade the schema to ``revision``; return the revisions before and after."""
    before = current_revision(db)
    config = alembic_config(db.url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return before, current_revision(db) or ""


def is_up_to_date(db: Database) -> bool:
    return current_revision(db) == head_revision()


def safe_url(url: str) -> str:
    """``url`` with its password hidden, fit to print."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid url>"


def open_current(url: str, *, upgrade: bool = False, **engine_kwargs: Any) -> Database:
    """The store at ``url``, upgraded first if asked, checked to be at the current schema
    (``engine_kwargs``: for its engine, as :class:`~dagflow.store.engine.Database` takes them).

    Raises a :class:`~dagflow.exceptions.DagflowError` with a one-line reason (an invalid URL, an
    unreachable server, an old schema) instead of a driver's traceback.
    """
    try:
        db = Database(url, **engine_kwargs)
        if upgrade:
            migrate(db)
        elif not is_up_to_date(db):
            raise DagflowError(
                f"the metadata store at {safe_url(db.url)} is not at the current schema: "
                "run 'dagflow db migrate'"
            )
    except SQLAlchemyError as exc:
        raise DagflowError(
            f"cannot use the metadata store at {safe_url(url)}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    return db


def open_if_current(url: str) -> Database | None:
    """The store at ``url`` if it exists and is at the current schema, else None; nothing is created
    (a SQLite file that does not exist is left so).

    For the commands that can answer from the DAGs folder instead when the store has nothing yet.
    An unreachable server or an invalid URL is still a :class:`~dagflow.exceptions.DagflowError`.
    """
    try:
        if _missing_sqlite_file(url):
            return None
        db = Database(url)
        if is_up_to_date(db):
            return db
        db.dispose()
        return None
    except SQLAlchemyError as exc:
        raise DagflowError(
            f"cannot use the metadata store at {safe_url(url)}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}"
        ) from None


def _missing_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(str(parsed.database)).expanduser().exists()
