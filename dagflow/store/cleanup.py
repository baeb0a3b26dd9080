"""Old rows out of the metadata store (``dagflow db clean``), kept in archive tables until dropped.

Each table that grows without end has one rule: its rows older than a timestamp go, by its own time
column, except those something still needs (as Airflow's ``db clean``):

- ``dag_run`` (by ``start_date``): finished runs only (success or failed, their compensation not
  under way), never the run the scheduler computes the next scheduled run from (the latest logical
  date among the DAG's scheduled runs; manual and backfill runs are not protected). A run goes with
  its rows in every table that references it (task instances, tries, XComs, compensations,
  callbacks not run yet);
- ``xcom`` (by ``timestamp``): XComs of finished runs only;
- ``event_log`` (by ``dttm``; also called ``log``, Airflow's name), ``import_error`` (by ``timestamp``);
- ``job`` (by ``latest_heartbeat``): jobs that ended, or whose heartbeat is older than the health
  check threshold: never a live scheduler or worker;
- ``dag_version`` (by ``created_at``): never a DAG's latest version, nor one a run that stays
  started on.

Each table's rows are one predicate, the same for counting, archiving and deleting, which reads no
row another table's clean deletes (a run's rows are archived and deleted before the run): what a
dry run counts is what a clean deletes. A clean copies each table's doomed rows into
``_dagflow_deleted__<table>__<YYYYMMDDHHMMSS>`` (CREATE TABLE ... AS SELECT) and deletes them, all
in the caller's transaction, which reads one snapshot (SQLite's write transaction; REPEATABLE READ
on PostgreSQL), so the archive holds exactly the rows deleted, and a failure leaves neither.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Executable,
    MetaData,
    Select,
    Table,
    and_,
    delete,
    exists,
    func,
    inspect,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from dagflow.core.saga import RunCompensation
from dagflow.core.states import JobState, RunState, RunType
from dagflow.exceptions import DagflowError
from dagflow.store.models import (
    Base,
    DagRow,
    DagRunRow,
    DagVersionRow,
    EventLogRow,
    ImportErrorRow,
    JobRow,
    XComRow,
)

ARCHIVE_PREFIX = "_dagflow_deleted__"
#: The tables ``db clean`` cleans, each by its own rule.
CLEANABLE = ("dag_run", "dag_version", "event_log", "import_error", "job", "xcom")
#: Other names people know them by: Airflow's.
ALIASES = {"log": "event_log"}
_FINISHED = (RunState.SUCCESS.value, RunState.FAILED.value)
#: PostgreSQL's SQLSTATE for a row another transaction changed since this one's snapshot.
SERIALIZATION_FAILURE = "40001"


def run_children() -> list[Table]:
    """The tables whose rows belong to a run (a foreign key to ``dag_run``, cascading on delete)."""
    return sorted(
        (
            table
            for table in Base.metadata.tables.values()
            if any(fk.column.table.name == DagRunRow.__tablename__ for fk in table.foreign_keys)
        ),
        key=lambda table: table.name,
    )


def valid_table_names() -> str:
    """The names ``--tables`` takes, for a message."""
    aliases = {target: name for name, target in ALIASES.items()}
    return ", ".join(f"{t} (or {aliases[t]})" if t in aliases else t for t in CLEANABLE)


def resolve_tables(names: Iterable[str] | None) -> frozenset[str]:
    """The cleanable tables ``names`` mean (every one for None), an alias read as its table.

    Raises a :class:`~dagflow.exceptions.DagflowError` naming the first unknown name and the valid
    ones."""
    if names is None:
        return frozenset(CLEANABLE)
    found = set()
    for name in names:
        table = ALIASES.get(name, name)
        if table not in CLEANABLE:
            raise DagflowError(f"unknown table {name!r}: db clean cleans {valid_table_names()}")
        found.add(table)
    return frozenset(found)


@dataclass(frozen=True)
class CleanScope:
    """What to clean: rows older than ``before`` in ``tables``, of ``dag_ids`` only (when given) and
    not of ``exclude_dag_ids``, in the tables that have a ``dag_id``.

    ``now`` and ``health_threshold`` (seconds) tell a live job from a dead one; ``now`` also names
    the archive tables."""

    before: datetime
    now: datetime
    tables: frozenset[str] = frozenset(CLEANABLE)
    dag_ids: frozenset[str] = frozenset()
    exclude_dag_ids: frozenset[str] = frozenset()
    health_threshold: float = 30.0


@dataclass(frozen=True)
class TableRows:
    """How many rows of ``table`` go (or went), and the archive table that holds them, if any."""

    table: str
    rows: int
    archive: str | None = None


# -- which rows go -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rules:
    """Each table's rule, as a predicate on its rows."""

    scope: CleanScope

    def of_dags(self, column: Any) -> ColumnElement[bool]:
        """Rows of the selected DAGs (a row without a DAG is of none: excluding DAGs keeps it in)."""
        conditions: list[ColumnElement[bool]] = []
        if self.scope.dag_ids:
            conditions.append(column.in_(sorted(self.scope.dag_ids)))
        if self.scope.exclude_dag_ids:
            conditions.append(or_(column.is_(None), column.not_in(sorted(self.scope.exclude_dag_ids))))
        return and_(true(), *conditions)

    def settled(self, run: Any) -> ColumnElement[bool]:
        """A run that will not change by itself: finished, and no compensation of it under way."""
        return and_(run.state.in_(_FINISHED), run.compensation_state != RunCompensation.COMPENSATING.value)

    def old_run(self, run: Any = DagRunRow) -> ColumnElement[bool]:
        """A run that goes. Never NULL (its negation must hold for every run that stays): a run that
        never started is dated by its end, else by when it was due."""
        later = aliased(DagRunRow)
        superseded = exists().where(
            later.dag_id == run.dag_id,
            later.run_type == RunType.SCHEDULED.value,
            later.logical_date > run.logical_date,
        )
        return and_(
            self.settled(run),
            func.coalesce(run.start_date, run.end_date, run.run_after) < self.scope.before,
            self.of_dags(run.dag_id),
            # the scheduler computes the next run from the latest scheduled one (run_store's
            # latest_scheduled_run): that one stays, whatever its age
            or_(run.run_type != RunType.SCHEDULED.value, superseded),
        )

    def of_old_run(self, child: Table) -> ColumnElement[bool]:
        run = DagRunRow
        return exists().where(run.dag_id == child.c.dag_id, run.run_id == child.c.run_id, self.old_run(run))

    def old_xcom(self) -> ColumnElement[bool]:
        run = DagRunRow
        return and_(
            XComRow.timestamp < self.scope.before,
            self.of_dags(XComRow.dag_id),
            exists().where(run.dag_id == XComRow.dag_id, run.run_id == XComRow.run_id, self.settled(run)),
        )

    def old_event(self) -> ColumnElement[bool]:
        return and_(EventLogRow.dttm < self.scope.before, self.of_dags(EventLogRow.dag_id))

    def old_job(self) -> ColumnElement[bool]:
        alive_since = self.scope.now - timedelta(seconds=self.scope.health_threshold)
        return and_(
            JobRow.latest_heartbeat < self.scope.before,
            or_(JobRow.state != JobState.RUNNING.value, JobRow.latest_heartbeat < alive_since),
        )

    def old_import_error(self) -> ColumnElement[bool]:
        return ImportErrorRow.timestamp < self.scope.before

    def old_version(self) -> ColumnElement[bool]:
        version, newer, run = DagVersionRow, aliased(DagVersionRow), DagRunRow
        used = [run.dag_version_id == version.id]
        if "dag_run" in self.scope.tables:
            used.append(~self.old_run(run))  # the runs that stay
        return and_(
            version.created_at < self.scope.before,
            self.of_dags(version.dag_id),
            exists().where(newer.dag_id == version.dag_id, newer.version_number > version.version_number),
            ~exists().where(DagRow.dag_version_id == version.id),
            ~exists().where(*used),
        )


