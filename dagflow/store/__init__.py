"""The metadata store: SQLAlchemy models, sessions, migrations, and one function per question the
other layers ask. The only layer that imports SQLAlchemy or writes SQL.

Other layers type their sessions and connections with :data:`Session` and :data:`Connection` from here.
"""

# RefusedValue: the store refused a value it was sent (too long for its column, out of range...);
# callers answer it as bad input without importing SQLAlchemy.
from sqlalchemy import Connection
from sqlalchemy.exc import DataError as RefusedValue
from sqlalchemy.orm import Session

from dagflow.store.engine import Database, make_engine

__all__ = ["Connection", "Database", "RefusedValue", "Session", "make_engine"]
