"""Where the CLI reads DAGs from: the metadata store when it has them, else the DAGs folder.

The DAG processor has already parsed every file and recorded its DAGs and import errors, so the
listing commands read those rather than re-import the whole folder (where one file whose import
hangs would hold each command up for the import timeout). They parse the folder only when the
store has nothing yet (not migrated, or never parsed), and then say so; ``--dags-folder`` asks for
that folder explicitly. A command that needs one DAG's Python objects (``dags test``, ``tasks
test``) imports that DAG's own file only: the one the store recorded, else the files of the folder
that mention its id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from dagflow.cli.common import fail, load_dagbag, load_settings
from dagflow.config import Settings
from dagflow.dagbag import DagBag, ImportErrorInfo, list_dag_files
from dagflow.exceptions import DagflowError

if TYPE_CHECKING:
    from dagflow.models.dag import DAG
    from dagflow.store import Session
    from dagflow.store.engine import Database

LIST_ERRORS_HINT = "see 'dagflow dags list-import-errors'"


@dataclass
class Listing:
    """The DAGs (as ``dags list`` shows them) and the import errors, and where they were read."""

    dags: list[dict[str, Any]]
    import_errors: list[dict[str, Any]]
    from_store: bool = field(default=True)


@contextmanager
def parsed_store(settings: Settings) -> Iterator[Session | None]:
    """A read session on the store if the DAG processor has recorded anything in it, else None
    (after a note on stderr that the DAGs folder is parsed instead)."""
    database = _open_parsed(settings)
    if database is None:
        yield None
        return
    try:
        with database.session() as session:
            yield session
    finally:
        database.dispose()


def _open_parsed(settings: Settings) -> Database | None:
    from dagflow.store.dags import has_parsed
    from dagflow.store.migrate import open_if_current, safe_url

    try:
        database = open_if_current(settings.database_url)
    except DagflowError as exc:
        fail(str(exc))
    if database is None:
        why = f"the metadata store at {safe_url(settings.database_url)} is not set up ('dagflow db migrate')"
    else:
        with database.session() as session:
            if has_parsed(session):
                return database
        database.dispose()
        why = "the metadata store has no DAGs yet (the scheduler records them, or 'dagflow dags reserialize')"
    click.echo(f"Note: {why}; parsing the DAGs folder {settings.dags_folder} instead.", err=True)
    return None


def listing(dags_folder: Path | None) -> Listing:
    """What ``dags list`` and ``dags list-import-errors`` show: from the store, or from the folder
    when one is given or the store has nothing yet."""
    if dags_folder is None:
        with parsed_store(load_settings()) as session:
            if session is not None:
                return _stored_listing(session)
    return _folder_listing(load_dagbag(dags_folder))


def _stored_listing(session: Session) -> Listing:
    from dagflow.store.dags import dag_listing
    from dagflow.store.reads import import_errors

    return Listing(dag_listing(session), import_errors(session))


def _folder_listing(bag: DagBag) -> Listing:
    dags = [
        {
            "dag_id": dag.dag_id,
            "is_paused": None,  # a flag of the store, which was not read
            "schedule": dag.timetable.summary,
            "tags": dag.tags,
            "tasks": len(dag.task_dict),
            "fileloc": dag.fileloc,
        }
        for dag in (bag.dags[d] for d in bag.dag_ids)
    ]
    errors = [bag.import_errors[f].__dict__ for f in sorted(bag.import_errors)]
    errors += [bag.plugin_errors[f].__dict__ for f in sorted(bag.plugin_errors)]  # shown alike
    return Listing(dags, errors, from_store=False)


def task_order(dag_id: str, dags_folder: Path | None) -> tuple[str, ...]:
    """DAG_ID's task ids in topological order: from the store, else from its own file."""
    from dagflow.store.dags import stored_dags
    from dagflow.store.reads import import_error_count

    if dags_folder is None:
        with parsed_store(load_settings()) as session:
            if session is not None:
                stored = stored_dags(session, [dag_id]).get(dag_id)
                if stored is None:
                    not_found(dag_id, "it is not in the metadata store", import_error_count(session))
                return stored.spec.order
    return load_dag(dag_id, dags_folder).topological_order


