"""Sensors in ``dag.test()`` and on their own: poke and reschedule modes, timeouts, soft_fail, the
Airflow sensors (file, Python callable, time delta, external task) and ``@task.sensor``.

Waits are a few tenths of a second; assertions are about states and try counts, never durations.
"""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

import pytest

from dagflow import DAG, TaskGroup, task
from dagflow.core.states import RunState, TaskState
from dagflow.exceptions import (
    DagDefinitionError,
    DagNotFound,
    ExternalTaskFailed,
    FailTask,
    RescheduleTask,
    SensorTimeout,
    SkipTask,
    TaskNotFound,
)
from dagflow.operators import EmptyOperator, PythonOperator
from dagflow.runtime.inprocess import RunResult
from dagflow.runtime.run_reader import DagOutline, OwnRunStates
from dagflow.sensors import (
    BaseSensorOperator,
    ExternalTaskSensor,
    FileSensor,
    PokeReturnValue,
    PythonSensor,
    TimeDeltaSensor,
)
from dagflow.sensors.base import as_seconds, estimated_poke_count
from dagflow.sensors.filesystem import path_has_file

LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)


class SensorTiming(TypedDict):
    """Sensor keyword arguments that keep waits to a few tenths of a second."""

    poke_interval: float
    timeout: float


FAST: SensorTiming = {"poke_interval": 0.05, "timeout": 10}


def run(dag: DAG, **kwargs: Any) -> RunResult:
    kwargs.setdefault("logical_date", LOGICAL_DATE)
    kwargs.setdefault("log_stream", io.StringIO())
    return dag.test(**kwargs)


def states(result: RunResult) -> dict[str, str]:
    return {ti.label: ti.state.value for ti in result.task_instances}


def done_after(pokes: int) -> tuple[list[int], Any]:
    """A poke callable that is done at its ``pokes``-th call, and the list counting its calls."""
    calls: list[int] = []

    def poke() -> bool:
        calls.append(1)
        return len(calls) >= pokes

    return calls, poke


def never_done_within(limit: int) -> tuple[list[int], Any]:
    """A poke callable that is never done; it fails the try outright past ``limit`` calls, so a
    timeout that never fires shows up as a failed test instead of a hang."""
    calls: list[int] = []

    def poke() -> bool:
        calls.append(1)
        if len(calls) > limit:
            raise ValueError(f"poked {len(calls)} times: the timeout never fired")
        return False

    return calls, poke


# -- poke mode -----------------------------------------------------------------------------------


def test_poke_mode_succeeds_once_a_file_written_by_another_thread_appears(tmp_path: Path):
    target = tmp_path / "ready.txt"
    with DAG("file_from_thread", schedule=None) as dag:
        FileSensor(task_id="wait", filepath=str(target), **FAST)
    writer = threading.Timer(0.2, target.write_text, args=("done",))
    writer.start()
    try:
        result = run(dag)
    finally:
        writer.cancel()
    assert result.state is RunState.SUCCESS
    assert result.get("wait").try_number == 1


def test_file_sensor_finds_the_file_an_upstream_task_wrote(tmp_path: Path):
    with DAG("file_from_upstream", schedule=None) as dag:
        write = PythonOperator(
            task_id="write", python_callable=lambda: (tmp_path / "out" / "part-0.csv").write_text("x")
        )
        write.pre_execute = lambda context: (tmp_path / "out").mkdir()  # type: ignore[method-assign]
        wait = FileSensor(task_id="wait", filepath=str(tmp_path / "out" / "*.csv"), **FAST)
        write >> wait
    assert states(run(dag)) == {"write": "success", "wait": "success"}


def test_a_sensor_that_stays_false_poke_after_poke_then_succeeds_keeps_one_try():
    calls, poke = done_after(3)
    with DAG("poke_three_times", schedule=None) as dag:
        PythonSensor(task_id="wait", python_callable=poke, **FAST)
    result = run(dag)
    assert states(result) == {"wait": "success"}
    assert (len(calls), result.get("wait").try_number) == (3, 1)


