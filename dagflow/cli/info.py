"""``dagflow info``: versions, settings in force, system, paths, tools and plugins, for bug reports."""

from __future__ import annotations

import locale
import os
import platform
import shutil
import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click

from dagflow import __version__
from dagflow.cli.common import load_settings
from dagflow.cli.output import NO_DATA, output_option, structured


def masked_url(url: str) -> str:
    """A database URL with its password replaced by ``****``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def info_sections() -> dict[str, dict[str, Any]]:
    settings = load_settings()
    from dagflow.plugins.manager import plugins_in

    plugins = plugins_in(settings.plugins_folder)
    return {
        "dagflow info": {
            "version": __version__,
            "executor": settings.get("core", "executor"),
            "dags_folder": str(settings.dags_folder),
            "plugins_folder": str(settings.plugins_folder),
            "base_log_folder": str(settings.log_folder),
            "database_url": masked_url(settings.database_url),
        },
        "System info": {
            "OS": platform.system(),
            "architecture": platform.machine(),
            "uname": str(platform.uname()),
            "locale": str(locale.getlocale()),
            "python_version": sys.version.replace("\n", " "),
            "python_location": sys.executable,
        },
        "Tools info": {
            tool: shutil.which(tool) or "NOT AVAILABLE" for tool in ("git", "dot", "psql", "sqlite3")
        },
        "Paths info": {
            "dagflow_home": str(settings.home),
            "system_path": os.environ.get("PATH", ""),
            "python_path": os.pathsep.join(sys.path),
            "dagflow_on_path": str(shutil.which("dagflow") is not None),
        },
        "Plugins info": {p.name: f"{p.__module__}.{p.__qualname__}" for p in plugins.plugins}
        | {f"error {path}": e.message for path, e in plugins.errors.items()},
    }


@click.command("info")
@output_option
def info(output: str) -> None:
    """Show versions, settings, system, paths, tools and plugins (as airflow info does)."""
    sections = structured(info_sections())
    if output in ("json", "yaml"):
        if output == "json":
            import json

            click.echo(json.dumps(sections, indent=2))
        else:
            import yaml

            click.echo(yaml.safe_dump(sections, sort_keys=False).rstrip())
        return
    for title, values in sections.items():
        click.echo(f"{title}" if output == "plain" else f"{title}\n{'-' * len(title)}")
        _section(values)
        click.echo("")


def _section(values: dict[str, Any]) -> None:
    """One section's ``key | value`` lines, or ``No data found`` (as for any empty ``--output`` list)."""
    if not values:
        click.echo(NO_DATA)
    width = max((len(k) for k in values), default=0)
    for key, value in values.items():
        click.echo(f"{key.ljust(width)} | {value}")
