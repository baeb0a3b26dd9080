"""Airflow's standard sensors in ``dag.test()``: BashSensor, DateTimeSensor, TimeSensor,
DayOfWeekSensor and WaitSensor. Waits are tenths of a second; assertions are about states."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from dagflow import DAG
from dagflow.core.states import TaskState
from dagflow.exceptions import DagDefinitionError
from dagflow.sensors import BashSensor, DateTimeSensor, DayOfWeekSensor, TimeSensor, WaitSensor
from dagflow.utils.weekday import WeekDay

START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


def run_one(sensor_class: type, logical_date: datetime = START, **kwargs: Any) -> Any:
    with DAG("sensing", start_date=START, schedule=None) as dag:
        sensor_class(task_id="sensor", **kwargs)
    return dag.test(logical_date=logical_date).get("sensor")


def test_bash_sensor_succeeds_when_the_command_exits_zero(tmp_path: Any):
    flag = tmp_path / "flag"
    flag.write_text("")
    assert run_one(BashSensor, bash_command=f"test -e {flag}", poke_interval=0.05).state is TaskState.SUCCESS


def test_bash_sensor_keeps_poking_on_non_zero_until_its_timeout():
    ti = run_one(BashSensor, bash_command="exit 1", poke_interval=0.05, timeout=0.2, soft_fail=True)
    assert ti.state is TaskState.SKIPPED


def test_bash_sensor_fails_at_once_on_a_code_other_than_retry_exit_code():
    ti = run_one(BashSensor, bash_command="exit 2", retry_exit_code=1, poke_interval=0.05, timeout=30)
    assert ti.state is TaskState.FAILED and "return code 2" in (ti.error or "")


def test_bash_sensor_renders_its_command():
    ti = run_one(BashSensor, bash_command='test "{{ ds }}" = 2024-01-01', poke_interval=0.05, timeout=1)
    assert ti.state is TaskState.SUCCESS


def test_date_time_sensor_passes_a_moment_in_the_past_and_waits_for_one_ahead():
    assert run_one(DateTimeSensor, target_time="{{ logical_date.isoformat() }}").state is TaskState.SUCCESS
    soon = (datetime.now(UTC) + timedelta(seconds=0.3)).isoformat()
    assert run_one(DateTimeSensor, target_time=soon, poke_interval=60).state is TaskState.SUCCESS
    later = datetime.now(UTC) + timedelta(days=1)
    ti = run_one(DateTimeSensor, target_time=later, timeout=0.1, soft_fail=True)
    assert ti.state is TaskState.SKIPPED


def test_date_time_sensor_with_a_bad_moment_fails_naming_it():
    ti = run_one(DateTimeSensor, target_time="tomorrow-ish")
    assert ti.state is TaskState.FAILED and "'tomorrow-ish' is not an ISO 8601" in (ti.error or "")


def test_time_sensor_passes_once_the_time_of_day_has_come():
    assert run_one(TimeSensor, target_time=time(0, 0)).state is TaskState.SUCCESS
    soon = (datetime.now(UTC) + timedelta(seconds=0.3)).time()
    if soon < time(0, 0, 1):  # the test straddles midnight: nothing to check
        pytest.skip("midnight")
    assert run_one(TimeSensor, target_time=soon, poke_interval=60).state is TaskState.SUCCESS


def test_time_sensor_needs_a_time():
    with DAG("bad_time", start_date=START, schedule=None), pytest.raises(DagDefinitionError, match="time"):
        TimeSensor(task_id="t", target_time="10:00")  # type: ignore[arg-type]


def test_day_of_week_sensor_with_the_logical_date():
    monday = run_one(DayOfWeekSensor, week_day={WeekDay.MONDAY}, use_task_logical_date=True)
    assert monday.state is TaskState.SUCCESS
    sunday = run_one(
        DayOfWeekSensor, week_day="sunday", use_task_logical_date=True, timeout=0.1, soft_fail=True
    )
    assert sunday.state is TaskState.SKIPPED


def test_day_of_week_sensor_with_today():
    today = WeekDay(datetime.now(UTC).isoweekday()).name
    assert run_one(DayOfWeekSensor, week_day=today).state is TaskState.SUCCESS


def test_wait_sensor_waits_from_the_start_of_the_task():
    ti = run_one(WaitSensor, time_to_wait=timedelta(seconds=0.2), poke_interval=60)
    assert ti.state is TaskState.SUCCESS
    assert ti.end_date - ti.start_date >= timedelta(seconds=0.2)


def test_wait_sensor_counts_an_int_in_minutes():
    with DAG("wait_minutes", start_date=START, schedule=None):
        assert WaitSensor(task_id="w", time_to_wait=2).time_to_wait == timedelta(minutes=2)


def test_time_sensor_keeps_the_day_its_try_started_on():
    with DAG("late_evening", start_date=START, schedule=None):
        sensor = TimeSensor(task_id="t", target_time=time(23, 59))

    class Ti:
        start_date = datetime(2024, 1, 1, 23, 58, tzinfo=UTC)

        def get_first_reschedule_date(self, context: Any) -> None:
            return None

    # Poked after midnight, the target stays on the 1st: it has passed, rather than a day away.
    assert sensor._target({"ti": Ti()}) == datetime(2024, 1, 1, 23, 59, tzinfo=UTC)
    assert sensor.poke({"ti": Ti()})


def test_the_deferrable_forms_wait_as_the_plain_sensors_do():
    from dagflow.sensors import DateTimeSensorAsync, TimeDeltaSensor, TimeDeltaSensorAsync, TimeSensorAsync

    assert run_one(TimeDeltaSensorAsync, delta=timedelta(0)).state is TaskState.SUCCESS
    assert run_one(TimeDeltaSensor, delta=timedelta(0), deferrable=True).state is TaskState.SUCCESS
    assert run_one(TimeSensorAsync, target_time=time(0, 0)).state is TaskState.SUCCESS
    assert run_one(DateTimeSensorAsync, target_time="2024-01-01T00:00:00Z").state is TaskState.SUCCESS
