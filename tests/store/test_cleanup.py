"""``db clean`` in the store: which old rows go (with everything that references them), which stay
whatever their age, the archive tables that keep what went, and dropping them.

Every test runs on SQLite and, when ``DAGFLOW_TEST_DATABASE_URL`` is set, on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, text, update

from dagflow.core.schedule import NextRun
from dagflow.exceptions import DagflowError
from dagflow.scheduler.create_runs import _last_scheduled
from dagflow.store import cleanup
from dagflow.store.dags import stored_dags
from dagflow.store.engine import Database
from dagflow.store.events import record_event
from dagflow.store.models import (
    CallbackRequestRow,
    CompensationInstanceRow,
    CompensationTryRow,
    DagRunRow,
    DagVersionRow,
    EventLogRow,
    ImportErrorRow,
    JobRow,
    TaskInstanceRow,
    TaskInstanceTryRow,
    XComRow,
)
from dagflow.store.runs import create_run
from tests.store.conftest import snapshot

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
BEFORE = NOW - timedelta(days=7)
#: Well before BEFORE, with microseconds (the comparison must not lose them).
OLD = NOW - timedelta(days=30, microseconds=250)
RECENT = NOW - timedelta(days=1)
JUST_BEFORE = BEFORE - timedelta(microseconds=1)
HOUR = timedelta(hours=1)

DAG_SOURCE = """
from datetime import datetime

from dagflow import DAG, task

with DAG("{dag_id}", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=True):

    @task
    def extract():
        return 1

    @task
    def load(x):
        pass

    load(extract()){extra}
"""

#: Every table whose rows belong to a run.
RUN_ROWS = (
    TaskInstanceRow,
    TaskInstanceTryRow,
    XComRow,
    CompensationInstanceRow,
    CompensationTryRow,
    CallbackRequestRow,
)


def write_dag(store_dags: Any, dag_id: str, extra: str = "") -> None:
    store_dags.write(f"{dag_id}.py", DAG_SOURCE.format(dag_id=dag_id, extra=extra))


def add_run(
    database: Database,
    dag_id: str,
    run_id: str,
    *,
    run_type: str = "scheduled",
    logical_date: datetime | None = None,
    state: str = "success",
    start_date: datetime | None = OLD,
    compensation_state: str = "none",
) -> None:
    """A run of ``dag_id`` in ``state``, with a row in every table that references a run (task
    instances, a try and an XCom of each, a compensation and its try, a callback not run yet)."""
    with database.session(write=True) as session:
        stored = stored_dags(session, [dag_id])[dag_id]
        logical = logical_date or start_date or OLD
        create_run(
            session,
            stored,
            run_id=run_id,
            logical_date=logical,
            data_interval=(logical, logical + timedelta(days=1)),
            run_after=logical + timedelta(days=1),
            run_type=run_type,
            conf={},
            now=start_date or OLD,
        )
        ended = start_date + timedelta(minutes=5) if start_date and state in ("success", "failed") else None
        session.execute(
            update(DagRunRow)
            .where(DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id)
            .values(state=state, start_date=start_date, end_date=ended, compensation_state=compensation_state)
        )
        _add_run_rows(session, dag_id, run_id, start_date or OLD)


def _add_run_rows(session: Any, dag_id: str, run_id: str, when: datetime) -> None:
    key = {"dag_id": dag_id, "run_id": run_id}
    for task_id in ("extract", "load"):
        session.add(TaskInstanceTryRow(**key, task_id=task_id, try_number=1, state="success"))
        session.add(
            XComRow(**key, task_id=task_id, map_index=-1, key="return_value", value="1", timestamp=when)
        )
    session.add(CompensationInstanceRow(**key, task_id="extract", state="success"))
    session.add(CompensationTryRow(**key, task_id="extract", try_number=1, state="success"))
    session.add(
        CallbackRequestRow(
            **key,
            task_id="load",
            try_number=1,
            token=f"{dag_id}-{run_id}",
            fileloc="x.py",
            state="failed",
            reason="killed",
            max_tries=0,
            created_at=when,
        )
    )


def run_ids(database: Database, model: Any = DagRunRow) -> set[tuple[str, str]]:
    """The (dag_id, run_id) pairs ``model``'s rows belong to."""
    with database.session() as session:
        return {(dag_id, run_id) for dag_id, run_id in session.execute(select(model.dag_id, model.run_id))}