# -- timeout and soft_fail ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_timeout_fails_without_using_the_retries(mode: str):
    calls, poke = never_done_within(200)
    with DAG(f"timeout_{mode}", schedule=None) as dag:
        wait = PythonSensor(
            task_id="wait", python_callable=poke, poke_interval=0.05, timeout=0.3, mode=mode, retries=2
        )
        after = EmptyOperator(task_id="after")
        wait >> after
    result = run(dag)
    assert result.state is RunState.FAILED
    assert states(result) == {"wait": "failed", "after": "upstream_failed"}
    assert result.get("wait").try_number == 1
    assert "SensorTimeout" in (result.get("wait").error or "")
    assert len(calls) > 1  # it poked again before giving up


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_soft_fail_skips_on_timeout_and_the_skip_cascades(mode: str):
    _calls, poke = never_done_within(200)
    with DAG(f"soft_fail_{mode}", schedule=None) as dag:
        wait = PythonSensor(
            task_id="wait", python_callable=poke, poke_interval=0.05, timeout=0.2, mode=mode, soft_fail=True
        )
        wait >> EmptyOperator(task_id="after")
    result = run(dag)
    assert states(result) == {"wait": "skipped", "after": "skipped"}
    assert result.state is RunState.SUCCESS


def test_timeout_zero_pokes_once_then_times_out():
    calls, poke = never_done_within(5)
    with DAG("timeout_zero", schedule=None) as dag:
        PythonSensor(task_id="wait", python_callable=poke, poke_interval=0.05, timeout=0)
    assert states(run(dag)) == {"wait": "failed"}
    assert len(calls) == 1


def test_fail_task_in_poke_fails_at_once_or_skips_with_soft_fail():
    def poke():
        raise FailTask("the source is gone")

    with DAG("fail_in_poke", schedule=None) as dag:
        PythonSensor(task_id="hard", python_callable=poke, retries=2, **FAST)
        PythonSensor(task_id="soft", python_callable=poke, soft_fail=True, **FAST)
    result = run(dag)
    assert states(result) == {"hard": "failed", "soft": "skipped"}
    assert result.get("hard").try_number == 1


def test_other_errors_in_poke_are_retried_skipped_with_never_fail_or_ignored_with_silent_fail():
    flaky_calls: list[int] = []

    def flaky():
        flaky_calls.append(1)
        if len(flaky_calls) < 3:
            raise ValueError("not reachable yet")
        return True

    def broken():
        raise ValueError("broken")

    with DAG("errors_in_poke", schedule=None) as dag:
        PythonSensor(task_id="retried", python_callable=broken, retries=1, retry_delay=0, **FAST)
        PythonSensor(task_id="never_fail", python_callable=broken, never_fail=True, **FAST)
        PythonSensor(task_id="silent", python_callable=flaky, silent_fail=True, **FAST)
    result = run(dag)
    assert states(result) == {"retried": "failed", "never_fail": "skipped", "silent": "success"}
    assert result.get("retried").try_number == 2
    assert result.get("silent").try_number == 1


# -- reschedule mode ------------------------------------------------------------------------------


def test_reschedule_mode_continues_the_same_try_until_done():
    calls, poke = done_after(3)
    with DAG("reschedule_three_times", schedule=None) as dag:
        wait = PythonSensor(task_id="wait", python_callable=poke, mode="reschedule", retries=2, **FAST)
        wait >> EmptyOperator(task_id="after")
    result = run(dag)
    assert states(result) == {"wait": "success", "after": "success"}
    assert (len(calls), result.get("wait").try_number) == (3, 1)


def test_reschedule_mode_lets_other_tasks_run_between_pokes(tmp_path: Path):
    """``dag.test()`` runs one task at a time: a sensor waiting for a file that an independent task
    writes can only succeed if it gives its turn away between pokes."""
    target = tmp_path / "written"
    with DAG("reschedule_frees_the_runner", schedule=None) as dag:
        FileSensor(task_id="wait", filepath=str(target), mode="reschedule", priority_weight=10, **FAST)
        PythonOperator(task_id="write", python_callable=lambda: target.write_text("x"))
    result = run(dag)
    assert states(result) == {"wait": "success", "write": "success"}
    wait, write = result.get("wait"), result.get("write")
    assert wait.try_number == 1
    assert wait.start_date is not None and write.start_date is not None
    assert wait.start_date < write.start_date  # the try's first poke came before the writer ran


