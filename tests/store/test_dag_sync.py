"""The DAG processor records what a DAGs folder holds: DAGs, their source, import errors, removals."""

from __future__ import annotations

import json

from sqlalchemy import select

from dagflow.cli import cli
from dagflow.dagbag import DagBag
from dagflow.scheduler.processor import DagFileProcessor, ProcessorSettings
from dagflow.serialization import StoredDag
from dagflow.store.dags import stored_dags
from dagflow.store.models import DagCodeRow, DagRow, ImportErrorRow

DAILY = """
from datetime import datetime, timedelta

from dagflow import DAG, Param
from dagflow.operators import BashOperator, EmptyOperator

with DAG(
    "daily",
    schedule="0 6 * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"n": Param(2, type="integer", minimum=0)},
    max_active_runs=3,
    dagrun_timeout=timedelta(hours=1),
    tags=["etl"],
    description="Loads the day",
):
    EmptyOperator(task_id="start") >> BashOperator(task_id="work", bash_command="echo hi", retries=2)
"""

SYNTAX_ERROR = """
from dagflow import DAG

with DAG("daily", schedule="0 6 * * *") as dag
    pass
"""


def dag_row(database, dag_id: str) -> DagRow | None:
    with database.session() as session:
        row = session.get(DagRow, dag_id)
        if row is not None:
            row.serialized  # noqa: B018 - load the deferred column while the session is open
        return row


def existing_dag_row(database, dag_id: str) -> DagRow:
    """The stored row of a DAG the test expects the processor to have recorded."""
    row = dag_row(database, dag_id)
    assert row is not None, f"DAG {dag_id!r} is not stored"
    return row


def import_errors(database) -> list[ImportErrorRow]:
    with database.session() as session:
        return list(session.scalars(select(ImportErrorRow)))


def active_dag_ids(database) -> set[str]:
    with database.session() as session:
        return set(stored_dags(session))


def test_a_new_dag_is_recorded_paused_and_active(store_dags):
    path = store_dags.write("daily.py", DAILY)

    row = dag_row(store_dags.database, "daily")
    assert row is not None
    assert (row.is_paused, row.is_active, row.fileloc) == (True, True, str(path))
    assert (row.schedule, row.tags, row.max_active_runs, row.description) == (
        "0 6 * * *",
        ["etl"],
        3,
        "Loads the day",
    )
    assert row.source_hash and row.last_parsed_at is not None


def test_the_first_scan_reports_every_dag_as_changed(store_dags):
    store_dags.write("daily.py", DAILY, scan=False)
    store_dags.write("other.py", DAILY.replace('"daily"', '"other"'), scan=False)

    assert sorted(store_dags.scan()) == ["daily", "other"]


def test_a_dag_asking_not_to_be_paused_upon_creation_starts_unpaused(store_dags):
    store_dags.write(
        "daily.py", DAILY.replace("catchup=False,", "catchup=False, is_paused_upon_creation=False,")
    )

    assert existing_dag_row(store_dags.database, "daily").is_paused is False


def test_with_paused_at_creation_off_new_dags_start_unpaused_unless_they_ask_otherwise(database, dags_folder):
    dags_folder.write("daily.py", DAILY)
    dags_folder.write(
        "other.py",
        DAILY.replace('"daily"', '"other"').replace(
            "catchup=False,", "catchup=False, is_paused_upon_creation=True,"
        ),
    )
    settings = ProcessorSettings(
        database_url=database.url, dags_folder=str(dags_folder), paused_at_creation=False
    )

    DagFileProcessor(settings, db=database).scan()

    assert existing_dag_row(database, "daily").is_paused is False
    assert existing_dag_row(database, "other").is_paused is True


def test_the_dags_are_paused_at_creation_setting_reaches_the_processor(
    database, dags_folder, cli_runner, monkeypatch
):
    dags_folder.write("daily.py", DAILY)
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder))
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "False")

    result = cli_runner.invoke(cli, ["dags", "reserialize"], catch_exceptions=False)

    assert result.exit_code == 0, result.stderr
    assert existing_dag_row(database, "daily").is_paused is False


def test_a_changed_file_updates_the_stored_dag(store_dags):
    store_dags.write("daily.py", DAILY)
    before = existing_dag_row(store_dags.database, "daily")

    store_dags.write("daily.py", DAILY.replace("0 6 * * *", "0 7 * * *"), scan=False)
    changed = store_dags.scan()

    after = existing_dag_row(store_dags.database, "daily")
    assert changed == ["daily"]
    assert after.schedule == "0 7 * * *"
    assert after.source_hash != before.source_hash
    assert after.serialized["dag"]["timetable"] != before.serialized["dag"]["timetable"]


def test_a_change_keeps_the_paused_flag_a_user_set(store_dags):
    store_dags.write("daily.py", DAILY)
    with store_dags.database.session(write=True) as session:
        session.get(DagRow, "daily").is_paused = False

    store_dags.write("daily.py", DAILY.replace("0 6 * * *", "0 7 * * *"))

    assert existing_dag_row(store_dags.database, "daily").is_paused is False


