"""``dagflow db clean`` and ``dagflow db drop-archived``: what they print, ask and change.

The store's rules are tested in ``tests/store/test_cleanup.py``; these tests run the real command on
a real store (SQLite, and PostgreSQL when configured) and read back what it left.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dagflow.cli import cli
from dagflow.store import cleanup
from dagflow.store.events import record_event
from dagflow.store.models import DagRunRow, EventLogRow, TaskInstanceRow
from tests.store.conftest import snapshot
from tests.store.test_cleanup import DAG_SOURCE, OLD, add_run, run_ids

#: The store's old runs started on OLD, a week before this.
BEFORE = "2024-02-23T12:00:00+00:00"
HOUR = timedelta(hours=1)
ROW_COUNT = re.compile(r"^(\w+)\s+(\d+)(?:\s+(_dagflow_deleted__\S+))?$")


def invoke(cli_runner, *args: str, **kwargs):
    return cli_runner.invoke(cli, list(args), catch_exceptions=False, **kwargs)


def assert_one_line_error(result, *fragments: str, code: int = 2) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def printed_counts(stdout: str) -> dict[str, int]:
    """The rows of each table a table printed by the command gives."""
    return {m[1]: int(m[2]) for line in stdout.splitlines() if (m := ROW_COUNT.match(line))}


def printed_archives(stdout: str) -> set[str]:
    return {m[3] for line in stdout.splitlines() if (m := ROW_COUNT.match(line)) and m[3]}


def archives(database) -> list[str]:
    with database.session() as session:
        return cleanup.archive_tables(session)


@pytest.fixture
def store(database, dags_folder, cli_runner, monkeypatch):
    """Two daily DAGs recorded by ``dagflow dags reserialize``, with old runs (finished, and one
    running), an old scheduled run that is the latest of its DAG, and an old event."""
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder))
    for dag_id in ("daily", "other"):
        dags_folder.write(f"{dag_id}.py", DAG_SOURCE.format(dag_id=dag_id, extra=""))
    assert invoke(cli_runner, "dags", "reserialize").exit_code == 0
    add_run(database, "daily", "s1", logical_date=OLD - timedelta(days=2))
    add_run(database, "daily", "s2", logical_date=OLD - timedelta(days=1))  # the latest scheduled
    add_run(database, "daily", "m1", run_type="manual")
    add_run(database, "other", "m1", run_type="manual")
    add_run(
        database,
        "other",
        "running",
        run_type="manual",
        state="running",
        logical_date=OLD + HOUR,
    )
    with database.session(write=True) as session:
        record_event(session, event="trigger", when=OLD, dag_id="daily")
    return database


def test_a_dry_run_prints_how_many_rows_of_each_table_would_go_and_changes_nothing(cli_runner, store):
    untouched = snapshot(store)

    result = invoke(cli_runner, "db", "clean", "--clean-before-timestamp", BEFORE, "--dry-run")

    assert result.exit_code == 0, result.output
    counts = printed_counts(result.stdout)
    assert counts["dag_run"] == 3 and counts["task_instance"] == 6 and counts["task_instance_try"] == 6
    assert counts["xcom"] == 8  # the three runs' and the kept run's: XComs of finished runs go by their time
    assert counts["event_log"] == 1 and counts["job"] == 0
    assert "Nothing was deleted" in result.stdout
    assert snapshot(store) == untouched and archives(store) == []


def test_with_yes_old_rows_are_archived_then_deleted_and_the_command_prints_what_went(cli_runner, store):
    planned = printed_counts(
        invoke(cli_runner, "db", "clean", "--clean-before-timestamp", BEFORE, "--dry-run").stdout
    )

    result = invoke(cli_runner, "db", "clean", "--clean-before-timestamp", BEFORE, "-y")

    assert result.exit_code == 0, result.output
    assert run_ids(store) == {("daily", "s2"), ("other", "running")}
    assert run_ids(store, TaskInstanceRow) == {("daily", "s2"), ("other", "running")}
    deleted = printed_counts(result.stdout.split("Deleted", 1)[1])
    assert deleted == planned
    assert f"Deleted {sum(planned.values())} rows" in result.stdout
    assert printed_archives(result.stdout) == set(archives(store))
    assert {name.split("__")[1] for name in archives(store)} >= {
        "dag_run",
        "task_instance",
        "xcom",
        "event_log",
    }


def test_skip_archive_deletes_without_leaving_an_archive_table(cli_runner, store):
    result = invoke(cli_runner, "db", "clean", "--clean-before-timestamp", BEFORE, "--skip-archive", "-y")

    assert result.exit_code == 0, result.output
    assert run_ids(store) == {("daily", "s2"), ("other", "running")}
    assert archives(store) == [] and "_dagflow_deleted__" not in result.stdout


def test_dag_ids_and_exclude_dag_ids_restrict_what_goes(cli_runner, store):
    clean = ("db", "clean", "--clean-before-timestamp", BEFORE, "-t", "dag_run,log", "-y")

    assert invoke(cli_runner, *clean, "--dag-ids", "other").exit_code == 0
    assert run_ids(store) == {("daily", "s1"), ("daily", "s2"), ("daily", "m1"), ("other", "running")}
    with store.session() as session:
        assert session.scalars(select(EventLogRow.dag_id)).all() == ["daily"]

    assert invoke(cli_runner, *clean, "--exclude-dag-ids", "daily").exit_code == 0
    assert len(run_ids(store)) == 4

    assert invoke(cli_runner, *clean, "--exclude-dag-ids", "other").exit_code == 0
    assert run_ids(store) == {("daily", "s2"), ("other", "running")}


def test_a_timestamp_without_a_timezone_is_read_as_utc(cli_runner, store):
    add_run(store, "other", "edge", run_type="manual", start_date=datetime(2024, 2, 1, 0, 30, tzinfo=UTC))
    dry = ("db", "clean", "-t", "dag_run", "--dag-ids", "other", "--dry-run", "--clean-before-timestamp")

    assert printed_counts(invoke(cli_runner, *dry, "2024-02-01T01:00").stdout)["dag_run"] == 2
    assert printed_counts(invoke(cli_runner, *dry, "2024-02-01T01:00+02:00").stdout)["dag_run"] == 1
    assert printed_counts(invoke(cli_runner, *dry, "2024-02-02").stdout)["dag_run"] == 2


def test_an_unknown_table_fails_with_one_line_naming_it_and_the_valid_ones(cli_runner, store):
    untouched = snapshot(store)

    result = invoke(
        cli_runner, "db", "clean", "--clean-before-timestamp", BEFORE, "-t", "dag_run,dagrun", "-y"
    )

    assert_one_line_error(
        result, "--tables", "'dagrun'", "dag_run, dag_version, event_log (or log), import_error, job, xcom"
    )
    assert result.stdout == ""
    assert snapshot(store) == untouched and archives(store) == []


def test_a_bad_timestamp_fails_with_one_line_naming_the_option_and_the_form(cli_runner, store):
    untouched = snapshot(store)

    result = invoke(cli_runner, "db", "clean", "--clean-before-timestamp", "last tuesday", "-y")

    assert_one_line_error(result, "--clean-before-timestamp", "'last tuesday'", "ISO 8601", "2024-01-01")
    assert snapshot(store) == untouched and archives(store) == []


def test_without_yes_and_no_terminal_to_ask_on_nothing_is_deleted(cli_runner, store):
    untouched = snapshot(store)

    result = invoke(cli_runner, "db", "clean", "--clean-before-timestamp", BEFORE)

    assert_one_line_error(result, "stdin is not a terminal", "-y/--yes")
    assert snapshot(store) == untouched and archives(store) == []


@pytest.mark.parametrize(("answer", "code", "runs_left"), [("n\n", 1, 5), ("y\n", 0, 2)])
def test_a_person_is_asked_after_seeing_what_would_go(
    cli_runner, store, monkeypatch, answer, code, runs_left
):
    monkeypatch.setattr("dagflow.cli.db._interactive", lambda: True)

    result = invoke(cli_runner, "db", "clean", "--clean-before-timestamp", BEFORE, input=answer)

    assert result.exit_code == code, result.output
    assert "Delete these" in result.stdout and printed_counts(result.stdout)["dag_run"] == 3
    assert len(run_ids(store)) == runs_left
    if code:
        assert_one_line_error(result, "not confirmed", code=code)
        assert archives(store) == []


def test_nothing_to_delete_is_said_and_nothing_is_asked(cli_runner, store):
    result = invoke(cli_runner, "db", "clean", "--clean-before-timestamp", "2001-01-01", "-y")

    assert result.exit_code == 0, result.output
    assert "Nothing to delete" in result.stdout and archives(store) == []


def test_drop_archived_lists_and_drops_the_archive_tables_of_the_given_tables(cli_runner, store):
    assert invoke(cli_runner, "db", "clean", "--clean-before-timestamp", BEFORE, "-y").exit_code == 0
    made = archives(store)

    refused = invoke(cli_runner, "db", "drop-archived", "-t", "dag_run")
    assert_one_line_error(refused, "-y/--yes")
    assert archives(store) == made

    runs = invoke(cli_runner, "db", "drop-archived", "-t", "dag_run", "-y")
    assert runs.exit_code == 0, runs.output
    left = archives(store)
    assert {name.split("__")[1] for name in left} == {"event_log"}
    assert {line.strip() for line in runs.stdout.splitlines()} >= set(made) - set(left)

    rest = invoke(cli_runner, "db", "drop-archived", "-y")
    assert rest.exit_code == 0 and f"Dropped {len(left)} archive table" in rest.stdout
    assert archives(store) == []
    assert "No archive tables" in invoke(cli_runner, "db", "drop-archived", "-y").stdout
    with store.session() as session:  # the store's own tables are all there
        assert session.scalars(select(DagRunRow.run_id)).all()