def test_reschedule_passes_the_first_start_of_the_try_to_later_pokes():
    seen: list[Any] = []

    def poke(ti):
        seen.append((ti.try_number, ti.get_first_reschedule_date(), ti.start_date))
        return len(seen) == 3

    with DAG("first_start", schedule=None) as dag:
        PythonSensor(task_id="wait", python_callable=poke, mode="reschedule", **FAST)
    run(dag)
    (try1, first1, start1), (try2, first2, _), (try3, first3, _) = seen
    assert (try1, try2, try3) == (1, 1, 1)
    assert first1 is None
    assert first2 == first3 == start1


# -- validation at definition ------------------------------------------------------------------------


def test_an_unknown_mode_is_a_definition_error_naming_the_task_and_dag():
    with DAG("bad_mode", schedule=None), pytest.raises(DagDefinitionError, match="mode") as caught:
        PythonSensor(task_id="wait", python_callable=bool, mode="deferred")
    assert "'wait'" in str(caught.value) and "'bad_mode'" in str(caught.value)


@pytest.mark.parametrize("name", ["poke_interval", "timeout", "max_wait"])
@pytest.mark.parametrize("value", [-1, "5", True, None])
def test_intervals_must_be_non_negative_numbers_or_timedeltas(name: str, value: Any):
    if value is None and name != "poke_interval":
        return  # None is the default of timeout (a week) and max_wait (no cap)
    with DAG("bad_interval", schedule=None), pytest.raises(DagDefinitionError, match=name):
        PythonSensor(task_id="wait", python_callable=bool, **{name: value})


def test_intervals_accept_timedeltas_and_timeout_defaults_to_a_week():
    with DAG("intervals", schedule=None):
        sensor = PythonSensor(
            task_id="wait", python_callable=bool, poke_interval=timedelta(minutes=2), max_wait=30
        )
    assert (sensor.poke_interval, sensor.max_wait) == (120.0, 30.0)
    assert sensor.timeout == timedelta(days=7).total_seconds()
    assert sensor.mode == "poke" and not sensor.reschedule


def test_soft_fail_and_never_fail_are_exclusive():
    with DAG("exclusive", schedule=None), pytest.raises(DagDefinitionError, match="never_fail"):
        PythonSensor(task_id="wait", python_callable=bool, soft_fail=True, never_fail=True)


def test_sensor_arguments_come_from_default_args():
    with DAG("defaults", schedule=None, default_args={"mode": "reschedule", "poke_interval": 7}):
        sensor = PythonSensor(task_id="wait", python_callable=bool)
    assert (sensor.mode, sensor.poke_interval) == ("reschedule", 7.0)


def test_as_seconds_names_the_field_and_where():
    assert as_seconds(timedelta(seconds=1.5), "poke_interval", "here") == 1.5
    with pytest.raises(DagDefinitionError, match="here: poke_interval must not be negative"):
        as_seconds(-0.1, "poke_interval", "here")


def test_a_sensor_without_poke_fails_the_try():
    with DAG("no_poke", schedule=None) as dag:
        BaseSensorOperator(task_id="wait", **FAST)
    result = run(dag)
    assert states(result) == {"wait": "failed"}
    assert "does not implement poke" in (result.get("wait").error or "")


# -- waiting between pokes ---------------------------------------------------------------------------


class _Clockless(BaseSensorOperator):
    def poke(self, context: Any) -> bool:
        return False


def _next_wait(sensor: BaseSensorOperator, elapsed: float, poke_count: int) -> float:
    now = datetime.now(UTC)
    return (sensor._next_poke_at({}, lambda: elapsed, poke_count, now) - now).total_seconds()


def _next_waits(sensor: BaseSensorOperator, elapsed: float, pokes: int) -> list[float]:
    return [_next_wait(sensor, elapsed, n) for n in range(1, pokes + 1)]


def test_waits_are_the_poke_interval_capped_by_the_time_left_before_the_timeout():
    with DAG("waits", schedule=None):
        sensor = _Clockless(task_id="s", poke_interval=5, timeout=12)
    assert _next_waits(sensor, elapsed=0, pokes=2) == [5, 5]
    assert _next_waits(sensor, elapsed=10, pokes=1) == [2]