def archived(database: Database, table: str) -> list[dict[str, Any]]:
    """The rows the archive tables of ``table`` hold."""
    rows: list[dict[str, Any]] = []
    with database.session() as session:
        for name in cleanup.archive_tables(session):
            if name.startswith(cleanup.archive_name(table, "")):
                rows.extend(dict(r) for r in session.execute(text(f'SELECT * FROM "{name}"')).mappings())
    return rows


def archive_names(database: Database) -> list[str]:
    with database.session() as session:
        return cleanup.archive_tables(session)


def clean(database: Database, *, archive: bool = True, **scope: Any) -> dict[str, cleanup.TableRows]:
    with database.session(write=True) as session:
        done = cleanup.clean(session, _scope(**scope), archive=archive)
    return {item.table: item for item in done}


def counted(database: Database, **scope: Any) -> dict[str, int]:
    with database.session() as session:
        return {item.table: item.rows for item in cleanup.count_old_rows(session, _scope(**scope))}


def _scope(**given: Any) -> cleanup.CleanScope:
    tables = given.pop("tables", None)
    return cleanup.CleanScope(
        **{"before": BEFORE, "now": NOW, **given}, tables=cleanup.resolve_tables(tables)
    )


@pytest.fixture
def daily(store_dags) -> Database:
    """The store with two daily DAGs, ``daily`` and ``other``, and no run yet."""
    write_dag(store_dags, "daily")
    write_dag(store_dags, "other")
    return store_dags.database


# -- runs and their rows ---------------------------------------------------------------------------


def test_old_finished_runs_go_with_every_row_of_theirs_and_all_of_it_is_in_the_archive(daily):
    add_run(daily, "daily", "s1", logical_date=OLD - timedelta(days=2))
    add_run(daily, "daily", "m1", run_type="manual", state="failed")
    add_run(daily, "daily", "s2", logical_date=OLD - timedelta(days=1))  # the latest scheduled: stays
    add_run(daily, "daily", "new", run_type="manual", start_date=RECENT)
    gone = {("daily", "s1"), ("daily", "m1")}
    before = {model: run_ids(daily, model) for model in (DagRunRow, *RUN_ROWS)}

    done = clean(daily, tables=["dag_run"])

    for model in (DagRunRow, *RUN_ROWS):
        name = model.__tablename__
        assert run_ids(daily, model) == before[model] - gone, name
        assert {(r["dag_id"], r["run_id"]) for r in archived(daily, name)} == gone, name
        assert done[name].rows == len(archived(daily, name))
        assert done[name].archive == f"_dagflow_deleted__{name}__20240301120000"
    assert {t.name for t in cleanup.run_children()} == {m.__tablename__ for m in RUN_ROWS}


def test_the_latest_scheduled_run_of_each_dag_stays_and_the_schedulers_next_run_is_unchanged(daily):
    for dag_id in ("daily", "other"):
        for days in (3, 2, 1):
            add_run(daily, dag_id, f"s{days}", logical_date=OLD - timedelta(days=days))

    def next_runs() -> dict[str, NextRun | None]:
        with daily.session() as session:
            stored = stored_dags(session)
            return {
                dag_id: stored[dag_id].timetable.next_run(
                    _last_scheduled(session, dag_id), stored[dag_id].restriction, NOW
                )
                for dag_id in ("daily", "other")
            }

    expected = next_runs()

    clean(daily)

    assert run_ids(daily) == {("daily", "s1"), ("other", "s1")}
    assert next_runs() == expected


def test_keep_last_keeps_the_latest_logical_date_of_scheduled_runs_not_the_latest_start(daily):
    """The scheduler reads the scheduled run with the latest logical date: a scheduled run of an
    earlier date started later (cleared and run again), or a backfill run, does not replace it."""
    add_run(daily, "daily", "latest", logical_date=OLD - timedelta(days=1), start_date=OLD)
    add_run(daily, "daily", "rerun", logical_date=OLD - timedelta(days=5), start_date=OLD + HOUR)
    add_run(daily, "daily", "bf", run_type="backfill", logical_date=OLD - timedelta(days=9), start_date=OLD)

    clean(daily, tables=["dag_run"])

    assert run_ids(daily) == {("daily", "latest")}