Doomed = list[tuple[Table, ColumnElement[bool]]]


def _doomed(scope: CleanScope) -> Doomed:
    """Each table that loses rows, and which, in the order they are deleted in: a run's rows before
    the run (deleting the run first would cascade to them before they were archived). Otherwise the
    order does not matter: the only predicate that reads another table's old rows is the versions'
    ``~old_run``, which holds for the same runs before the old ones are deleted as after."""
    rules, tables = _Rules(scope), scope.tables
    found: Doomed = []
    for child in run_children():
        own = [rules.old_xcom()] if child.name == "xcom" and "xcom" in tables else []
        of_run = [rules.of_old_run(child)] if "dag_run" in tables else []
        if own or of_run:
            found.append((child, or_(*own, *of_run)))
    simple: list[tuple[str, type[Base], Callable[[], ColumnElement[bool]]]] = [
        ("dag_run", DagRunRow, rules.old_run),
        ("event_log", EventLogRow, rules.old_event),
        ("job", JobRow, rules.old_job),
        ("import_error", ImportErrorRow, rules.old_import_error),
        ("dag_version", DagVersionRow, rules.old_version),
    ]
    found.extend((cast(Table, model.__table__), rule()) for name, model, rule in simple if name in tables)
    return found


def _shown(rows: list[TableRows]) -> list[TableRows]:
    """``dag_run`` first, then the rows of runs, then the other tables."""
    children = {table.name for table in run_children()}
    return sorted(rows, key=lambda item: 0 if item.table == "dag_run" else 1 if item.table in children else 2)


