"""``dagflow config``: the settings in force and where each came from."""

from __future__ import annotations

import click

from dagflow.cli.common import load_settings
from dagflow.cli.output import emit, output_option
from dagflow.config import displayed_value


@click.group()
def config() -> None:
    """Inspect dagflow's settings."""


@config.command("list")
@click.option(
    "--include-sensitive",
    is_flag=True,
    help="Show secrets (fernet_key, secret_key) and the passwords in URLs, which are hidden otherwise.",
)
@click.option(
    "--hide-sensitive", is_flag=True, hidden=True, help="Hide secrets (the default; Airflow's flag)."
)
@output_option
def config_list(include_sensitive: bool, hide_sensitive: bool, output: str) -> None:
    """Print every setting: its section, key, value and source (default, dagflow.cfg or the
    environment); DAGFLOW_HOME goes to stderr. Secrets are shown as "< hidden >" and passwords in URLs
    as "***" unless --include-sensitive; `config get` prints the value of the one setting asked for."""
    if include_sensitive and hide_sensitive:
        raise click.UsageError("--include-sensitive and --hide-sensitive contradict each other: give one")
    settings = load_settings()
    click.echo(f"DAGFLOW_HOME = {settings.home}", err=True)
    rows = [
        {
            "section": section,
            "key": key,
            "value": value if include_sensitive else displayed_value(section, key, value),
            "source": source,
        }
        for section, key, value, source in settings.rows()
    ]
    emit(rows, output, ["section", "key", "value", "source"])


@config.command("get")
@click.argument("section")
@click.argument("key")
def config_get(section: str, key: str) -> None:
    """Print one setting's value."""
    settings = load_settings()
    value = settings.get(section.lower(), key.lower())
    if value is None:
        raise click.ClickException(f"no setting [{section}] {key}")
    click.echo(value)


@config.command("get-value")
@click.argument("section")
@click.argument("option")
def config_get_value(section: str, option: str) -> None:
    """Print one setting's value (Airflow's name for ``config get``)."""
    settings = load_settings()
    value = settings.get(section.lower(), option.lower())
    if value is None:
        raise click.ClickException(f"The option [{section}/{option}] is not found in config.")
    click.echo(value)