def test_queued_running_and_compensating_runs_stay_however_old(daily):
    add_run(daily, "daily", "q", run_type="manual", state="queued", start_date=None, logical_date=OLD)
    add_run(daily, "daily", "r", run_type="manual", state="running", logical_date=OLD + HOUR)
    add_run(
        daily,
        "daily",
        "c",
        run_type="manual",
        state="failed",
        compensation_state="compensating",
        logical_date=OLD + 2 * HOUR,
    )
    add_run(
        daily,
        "daily",
        "done",
        run_type="manual",
        state="failed",
        compensation_state="compensated",
        logical_date=OLD + 3 * HOUR,
    )
    before = run_ids(daily, TaskInstanceRow)

    clean(daily)

    assert run_ids(daily) == {("daily", "q"), ("daily", "r"), ("daily", "c")}
    assert run_ids(daily, TaskInstanceRow) == before - {("daily", "done")}
    assert run_ids(daily, XComRow) == {("daily", "q"), ("daily", "r"), ("daily", "c")}


def test_a_manual_run_is_not_protected_by_keep_last(daily):
    add_run(daily, "other", "only_manual", run_type="manual", logical_date=OLD)

    clean(daily, tables=["dag_run"])

    assert run_ids(daily) == set()


def test_runs_started_after_the_timestamp_stay(daily):
    add_run(daily, "daily", "just_before", run_type="manual", start_date=JUST_BEFORE)
    add_run(daily, "daily", "at", run_type="manual", start_date=BEFORE)

    clean(daily, tables=["dag_run"])

    assert run_ids(daily) == {("daily", "at")}


# -- counting, archiving -------------------------------------------------------------------------


def test_counting_changes_nothing_and_counts_what_the_clean_then_deletes(daily, store_dags):
    add_run(daily, "daily", "s1", logical_date=OLD - timedelta(days=2))  # on v1, which goes with it
    write_dag(store_dags, "daily", extra="\n    extract()")
    add_run(daily, "daily", "s2", logical_date=OLD - timedelta(days=1))  # on v2
    write_dag(store_dags, "daily", extra="\n    load(1)")  # v3, the latest
    add_run(daily, "other", "m1", run_type="manual")
    _age_versions(daily)
    with daily.session(write=True) as session:
        record_event(session, event="trigger", when=OLD, dag_id="daily")
    untouched = snapshot(daily)

    counts = counted(daily)

    assert snapshot(daily) == untouched
    assert archive_names(daily) == []
    done = clean(daily)
    assert counts == {table: item.rows for table, item in done.items()}
    assert counts["dag_run"] == 2 and counts["task_instance"] == 4
    assert counts["xcom"] == 6  # the kept run's too: the xcom table's own rule keeps no run's
    assert counts["dag_version"] == 1 and counts["event_log"] == 1


def test_without_archive_no_table_is_created_and_the_rows_still_go(daily):
    add_run(daily, "daily", "m1", run_type="manual")

    done = clean(daily, archive=False)

    assert archive_names(daily) == []
    assert run_ids(daily) == set() and run_ids(daily, TaskInstanceRow) == set()
    assert done["dag_run"] == cleanup.TableRows("dag_run", 1, None)


def test_a_table_with_nothing_to_delete_gets_no_archive_table(daily):
    add_run(daily, "daily", "m1", run_type="manual")

    clean(daily)

    assert all(not name.startswith("_dagflow_deleted__job__") for name in archive_names(daily))
    assert any(name.startswith("_dagflow_deleted__dag_run__") for name in archive_names(daily))


def test_a_second_clean_in_the_same_second_archives_into_tables_of_its_own(daily):
    add_run(daily, "daily", "m1", run_type="manual")
    first = clean(daily)
    add_run(daily, "daily", "m2", run_type="manual")

    second = clean(daily)

    assert first["dag_run"].archive == "_dagflow_deleted__dag_run__20240301120000"
    assert second["dag_run"].archive == "_dagflow_deleted__dag_run__20240301120000_2"
    assert [r["run_id"] for r in archived(daily, "dag_run")] == ["m1", "m2"]


def test_a_failure_half_way_leaves_neither_an_archive_nor_a_deleted_row(daily, store_dags):
    add_run(daily, "daily", "m1", run_type="manual")
    write_dag(store_dags, "daily", extra="\n    extract()")
    _age_versions(daily)
    untouched = snapshot(daily)

    with _before(daily, "DELETE FROM dag_version", _fail), pytest.raises(RuntimeError, match="injected"):
        clean(daily)

    assert snapshot(daily) == untouched
    assert archive_names(daily) == []


def _fail() -> None:
    raise RuntimeError("injected failure")


