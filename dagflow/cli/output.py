"""``--output table|json|yaml|plain`` for the commands that print records, as Airflow's ``-o/--output``.

One rule for every command, the one Airflow's CLI follows:

- every format shows the same fields: the command's columns, in order (else the first record's keys);
- ``json`` and ``yaml`` print a list of objects, ``[]`` when there are none; a missing value is
  ``null``, nested dicts and lists stay nested, times are ISO 8601, numbers and booleans stay what they
  are, anything else is its text;
- ``table`` prints a header, a rule and one line per record; ``plain`` the same without the rule, for
  pipes; both print ``No data found`` when there are no records;
- in those two a list is its items joined with commas and a dict is its JSON text; a missing value
  reads ``None`` in ``table`` and is empty in ``plain``, as Airflow prints them; a command may say how
  one of its columns reads there (a time to the second, a duration in words), json and yaml keeping
  the value; a value of several lines takes that many lines of the table.

A flag a command had before it took ``-o`` (``--json``, ``-o wide``) stays, deprecated, as a spelling
of the rule's formats.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar, cast

import click

from dagflow.cli.common import table

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "yaml", "plain")
NO_DATA = "No data found"


#: How a column reads in ``table`` and ``plain``: a function of the whole record.
Show = Callable[[Mapping[str, Any]], object]


def output_option(function: F) -> F:
    return output_choice()(function)


def output_choice(*kept: str, kept_help: str = "") -> Callable[[F], F]:
    """``--output/-o``, also taking the ``kept`` values of a command's own older option (which the
    command reads), described by ``kept_help``."""

    def decorate(function: F) -> F:
        return click.option(
            "--output",
            "-o",
            type=click.Choice([*FORMATS, *kept]),
            default="table",
            show_default=True,
            help=f"Output format.{f' {kept_help}' if kept_help else ''}",
        )(function)

    return decorate


def json_alias(function: F) -> F:
    """Add ``--json``, the spelling of ``-o json`` a command had before it took ``-o``: kept, deprecated."""

    @functools.wraps(function)
    def command(*args: Any, as_json: bool = False, **kwargs: Any) -> Any:
        if as_json:
            given = click.get_current_context().get_parameter_source("output")
            if given is click.core.ParameterSource.COMMANDLINE and kwargs["output"] != "json":
                raise click.UsageError(f"--json is -o json: give it or -o {kwargs['output']}, not both")
            kwargs["output"] = "json"
        return function(*args, **kwargs)

    option = click.option("--json", "as_json", is_flag=True, help="Deprecated: the same as -o json.")
    return cast(F, option(command))


def emit(
    rows: Sequence[Mapping[str, Any]],
    output: str,
    columns: Sequence[str] | None = None,
    *,
    show: Mapping[str, Show] | None = None,
    width: int | None = None,
    shrink: tuple[str, ...] = (),
) -> None:
    """Print ``rows`` in the ``output`` format, showing ``columns`` (default: the first row's keys).

    In ``table`` and ``plain`` a column of ``show`` reads as its function of the record makes it;
    ``width`` and ``shrink`` fit a ``table`` (not ``plain``, which programs read) to that many
    characters, as :func:`dagflow.cli.common.table` does."""
    columns = list(columns if columns is not None else (rows[0].keys() if rows else []))
    if output in ("json", "yaml"):
        _dump([{c: structured(row.get(c)) for c in columns} for row in rows], output)
    elif not rows:
        click.echo(NO_DATA)
    else:
        missing = "None" if output == "table" else ""
        shown = show or {}
        cells: list[list[object]] = [
            [text(shown[c](row) if c in shown else structured(row.get(c)), missing) for c in columns]
            for row in rows
        ]
        if output == "table":
            table(columns, cells, width=width, shrink=shrink)
        else:
            table(columns, cells, rule=False)


def _dump(records: list[dict[str, Any]], output: str) -> None:
    if output == "json":
        click.echo(json.dumps(records, indent=2))
    else:
        import yaml

        click.echo(yaml.safe_dump(records, sort_keys=False, default_flow_style=False).rstrip())


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
