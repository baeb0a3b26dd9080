"""Variables and Connections as the web UI and the API show them: secrets masked unless the user is admin.

A Variable's value is a secret when its key looks like one (``password``, ``token``, ``api_key``...);
a Connection's password always is, and so is each extra whose key looks like one.
"""

from __future__ import annotations

import json
from typing import Any

from dagflow.models.connection import Connection
from dagflow.runtime.secrets import codec_from
from dagflow.secrets.fernet import FernetCodec
from dagflow.secrets.masker import MASK, is_sensitive
from dagflow.store.connections import connection_of
from dagflow.store.models import ConnectionRow, VariableRow
from dagflow.store.variables import value_of
from webui.auth import current_user
from webui.db import settings


def codec() -> FernetCodec:
    return codec_from(settings())


def sees_secrets() -> bool:
    return bool(current_user.is_authenticated and current_user.can("admin"))


def variable_json(row: VariableRow, codec: FernetCodec) -> dict[str, Any]:
    value = value_of(row, codec)
    if value and is_sensitive(row.key) and not sees_secrets():
        value = MASK
    return {"key": row.key, "value": value, "description": row.description, "is_encrypted": row.is_encrypted}


def connection_json(row: ConnectionRow, codec: FernetCodec) -> dict[str, Any]:
    conn = connection_of(row, codec)
    fields = conn.to_dict(include_secrets=sees_secrets())
    return {
        "connection_id": conn.conn_id,
        "conn_type": conn.conn_type,
        "description": conn.description,
        "host": conn.host,
        "login": conn.login,
        "schema": conn.schema,
        "port": conn.port,
        "password": fields["password"],
        "extra": json.dumps(fields["extra"]) if fields["extra"] else None,
    }


def connection_from_fields(conn_id: str, fields: dict[str, Any]) -> Connection:
    """A Connection from the API's or the form's fields (``extra`` as JSON object text)."""
    return Connection(
        conn_id=conn_id,
        conn_type=fields.get("conn_type") or None,
        description=fields.get("description") or None,
        host=fields.get("host") or None,
        login=fields.get("login") or None,
        password=fields.get("password") or None,
        schema=fields.get("schema") or None,
        port=fields.get("port") or None,
        extra=fields.get("extra") or None,
    )
