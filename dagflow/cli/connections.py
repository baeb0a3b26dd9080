"""``dagflow connections``: add, get, delete, list and test Connections (Airflow's arguments)."""

from __future__ import annotations

from typing import Any

import click

from dagflow.cli.common import act, fail, load_settings, open_database
from dagflow.cli.output import emit, output_option
from dagflow.exceptions import DagflowError

COLUMNS = ["conn_id", "conn_type", "description", "host", "port", "schema", "login", "password", "extra"]


def _codec() -> Any:
    from dagflow.runtime.secrets import codec_from

    try:
        return codec_from(load_settings())
    except DagflowError as exc:
        fail(str(exc))


@click.group()
def connections() -> None:
    """Connections: how tasks reach external systems (databases, HTTP services...)."""


def _from_arguments(conn_id: str, uri: str | None, as_json: str | None, fields: dict[str, Any]) -> Any:
    from dagflow.models.connection import Connection

    given = {k: v for k, v in fields.items() if v is not None}
    description = given.pop("description", None)
    if uri and as_json:
        fail("give --conn-uri or --conn-json, not both")
    if (uri or as_json) and given:
        fail("give the connection as --conn-uri or --conn-json, or as --conn-type and other fields: not both")
    try:
        if uri:
            conn = Connection(conn_id=conn_id, uri=uri)
        elif as_json:
            conn = Connection.from_json(as_json, conn_id=conn_id, where="--conn-json")
        else:
            if "conn_type" not in given:
                fail("--conn-type is required when the connection is not given as --conn-uri or --conn-json")
            conn = Connection(conn_id=conn_id, **given)
    except DagflowError as exc:
        fail(str(exc))
    conn.description = description or conn.description
    return conn


@connections.command("add")
@click.argument("conn_id")
@click.option("--conn-uri", help="The connection as a URI: type://login:password@host:port/schema?extra")
@click.option("--conn-json", help='The connection as JSON: {"conn_type": ..., "host": ..., "extra": {...}}')
@click.option("--conn-type", help="The connection type (sqlite, postgres, http...).")
@click.option("--conn-host")
@click.option("--conn-login")
@click.option("--conn-password")
@click.option("--conn-schema")
@click.option("--conn-port")
@click.option("--conn-extra", help="Extra fields as a JSON object.")
@click.option("--conn-description")
def connections_add(
    conn_id: str,
    conn_uri: str | None,
    conn_json: str | None,
    conn_type: str | None,
    conn_host: str | None,
    conn_login: str | None,
    conn_password: str | None,
    conn_schema: str | None,
    conn_port: str | None,
    conn_extra: str | None,
    conn_description: str | None,
) -> None:
    """Add connection CONN_ID (refused if it exists: delete it first)."""
    from dagflow import secret_actions

    fields = {
        "conn_type": conn_type,
        "host": conn_host,
        "login": conn_login,
        "password": conn_password,
        "schema": conn_schema,
        "port": conn_port,
        "extra": conn_extra,
        "description": conn_description,
    }
    conn = _from_arguments(conn_id, conn_uri, conn_json, fields)
    act(secret_actions.add_connection, conn, codec=_codec(), owner="cli")
    click.echo(f"Successfully added conn_id={conn_id} : {_masked_uri(conn)}")


def _masked_uri(conn: Any) -> str:
    from urllib.parse import quote

    uri = conn.get_uri()
    return uri.replace(f":{quote(conn.password, safe='')}@", ":***@", 1) if conn.password else uri


def _record(conn: Any) -> dict[str, Any]:
    record = conn.to_dict(include_secrets=False)
    record["extra"] = record["extra"] or None
    return record


@connections.command("get")
@click.argument("conn_id")
@output_option
def connections_get(conn_id: str, output: str) -> None:
    """Show connection CONN_ID (password and secret extras masked)."""
    from dagflow.store.connections import read_connection

    try:
        with open_database().session() as session:
            conn = read_connection(session, conn_id, _codec())
    except DagflowError as exc:
        fail(str(exc))
    if conn is None:
        fail(f"connection {conn_id!r} does not exist", code=1)
    emit([_record(conn)], output, COLUMNS)


@connections.command("list")
@click.option("--conn-id", help="Only this connection.")
@output_option
def connections_list(conn_id: str | None, output: str) -> None:
    """List the connections in the store (password and secret extras masked)."""
    from dagflow.store.connections import connection_of, list_connections

    codec = _codec()
    try:
        with open_database().session() as session:
            rows = [r for r in list_connections(session) if conn_id is None or r.conn_id == conn_id]
            records = [_record(connection_of(row, codec)) for row in rows]
    except DagflowError as exc:
        fail(str(exc))
    emit(records, output, COLUMNS)


@connections.command("delete")
@click.argument("conn_id")
def connections_delete(conn_id: str) -> None:
    """Delete connection CONN_ID."""
    from dagflow import secret_actions

    act(secret_actions.delete_connection, conn_id, owner="cli")
    click.echo(f"Successfully deleted connection with conn_id={conn_id}")


@connections.command("test")
@click.argument("conn_id")
def connections_test(conn_id: str) -> None:
    """Test connection CONN_ID through its hook (needs [core] test_connection = Enabled, as in Airflow)."""
    from dagflow import secrets
    from dagflow.models.connection import Connection
    from dagflow.runtime.secrets import chain_for

    settings = load_settings()
    if str(settings.get("core", "test_connection", "Disabled")).strip().lower() != "enabled":
        fail(
            "testing connections is disabled: set [core] test_connection = Enabled "
            "(DAGFLOW__CORE__TEST_CONNECTION=Enabled) to allow it",
            code=1,
        )
    try:
        with secrets.using(chain_for(settings)):
            conn = Connection.get(conn_id)
    except DagflowError as exc:
        fail(str(exc), code=1)
    ok, message = conn.test_connection()
    if not ok:
        fail(f"Connection failed! {message}", code=1)
    click.echo(f"Connection success! {message}")
