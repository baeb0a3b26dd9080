"""``--output table|json|yaml|plain`` for the commands Airflow users know, as Airflow prints them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

from dagflow.cli.common import table

FORMATS = ("table", "json", "yaml", "plain")


def output_option(function: Any) -> Any:
    return click.option(
        "--output",
        "-o",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format.",
    )(function)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def emit(rows: Sequence[dict[str, Any]], output: str, columns: Sequence[str] | None = None) -> None:
    """Print ``rows`` (dicts) as a table, JSON or YAML list, or plain space-separated columns."""
    columns = list(columns or (rows[0].keys() if rows else []))
    data = [{c: _plain(row.get(c)) for c in columns} for row in rows]
    if output == "json":
        click.echo(json.dumps(data, indent=2, default=str))
    elif output == "yaml":
        import yaml

        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())
    elif output == "plain":
        for row in data:
            click.echo("\t".join("" if row[c] is None else str(row[c]) for c in columns))
    elif not data:
        click.echo("No data found")
    else:
        table(columns, [[_cell(row[c]) for c in columns] for row in data])


def _cell(value: Any) -> object:
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return value