def test_exponential_backoff_grows_and_respects_max_wait():
    with DAG("backoff", schedule=None):
        grows = _Clockless(task_id="grows", poke_interval=1, timeout=3600, exponential_backoff=True)
        capped = _Clockless(
            task_id="capped", poke_interval=1, timeout=3600, exponential_backoff=True, max_wait=3
        )
    waits = _next_waits(grows, elapsed=0, pokes=6)
    assert waits == sorted(waits) and waits[-1] > waits[0] >= 1
    assert max(_next_waits(capped, elapsed=0, pokes=6)) == 3


def test_estimated_poke_count_finds_the_place_in_a_growing_series():
    def wait_after(n: int) -> float:
        return 2.0**n

    assert estimated_poke_count(0, wait_after) == 1
    assert estimated_poke_count(2, wait_after) == 2  # poke 2 comes 2s after the first
    assert estimated_poke_count(6.5, wait_after) == 3  # poke 3 at 2 + 4 = 6s
    assert estimated_poke_count(1e12, lambda n: 1.0) == 64  # bounded: the backoff is capped by then


def test_reschedule_mode_with_backoff_reschedules_at_the_estimated_wait():
    with DAG("resched_backoff", schedule=None):
        sensor = _Clockless(
            task_id="s", poke_interval=1, timeout=1e7, exponential_backoff=True, mode="reschedule"
        )
    assert _next_wait(sensor, 0.0, 1) == sensor._backoff(1)
    assert _next_wait(sensor, 1e6, 1) == sensor._backoff(64) == timedelta(days=1).total_seconds()


# -- PythonSensor and @task.sensor ---------------------------------------------------------------------


def test_poke_return_value_pushes_its_xcom_and_a_plain_true_pushes_nothing():
    with DAG("poke_return_value", schedule=None) as dag:
        PythonSensor(task_id="valued", python_callable=lambda: PokeReturnValue(True, {"rows": 3}), **FAST)
        PythonSensor(task_id="plain", python_callable=lambda: "truthy", **FAST)
    result = run(dag)
    assert result.report()["xcom"] == {"valued": {"rows": 3}}


def test_python_sensor_renders_op_args_op_kwargs_and_templates_dict():
    seen: dict[str, Any] = {}

    def poke(prefix, templates_dict, suffix=None):
        seen.update(prefix=prefix, templates=templates_dict, suffix=suffix)
        return True

    with DAG("python_sensor_templates", schedule=None) as dag:
        PythonSensor(
            task_id="wait",
            python_callable=poke,
            op_args=["{{ ds }}"],
            op_kwargs={"suffix": "{{ ds_nodash }}"},
            templates_dict={"day": "{{ ds }}"},
            **FAST,
        )
    assert states(run(dag)) == {"wait": "success"}
    assert seen == {"prefix": "2024-01-01", "templates": {"day": "2024-01-01"}, "suffix": "20240101"}


def test_task_sensor_decorator_pokes_the_function_with_sensor_arguments():
    calls: list[int] = []

    with DAG("task_sensor", schedule=None) as dag:

        @task
        def threshold():
            return 2

        @task.sensor(poke_interval=0.05, timeout=10, mode="reschedule")
        def enough(minimum: int) -> PokeReturnValue:
            calls.append(1)
            return PokeReturnValue(len(calls) >= minimum, xcom_value=len(calls))

        @task
        def report(count: int) -> int:
            return count * 10

        report(enough(threshold()))
    result = run(dag)
    assert states(result) == {"threshold": "success", "enough": "success", "report": "success"}
    assert result.xcom("report") == 20
    assert result.get("enough").try_number == 1
    enough_task = dag.get_task("enough")
    assert isinstance(enough_task, BaseSensorOperator)
    assert enough_task.operator_name == "@task.sensor"


def test_task_sensor_rejects_an_unknown_mode_at_definition():
    with DAG("task_sensor_bad", schedule=None), pytest.raises(DagDefinitionError, match="mode"):

        @task.sensor(mode="sometimes")
        def wait() -> bool:
            return True

        wait()


# -- FileSensor ---------------------------------------------------------------------------------------


def test_path_has_file_matches_files_globs_and_folders_with_files(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "full" / "deep").mkdir(parents=True)
    (tmp_path / "full" / "deep" / "a.txt").write_text("a")
    (tmp_path / "b.csv").write_text("b")
    assert path_has_file(str(tmp_path / "b.csv")) == str(tmp_path / "b.csv")
    assert path_has_file(str(tmp_path / "*.csv")) == str(tmp_path / "b.csv")
    assert path_has_file(str(tmp_path / "empty")) is None
    assert path_has_file(str(tmp_path / "full")) == str(tmp_path / "full" / "deep" / "a.txt")
    assert path_has_file(str(tmp_path / "missing*")) is None
    assert path_has_file(str(tmp_path / "**" / "a.txt")) is None  # ** is one level without recursive
    assert path_has_file(str(tmp_path / "**" / "a.txt"), recursive=True) is not None


