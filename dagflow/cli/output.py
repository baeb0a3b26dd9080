"""``--output table|json|yaml|plain`` for the commands that print records, as Airflow's ``-o/--output``.

One rule for every command, the one Airflow's CLI follows:

- every format shows the same fields: the command's columns, in order (else the first record's keys);
- ``json`` and ``yaml`` print a list of objects, ``[]`` when there are none; a missing value is
  ``null``, nested dicts and lists stay nested, times are ISO 8601, numbers and booleans stay what they
  are, anything else is its text;
- ``table`` prints a header, a rule and one line per record; ``plain`` the same without the rule, for
  pipes; both print ``No data found`` when there are no records;
- in those two a list is its items joined with commas and a dict is its JSON text; a missing value
  reads ``None`` in ``table`` and is empty in ``plain``, as Airflow prints them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar

import click

from dagflow.cli.common import table

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "yaml", "plain")
NO_DATA = "No data found"


def output_option(function: F) -> F:
    return click.option(
        "--output",
        "-o",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format.",
    )(function)


def emit(rows: Sequence[Mapping[str, Any]], output: str, columns: Sequence[str] | None = None) -> None:
    """Print ``rows`` in the ``output`` format, showing ``columns`` (default: the first row's keys)."""
    columns = list(columns if columns is not None else (rows[0].keys() if rows else []))
    records = [{c: structured(row.get(c)) for c in columns} for row in rows]
    if output == "json":
        click.echo(json.dumps(records, indent=2))
    elif output == "yaml":
        import yaml

        click.echo(yaml.safe_dump(records, sort_keys=False, default_flow_style=False).rstrip())
    elif not records:
        click.echo(NO_DATA)
    else:
        missing = "None" if output == "table" else ""
        cells: list[list[object]] = [[text(r[c], missing) for c in columns] for r in records]
        table(columns, cells, rule=output == "table")


def structured(value: Any) -> Any:
    """``value`` as JSON and YAML hold it: containers kept, times in ISO 8601, other objects as text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):  # YAML's safe dumper knows no Enum, not even a StrEnum
        return structured(value.value)
    if isinstance(value, (str, int, float)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): structured(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [structured(v) for v in value]
    return str(value)


def text(value: Any, missing: str) -> str:
    """A ``structured`` value as one cell: ``missing`` for None, a list comma-joined, a dict as JSON."""
    if value is None:
        return missing
    if isinstance(value, list):
        return ",".join(text(v, missing) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)
