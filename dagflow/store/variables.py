"""Variables in the metadata store, their values sealed with the Fernet codec the caller passes."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dagflow.secrets.fernet import FernetCodec, Sealed
from dagflow.store.models import VariableRow


def list_variables(session: Session) -> list[VariableRow]:
    """Every Variable row, by key (values still sealed: open them with :func:`value_of`)."""
    return list(session.scalars(select(VariableRow).order_by(VariableRow.key)))


def get_variable_row(session: Session, key: str) -> VariableRow | None:
    return session.get(VariableRow, key)


def value_of(row: VariableRow, codec: FernetCodec) -> str | None:
    """A row's plain value; a wrong key is a :class:`~dagflow.exceptions.FernetKeyError` naming it."""
    return codec.open(Sealed(row.val, row.is_encrypted), f"Variable {row.key!r}")


def read_variable(session: Session, key: str, codec: FernetCodec) -> str | None:
    """The plain value of ``key``, or None when no such Variable is stored."""
    row = session.get(VariableRow, key)
    return None if row is None else value_of(row, codec)


def set_variable(
    session: Session, key: str, value: str, codec: FernetCodec, *, description: str | None = None
) -> VariableRow:
    """Create or replace ``key``. Its description is kept unless a new one is given (as in Airflow)."""
    sealed = codec.seal(value)
    row = session.get(VariableRow, key)
    if row is None:
        row = VariableRow(key=key, description=description)
        session.add(row)
    elif description is not None:
        row.description = description
    row.val, row.is_encrypted = sealed.text, sealed.encrypted
    return row


def delete_variable(session: Session, key: str) -> int:
    """Delete ``key``; how many rows went (0 or 1)."""
    return int(session.execute(delete(VariableRow).where(VariableRow.key == key)).rowcount or 0)  # type: ignore[attr-defined]
