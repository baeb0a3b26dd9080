"""The metadata store: SQLAlchemy models, sessions, migrations, and one function per question the
other layers ask. The only layer that imports SQLAlchemy or writes SQL.

Other layers type their sessions with :data:`Session` from here.
"""

from sqlalchemy.orm import Session

from dagflow.store.engine import Database, make_engine

__all__ = ["Database", "Session", "make_engine"]
