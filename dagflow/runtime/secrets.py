"""The secrets chain a process uses unless its runner installed one: environment, then metadata store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagflow.config import Settings
from dagflow.secrets import EnvironmentBackend, SecretsBackend
from dagflow.secrets.fernet import FernetCodec

if TYPE_CHECKING:
    from dagflow.store.engine import Database


def codec_from(settings: Settings) -> FernetCodec:
    """The Fernet codec of ``[core] fernet_key`` (a malformed key is a one-line error here)."""
    return FernetCodec(settings.get("core", "fernet_key", ""))


def chain_for(settings: Settings, database: Database | None = None) -> list[SecretsBackend]:
    """Environment variables first, then the metadata store of ``settings`` (or ``database``)."""
    from dagflow.store.secrets_backend import MetastoreBackend

    url = database.url if database is not None else settings.database_url
    return [EnvironmentBackend(), MetastoreBackend(url, codec_from(settings), database=database)]


_chains: dict[tuple[str, str], list[SecretsBackend]] = {}


def default_backends() -> list[SecretsBackend]:
    """The chain of the settings in force now (one per store and key, kept: a store is opened once)."""
    settings = Settings.load()
    key = (settings.database_url, str(settings.get("core", "fernet_key", "") or ""))
    found = _chains.get(key)
    if found is None:
        if len(_chains) > 16:
            for chain in _chains.values():
                for backend in chain:
                    getattr(backend, "close", lambda: None)()
            _chains.clear()
        found = _chains[key] = chain_for(settings)
    return found
