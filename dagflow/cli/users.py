"""``dagflow users``: accounts of the web UI and the API, and their bearer tokens."""

from __future__ import annotations

import click

from dagflow.cli.common import fail, open_database
from dagflow.cli.output import emit, output_option
from dagflow.core.clock import utcnow
from dagflow.exceptions import DagflowError
from dagflow.store.users import (
    ROLES,
    create_token,
    create_user,
    delete_user,
    find_user,
    generate_password,
    list_users,
)


@click.group()
def users() -> None:
    """Manage web UI and API users."""


@users.command("create")
@click.option("--username", "-u", required=True)
@click.option(
    "--role",
    "-r",
    type=click.Choice(ROLES),
    required=True,
    help="viewer: read; op: also trigger, clear, mark, pause; admin: also users and pools.",
)
@click.option("--password", "-p", help="Default: a generated one, printed once.")
@click.option("--email", "-e")
def users_create(username: str, role: str, password: str | None, email: str | None) -> None:
    """Create a user."""
    secret = password or generate_password()
    try:
        with open_database().session(write=True) as session:
            create_user(session, username, secret, role, now=utcnow(), email=email)
    except DagflowError as exc:
        fail(str(exc))
    click.echo(f"User {username} ({role}) created." + ("" if password else f" Password: {secret}"))


COLUMNS = ["username", "role", "active", "last_login"]


@users.command("list")
@output_option
def users_list(output: str) -> None:
    """List users: name, role, whether active, last login (UTC)."""
    with open_database().session() as session:
        rows = [{c: getattr(user, c) for c in COLUMNS} for user in list_users(session)]
    emit(rows, output, COLUMNS)


@users.command("delete")
@click.argument("username")
def users_delete(username: str) -> None:
    """Delete a user (and their tokens)."""
    with open_database().session(write=True) as session:
        row = find_user(session, username)
        if row is None:
            fail(f"no user named {username!r}")
        delete_user(session, user=row)
    click.echo(f"User {username} deleted.")


@users.command("token")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
def users_token(username: str, name: str) -> None:
    """Create an API bearer token for USERNAME; it is printed once and never stored in clear."""
    with open_database().session(write=True) as session:
        row = find_user(session, username)
        if row is None:
            fail(f"no user named {username!r}")
        token = create_token(session, row, name, now=utcnow())
    click.echo(token)
