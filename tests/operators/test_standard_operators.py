"""Airflow's standard operators in ``dag.test()``: LatestOnlyOperator, BranchDateTimeOperator,
BranchDayOfWeekOperator (with WeekDay), SmoothOperator and TriggerDagRunOperator."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from dagflow import DAG, task
from dagflow.context import DagRunInfo
from dagflow.core.states import RunState, TaskState
from dagflow.exceptions import DagDefinitionError
from dagflow.operators import (
    BranchDateTimeOperator,
    BranchDayOfWeekOperator,
    EmptyOperator,
    LatestOnlyOperator,
    SmoothOperator,
    TriggerDagRunOperator,
)
from dagflow.operators.datetime import target_times_as_dates
from dagflow.utils.weekday import WeekDay
from tests.conftest import DagsFolder

START = datetime(2024, 1, 1, tzinfo=UTC)
#: A Wednesday.
WEDNESDAY = datetime(2024, 1, 3, 12, 0, tzinfo=UTC)


def states(result: Any) -> dict[str, str]:
    return {ti.label: ti.state.value for ti in result.task_instances}


# -- WeekDay ---------------------------------------------------------------------------------------


def test_weekday_numbers_days_as_isoweekday_does():
    assert WeekDay.MONDAY == 1 and WeekDay.SUNDAY == 7
    assert WeekDay.get_weekday_number("saturday") == 6
    assert WeekDay.validate_week_day("Monday") == {1}
    assert WeekDay.validate_week_day({WeekDay.SATURDAY, "sunday"}) == {6, 7}
    assert WeekDay.validate_week_day(["TUESDAY", "Friday"]) == {2, 5}


def test_weekday_rejects_unknown_names_and_types():
    with pytest.raises(AttributeError, match="Invalid Week Day passed: 'Funday'"):
        WeekDay.validate_week_day("Funday")
    with pytest.raises(TypeError, match="Unsupported Type for week_day parameter: int"):
        WeekDay.validate_week_day(3)


# -- LatestOnlyOperator ------------------------------------------------------------------------------


def _latest_only_dag() -> tuple[DAG, LatestOnlyOperator]:
    with DAG("latest", start_date=START, schedule="@daily") as dag:
        latest = LatestOnlyOperator(task_id="latest_only")
        latest >> [EmptyOperator(task_id="a"), EmptyOperator(task_id="b")]
    return dag, latest


def _scheduled(logical: datetime, dag: DAG) -> DagRunInfo:
    """The scheduled run at ``logical`` of a ``@daily`` DAG (a cron trigger: its interval is a point)."""
    return DagRunInfo(
        dag_id=dag.dag_id,
        run_id=f"scheduled__{logical.isoformat()}",
        logical_date=logical,
        data_interval_start=logical,
        data_interval_end=logical,
        run_type="scheduled",
        run_after=logical,
    )


def test_latest_only_follows_everything_in_a_manual_run():
    dag, _ = _latest_only_dag()
    result = dag.test(logical_date=START)
    assert states(result) == {"latest_only": "success", "a": "success", "b": "success"}


def test_latest_only_skips_downstream_in_an_old_scheduled_run():
    dag, latest = _latest_only_dag()
    old = _scheduled(datetime(2024, 1, 1, tzinfo=UTC), dag)
    assert latest.choose_branch({"dag_run": old}) == []


def test_latest_only_follows_everything_in_the_run_of_the_latest_interval():
    dag, latest = _latest_only_dag()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    current = _scheduled(today, dag)
    assert sorted(latest.choose_branch({"dag_run": current})) == ["a", "b"]


def test_latest_only_skips_downstream_when_run_by_dag_test_as_a_scheduled_run_is_not_possible_there():
    # The skip itself, through the runner: a scheduled old run is simulated with the operator's choice.
    dag, latest = _latest_only_dag()
    latest.choose_branch = lambda context: []  # type: ignore[method-assign]
    result = dag.test(logical_date=START)
    assert states(result) == {"latest_only": "success", "a": "skipped", "b": "skipped"}


# -- BranchDateTimeOperator -------------------------------------------------------------------------


def _datetime_dag(lower: Any, upper: Any, **kwargs: Any) -> DAG:
    with DAG("branch_dt", start_date=START, schedule=None) as dag:
        BranchDateTimeOperator(
            task_id="branch",
            follow_task_ids_if_true="inside",
            follow_task_ids_if_false="outside",
            target_lower=lower,
            target_upper=upper,
            **kwargs,
        ) >> [EmptyOperator(task_id="inside"), EmptyOperator(task_id="outside")]
    return dag


def test_branch_datetime_follows_true_inside_the_window_of_the_logical_date():
    dag = _datetime_dag(time(10), time(14), use_task_logical_date=True)
    result = dag.test(logical_date=WEDNESDAY)
    assert states(result)["inside"] == "success" and states(result)["outside"] == "skipped"


def test_branch_datetime_follows_false_outside_the_window():
    dag = _datetime_dag(time(13), time(14), use_task_logical_date=True)
    result = dag.test(logical_date=WEDNESDAY)
    assert states(result)["inside"] == "skipped" and states(result)["outside"] == "success"


def test_branch_datetime_with_datetimes_and_an_open_side_compares_with_now():
    past = datetime.now(UTC) - timedelta(hours=1)
    assert states(_datetime_dag(past, None).test())["inside"] == "success"
    assert states(_datetime_dag(None, past).test())["outside"] == "success"


def test_branch_datetime_window_across_midnight_ends_the_next_day():
    base = datetime(2024, 1, 3, 23, 30)
    lower, upper = target_times_as_dates(base, time(22), time(2))
    assert (lower, upper) == (datetime(2024, 1, 3, 22), datetime(2024, 1, 4, 2))


def test_branch_datetime_needs_one_bound():
    with pytest.raises(DagDefinitionError, match="both target_upper and target_lower are None"):
        _datetime_dag(None, None)


# -- BranchDayOfWeekOperator -------------------------------------------------------------------------


def test_branch_day_of_week_follows_the_day_of_the_logical_date():
    with DAG("weekday", start_date=START, schedule=None) as dag:
        BranchDayOfWeekOperator(
            task_id="branch",
            week_day=[WeekDay.SATURDAY, WeekDay.SUNDAY],
            use_task_logical_date=True,
            follow_task_ids_if_true="weekend",
            follow_task_ids_if_false=["workday"],
        ) >> [EmptyOperator(task_id="weekend"), EmptyOperator(task_id="workday")]
    assert states(dag.test(logical_date=WEDNESDAY))["workday"] == "success"
    assert states(dag.test(logical_date=WEDNESDAY + timedelta(days=3)))["weekend"] == "success"


def test_branch_day_of_week_rejects_a_bad_day_at_parse_time():
    with DAG("weekday_bad", start_date=START, schedule=None), pytest.raises(AttributeError, match="Blursday"):
        BranchDayOfWeekOperator(
            task_id="b", week_day="Blursday", follow_task_ids_if_true="x", follow_task_ids_if_false="y"
        )


def test_smooth_operator_succeeds():
    with DAG("smooth", start_date=START, schedule=None) as dag:
        SmoothOperator(task_id="smooth")
    assert dag.test().state is RunState.SUCCESS


# -- TriggerDagRunOperator in dag.test ---------------------------------------------------------------

CHILD = """
from datetime import datetime, timezone
from dagflow import DAG, task

