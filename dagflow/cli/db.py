"""``dagflow db``: the metadata store's schema, and keeping the store small (``clean``, ``drop-archived``)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click

from dagflow.cli.common import act, aware, fail, load_settings, open_database, parse_datetime, table
from dagflow.core.clock import utcnow
from dagflow.exceptions import DagflowError
from dagflow.store import cleanup
from dagflow.store.migrate import current_revision, head_revision, safe_url

#: Exit code when a person answered no: nothing was changed, and the input was not wrong.
NOT_CONFIRMED = 1


@click.group()
def db() -> None:
    """Create and upgrade the metadata store, and keep it small."""


@db.command("migrate")
def db_migrate() -> None:
    """Create the schema, or upgrade an older one to the current version."""
    settings = load_settings()
    database = open_database(settings, migrate=True)
    click.echo(
        f"Metadata store at {safe_url(database.url)} is at "
        f"schema {current_revision(database)} (current: {head_revision()})."
    )


@db.command("check")
def db_check() -> None:
    """Exit 0 if the store is reachable and at the current schema, else print why and exit 2."""
    database = open_database(load_settings())
    click.echo(f"OK: schema {current_revision(database)}")


def _tables_option(help_text: str) -> Any:
    """``-t/--tables T1,T2``, read as ``tables_text``."""
    return click.option("--tables", "-t", "tables_text", default=None, metavar="T1,T2", help=help_text)


@db.command("clean")
@click.option(
    "--clean-before-timestamp",
    "before_text",
    required=True,
    metavar="TIMESTAMP",
    help="Delete rows older than this: ISO 8601, such as 2024-01-01 or 2024-01-01T00:00:00+02:00 "
    "(without a timezone: UTC).",
)
@_tables_option(f"Clean only these tables (comma-separated). Default: all of {cleanup.valid_table_names()}.")
@click.option(
    "--dag-ids",
    default=None,
    metavar="A,B",
    help="Only rows of these DAGs, in the tables that have a dag_id.",
)
@click.option("--exclude-dag-ids", default=None, metavar="C,D", help="Keep the rows of these DAGs.")
@click.option("--dry-run", is_flag=True, help="Print how many rows of each table would go; change nothing.")
@click.option("--skip-archive", is_flag=True, help="Delete without copying the rows to archive tables first.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def db_clean(
    before_text: str,
    tables_text: str | None,
    dag_ids: str | None,
    exclude_dag_ids: str | None,
    dry_run: bool,
    skip_archive: bool,
    yes: bool,
) -> None:
    """Delete the rows older than --clean-before-timestamp of the tables that grow without end, as
    Airflow's `db clean`: finished runs with their task instances, tries, XComs and compensations
    (never a run still queued or running, nor the latest scheduled run of a DAG, which the scheduler
    computes the next one from), XComs of finished runs, the event log, import errors, jobs that
    ended or stopped beating, DAG versions no run uses (never a DAG's latest).

    Each table's rows are first copied to an archive table, _dagflow_deleted__<table>__<time>, in the
    same transaction as the deletes (`dagflow db drop-archived` drops them). Asks for confirmation
    unless -y; refuses without -y when stdin is not a terminal."""
    settings = load_settings()
    scope = cleanup.CleanScope(
        before=_timestamp(before_text),
        now=utcnow(),
        tables=_tables(tables_text),
        dag_ids=frozenset(_names(dag_ids) or ()),
        exclude_dag_ids=frozenset(_names(exclude_dag_ids) or ()),
        health_threshold=settings.getfloat("scheduler", "scheduler_health_check_threshold"),
    )
    if not (dry_run or yes):
        _need_terminal("delete rows")
    database = open_database(settings)
    with database.session() as session:
        planned = cleanup.count_old_rows(session, scope)
        stamp = None if dry_run or skip_archive else cleanup.archive_stamp(session, scope)
    total = sum(item.rows for item in planned)
    if dry_run:
        click.echo(f"Dry run: rows {_described(scope)} that db clean would delete:")
        _show(planned, archives=False)
        click.echo(f"Total: {total} rows. Nothing was deleted.")
        return
    if not total:
        click.echo(f"Nothing to delete: no rows {_described(scope)}.")
        return
    click.echo(f"Rows {_described(scope)} to delete{'' if stamp is None else ', archived first'}:")
    _show([_planned_archive(item, stamp) for item in planned], archives=stamp is not None)
    if not yes and not click.confirm(f"Delete these {total} rows?", default=False):
        fail("not confirmed: nothing was deleted", code=NOT_CONFIRMED)
    done = act(cleanup.clean, scope, archive=not skip_archive, database=database)
    _report(done, archived=not skip_archive)


@db.command("drop-archived")
@_tables_option(
    "Drop only the archives of these tables (comma-separated; dag_run's include its task "
    f"instances', tries', XComs'...): {cleanup.valid_table_names()}. Default: all."
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def db_drop_archived(tables_text: str | None, yes: bool) -> None:
    """Drop the archive tables `dagflow db clean` left (_dagflow_deleted__<table>__<time>), after
    listing them. Asks for confirmation unless -y; refuses without -y when stdin is not a terminal."""
    tables = None if tables_text is None else _tables(tables_text)
    if not yes:
        _need_terminal("drop archive tables")
    database = open_database()
    with database.session() as session:
        names = cleanup.archive_tables(session, tables)
    if not names:
        click.echo("No archive tables to drop.")
        return
    click.echo(f"Archive tables to drop ({len(names)}):")
    for name in names:
        click.echo(f"  {name}")
    if not yes and not click.confirm(f"Drop these {len(names)} tables?", default=False):
        fail("not confirmed: nothing was dropped", code=NOT_CONFIRMED)
    act(cleanup.drop_archive_tables, names, database=database)
    click.echo(f"Dropped {len(names)} archive table{'' if len(names) == 1 else 's'}.")


def _timestamp(text: str) -> datetime:
    before = aware(parse_datetime(text, "--clean-before-timestamp"))
    assert before is not None
    return before


def _names(text: str | None) -> list[str] | None:
    """A comma-separated list's items (None when the option was not given)."""
    return None if text is None else [name.strip() for name in text.split(",") if name.strip()]


def _tables(text: str | None) -> frozenset[str]:
    names = _names(text)
    if names == []:
        fail(f"--tables names no table: give one or more of {cleanup.valid_table_names()}")
    try:
        return cleanup.resolve_tables(names)
    except DagflowError as exc:
        fail(f"--tables: {exc}")


def _interactive() -> bool:
    """Whether a person can answer a question on stdin."""
    return sys.stdin is not None and sys.stdin.isatty()


def _need_terminal(what: str) -> None:
    if not _interactive():
        fail(f"stdin is not a terminal, so nobody can confirm: pass -y/--yes to {what} without asking")


def _described(scope: cleanup.CleanScope) -> str:
    """Which rows: older than the timestamp, of which DAGs."""
    words = f"older than {scope.before.astimezone(UTC).isoformat()}"
    if scope.dag_ids:
        words += f" of DAGs {', '.join(sorted(scope.dag_ids))}"
    if scope.exclude_dag_ids:
        words += f" except DAGs {', '.join(sorted(scope.exclude_dag_ids))}"
    return words


def _planned_archive(item: cleanup.TableRows, stamp: str | None) -> cleanup.TableRows:
    if stamp is None or not item.rows:
        return item
    return cleanup.TableRows(item.table, item.rows, cleanup.archive_name(item.table, stamp))


def _show(rows: list[cleanup.TableRows], *, archives: bool) -> None:
    if archives:
        table(["table", "rows", "archive table"], [[r.table, r.rows, r.archive or ""] for r in rows])
    else:
        table(["table", "rows"], [[r.table, r.rows] for r in rows])


def _report(done: list[cleanup.TableRows], *, archived: bool) -> None:
    click.echo(f"Deleted {sum(item.rows for item in done)} rows:")
    _show(done, archives=archived)
    if archived and any(item.archive for item in done):
        click.echo("The archive tables keep them until `dagflow db drop-archived` drops them.")