def load_dag(dag_id: str, dags_folder: Path | None) -> DAG:
    """DAG_ID, imported from its own file only: the file the store recorded for it, else the files
    of the DAGs folder that mention its id. Other files, however slow or broken, are not imported."""
    settings = load_settings()
    folder = (dags_folder or settings.dags_folder).expanduser().resolve()
    stored_file, error_count = (None, None) if dags_folder else _stored_file(settings, dag_id)
    errors: list[ImportErrorInfo] = []
    for path in _candidates(stored_file, folder, dag_id):
        bag = DagBag(
            path,
            sys_path_root=folder if folder.is_dir() and path.is_relative_to(folder) else path.parent,
            import_timeout=settings.getfloat("core", "dagbag_import_timeout"),
            cron_data_intervals=settings.getbool("scheduler", "create_cron_data_intervals"),
            airflow_compat=settings.getbool("core", "airflow_compat"),
        )
        if dag_id in bag.dags:
            return bag.dags[dag_id]
        errors.extend(bag.import_errors.values())
    if errors:  # the DAG's own file, most likely: its traceback is what the user needs
        for error in errors:
            click.echo(error.traceback.rstrip(), err=True)
        fail(f"DAG {dag_id!r} could not be loaded: {errors[0].summary()}")
    where = "it is not in the metadata store, and no" if error_count is not None else "no"
    not_found(dag_id, f"{where} DAG file in {folder} defines it", error_count)


def _stored_file(settings: Settings, dag_id: str) -> tuple[Path | None, int | None]:
    """The file the store recorded for DAG_ID (if it still exists) and the store's import error count;
    ``(None, None)`` when the store has nothing yet."""
    from dagflow.store.dags import dag_fileloc, has_parsed
    from dagflow.store.migrate import open_if_current
    from dagflow.store.reads import import_error_count

    try:
        database = open_if_current(settings.database_url)
    except DagflowError:
        return None, None  # the folder can still answer
    if database is None:
        return None, None
    try:
        with database.session() as session:
            if not has_parsed(session):
                return None, None
            fileloc = dag_fileloc(session, dag_id)
            count = import_error_count(session)
    finally:
        database.dispose()
    path = Path(fileloc) if fileloc else None
    return (path if path is not None and path.is_file() else None), count


def _candidates(stored_file: Path | None, folder: Path, dag_id: str) -> Iterable[Path]:
    """The file the store recorded, then (if it no longer defines the DAG) the files mentioning it."""
    if stored_file is not None:
        yield stored_file
    yield from (p for p in _files_mentioning(folder, dag_id) if p != stored_file)


def _files_mentioning(folder: Path, dag_id: str) -> list[Path]:
    """The DAG files of ``folder`` whose text contains ``dag_id``, the one named after it first."""
    if not folder.exists():
        fail(f"DAGs folder {folder} does not exist (set --dags-folder or DAGFLOW__CORE__DAGS_FOLDER)")
    found = [p for p in list_dag_files(folder) if dag_id in p.read_text(encoding="utf-8", errors="replace")]
    return sorted(found, key=lambda p: p.stem != dag_id)


def not_found(dag_id: str, why: str, error_count: int | None) -> NoReturn:
    """Exit 2 with one line: DAG_ID is unknown, why, and how many DAG files failed to import."""
    errors = ""
    if error_count is not None:  # known only from the store: counting the folder's would mean parsing it
        errors = (
            f"; {error_count} DAG file(s) failed to import ({LIST_ERRORS_HINT})"
            if error_count
            else "; no DAG file failed to import"
        )
    fail(f"DAG {dag_id!r} not found: {why}{errors}")
