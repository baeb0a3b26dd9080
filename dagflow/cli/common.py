"""What the commands share: settings, DAG loading, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from dagflow.config import Settings
from dagflow.dagbag import DagBag
from dagflow.exceptions import DagflowError

if TYPE_CHECKING:
    from dagflow.store.engine import Database

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")
USAGE_EXIT = 2


def fail(message: str, code: int = USAGE_EXIT) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with ``code``."""
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(code)


def load_settings() -> Settings:
    try:
        return Settings.load()
    except DagflowError as exc:
        fail(str(exc))


def dags_folder_option(function: F) -> F:
    return click.option(
        "--dags-folder",
        "-d",
        type=click.Path(path_type=Path),
        default=None,
        help="Folder (or file) of DAG files. Default: the DAG's file as the metadata store recorded it, "
        "else [core] dags_folder.",
    )(function)


def load_dagbag(dags_folder: Path | None) -> DagBag:
    settings = load_settings()
    folder = dags_folder or settings.dags_folder
    if not folder.exists():
        fail(f"DAGs folder {folder} does not exist (set --dags-folder or DAGFLOW__CORE__DAGS_FOLDER)")
    return DagBag(
        folder,
        import_timeout=settings.getfloat("core", "dagbag_import_timeout"),
        cron_data_intervals=settings.getbool("scheduler", "create_cron_data_intervals"),
        airflow_compat=settings.getbool("core", "airflow_compat"),
    )


def parse_conf(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(
            f"--conf is not valid JSON ({exc.msg} at position {exc.pos}); "
            "pass a JSON object such as '{\"x\": 1}'"
        )
    if not isinstance(value, dict):
        fail(f"--conf must be a JSON object such as '{{\"x\": 1}}', got {type(value).__name__}")
    return value


def parse_datetime(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option} {text!r} is not an ISO 8601 date or datetime, such as 2024-01-01T00:00:00+00:00")


def open_database(
    settings: Settings | None = None, *, migrate: bool = False, **engine_kwargs: Any
) -> Database:
    """The configured metadata store, checked to be at the current schema (or migrated, if asked)."""
    from dagflow.store.migrate import open_current

    settings = settings or load_settings()
    try:
        return open_current(settings.database_url, upgrade=migrate, **engine_kwargs)
    except DagflowError as exc:
        fail(str(exc))


def act(action: Callable[..., R], *args: Any, database: Database | None = None, **kwargs: Any) -> R:
    """Run an action in one write transaction; a bad input is a one-line error and exit 2, and
    nothing is written."""
    database = database or open_database()
    try:
        with database.session(write=True) as session:
            return action(session, *args, **kwargs)
    except DagflowError as exc:
        fail(str(exc))


def aware(value: datetime | None) -> datetime | None:
    """A datetime given without a timezone is taken as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def table(
    headers: list[str],
    rows: list[list[object]],
    *,
    width: int | None = None,
    shrink: tuple[str, ...] = (),
    rule: bool = True,
) -> None:
    """Print rows under headers, columns aligned, a rule under the headers unless ``rule`` is false;
    a cell of several lines takes that many lines, the row's other cells blank below their first.
    With ``width``, the ``shrink`` columns (widest first) are narrowed, their long lines cut in the
    middle with an ellipsis, until a line fits."""
    cells = [headers, *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(line) for row in cells for line in _lines(row[i])) for i in range(len(headers))]
    if width is not None:
        _narrow(widths, [headers.index(name) for name in shrink], width)
    for n, row in enumerate(cells):
        lines = [_lines(cell) for cell in row]
        for k in range(max(len(cell) for cell in lines)):
            parts = [cell[k] if k < len(cell) else "" for cell in lines]
            click.echo("  ".join(_cut(c, w).ljust(w) for c, w in zip(parts, widths, strict=True)).rstrip())
        if n == 0 and rule:
            click.echo("  ".join("-" * w for w in widths))


def _lines(cell: str) -> list[str]:
    return cell.splitlines() or [""]


#: A column is never narrowed below this many characters.
NARROWEST = 12


def _narrow(widths: list[int], shrinkable: list[int], width: int) -> None:
    overflow = sum(widths) + 2 * (len(widths) - 1) - width
    while overflow > 0:
        widest = max(shrinkable, key=lambda i: widths[i], default=None)
        if widest is None or widths[widest] <= NARROWEST:
            return
        widths[widest] -= 1
        overflow -= 1


def _cut(text: str, width: int) -> str:
    """``text`` in ``width`` characters: its start and its end, an ellipsis between them."""
    if len(text) <= width:
        return text
    tail = (width - 1) // 2
    return text[: width - 1 - tail] + "…" + text[len(text) - tail :]


def when(value: datetime | None) -> str:
    """A timestamp as the CLI's tables show it: UTC, to the second."""
    if value is None:
        return ""
    utc = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    """A duration in short words: 0.4s, 42s, 3m 05s, 1h 02m, 2d 03h."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600:02d}h"