def test_a_file_touched_without_change_is_not_rewritten(store_dags):
    path = store_dags.write("daily.py", DAILY)
    before = existing_dag_row(store_dags.database, "daily")
    with store_dags.database.session() as session:
        code_before = session.get(DagCodeRow, str(path)).updated_at

    store_dags.write("daily.py", DAILY, scan=False)  # same text, newer mtime
    changed = store_dags.scan()

    after = existing_dag_row(store_dags.database, "daily")
    assert changed == []
    assert (after.source_hash, after.serialized) == (before.source_hash, before.serialized)
    with store_dags.database.session() as session:
        assert session.get(DagCodeRow, str(path)).updated_at == code_before


def test_a_restarted_processor_finds_nothing_changed(store_dags):
    store_dags.write("daily.py", DAILY)
    restarted = DagFileProcessor(store_dags.processor.settings, db=store_dags.database)

    assert restarted.scan() == []


def test_a_file_edited_into_a_syntax_error_keeps_its_last_good_dag_and_records_the_error(store_dags):
    path = store_dags.write("daily.py", DAILY)
    good = existing_dag_row(store_dags.database, "daily")

    store_dags.write("daily.py", SYNTAX_ERROR)

    [error] = import_errors(store_dags.database)
    assert (error.filename, error.line) == (str(path), 3)
    assert "SyntaxError" in error.message
    assert error.traceback
    kept = existing_dag_row(store_dags.database, "daily")
    assert (kept.is_active, kept.source_hash, kept.schedule) == (True, good.source_hash, "0 6 * * *")
    assert "daily" in active_dag_ids(store_dags.database)


def test_fixing_the_file_removes_its_import_error(store_dags):
    store_dags.write("daily.py", DAILY)
    store_dags.write("daily.py", SYNTAX_ERROR)

    store_dags.write("daily.py", DAILY.replace("0 6 * * *", "0 8 * * *"))

    assert import_errors(store_dags.database) == []
    assert existing_dag_row(store_dags.database, "daily").schedule == "0 8 * * *"


def test_a_file_that_never_loaded_records_only_its_import_error(store_dags):
    path = store_dags.write("broken.py", SYNTAX_ERROR)

    assert [e.filename for e in import_errors(store_dags.database)] == [str(path)]
    assert dag_row(store_dags.database, "daily") is None


def test_a_deleted_file_deactivates_its_dags_and_forgets_its_import_error(store_dags):
    daily = store_dags.write("daily.py", DAILY)
    broken = store_dags.write("broken.py", SYNTAX_ERROR.replace('"daily"', '"broken"'))

    daily.unlink()
    broken.unlink()
    changed = store_dags.scan()

    assert changed == ["daily"]
    assert existing_dag_row(store_dags.database, "daily").is_active is False
    assert active_dag_ids(store_dags.database) == set()
    assert import_errors(store_dags.database) == []


def test_a_dag_taken_out_of_its_file_is_deactivated_and_comes_back_when_restored(store_dags):
    two = DAILY + '\nwith DAG("second", schedule=None):\n    EmptyOperator(task_id="only")\n'
    store_dags.write("daily.py", two)
    assert active_dag_ids(store_dags.database) == {"daily", "second"}

    store_dags.write("daily.py", DAILY)
    assert active_dag_ids(store_dags.database) == {"daily"}

    store_dags.write("daily.py", two)
    assert active_dag_ids(store_dags.database) == {"daily", "second"}


def test_a_dag_moved_to_another_file_stays_active_with_its_new_location(store_dags):
    old = store_dags.write("old.py", DAILY)

    old.unlink()
    new = store_dags.write("new.py", DAILY)

    row = existing_dag_row(store_dags.database, "daily")
    assert (row.is_active, row.fileloc) == (True, str(new))


def test_the_source_of_each_file_is_kept_and_follows_its_changes(store_dags):
    path = store_dags.write("daily.py", DAILY)
    with store_dags.database.session() as session:
        assert session.get(DagCodeRow, str(path)).source == path.read_text()

    store_dags.write("daily.py", SYNTAX_ERROR)

    with store_dags.database.session() as session:
        assert session.get(DagCodeRow, str(path)).source == path.read_text()


def test_the_stored_dag_reads_back_as_the_dag_the_file_defines(store_dags):
    path = store_dags.write("daily.py", DAILY)
    dag = DagBag(path).get_dag("daily")

    serialized = existing_dag_row(store_dags.database, "daily").serialized
    stored = StoredDag.from_json(serialized)

    assert stored.spec == dag.spec()
    assert stored.spec.tasks["work"].retries == 2
    assert stored.timetable.summary == "0 6 * * *"
    assert (stored.restriction.earliest, stored.restriction.catchup) == (dag.start_date, False)
    assert (stored.max_active_runs, stored.dagrun_timeout) == (3, dag.dagrun_timeout)
    assert stored.params.validate() == {"n": 2}
    assert StoredDag.from_json(json.loads(json.dumps(serialized))).spec == stored.spec
