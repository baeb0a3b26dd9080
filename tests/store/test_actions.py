"""What people do to DAGs and runs (``dagflow.actions``): trigger, pause, clear, mark, delete, backfill.

Each action takes the caller's session; a refused one raises a one-line error and leaves the store
exactly as it was. Every accepted one writes an audit line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from dagflow import actions
from dagflow.actions import RunExists
from dagflow.core.states import RunState, TaskState
from dagflow.exceptions import DagflowError, DagNotFound, ParamValidationError, TaskNotFound
from dagflow.store.models import (
    BackfillRow,
    DagRow,
    DagRunRow,
    EventLogRow,
    TaskInstanceRow,
    TaskInstanceTryRow,
    XComRow,
)
from tests.store.conftest import snapshot

TI = TaskInstanceRow
NOW = datetime(2024, 2, 1, 9, 30, 0, 123456, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
PLUS_TWO = timezone(timedelta(hours=2))

ETL = """
from datetime import datetime

from dagflow import DAG, Param
from dagflow.operators import BashOperator

with DAG(
    "etl",
    schedule="0 6 * * *",
    start_date=datetime(2024, 1, 1),
    params={"n": Param(2, type="integer", minimum=0), "label": Param("x", type="string")},
):
    extract = BashOperator(task_id="extract", bash_command="echo e", retries=1)
    transform = BashOperator(task_id="transform", bash_command="echo t", retries=3)
    load = BashOperator(task_id="load", bash_command="echo l")
    notify = BashOperator(task_id="notify", bash_command="echo n")
    extract >> transform >> load
    extract >> notify
"""

MANUAL = """
from dagflow import DAG
from dagflow.operators import EmptyOperator

with DAG("manual_only", schedule=None):
    EmptyOperator(task_id="only")
