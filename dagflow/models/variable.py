"""``Variable``: named values shared by DAGs, as in Airflow.

``Variable.get`` asks the secrets backends (``DAGFLOW_VAR_<KEY>``/``AIRFLOW_VAR_<KEY>`` first, then
the metadata store); ``set`` and ``delete`` write to the metadata store. A value whose key looks
secret (``password``, ``token``, ``api_key``...) is masked in task logs once read.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from dagflow import secrets
from dagflow.exceptions import DagflowError, VariableNotFound
from dagflow.models.connection import Connection
from dagflow.runtime.tasklog import TASK_LOGGER
from dagflow.secrets.masker import is_sensitive, mask_secret


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"


NOTSET: Any = _NotSet()


class Variable:
    """Read and write Variables (all class methods)."""

    def __init__(self, key: str | None = None, val: Any = None, description: str | None = None):
        self.key, self.val, self.description = key, val, description

    @classmethod
    def get(
        cls,
        key: str,
        default_var: Any = NOTSET,
        deserialize_json: bool = False,
        *,
        default: Any = NOTSET,
    ) -> Any:
        """The value of ``key`` (parsed as JSON with ``deserialize_json``); ``default_var`` (or
        Airflow 3's ``default``) when it is not set, else :class:`VariableNotFound` naming it."""
        fallback = default_var if default_var is not NOTSET else default
        value = secrets.get_variable(key)
        if value is None:
            if fallback is NOTSET:
                raise VariableNotFound(key)
            return fallback
        if is_sensitive(key):
            mask_secret(value, key)
        if not deserialize_json:
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise DagflowError(
                f"Variable {key!r} is not JSON ({exc.msg} at position {exc.pos}); "
                "read it without deserialize_json"
            ) from None

    @classmethod
    def set(cls, key: str, value: Any, description: str | None = None, serialize_json: bool = False) -> None:
        """Store ``value`` under ``key`` in the metadata store (as JSON text with ``serialize_json``)."""
        text = json.dumps(value, indent=2) if serialize_json else str(value)
        shadowing = secrets.EnvironmentBackend().get_variable(key)
        if shadowing is not None:  # as Airflow warns: the environment keeps winning on reads
            logging.getLogger(TASK_LOGGER).warning(
                "Variable %r is also set in the environment, which takes precedence: the stored value "
                "is updated, but reads return the environment's until that variable is removed",
                key,
            )
        secrets.writable_backend(f"set Variable {key!r}").set_variable(key, text, description)

    @classmethod
    def delete(cls, key: str) -> int:
        """Delete ``key`` from the metadata store; how many were deleted (0 or 1)."""
        return secrets.writable_backend(f"delete Variable {key!r}").delete_variable(key)

    @classmethod
    def setdefault(
        cls, key: str, default: Any, description: str | None = None, deserialize_json: bool = False
    ) -> Any:
        """The value of ``key``; when it is not set, ``default`` is stored and returned."""
        found = cls.get(key, default_var=None, deserialize_json=deserialize_json)
        if found is None:
            cls.set(key, default, description=description, serialize_json=deserialize_json)
            return default
        return found


class VariableAccessor:
    """``{{ var.value.key }}`` / ``{{ var.json.key }}`` in templates, and ``.get(key, default)``."""

    def __init__(self, deserialize_json: bool):
        self._json = deserialize_json

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        return Variable.get(key, deserialize_json=self._json)

    def get(self, key: str, default: Any = NOTSET, *, default_var: Any = NOTSET) -> Any:
        fallback = default if default is not NOTSET else default_var
        return Variable.get(key, default_var=fallback, deserialize_json=self._json)

    def __repr__(self) -> str:
        return f"<var.{'json' if self._json else 'value'}>"


class ConnectionAccessor:
    """``{{ conn.conn_id.host }}`` in templates, and ``{{ conn.get('conn_id') }}``."""

    def __getattr__(self, conn_id: str) -> Connection:
        if conn_id.startswith("__"):
            raise AttributeError(conn_id)
        return Connection.get(conn_id)

    def get(self, conn_id: str, default_conn: Any = None) -> Any:
        found = secrets.get_connection(conn_id)
        return default_conn if found is None else found

    def __repr__(self) -> str:
        return "<conn>"


def template_accessors() -> dict[str, Any]:
    """What the template context offers as ``var`` and ``conn``."""
    return {
        "var": {"value": VariableAccessor(False), "json": VariableAccessor(True)},
        "conn": ConnectionAccessor(),
    }
