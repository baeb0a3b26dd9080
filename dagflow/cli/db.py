"""``dagflow db``: the metadata store's schema."""

from __future__ import annotations

import click

from dagflow.cli.common import load_settings, open_database
from dagflow.store.migrate import current_revision, head_revision, safe_url


@click.group()
def db() -> None:
    """Create and upgrade the metadata store."""


@db.command("migrate")
def db_migrate() -> None:
    """Create the schema, or upgrade an older one to the current version."""
    settings = load_settings()
    database = open_database(settings, migrate=True)
    click.echo(
        f"Metadata store at {safe_url(database.url)} is at "
        f"schema {current_revision(database)} (current: {head_revision()})."
    )


@db.command("check")
def db_check() -> None:
    """Exit 0 if the store is reachable and at the current schema, else print why and exit 2."""
    database = open_database(load_settings())
    click.echo(f"OK: schema {current_revision(database)}")