def test_on_postgresql_a_run_another_transaction_changes_meanwhile_stops_the_clean_and_nothing_goes(daily):
    """The archive holds exactly what is deleted: the clean reads one snapshot, and a doomed row
    changed since makes it stop (SQLite's write transaction lets no other writer in meanwhile)."""
    if daily.is_sqlite:
        pytest.skip("on SQLite no other transaction writes while the clean's does")
    add_run(daily, "daily", "m1", run_type="manual")
    other = Database(daily.url)

    def change_the_run() -> None:
        with other.session(write=True) as session:
            session.execute(update(DagRunRow).values(note="changed meanwhile"))

    try:
        with (
            _before(daily, "DELETE FROM dag_run", change_the_run),
            pytest.raises(DagflowError, match="run it again"),
        ):
            clean(daily)
    finally:
        other.dispose()

    assert run_ids(daily) == run_ids(daily, TaskInstanceRow) == {("daily", "m1")}
    assert archive_names(daily) == []


@contextmanager
def _before(database: Database, statement: str, action: Callable[[], None]) -> Iterator[None]:
    """Run ``action`` just before the first statement sent to ``database`` that starts with ``statement``."""
    pending = [action]

    def listener(conn: Any, cursor: Any, sent: str, *args: Any) -> None:
        if pending and sent.lstrip().startswith(statement):
            pending.pop()()

    event.listen(database.engine, "before_cursor_execute", listener)
    try:
        yield
    finally:
        event.remove(database.engine, "before_cursor_execute", listener)


# -- DAG filters ----------------------------------------------------------------------------------


def test_dag_ids_restrict_the_tables_that_have_a_dag_id(daily):
    add_run(daily, "daily", "m1", run_type="manual")
    add_run(daily, "other", "m1", run_type="manual")
    with daily.session(write=True) as session:
        for dag_id in ("daily", "other", None):
            record_event(session, event="pause", when=OLD, dag_id=dag_id)
        session.add(ImportErrorRow(filename="broken.py", message="m", traceback="t", timestamp=OLD))

    clean(daily, dag_ids=frozenset({"daily"}))

    assert run_ids(daily) == {("other", "m1")}
    assert run_ids(daily, TaskInstanceRow) == {("other", "m1")}
    assert _event_dag_ids(daily) == {"other", None}
    assert _count(daily, ImportErrorRow) == 0  # no dag_id: not restricted


def test_excluded_dags_keep_their_rows_and_rows_of_no_dag_go(daily):
    add_run(daily, "daily", "m1", run_type="manual")
    add_run(daily, "other", "m1", run_type="manual")
    with daily.session(write=True) as session:
        for dag_id in ("daily", "other", None):
            record_event(session, event="pause", when=OLD, dag_id=dag_id)

    clean(daily, exclude_dag_ids=frozenset({"other"}))

    assert run_ids(daily) == {("other", "m1")}
    assert _event_dag_ids(daily) == {"other"}


def _event_dag_ids(database: Database) -> set[str | None]:
    with database.session() as session:
        return set(session.scalars(select(EventLogRow.dag_id)))


def _count(database: Database, model: Any) -> int:
    with database.session() as session:
        return len(session.scalars(select(model)).all())


# -- the other tables -----------------------------------------------------------------------------


def test_the_xcom_table_alone_keeps_the_xcoms_of_unfinished_runs_and_every_run(daily):
    add_run(daily, "daily", "done", run_type="manual")
    add_run(daily, "daily", "latest", logical_date=OLD + HOUR)  # kept by dag_run, not xcom
    add_run(daily, "daily", "running", run_type="manual", state="running", logical_date=OLD + 2 * HOUR)
    add_run(daily, "daily", "fresh", run_type="manual", start_date=RECENT)
    runs = run_ids(daily)

    done = clean(daily, tables=["xcom"])

    assert set(done) == {"xcom"} and done["xcom"].rows == 4
    assert run_ids(daily, XComRow) == {("daily", "running"), ("daily", "fresh")}
    assert run_ids(daily) == runs
    assert len(archived(daily, "xcom")) == 4