"""


@pytest.fixture
def db(store_dags):
    store_dags.write("etl.py", ETL)
    store_dags.write("manual.py", MANUAL)
    return store_dags.database


def trigger(db, dag_id: str = "etl", **kwargs):
    kwargs.setdefault("now", NOW)
    with db.session(write=True) as session:
        run = actions.trigger_dag(session, dag_id, **kwargs)
        return run.run_id


def ti_states(db, run_id: str, dag_id: str = "etl") -> dict[str, str]:
    query = select(TI.task_id, TI.state).where(TI.dag_id == dag_id, TI.run_id == run_id)
    with db.session() as session:
        return dict(session.execute(query).all())


def get_run(db, run_id: str, dag_id: str = "etl") -> DagRunRow:
    with db.session() as session:
        return session.scalars(
            select(DagRunRow).where(DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id)
        ).one()


def get_ti(db, run_id: str, task_id: str) -> TaskInstanceRow:
    with db.session() as session:
        row = session.get(TI, ("etl", run_id, task_id, -1))
        assert row is not None
        return row


def events(db) -> list[tuple[str, str | None, str | None]]:
    with db.session() as session:
        query = select(EventLogRow.event, EventLogRow.dag_id, EventLogRow.run_id).order_by(EventLogRow.id)
        return [tuple(row) for row in session.execute(query)]


def set_states(db, run_id: str, **states: tuple[str, int]) -> None:
    """Test set-up: give task instances a state and a try number directly."""
    with db.session(write=True) as session:
        for task_id, (state, try_number) in states.items():
            session.execute(
                update(TI)
                .where(TI.dag_id == "etl", TI.run_id == run_id, TI.task_id == task_id)
                .values(state=state, try_number=try_number, end_date=NOW, attempt_token="t")
            )


def refused(db, action, *args, error: type[Exception] = DagflowError, match: str | None = None, **kwargs):
    """Call ``action``, expect ``error``, and check that the store did not change at all."""
    before = snapshot(db)
    with pytest.raises(error, match=match) as caught, db.session(write=True) as session:
        action(session, *args, **kwargs)
    assert "\n" not in str(caught.value)
    assert snapshot(db) == before
    return caught.value


# -- trigger ---------------------------------------------------------------------------------------------


def test_trigger_creates_a_queued_manual_run_with_its_task_instances(db):
    run_id = trigger(db, conf={"n": 5}, owner="alice")

    assert run_id == f"manual__{NOW.isoformat()}"
    run = get_run(db, run_id)
    assert (run.state, run.run_type, run.logical_date, run.queued_at) == ("queued", "manual", NOW, NOW)
    assert (run.conf, run.triggered_by) == ({"n": 5}, "alice")
    assert ti_states(db, run_id) == dict.fromkeys(["extract", "transform", "load", "notify"], "none")
    assert events(db) == [("trigger", "etl", run_id)]


def test_trigger_with_a_logical_date_and_run_id_uses_them(db):
    when = datetime(2024, 1, 15, 8, 0, tzinfo=PLUS_TWO)

    by_date = trigger(db, logical_date=when)
    named = trigger(db, run_id="my_run", logical_date=when + timedelta(days=1))

    assert (by_date, named) == (f"manual__{when.isoformat()}", "my_run")
    run = get_run(db, by_date)
    assert (run.logical_date, run.data_interval_start, run.data_interval_end) == (when, when, when)


def test_trigger_refuses_conf_that_breaks_a_param_schema_and_names_the_param(db):
    error = refused(db, actions.trigger_dag, "etl", conf={"n": -1}, error=ParamValidationError)

    assert "'etl'" in str(error)
    assert "'n'" in str(error)


@pytest.mark.parametrize("conf", [[1, 2], "text", 3])
def test_trigger_refuses_conf_that_is_not_an_object(db, conf):
    refused(db, actions.trigger_dag, "etl", conf=conf, error=ParamValidationError, match="JSON object")


def test_trigger_refuses_a_run_id_that_is_taken(db):
    trigger(db, run_id="taken")

    refused(
        db, actions.trigger_dag, "etl", run_id="taken", logical_date=LATER, error=RunExists, match="taken"
    )


@pytest.mark.parametrize("run_id", ["a/b", "../../escape", "..", " ", "x" * 251, "line\nbreak", ""])
def test_trigger_refuses_a_run_id_that_cannot_name_a_run_or_its_log_folder(db, run_id):
    refused(db, actions.trigger_dag, "etl", run_id=run_id, match="run id .* is not valid")


def test_trigger_refuses_a_logical_date_that_has_a_run_even_written_in_another_timezone(db):
    trigger(db, logical_date=NOW)

    refused(
        db,
        actions.trigger_dag,
        "etl",
        logical_date=NOW.astimezone(PLUS_TWO),
        error=RunExists,
        match="logical date",
    )


def test_trigger_refuses_an_unknown_dag(db):
    refused(db, actions.trigger_dag, "nope", error=DagNotFound, match="nope")


def test_trigger_refuses_a_naive_logical_date(db):
    refused(db, actions.trigger_dag, "etl", logical_date=datetime(2024, 1, 1), match="timezone")


def test_trigger_refuses_a_dag_whose_file_is_gone(db, store_dags):
    """Its run would stay queued forever: the scheduler does not run DAGs that no file defines."""
    (store_dags.folder.path / "manual.py").unlink()
    store_dags.scan()

    refused(db, actions.trigger_dag, "manual_only", error=DagNotFound, match="manual_only")


# -- pause -------------------------------------------------------------------------------------------------


def test_set_paused_pauses_and_unpauses_with_an_audit_line_each(db):
    def paused() -> bool:
        with db.session() as session:
            return session.get(DagRow, "etl").is_paused

    with db.session(write=True) as session:
        actions.set_paused(session, "etl", False, owner="bob")
    assert paused() is False
    with db.session(write=True) as session:
        actions.set_paused(session, "etl", True)
    assert paused() is True
    assert events(db) == [("unpause", "etl", None), ("pause", "etl", None)]


def test_set_paused_refuses_an_unknown_dag(db):
    refused(db, actions.set_paused, "nope", False, error=DagNotFound, match="nope")


# -- clear ------------------------------------------------------------------------------------------------


@pytest.fixture
def failed_run(db) -> str:
    """A failed run: extract and notify succeeded, transform failed on its last try, load upstream_failed."""
    run_id = trigger(db)
    set_states(
        db,
        run_id,
        extract=("success", 1),
        notify=("success", 1),
        transform=("failed", 4),
        load=("upstream_failed", 0),
    )
    with db.session(write=True) as session:
        session.execute(update(DagRunRow).values(state="failed", end_date=NOW, callback_sent=True))
    return run_id


def clear(db, run_id: str, task_ids: list[str], **kwargs):
    with db.session(write=True) as session:
        return actions.clear_task_instances(session, "etl", run_id, task_ids, now=LATER, **kwargs)


def test_clearing_gives_a_task_instance_its_retries_again_and_requeues_its_finished_run(db, failed_run):
    result = clear(db, failed_run, ["transform"], owner="carol")

    assert result.cleared == [("transform", -1)]
    row = get_ti(db, failed_run, "transform")
    assert (row.state, row.try_number, row.max_tries) == ("none", 4, 4 + 3)
    assert (row.end_date, row.attempt_token, row.updated_at) == (None, None, LATER)
    assert ti_states(db, failed_run)["extract"] == "success"
    run = get_run(db, failed_run)
    assert (run.state, run.queued_at, run.end_date, run.callback_sent) == ("queued", LATER, None, False)
    assert events(db)[-1] == ("clear", "etl", failed_run)


def test_clearing_downstream_also_clears_what_depends_on_the_task(db, failed_run):
    result = clear(db, failed_run, ["transform"], downstream=True)

    assert sorted(t for t, _ in result.cleared) == ["load", "transform"]
    assert ti_states(db, failed_run) == {
        "extract": "success",
        "notify": "success",
        "transform": "none",
        "load": "none",
    }


def test_clearing_upstream_also_clears_what_the_task_depends_on(db, failed_run):
    result = clear(db, failed_run, ["load"], upstream=True)

    assert sorted(t for t, _ in result.cleared) == ["extract", "load", "transform"]
    assert ti_states(db, failed_run)["notify"] == "success"


def test_clearing_only_failed_leaves_the_successes_alone(db, failed_run):
    result = clear(db, failed_run, [], only_failed=True)

    assert sorted(t for t, _ in result.cleared) == ["load", "transform"]
    assert ti_states(db, failed_run) == {
        "extract": "success",
        "notify": "success",
        "transform": "none",
        "load": "none",
    }


def test_clearing_no_task_in_particular_clears_the_whole_run(db, failed_run):
    result = clear(db, failed_run, [])

    assert len(result.cleared) == 4
    assert set(ti_states(db, failed_run).values()) == {"none"}


def test_a_dry_run_clear_reports_what_it_would_clear_and_changes_nothing(db, failed_run):
    before = snapshot(db)

    result = clear(db, failed_run, ["transform"], downstream=True, dry_run=True)

    assert sorted(t for t, _ in result.cleared) == ["load", "transform"]
    assert snapshot(db) == before


def test_clearing_in_a_running_run_leaves_the_run_running(db):
    run_id = trigger(db)
    with db.session(write=True) as session:
        session.execute(update(DagRunRow).values(state="running", start_date=NOW))
    set_states(db, run_id, extract=("success", 1))

    clear(db, run_id, ["extract"])

    assert get_run(db, run_id).state == "running"
    assert ti_states(db, run_id)["extract"] == "none"


def test_clear_refuses_unknown_tasks_runs_and_dags(db, failed_run):
    refused(db, actions.clear_task_instances, "etl", failed_run, ["nope"], error=TaskNotFound, match="nope")
    refused(db, actions.clear_task_instances, "etl", "no_run", ["extract"], match="no_run")
    refused(db, actions.clear_task_instances, "ghost", failed_run, [], error=DagNotFound, match="ghost")


# -- marking task instances and runs -------------------------------------------------------------------------


def test_marking_a_task_instance_sets_its_state_and_stops_its_attempt(db):
    run_id = trigger(db)
    set_states(db, run_id, extract=("running", 1))

    with db.session(write=True) as session:
        actions.set_task_instance_state(session, "etl", run_id, "extract", TaskState.SUCCESS, now=LATER)

    row = get_ti(db, run_id, "extract")
    assert (row.state, row.end_date, row.attempt_token) == ("success", LATER, None)
    assert events(db)[-1] == ("mark_success", "etl", run_id)


def test_marking_a_task_instance_of_a_finished_run_sets_the_run_running_again(db, failed_run):
    with db.session(write=True) as session:
        actions.set_task_instance_state(session, "etl", failed_run, "transform", TaskState.SUCCESS, now=LATER)

    run = get_run(db, failed_run)
    assert (run.state, run.end_date) == ("running", None)


@pytest.mark.parametrize("state", [TaskState.RUNNING, TaskState.NONE, TaskState.QUEUED])
def test_marking_a_task_instance_refuses_states_that_only_the_scheduler_sets(db, state):
    run_id = trigger(db)

    refused(db, actions.set_task_instance_state, "etl", run_id, "extract", state, match=state.value)


def test_marking_a_task_instance_refuses_an_unknown_one(db):
    run_id = trigger(db)

    refused(db, actions.set_task_instance_state, "etl", run_id, "nope", TaskState.FAILED, error=TaskNotFound)


def test_marking_a_run_finishes_its_unfinished_task_instances_and_keeps_the_finished_ones(db):
    run_id = trigger(db)
    set_states(db, run_id, extract=("failed", 1), transform=("running", 1), notify=("up_for_retry", 1))

    with db.session(write=True) as session:
        actions.set_run_state(session, "etl", run_id, RunState.SUCCESS)

    assert ti_states(db, run_id) == {
        "extract": "failed",
        "transform": "success",
        "notify": "success",
        "load": "success",
    }
    run = get_run(db, run_id)
    assert run.state == "success" and run.end_date is not None
    assert events(db)[-1] == ("mark_run_success", "etl", run_id)


@pytest.mark.parametrize("state", [RunState.RUNNING, RunState.QUEUED])
def test_marking_a_run_refuses_states_other_than_success_and_failed(db, state):
    run_id = trigger(db)

    refused(db, actions.set_run_state, "etl", run_id, state, match=state.value)


# -- delete ------------------------------------------------------------------------------------------------


def test_deleting_a_run_removes_it_with_its_task_instances_tries_and_xcoms(db):
    gone, kept = trigger(db, logical_date=NOW), trigger(db, logical_date=LATER)
    with db.session(write=True) as session:
        for run_id in (gone, kept):
            key = {"dag_id": "etl", "run_id": run_id, "task_id": "extract", "map_index": -1}
            session.add(XComRow(**key, key="return_value", value="1", timestamp=NOW))
            session.add(TaskInstanceTryRow(**key, try_number=1, state="success"))

    with db.session(write=True) as session:
        actions.delete_run(session, "etl", gone, owner="dave")

    with db.session() as session:
        for model in (DagRunRow, TI, XComRow, TaskInstanceTryRow):
            assert set(session.scalars(select(model.run_id))) == {kept}, model.__tablename__
    assert events(db)[-1] == ("delete_run", "etl", gone)


def test_deleting_an_unknown_run_is_refused(db):
    refused(db, actions.delete_run, "etl", "no_such_run", match="no_such_run")


# -- backfill ----------------------------------------------------------------------------------------------


def backfill(db, dag_id: str = "etl", **kwargs):
    with db.session(write=True) as session:
        record, runs = actions.backfill(session, dag_id, **kwargs)
        return record.id, [r.run_id for r in runs]


def at_six(day: int) -> datetime:
    return datetime(2024, 1, day, 6, 0, tzinfo=UTC)


def test_backfill_creates_a_run_for_each_schedule_point_from_start_to_end_inclusive(db):
    backfill_id, run_ids = backfill(db, start=at_six(1), end=at_six(4), owner="erin")

    assert run_ids == [f"backfill__{at_six(day).isoformat()}" for day in (1, 2, 3, 4)]
    run = get_run(db, run_ids[0])
    assert (run.run_type, run.state, run.backfill_id, run.logical_date) == (
        "backfill",
        "queued",
        backfill_id,
        at_six(1),
    )
    assert ti_states(db, run_ids[0]) == dict.fromkeys(["extract", "transform", "load", "notify"], "none")
    with db.session() as session:
        record = session.get(BackfillRow, backfill_id)
        assert (record.from_date, record.to_date, record.completed_at) == (at_six(1), at_six(4), None)
    assert events(db)[-1] == ("backfill", "etl", None)


def test_backfill_covers_only_the_schedule_points_between_its_dates(db):
    _, run_ids = backfill(db, start=at_six(1) + timedelta(minutes=1), end=at_six(3) - timedelta(minutes=1))

    assert run_ids == [f"backfill__{at_six(2).isoformat()}"]


def test_backfill_skips_the_dates_that_already_have_a_run(db):
    manual = trigger(db, logical_date=at_six(2))

    _, run_ids = backfill(db, start=at_six(1), end=at_six(3))

    assert run_ids == [f"backfill__{at_six(1).isoformat()}", f"backfill__{at_six(3).isoformat()}"]
    assert get_run(db, manual).run_type == "manual"


def test_a_backfill_with_nothing_left_to_run_is_complete_at_once(db):
    backfill(db, start=at_six(1), end=at_six(2))

    backfill_id, run_ids = backfill(db, start=at_six(1), end=at_six(2))

    assert run_ids == []
    with db.session() as session:
        assert session.get(BackfillRow, backfill_id).completed_at is not None


def test_backfill_refuses_an_end_before_its_start(db):
    refused(db, actions.backfill, "etl", start=at_six(3), end=at_six(1), match="before")


def test_backfill_refuses_a_dag_without_schedule(db):
    refused(db, actions.backfill, "manual_only", start=at_six(1), end=at_six(3), match="no schedule")


def test_backfill_refuses_naive_dates(db):
    refused(db, actions.backfill, "etl", start=datetime(2024, 1, 1), end=at_six(3), match="timezone")


def test_backfill_refuses_an_unknown_dag(db):
    refused(db, actions.backfill, "nope", start=at_six(1), end=at_six(3), error=DagNotFound)