def test_file_sensor_renders_its_filepath(tmp_path: Path):
    (tmp_path / "2024-01-01.done").write_text("")
    with DAG("file_template", schedule=None) as dag:
        FileSensor(task_id="wait", filepath=str(tmp_path / "{{ ds }}.done"), **FAST)
    result = run(dag)
    assert states(result) == {"wait": "success"}


def test_a_deferrable_file_sensor_waits_as_its_mode_says(tmp_path: Path):
    (tmp_path / "ready").write_text("")
    with DAG("file_deferrable", schedule=None) as dag:
        FileSensor(task_id="wait", filepath=str(tmp_path / "ready"), deferrable=True, **FAST)
    assert states(run(dag)) == {"wait": "success"}


def test_file_sensor_accepts_only_the_default_connection():
    with DAG("file_conn", schedule=None), pytest.raises(DagDefinitionError, match="fs_conn_id"):
        FileSensor(task_id="wait", filepath="x", fs_conn_id="my_share")


# -- TimeDeltaSensor ------------------------------------------------------------------------------------


class _TI:
    """Just enough of a running task instance for a sensor's execute()."""

    def __init__(self, start: datetime, first: datetime | None = None):
        self.start_date, self.first = start, first

    def get_first_reschedule_date(self, context: Any = None) -> datetime | None:
        return self.first


def test_time_delta_sensor_in_reschedule_mode_reschedules_to_exactly_the_moment():
    now = datetime.now(UTC)
    with DAG("time_delta_unit", schedule=None):
        sensor = TimeDeltaSensor(task_id="wait", delta=timedelta(hours=1), mode="reschedule", poke_interval=5)
    context = {"data_interval_end": now, "ti": _TI(now)}
    with pytest.raises(RescheduleTask) as caught:
        sensor.execute(context)
    assert caught.value.reschedule_at == now + timedelta(hours=1)


def test_time_delta_sensor_never_reschedules_past_its_timeout():
    now = datetime.now(UTC)
    with DAG("time_delta_timeout", schedule=None):
        sensor = TimeDeltaSensor(task_id="wait", delta=timedelta(hours=1), mode="reschedule", timeout=60)
    with pytest.raises(RescheduleTask) as caught:
        sensor.execute({"data_interval_end": now, "ti": _TI(now)})
    assert caught.value.reschedule_at <= now + timedelta(seconds=61)
    with pytest.raises(SensorTimeout):  # the poke at the deadline
        sensor.execute({"data_interval_end": now, "ti": _TI(now, first=now - timedelta(seconds=61))})


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_time_delta_sensor_waits_from_the_end_of_the_data_interval(mode: str):
    with DAG(f"time_delta_{mode}", schedule=None) as dag:
        TimeDeltaSensor(task_id="wait", delta=timedelta(seconds=0.2), mode=mode, poke_interval=60)
    result = run(dag, logical_date=datetime.now(UTC))
    assert states(result) == {"wait": "success"}
    assert result.get("wait").try_number == 1


def test_time_delta_sensor_needs_a_timedelta():
    with DAG("time_delta_bad", schedule=None), pytest.raises(DagDefinitionError, match="delta"):
        TimeDeltaSensor(task_id="wait", delta=5)  # type: ignore[arg-type]


# -- ExternalTaskSensor: semantics, against a stub reader --------------------------------------------


class StubStates:
    """A RunStateReader over fixed data: ``runs[(dag_id, logical_date)] = (run_state, task states)``."""

    def __init__(self, outlines: dict[str, DagOutline] | None = None):
        self.runs: dict[tuple[str, datetime], tuple[str, dict[str, list[str]]]] = {}
        self.outlines = outlines or {}
        self.asked: list[datetime] = []

    def outline(self, dag_id: str) -> DagOutline | None:
        return self.outlines.get(dag_id)

    def dag_run_state(self, dag_id: str, logical_date: datetime) -> str | None:
        self.asked.append(logical_date)
        found = self.runs.get((dag_id, logical_date))
        return found[0] if found else None

    def task_states(self, dag_id: str, logical_date: datetime, task_ids: Any = None) -> Any:
        self.asked.append(logical_date)
        found = self.runs.get((dag_id, logical_date))
        if found is None:
            return None
        return {t: s for t, s in found[1].items() if task_ids is None or t in task_ids}


