"""``dagflow config``: the settings in force and where each came from."""

from __future__ import annotations

import click

from dagflow.cli.common import load_settings


@click.group()
def config() -> None:
    """Inspect dagflow's settings."""


@config.command("list")
def config_list() -> None:
    """Print every setting, its value and its source (default, dagflow.cfg or the environment)."""
    settings = load_settings()
    click.echo(f"# DAGFLOW_HOME = {settings.home}")
    for section, key, value, source in settings.rows():
        click.echo(f"[{section}] {key} = {value}    # {source}")


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
