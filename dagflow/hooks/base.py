"""``BaseHook``: what every hook shares: finding its Connection, and being found by connection type."""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from dagflow.exceptions import DagflowError
from dagflow.runtime.tasklog import TASK_LOGGER

if TYPE_CHECKING:
    from dagflow.models.connection import Connection

#: The hook class for each connection type dagflow ships (``dagflow connections test`` uses them).
HOOKS_BY_CONN_TYPE = {
    "sqlite": "dagflow.providers.sqlite.hooks:SqliteHook",
    "postgres": "dagflow.providers.postgres.hooks:PostgresHook",
    "http": "dagflow.providers.http.hooks:HttpHook",
    "https": "dagflow.providers.http.hooks:HttpHook",
}


class BaseHook:
    """Subclasses set ``conn_name_attr`` (the argument naming their connection) and ``default_conn_name``."""

    conn_name_attr = "conn_id"
    default_conn_name = "default_conn_id"
    conn_type = ""
    hook_name = ""

    def __init__(self, logger_name: str | None = None, **kwargs: Any):
        self.log = logging.getLogger(logger_name or f"{TASK_LOGGER}.hooks.{type(self).__name__}")

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """The connection ``conn_id`` from the secrets backends (environment first, then the store)."""
        from dagflow.models.connection import Connection

        return Connection.get(conn_id)

    def get_conn(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not open connections")

    def test_connection(self) -> tuple[bool, str]:
        return False, f"{type(self).__name__} cannot test its connection"


def hook_for(conn: Connection, **hook_params: Any) -> Any:
    """An instance of the hook class for ``conn``'s type, bound to it (``hook_params`` passed on)."""
    target = HOOKS_BY_CONN_TYPE.get(conn.conn_type or "")
    if target is None:
        known = ", ".join(sorted(HOOKS_BY_CONN_TYPE))
        raise DagflowError(f"no hook for connection type {conn.conn_type!r} (dagflow has: {known})")
    module, name = target.split(":")
    hook_class = getattr(importlib.import_module(module), name)
    return hook_class(**{hook_class.conn_name_attr: conn.conn_id, **hook_params}, connection=conn)
