"""What people do to Variables and Connections — set, import, add, delete — on the metadata store.

The CLI and the web UI both call these, as :mod:`dagflow.actions`: each takes the caller's session
(the caller commits) and the Fernet codec of ``[core] fernet_key``, checks its input first and
raises a one-line :class:`~dagflow.exceptions.DagflowError` on bad input, so nothing is
half-written, and records an audit line (never a secret value) in the event log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dagflow.exceptions import ConnectionNotFound, DagflowError, VariableNotFound
from dagflow.models.baseoperator import validate_key
from dagflow.models.connection import Connection
from dagflow.secrets.fernet import FernetCodec
from dagflow.store import Session
from dagflow.store import connections as conn_store
from dagflow.store import variables as var_store
from dagflow.store.events import record_event

#: What ``import_variables`` does with a key that exists already (Airflow's ``--action-on-existing-key``).
ON_EXISTING = ("overwrite", "fail", "skip")


class ConnectionExists(DagflowError):
    """``connections add`` of an id that is taken."""


def _check_key(kind: str, key: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise DagflowError(f"a {kind} needs a non-empty name")
    if len(key) > 250:
        raise DagflowError(f"{kind} {key[:40]!r}...: names are at most 250 characters")
    if "\x00" in key:
        raise DagflowError(f"{kind} {key!r}: a name cannot contain a NUL character")
    return key


def set_variable(
    session: Session,
    key: str,
    value: str,
    *,
    codec: FernetCodec,
    description: str | None = None,
    owner: str | None = None,
) -> None:
    """Create or replace Variable ``key`` (its value encrypted when a Fernet key is set)."""
    _check_key("Variable", key)
    if not isinstance(value, str):
        raise DagflowError(f"Variable {key!r}: the value must be text (JSON text for structured values)")
    var_store.set_variable(session, key, value, codec, description=description)
    record_event(session, event="set_variable", owner=owner, extra={"key": key})


def delete_variable(session: Session, key: str, *, owner: str | None = None) -> None:
    if not var_store.delete_variable(session, key):
        raise VariableNotFound(key)
    record_event(session, event="delete_variable", owner=owner, extra={"key": key})


def _import_entry(key: str, entry: Any) -> tuple[str, str | None]:
    """A value of a variables file: text as is, ``{"value": ..., "description": ...}``, else JSON text."""
    if isinstance(entry, dict) and "value" in entry and set(entry) <= {"value", "description"}:
        value, description = entry["value"], entry.get("description")
    else:
        value, description = entry, None
    text = value if isinstance(value, str) else json.dumps(value)
    return text, description


def import_variables(
    session: Session,
    variables: Mapping[str, Any],
    *,
    codec: FernetCodec,
    on_existing: str = "overwrite",
    owner: str | None = None,
) -> tuple[int, int]:
    """Set every Variable of ``variables``; return (how many were set, how many were skipped).

    With ``on_existing="fail"``, one key that exists already fails the whole import: nothing is set.
    """
    if on_existing not in ON_EXISTING:
        raise DagflowError(f"action on an existing key must be one of {', '.join(ON_EXISTING)}")
    existing = {row.key for row in var_store.list_variables(session)}
    clashes = sorted(set(variables) & existing)
    if clashes and on_existing == "fail":
        raise DagflowError(
            f"Variable {clashes[0]!r} exists already (--action-on-existing-key fail): nothing imported"
        )
    set_count = skipped = 0
    for key, entry in variables.items():
        if key in existing and on_existing == "skip":
            skipped += 1
            continue
        value, description = _import_entry(key, entry)
        set_variable(session, key, value, codec=codec, description=description, owner=owner)
        set_count += 1
    return set_count, skipped


def export_variables(session: Session, *, codec: FernetCodec) -> dict[str, Any]:
    """Every Variable as ``{key: value}``, a value that is JSON text given as what it encodes."""
    exported: dict[str, Any] = {}
    for row in var_store.list_variables(session):
        value = var_store.value_of(row, codec)
        try:
            exported[row.key] = json.loads(value) if value is not None else None
        except json.JSONDecodeError:
            exported[row.key] = value
    return exported


def add_connection(
    session: Session, conn: Connection, *, codec: FernetCodec, replace: bool = False, owner: str | None = None
) -> None:
    """Store ``conn``; an id that is taken is refused unless ``replace``."""
    conn_id = _check_key("connection", conn.conn_id or "")
    validate_key("connection id", conn_id)
    if not conn.conn_type:
        raise DagflowError(f"connection {conn_id!r} needs a connection type (--conn-type, or a URI)")
    if not replace and conn_store.get_connection_row(session, conn_id) is not None:
        raise ConnectionExists(f"A connection with conn_id {conn_id!r} exists already")
    conn_store.save_connection(session, conn, codec)
    record_event(session, event="add_connection", owner=owner, extra={"conn_id": conn_id})


def delete_connection(session: Session, conn_id: str, *, owner: str | None = None) -> None:
    if not conn_store.delete_connection(session, conn_id):
        raise ConnectionNotFound(conn_id)
    record_event(session, event="delete_connection", owner=owner, extra={"conn_id": conn_id})