class _ReaderTI:
    def __init__(self, reader: StubStates):
        self.reader = reader

    def dag_outline(self, dag_id: str) -> DagOutline | None:
        return self.reader.outline(dag_id)

    def dag_run_state(self, dag_id: str, logical_date: datetime) -> str | None:
        return self.reader.dag_run_state(dag_id, logical_date)

    def task_states(self, dag_id: str, logical_date: datetime, task_ids: Any = None) -> Any:
        return self.reader.task_states(dag_id, logical_date, task_ids)


def external(**kwargs: Any) -> ExternalTaskSensor:
    with DAG("watcher", schedule=None):
        return ExternalTaskSensor(task_id="watch", external_dag_id="other", **kwargs)


def poke(sensor: ExternalTaskSensor, reader: StubStates, logical_date: datetime = LOGICAL_DATE) -> bool:
    return sensor.poke({"ti": _ReaderTI(reader), "logical_date": logical_date})


def test_external_task_is_done_when_every_watched_task_instance_is_allowed():
    reader = StubStates()
    sensor = external(external_task_ids=["a", "b"])
    assert poke(sensor, reader) is False  # no run yet
    reader.runs[("other", LOGICAL_DATE)] = ("running", {"a": ["success"]})
    assert poke(sensor, reader) is False  # b is not in the run
    reader.runs[("other", LOGICAL_DATE)] = ("running", {"a": ["success"], "b": ["success", "running"]})
    assert poke(sensor, reader) is False  # one map index of b still runs
    reader.runs[("other", LOGICAL_DATE)] = ("running", {"a": ["success"], "b": ["success", "success"]})
    assert poke(sensor, reader) is True


def test_a_failed_external_task_keeps_the_sensor_waiting_unless_it_is_a_failed_state():
    reader = StubStates()
    reader.runs[("other", LOGICAL_DATE)] = ("failed", {"a": ["failed"]})
    assert poke(external(external_task_id="a"), reader) is False
    with pytest.raises(ExternalTaskFailed, match="'a'"):
        poke(external(external_task_id="a", failed_states=["failed"]), reader)
    with pytest.raises(SkipTask):
        poke(external(external_task_id="a", failed_states=["failed"], soft_fail=True), reader)


def test_skipped_states_skip_the_sensor():
    reader = StubStates()
    reader.runs[("other", LOGICAL_DATE)] = ("success", {"a": ["skipped"]})
    with pytest.raises(SkipTask, match="skipped_state"):
        poke(external(external_task_id="a", skipped_states=[TaskState.SKIPPED]), reader)


def test_without_a_task_the_sensor_watches_the_whole_run():
    reader = StubStates()
    sensor = external()
    reader.runs[("other", LOGICAL_DATE)] = ("running", {})
    assert poke(sensor, reader) is False
    reader.runs[("other", LOGICAL_DATE)] = ("success", {})
    assert poke(sensor, reader) is True
    flipped = external(allowed_states=["failed"], failed_states=[RunState.SUCCESS])
    with pytest.raises(ExternalTaskFailed, match="the run"):
        poke(flipped, reader)


def test_a_task_group_is_done_when_every_task_inside_it_is():
    group = frozenset({"g.a", "g.inner.b"})
    reader = StubStates({"other": DagOutline("other", group | {"c"}, {"g": group})})
    sensor = external(external_task_group_id="g")
    reader.runs[("other", LOGICAL_DATE)] = ("running", {"g.a": ["success"], "g.inner.b": ["running"]})
    assert poke(sensor, reader) is False
    reader.runs[("other", LOGICAL_DATE)] = ("running", {"g.a": ["success"], "g.inner.b": ["success"]})
    assert poke(sensor, reader) is True
    assert poke(external(external_task_group_id="missing"), reader) is False