with DAG("child", start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), schedule=None) as dag:
    @task
    def double(dag_run=None):
        if dag_run.conf.get("fail"):
            raise ValueError("asked to fail")
        return dag_run.conf["n"] * 2
    double()
"""


def _parent(dags_folder: DagsFolder, **kwargs: Any) -> DAG:
    dags_folder.write("child.py", CHILD)
    with DAG("parent", start_date=START, schedule=None) as dag:
        TriggerDagRunOperator(task_id="trigger", trigger_dag_id="child", poke_interval=0.01, **kwargs)
    dag.fileloc = str(dags_folder.path / "parent.py")
    return dag


def test_trigger_records_the_run_without_running_it_when_not_waiting(dags_folder: DagsFolder):
    dag = _parent(dags_folder, conf={"n": 2}, trigger_run_id="from_parent_{{ ds_nodash }}")
    result = dag.test(logical_date=START)
    assert result.state is RunState.SUCCESS
    [triggered] = result.triggered_runs
    assert (triggered.request.dag_id, triggered.request.run_id) == ("child", "from_parent_20240101")
    assert triggered.request.conf == {"n": 2} and triggered.state == "queued" and triggered.result is None
    assert result.xcom("trigger", key="trigger_run_id") == "from_parent_20240101"
    assert result.xcom("trigger", key="_link_Triggered DAG") == "/dags/child/runs/from_parent_20240101"


def test_trigger_waiting_for_completion_runs_the_dag_in_process(dags_folder: DagsFolder):
    dag = _parent(dags_folder, conf={"n": "{{ params.n }}"}, wait_for_completion=True, params={"n": 21})
    dag.render_template_as_native_obj = True
    result = dag.test(logical_date=START)
    assert result.state is RunState.SUCCESS
    [triggered] = result.triggered_runs
    assert triggered.state == "success" and triggered.result is not None
    assert triggered.result.xcom("double") == 42


def test_trigger_waiting_fails_when_the_triggered_run_fails(dags_folder: DagsFolder):
    dag = _parent(dags_folder, conf={"fail": True}, wait_for_completion=True)
    result = dag.test(logical_date=START)
    assert result.get("trigger").state is TaskState.FAILED
    assert "child failed with failed states failed" in (result.get("trigger").error or "")


def test_trigger_of_an_existing_run_fails_skips_or_resets(dags_folder: DagsFolder):
    def twice(**kwargs: Any) -> Any:
        dags_folder.write("child.py", CHILD)
        with DAG("twice", start_date=START, schedule=None) as dag:
            first = TriggerDagRunOperator(task_id="first", trigger_dag_id="child", trigger_run_id="same")
            first >> TriggerDagRunOperator(
                task_id="again", trigger_dag_id="child", trigger_run_id="same", **kwargs
            )
        dag.fileloc = str(dags_folder.path / "twice.py")
        return dag.test(logical_date=START)

    assert twice().get("again").state is TaskState.FAILED
    assert twice(skip_when_already_exists=True).get("again").state is TaskState.SKIPPED
    reset = twice(reset_dag_run=True, conf={"n": 1})
    assert reset.get("again").state is TaskState.SUCCESS
    [run] = reset.triggered_runs  # reset, not created again: it keeps its first (empty) conf
    assert (run.request.run_id, run.request.conf, run.state) == ("same", {}, "queued")


def test_trigger_of_an_unknown_dag_waited_for_fails_naming_it(dags_folder: DagsFolder):
    with DAG("lonely", start_date=START, schedule=None) as dag:
        TriggerDagRunOperator(task_id="t", trigger_dag_id="nowhere", wait_for_completion=True)
    dag.fileloc = str(dags_folder.path / "lonely.py")
    result = dag.test(logical_date=START)
    assert "DAG 'nowhere' (triggered and waited for) is not in" in (result.get("t").error or "")


def test_trigger_rejects_unknown_states_at_parse_time():
    with DAG("bad_states", start_date=START, schedule=None), pytest.raises(DagDefinitionError, match="bogus"):
        TriggerDagRunOperator(task_id="t", trigger_dag_id="x", allowed_states=["bogus"])


def test_task_run_if_and_skip_if_decide_with_the_context():
    with DAG("conditions", start_date=START, schedule=None) as dag:

        @task.run_if(lambda context: context["params"]["go"])
        @task
        def runs_if_go() -> str:
            return "ran"

        @task.skip_if(lambda context: context["params"]["go"], skip_message="told to skip")
        @task
        def skipped_if_go() -> str:
            return "ran"

        runs_if_go()
        skipped_if_go()
    dag.params["go"] = True
    assert states(dag.test()) == {"runs_if_go": "success", "skipped_if_go": "skipped"}
    assert states(dag.test(conf={"go": False})) == {"runs_if_go": "skipped", "skipped_if_go": "success"}


def test_run_if_needs_a_task_function():
    with pytest.raises(DagDefinitionError, match="put it above @task"):
        task.run_if(lambda context: True)(lambda: None)  # type: ignore[arg-type]


def test_trigger_conf_rendered_to_json_text_is_read_back(dags_folder: DagsFolder):
    dag = _parent(dags_folder, conf='{"n": {{ params.n }}}', params={"n": 4}, note="from the test")
    result = dag.test(logical_date=START)
    assert result.triggered_runs[0].request.conf == {"n": 4}


def test_trigger_conf_that_is_not_json_fails_naming_it(dags_folder: DagsFolder):
    dag = _parent(dags_folder, conf="{not json")
    result = dag.test(logical_date=START)
    assert "conf must be JSON serializable, got '{not json'" in (result.get("trigger").error or "")
