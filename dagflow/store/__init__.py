"""The metadata store: SQLAlchemy models, sessions and migrations. The only layer that writes SQL."""

from dagflow.store.engine import Database, make_engine

__all__ = ["Database", "make_engine"]
