"""Airflow's ``sqlite`` provider: ``SqliteHook``."""

from dagflow.providers.sqlite.hooks import SqliteHook

__all__ = ["SqliteHook"]