# -- counting, archiving, deleting ---------------------------------------------------------------


def count_old_rows(session: Session, scope: CleanScope) -> list[TableRows]:
    """How many rows of each table a clean of ``scope`` would delete now (cascaded rows included);
    changes nothing."""
    return _shown(
        [
            TableRows(table.name, session.scalar(select(func.count()).select_from(table).where(rule)) or 0)
            for table, rule in _doomed(scope)
        ]
    )


def clean(session: Session, scope: CleanScope, *, archive: bool = True) -> list[TableRows]:
    """Delete the old rows of ``scope``, each table's archived first unless ``archive`` is false.

    Must be the first statement of the caller's write transaction (on PostgreSQL it makes the
    transaction read one snapshot); nothing is committed here. Raises a
    :class:`~dagflow.exceptions.DagflowError` when another transaction changed a doomed row meanwhile
    (PostgreSQL), or when an archive would not hold exactly the rows deleted: the caller's rollback
    then leaves no archive and no row deleted."""
    _one_snapshot(session)
    stamp = archive_stamp(session, scope) if archive else None
    try:
        return _shown([_clean_table(session, table, rule, stamp) for table, rule in _doomed(scope)])
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != SERIALIZATION_FAILURE:
            raise
        raise DagflowError(
            "db clean stopped: another transaction changed rows it was deleting "
            f"({str(exc.orig).splitlines()[0]}); nothing was deleted, run it again"
        ) from None


def _one_snapshot(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))


def _clean_table(session: Session, table: Table, rule: ColumnElement[bool], stamp: str | None) -> TableRows:
    archive = archive_name(table.name, stamp) if stamp is not None else None
    archived = 0
    if archive is not None:
        session.execute(_CreateTableAs(archive, select(table).where(rule)))
        archived = _row_count(session, archive)
        if not archived:  # an empty archive table tells nothing
            _drop(session, archive)
            archive = None
    result: Any = session.execute(delete(table).where(rule))
    deleted = int(result.rowcount or 0)
    if archive is not None and archived != deleted:
        raise DagflowError(
            f"db clean stopped: {archive} holds {archived} rows of {table.name}, but {deleted} "
            "would be deleted; nothing was deleted"
        )
    return TableRows(table.name, deleted, archive)


def _row_count(session: Session, name: str) -> int:
    return session.scalar(select(func.count()).select_from(Table(name, MetaData()))) or 0


class _CreateTableAs(Executable, ClauseElement):
    """``CREATE TABLE name AS <query>``: the same statement on SQLite and PostgreSQL."""

    inherit_cache = False

    def __init__(self, name: str, query: Select[Any]):
        self.name = name
        self.query = query


@compiles(_CreateTableAs)
def _create_table_as(element: _CreateTableAs, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CREATE TABLE {compiler.preparer.quote(element.name)} AS {compiler.process(element.query, **kw)}"


# -- archive tables ------------------------------------------------------------------------------


def archive_name(table: str, stamp: str) -> str:
    return f"{ARCHIVE_PREFIX}{table}__{stamp}"


def archive_stamp(session: Session, scope: CleanScope) -> str:
    """``YYYYMMDDHHMMSS`` of ``scope.now`` (UTC), with ``_2``, ``_3``... when a clean in the same
    second already took that name for one of the tables."""
    base = scope.now.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    existing = set(inspect(session.connection()).get_table_names())
    tables = [table.name for table, _ in _doomed(scope)]
    stamp, n = base, 1
    while any(archive_name(table, stamp) in existing for table in tables):
        n += 1
        stamp = f"{base}_{n}"
    return stamp


def _archived(name: str) -> Collection[str]:
    """The tables whose archives ``drop-archived -t name`` drops: a run's take its rows'."""
    if name == "dag_run":
        return ["dag_run", *(table.name for table in run_children())]
    return [name]


def archive_tables(session: Session, tables: Collection[str] | None = None) -> list[str]:
    """The archive tables ``db clean`` left, sorted; only those of ``tables`` (cleanable names, as
    :func:`resolve_tables` gives them) when given, the archives of a run's rows with ``dag_run``'s."""
    names = sorted(n for n in inspect(session.connection()).get_table_names() if n.startswith(ARCHIVE_PREFIX))
    if tables is None:
        return names
    prefixes = tuple(archive_name(t, "") for name in tables for t in _archived(name))
    return [n for n in names if n.startswith(prefixes)]


def drop_archive_tables(session: Session, names: Iterable[str]) -> None:
    """Drop these archive tables (a name without the archive prefix is refused)."""
    for name in names:
        if not name.startswith(ARCHIVE_PREFIX):
            raise DagflowError(f"{name!r} is not an archive table of db clean")
        _drop(session, name)


def _drop(session: Session, name: str) -> None:
    Table(name, MetaData()).drop(session.connection())
