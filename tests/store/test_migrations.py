"""The schema: ``dagflow db migrate`` builds it and upgrades older ones; the models and migrations agree.

Every test runs on SQLite and, when ``DAGFLOW_TEST_DATABASE_URL`` is set, on PostgreSQL.
"""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, inspect

from dagflow.cli import cli
from dagflow.store.engine import Database
from dagflow.store.migrate import alembic_config, current_revision, head_revision, is_up_to_date, migrate
from dagflow.store.models import Base, DagRow


def revisions_oldest_first() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]


def schema_differences(db: Database, metadata: MetaData = Base.metadata) -> list[object]:
    """What alembic's autogenerate would change to make the database match ``metadata``."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def table_names(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names())


@pytest.fixture
def empty_db(empty_database_url: str, monkeypatch: pytest.MonkeyPatch):
    """The empty database, opened, and set as the store the commands use."""
    monkeypatch.setenv("DAGFLOW__DATABASE__URL", empty_database_url)
    db = Database(empty_database_url)
    yield db
    db.dispose()


def invoke(cli_runner, *args: str):
    return cli_runner.invoke(cli, list(args), catch_exceptions=False)


def test_the_migrations_form_one_line_from_base_to_a_single_head():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    assert revisions_oldest_first()[-1] == head_revision()


def test_db_migrate_creates_the_schema_on_an_empty_database(cli_runner, empty_db):
    result = invoke(cli_runner, "db", "migrate")

    assert result.exit_code == 0, result.stderr
    assert f"schema {head_revision()}" in result.stdout
    assert is_up_to_date(empty_db)
    assert set(Base.metadata.tables) <= table_names(empty_db)


def test_db_migrate_a_second_time_changes_nothing_and_keeps_the_data(cli_runner, empty_db):
    assert invoke(cli_runner, "db", "migrate").exit_code == 0
    with empty_db.session(write=True) as session:
        session.add(DagRow(dag_id="kept", fileloc="kept.py", serialized={}))

    result = invoke(cli_runner, "db", "migrate")

    assert result.exit_code == 0, result.stderr
    assert current_revision(empty_db) == head_revision()
    assert schema_differences(empty_db) == []
    with empty_db.session() as session:
        assert session.get(DagRow, "kept") is not None


def test_the_models_describe_exactly_the_schema_the_migrations_build(database):
    assert schema_differences(database) == []


def test_the_schema_comparison_notices_a_column_the_migrations_lack(database):
    """The check above is not vacuous: a model column without a migration shows up as a difference."""
    changed = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["dag"].append_column(Column("added_later", Integer, nullable=True))

    differences = schema_differences(database, changed)

    assert [d[0] for d in differences if isinstance(d, tuple)] == ["add_column"]


def test_db_check_passes_on_a_migrated_store(cli_runner, database_url):
    result = invoke(cli_runner, "db", "check")

    assert result.exit_code == 0, result.stderr
    assert head_revision() in result.stdout


def test_db_check_on_an_unmigrated_store_exits_2_with_one_line_naming_db_migrate(cli_runner, empty_db):
    result = invoke(cli_runner, "db", "check")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "dagflow db migrate" in result.stderr


STORE_COMMANDS = [
    ["runs", "list"],
    ["runs", "show", "some_dag", "some_run"],
    ["dags", "trigger", "some_dag"],
    ["dags", "pause", "some_dag"],
    ["dags", "state", "some_dag", "some_run"],
    ["dags", "backfill", "some_dag", "--start", "2024-01-01", "--end", "2024-01-02", "--no-wait"],
    ["dags", "reserialize"],
    ["tasks", "state", "some_dag", "some_task", "some_run"],
    ["tasks", "clear", "some_dag", "some_run"],
    ["tasks", "logs", "some_dag", "some_run", "some_task"],
]


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=" ".join)
def test_a_command_needing_the_store_refuses_an_unmigrated_one_and_creates_nothing(
    cli_runner, empty_db, dags_folder, monkeypatch, command
):
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder))

    result = invoke(cli_runner, *command)

    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "dagflow db migrate" in result.stderr
    assert table_names(empty_db) == set()


def test_every_migration_applies_on_top_of_the_one_before(empty_db):
    """Upgrading one revision at a time from an empty database reaches the models' schema."""
    for revision in revisions_oldest_first():
        migrate(empty_db, revision)
        assert current_revision(empty_db) == revision

    assert is_up_to_date(empty_db)
    assert schema_differences(empty_db) == []


@pytest.mark.parametrize("older", revisions_oldest_first())
def test_db_migrate_upgrades_a_store_left_at_any_older_revision(cli_runner, empty_db, older):
    migrate(empty_db, older)
    if older != head_revision():
        assert invoke(cli_runner, "db", "check").exit_code == 2

    result = invoke(cli_runner, "db", "migrate")

    assert result.exit_code == 0, result.stderr
    assert current_revision(empty_db) == head_revision()
    assert schema_differences(empty_db) == []
    assert invoke(cli_runner, "db", "check").exit_code == 0