def test_execution_delta_and_execution_date_fn_choose_the_logical_dates():
    reader = StubStates()
    day_before = LOGICAL_DATE - timedelta(days=1)
    reader.runs[("other", day_before)] = ("success", {"a": ["success"]})
    assert poke(external(external_task_id="a", execution_delta=timedelta(days=1)), reader) is True

    def both_days(logical_date, ds):
        assert ds == "2024-01-01"
        return [logical_date, (logical_date - timedelta(days=1)).replace(tzinfo=None)]

    sensor = external(external_task_id="a", execution_date_fn=both_days)
    reader.asked.clear()
    assert sensor.poke({"ti": _ReaderTI(reader), "logical_date": LOGICAL_DATE, "ds": "2024-01-01"}) is False
    assert reader.asked == [LOGICAL_DATE, day_before]  # a naive date is read as UTC
    reader.runs[("other", LOGICAL_DATE)] = ("success", {"a": ["success"]})
    assert sensor.poke({"ti": _ReaderTI(reader), "logical_date": LOGICAL_DATE, "ds": "2024-01-01"}) is True


def test_check_existence_fails_for_a_missing_dag_task_or_group():
    reader = StubStates({"other": DagOutline("other", frozenset({"a"}), {"g": frozenset({"a"})})})
    with pytest.raises(DagNotFound):
        poke(external(check_existence=True), StubStates())
    with pytest.raises(TaskNotFound, match="'b'"):
        poke(external(external_task_ids=["a", "b"], check_existence=True), reader)
    with pytest.raises(TaskNotFound, match="task group 'h'"):
        poke(external(external_task_group_id="h", check_existence=True), reader)
    assert poke(external(external_task_id="a", check_existence=True), reader) is False


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"external_task_id": "a", "external_task_ids": ["b"]}, "only one of"),
        ({"external_task_id": "a", "external_task_group_id": "g"}, "only one of"),
        ({"execution_delta": timedelta(1), "execution_date_fn": lambda d: d}, "not both"),
        ({"allowed_states": ["success"], "failed_states": ["success"]}, "appears twice"),
        ({"allowed_states": ["up_for_retry"]}, "DAG run state"),
        ({"external_task_id": "a", "allowed_states": ["queued_forever"]}, "task state"),
    ],
)
def test_external_task_sensor_arguments_are_checked_at_definition(kwargs: dict[str, Any], match: str):
    with pytest.raises(DagDefinitionError, match=match):
        external(**kwargs)


# -- ExternalTaskSensor in dag.test(): only the run under test is known ---------------------------------


def test_in_dag_test_a_rescheduled_sensor_can_wait_for_a_task_of_its_own_run():
    with DAG("self_watch", schedule=None) as dag:
        ExternalTaskSensor(
            task_id="watch",
            external_dag_id="self_watch",
            external_task_id="work",
            mode="reschedule",
            priority_weight=10,
            **FAST,
        )
        EmptyOperator(task_id="work")
    result = run(dag)
    assert states(result) == {"watch": "success", "work": "success"}
    assert result.get("watch").try_number == 1


def test_in_dag_test_another_dag_is_unknown():
    with DAG("lonely", schedule=None) as dag:
        ExternalTaskSensor(task_id="exists", external_dag_id="elsewhere", check_existence=True, **FAST)
        ExternalTaskSensor(task_id="waits", external_dag_id="elsewhere", poke_interval=0.05, timeout=0.2)
    result = run(dag)
    assert states(result) == {"exists": "failed", "waits": "failed"}
    assert "DagNotFound" in (result.get("exists").error or "")
    assert "SensorTimeout" in (result.get("waits").error or "")


def test_own_run_states_know_the_run_under_test_and_nothing_else():
    with DAG("own", schedule=None) as dag, TaskGroup("g"):
        EmptyOperator(task_id="a")
    reader = OwnRunStates(dag, LOGICAL_DATE, lambda: [("g.a", -1, "success")])
    assert reader.dag_run_state("own", LOGICAL_DATE) == "running"
    assert reader.task_states("own", LOGICAL_DATE, ["g.a"]) == {"g.a": ["success"]}
    assert reader.task_states("own", LOGICAL_DATE + timedelta(days=1)) is None
    assert reader.dag_run_state("other", LOGICAL_DATE) is None
    assert reader.outline("other") is None
    assert reader.outline("own") == DagOutline("own", frozenset({"g.a"}), {"g": frozenset({"g.a"})})
