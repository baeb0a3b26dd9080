"""``--output table|json|yaml|plain`` for commands that print records, as Airflow's ``-o``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from dagflow.cli.common import table

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "yaml", "plain")


def output_option(function: F) -> F:
    return click.option(
        "--output",
        "-o",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="How to print the records.",
    )(function)


def emit(records: list[dict[str, Any]], columns: list[str], output: str) -> None:
    """Print ``records`` (dicts with at least ``columns``) in the ``output`` format."""
    if output == "json":
        click.echo(json.dumps(records, indent=2, default=str))
    elif output == "yaml":
        import yaml

        click.echo(yaml.safe_dump(records, sort_keys=False, default_flow_style=False).rstrip())
    elif output == "plain":
        for record in records:
            click.echo("\t".join(_cell(record.get(c)) for c in columns))
    else:
        table(columns, [[_cell(r.get(c)) for c in columns] for r in records])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)
