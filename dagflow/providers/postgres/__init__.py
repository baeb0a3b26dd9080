"""Airflow's ``postgres`` provider: ``PostgresHook`` (psycopg 3)."""

from dagflow.providers.postgres.hooks import PostgresHook

__all__ = ["PostgresHook"]
