"""Where Variables and Connections come from: a chain of secrets backends, asked in order.

Task code (``Variable.get``, ``Connection.get``, ``{{ var.value.x }}``) never opens the metadata
store itself: it asks the chain installed for the process. The worker uses the environment
backend then the metastore backend on its own database while an attempt runs; ``dag.test`` and the
CLI get the same chain built from the settings in force (:func:`dagflow.runtime.secrets.default_backends`).
The first backend that knows a key wins, so ``DAGFLOW_VAR_*``/``DAGFLOW_CONN_*`` (and Airflow's
``AIRFLOW_VAR_*``/``AIRFLOW_CONN_*``) override what is stored.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from dagflow.models.connection import Connection

#: Environment variable prefixes, in the order they are read (dagflow's own wins over Airflow's).
VAR_PREFIXES = ("DAGFLOW_VAR_", "AIRFLOW_VAR_")
CONN_PREFIXES = ("DAGFLOW_CONN_", "AIRFLOW_CONN_")


class SecretsBackend(Protocol):
    """Answers lookups of Variables and Connections; None when it does not know the key."""

    def get_variable(self, key: str) -> str | None: ...

    def get_connection(self, conn_id: str) -> Connection | None: ...


@runtime_checkable
class WritableBackend(Protocol):
    """A backend that also stores Variables (the metadata store): ``Variable.set``/``delete`` use it."""

    def set_variable(self, key: str, value: str, description: str | None = None) -> None: ...

    def delete_variable(self, key: str) -> int: ...


class EnvironmentBackend:
    """``DAGFLOW_VAR_<KEY>`` / ``DAGFLOW_CONN_<CONN_ID>``, then the ``AIRFLOW_`` forms (key upper-cased)."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        self.environ = environ

    def _lookup(self, prefixes: Sequence[str], key: str) -> str | None:
        environ = os.environ if self.environ is None else self.environ
        for prefix in prefixes:
            value = environ.get(prefix + key.upper())
            if value is not None:
                return value
        return None

    def get_variable(self, key: str) -> str | None:
        return self._lookup(VAR_PREFIXES, key)

    def get_connection(self, conn_id: str) -> Connection | None:
        from dagflow.models.connection import Connection

        value = self._lookup(CONN_PREFIXES, conn_id)
        if value is None:
            return None
        return Connection.from_definition(conn_id, value, where=f"environment variable for {conn_id!r}")


_lock = threading.Lock()
_installed: list[SecretsBackend] | None = None


def install(backends: Sequence[SecretsBackend] | None) -> None:
    """Make ``backends`` the chain of this process (None: build the default chain on next use)."""
    global _installed
    with _lock:
        _installed = list(backends) if backends is not None else None


def backends() -> list[SecretsBackend]:
    """The chain in force: the installed one, or the default one built from the settings."""
    with _lock:
        installed = _installed
    if installed is not None:
        return list(installed)
    from dagflow.runtime.secrets import default_backends

    return list(default_backends())


@contextmanager
def using(chain: Sequence[SecretsBackend]) -> Iterator[None]:
    """Use ``chain`` inside the block (tests, a worker serving another database), then restore."""
    global _installed
    with _lock:
        previous, _installed = _installed, list(chain)
    try:
        yield
    finally:
        with _lock:
            _installed = previous


def get_variable(key: str) -> str | None:
    for backend in backends():
        value = backend.get_variable(key)
        if value is not None:
            return value
    return None


def get_connection(conn_id: str) -> Connection | None:
    for backend in backends():
        found = backend.get_connection(conn_id)
        if found is not None:
            return found
    return None


def writable_backend(what: str) -> WritableBackend:
    """The first backend that stores Variables; a clear error when none does."""
    from dagflow.exceptions import DagflowError

    for backend in backends():
        if isinstance(backend, WritableBackend):
            return backend
    raise DagflowError(f"cannot {what}: no secrets backend here stores Variables (no metadata store)")
