"""The metadata store: SQLAlchemy models, sessions and migrations. The only layer that writes SQL."""

# RefusedValue: the store refused a value it was sent (too long for its column, out of range...);
# callers answer it as bad input without importing SQLAlchemy.
from sqlalchemy.exc import DataError as RefusedValue

from dagflow.store.engine import Database, make_engine

__all__ = ["Database", "RefusedValue", "make_engine"]
