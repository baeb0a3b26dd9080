"""Connections in the metadata store, their passwords and extras sealed with the caller's Fernet codec."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dagflow.models.connection import Connection
from dagflow.secrets.fernet import FernetCodec, Sealed
from dagflow.store.models import ConnectionRow


def list_connections(session: Session) -> list[ConnectionRow]:
    """Every Connection row, by id (secrets still sealed: open them with :func:`connection_of`)."""
    return list(session.scalars(select(ConnectionRow).order_by(ConnectionRow.conn_id)))


def get_connection_row(session: Session, conn_id: str) -> ConnectionRow | None:
    return session.get(ConnectionRow, conn_id)


def connection_of(row: ConnectionRow, codec: FernetCodec) -> Connection:
    """A stored row as a :class:`Connection`, its password and extra decrypted."""
    what = f"connection {row.conn_id!r}"
    return Connection(
        conn_id=row.conn_id,
        conn_type=row.conn_type,
        description=row.description,
        host=row.host,
        login=row.login,
        password=codec.open(Sealed(row.password, row.is_encrypted), f"the password of {what}"),
        schema=row.schema,
        port=row.port,
        extra=codec.open(Sealed(row.extra, row.is_extra_encrypted), f"the extra of {what}"),
    )


def read_connection(session: Session, conn_id: str, codec: FernetCodec) -> Connection | None:
    row = session.get(ConnectionRow, conn_id)
    return None if row is None else connection_of(row, codec)


def save_connection(session: Session, conn: Connection, codec: FernetCodec) -> ConnectionRow:
    """Create or replace the connection ``conn.conn_id`` with every field of ``conn``."""
    password, extra = codec.seal(conn.password), codec.seal(conn.extra)
    row = session.get(ConnectionRow, conn.conn_id)
    if row is None:
        row = ConnectionRow(conn_id=conn.conn_id)
        session.add(row)
    row.conn_type = conn.conn_type or ""
    row.description, row.host, row.schema = conn.description, conn.host, conn.schema
    row.login, row.port = conn.login, conn.port
    row.password, row.is_encrypted = password.text, password.encrypted
    row.extra, row.is_extra_encrypted = extra.text, extra.encrypted
    return row


def delete_connection(session: Session, conn_id: str) -> int:
    """Delete ``conn_id``; how many rows went (0 or 1)."""
    statement = delete(ConnectionRow).where(ConnectionRow.conn_id == conn_id)
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]
