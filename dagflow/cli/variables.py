"""``dagflow variables``: get, set, delete, list, import and export Variables (Airflow's arguments)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dagflow.cli.common import act, fail, load_settings, open_database
from dagflow.cli.output import emit, output_option
from dagflow.exceptions import DagflowError


def _codec() -> Any:
    from dagflow.runtime.secrets import codec_from

    try:
        return codec_from(load_settings())
    except DagflowError as exc:
        fail(str(exc))


@click.group()
def variables() -> None:
    """Variables: named values DAGs read with Variable.get or {{ var.value.KEY }}."""


@variables.command("get")
@click.argument("key")
@click.option("--default", "-d", "default", help="Printed when the Variable does not exist.")
@click.option("--json", "-j", "as_json", is_flag=True, help="Parse the value as JSON and print it as JSON.")
def variables_get(key: str, default: str | None, as_json: bool) -> None:
    """Print the value of Variable KEY (the environment's DAGFLOW_VAR_KEY first, then the store)."""
    from dagflow import secrets
    from dagflow.models.variable import NOTSET, Variable

    try:
        with secrets.using(_chain()):
            value = Variable.get(
                key, deserialize_json=as_json, default_var=NOTSET if default is None else default
            )
    except DagflowError as exc:
        fail(str(exc), code=1)
    click.echo(value if isinstance(value, str) else json.dumps(value, indent=2))


def _chain() -> list[Any]:
    from dagflow.runtime.secrets import chain_for

    return chain_for(load_settings())


@variables.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--description", help="What the Variable is for.")
@click.option(
    "--json", "-j", "as_json", is_flag=True, help="VALUE is JSON: check it and store it as JSON text."
)
def variables_set(key: str, value: str, description: str | None, as_json: bool) -> None:
    """Create or replace Variable KEY with VALUE."""
    from dagflow import secret_actions

    if as_json:
        try:
            value = json.dumps(json.loads(value), indent=2)
        except json.JSONDecodeError as exc:
            fail(
                f"the value of {key!r} is not JSON ({exc.msg} at position {exc.pos}); "
                "drop --json to store text"
            )
    act(secret_actions.set_variable, key, value, codec=_codec(), description=description, owner="cli")
    click.echo(f"Variable {key} created")


@variables.command("delete")
@click.argument("key")
def variables_delete(key: str) -> None:
    """Delete Variable KEY from the store."""
    from dagflow import secret_actions

    act(secret_actions.delete_variable, key, owner="cli")
    click.echo(f"Variable {key} deleted")


@variables.command("list")
@output_option
def variables_list(output: str) -> None:
    """List the keys of the Variables in the store (values stay there: use `get`)."""
    from dagflow.store.variables import list_variables

    with open_database().session() as session:
        records = [{"key": row.key, "description": row.description} for row in list_variables(session)]
    emit(records, output, ["key", "description"])


@variables.command("import")
@click.argument("filepath", type=click.Path(path_type=Path))
@click.option(
    "--action-on-existing-key",
    "-a",
    type=click.Choice(["overwrite", "fail", "skip"]),
    default="overwrite",
    show_default=True,
    help="What to do with a key that exists already.",
)
def variables_import(filepath: Path, action_on_existing_key: str) -> None:
    """Set the Variables of a JSON file: {"key": value, ...} (non-text values are stored as JSON)."""
    from dagflow import secret_actions

    loaded = _read_json_object(filepath)
    created, skipped = act(
        secret_actions.import_variables,
        loaded,
        codec=_codec(),
        on_existing=action_on_existing_key,
        owner="cli",
    )
    click.echo(
        f"{created} of {len(loaded)} variables successfully updated."
        + (f" {skipped} skipped." if skipped else "")
    )


def _read_json_object(filepath: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(filepath.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read {filepath}: {exc.strerror}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        fail(f"{filepath} is not a JSON file: {exc}")
    if not isinstance(loaded, dict):
        fail(f'{filepath} must hold a JSON object of Variables ({{"key": value}})')
    return loaded


@variables.command("export")
@click.argument("filepath", type=click.Path(path_type=Path, allow_dash=True))
def variables_export(filepath: Path) -> None:
    """Write every Variable of the store to a JSON file (``-`` for standard output)."""
    from dagflow.secret_actions import export_variables

    try:
        with open_database().session() as session:
            exported = export_variables(session, codec=_codec())
    except DagflowError as exc:
        fail(str(exc))
    text = json.dumps(exported, indent=4, sort_keys=True)
    if str(filepath) == "-":
        click.echo(text)
        return
    filepath.write_text(text + "\n", encoding="utf-8")
    click.echo(f"{len(exported)} variables successfully exported to {filepath}")