def test_old_events_and_import_errors_go_by_their_time_and_log_is_the_event_logs_other_name(daily):
    with daily.session(write=True) as session:
        record_event(session, event="old", when=JUST_BEFORE)
        record_event(session, event="new", when=BEFORE)
        session.add(ImportErrorRow(filename="old.py", message="m", traceback="t", timestamp=OLD))
        session.add(ImportErrorRow(filename="new.py", message="m", traceback="t", timestamp=RECENT))

    done = clean(daily, tables=["log", "import_error"])

    assert {t: item.rows for t, item in done.items()} == {"event_log": 1, "import_error": 1}
    with daily.session() as session:
        assert session.scalars(select(ImportErrorRow.filename)).all() == ["new.py"]
    assert [r["event"] for r in archived(daily, "event_log")] == ["old"]


def test_a_live_job_stays_and_one_that_ended_or_stopped_beating_goes(daily):
    threshold = 30.0
    beats = {
        "live": ("running", NOW - timedelta(seconds=5)),
        "silent": ("running", NOW - timedelta(seconds=31)),
        "ended": ("success", NOW - timedelta(seconds=5)),
        "old_live_looking": ("running", OLD),
    }
    with daily.session(write=True) as session:
        for name, (state, beat) in beats.items():
            session.add(
                JobRow(
                    job_type="scheduler",
                    state=state,
                    hostname=name,
                    pid=1,
                    start_date=OLD,
                    latest_heartbeat=beat,
                )
            )

    clean(daily, tables=["job"], before=NOW, health_threshold=threshold)

    with daily.session() as session:
        assert session.scalars(select(JobRow.hostname)).all() == ["live"]


def test_dag_versions_keep_each_dags_latest_and_any_a_remaining_run_started_on(daily, store_dags):
    add_run(daily, "daily", "running_on_v1", run_type="manual", state="running")
    write_dag(store_dags, "daily", extra="\n    extract()")  # v2: no run
    add_run(daily, "daily", "old_on_v2", run_type="manual", logical_date=OLD + HOUR)
    write_dag(store_dags, "daily", extra="\n    load(1)")  # v3: unused
    write_dag(store_dags, "daily", extra="\n    load(2)")  # v4: the latest
    _age_versions(daily)

    assert _versions(daily) == {"daily": [1, 2, 3, 4], "other": [1]}
    clean(daily, tables=["dag_version"])
    assert _versions(daily) == {"daily": [1, 2, 4], "other": [1]}  # v2 is old_on_v2's

    clean(daily, tables=["dag_run", "dag_version"])
    assert _versions(daily) == {"daily": [1, 4], "other": [1]}  # old_on_v2 went, and v2 with it


def _age_versions(database: Database) -> None:
    with database.session(write=True) as session:
        session.execute(update(DagVersionRow).values(created_at=OLD))


def _versions(database: Database) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    with database.session() as session:
        query = select(DagVersionRow.dag_id, DagVersionRow.version_number).order_by(
            DagVersionRow.dag_id, DagVersionRow.version_number
        )
        for dag_id, number in session.execute(query):
            found.setdefault(dag_id, []).append(number)
    return found


# -- table names and archive tables ---------------------------------------------------------------


def test_an_unknown_table_is_refused_naming_it_and_the_valid_ones():
    with pytest.raises(DagflowError) as refused:
        cleanup.resolve_tables(["dag_run", "task_instances"])

    message = str(refused.value)
    assert "'task_instances'" in message
    for name in ("dag_run", "dag_version", "event_log (or log)", "import_error", "job", "xcom"):
        assert name in message


def test_drop_archived_drops_the_archives_of_the_given_tables_or_all(daily):
    add_run(daily, "daily", "m1", run_type="manual")
    with daily.session(write=True) as session:
        record_event(session, event="old", when=OLD)
    clean(daily)
    with daily.session() as session:
        runs = cleanup.archive_tables(session, {"dag_run"})
        everything = cleanup.archive_tables(session)

    assert {name.split("__")[1] for name in runs} == {"dag_run", *(m.__tablename__ for m in RUN_ROWS)}
    assert set(everything) == {*runs, "_dagflow_deleted__event_log__20240301120000"}
    with daily.session(write=True) as session:
        cleanup.drop_archive_tables(session, runs)
    assert archive_names(daily) == ["_dagflow_deleted__event_log__20240301120000"]
    with daily.session(write=True) as session:
        cleanup.drop_archive_tables(session, cleanup.archive_tables(session))
    assert archive_names(daily) == []


def test_drop_archived_refuses_a_table_that_is_not_an_archive(daily):
    with pytest.raises(DagflowError, match="not an archive table"), daily.session(write=True) as session:
        cleanup.drop_archive_tables(session, ["dag_run"])

    assert run_ids(daily) == set()  # the table is still there to read
