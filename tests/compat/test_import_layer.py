"""The ``airflow`` import layer: Airflow names resolve to dagflow objects, lazily, from one table;
a name dagflow lacks fails with one line naming it, the file and the line."""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import MappingProxyType

import pytest

import dagflow
from dagflow import compat
from dagflow.compat import table
from dagflow.compat.finder import load_target
from dagflow.dagbag import DagBag
from dagflow.exceptions import FailTask, SkipTask, UnsupportedAirflowImport, UnsupportedAirflowModule
from dagflow.operators import BashOperator, EmptyOperator, PythonOperator
from dagflow.sensors import PythonSensor
from tests.conftest import DagsFolder

AIRFLOW_DAG = """
import pendulum
from airflow.sdk import DAG, task
from airflow.providers.standard.operators.bash import BashOperator

with DAG("from_airflow", schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    @task
    def hello():
        return "hi"

    hello() >> BashOperator(task_id="bye", bash_command="echo bye")
"""


def test_airflow_3_names_resolve_to_the_dagflow_objects(airflow_layer: None) -> None:
    from airflow.exceptions import AirflowFailException, AirflowSkipException
    from airflow.providers.standard.operators.bash import BashOperator as StandardBash
    from airflow.providers.standard.operators.empty import EmptyOperator as StandardEmpty
    from airflow.providers.standard.sensors.python import PythonSensor as StandardPythonSensor
    from airflow.sdk import DAG, TaskGroup, task

    assert (DAG, TaskGroup, task) == (dagflow.DAG, dagflow.TaskGroup, dagflow.task)
    assert (StandardBash, StandardEmpty, StandardPythonSensor) == (BashOperator, EmptyOperator, PythonSensor)
    assert (AirflowSkipException, AirflowFailException) == (SkipTask, FailTask)


def test_airflow_2_paths_give_the_same_objects_as_the_standard_provider(airflow_layer: None) -> None:
    from airflow import DAG
    from airflow.decorators import task
    from airflow.operators.python import PythonOperator as Airflow2Python
    from airflow.providers.standard.operators.python import PythonOperator as StandardPython
    from airflow.utils.trigger_rule import TriggerRule

    assert Airflow2Python is StandardPython is PythonOperator
    assert (DAG, task, TriggerRule) == (dagflow.DAG, dagflow.task, dagflow.TriggerRule)


def test_names_custom_operators_and_callbacks_import_from_airflow_2_modules(airflow_layer: None) -> None:
    from airflow.models import TaskInstance
    from airflow.models.xcom import XCOM_RETURN_KEY
    from airflow.utils.context import Context
    from airflow.utils.timezone import utcnow
    from airflow.utils.types import DagRunType

    from dagflow.context import Context as DagflowContext
    from dagflow.runtime.task_instance import RuntimeTaskInstance

    assert (TaskInstance, Context) == (RuntimeTaskInstance, DagflowContext)
    assert XCOM_RETURN_KEY == "return_value"
    assert utcnow().utcoffset() == dt.timedelta(0)
    assert [DagRunType.MANUAL, DagRunType.SCHEDULED, DagRunType.BACKFILL_JOB] == [
        "manual",
        "scheduled",
        "backfill",
    ]


def test_deprecated_async_sensors_import_from_both_paths(airflow_layer: None) -> None:
    from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
    from airflow.sensors.time_delta import TimeDeltaSensorAsync
    from airflow.sensors.time_sensor import TimeSensorAsync

    from dagflow.sensors import date_time, time, time_delta

    assert DateTimeSensorAsync is date_time.DateTimeSensorAsync
    assert TimeDeltaSensorAsync is time_delta.TimeDeltaSensorAsync
    assert TimeSensorAsync is time.TimeSensorAsync


def test_state_enums_import_from_the_task_sdk_generated_models(airflow_layer: None) -> None:
    from airflow.sdk.api.datamodels._generated import DagRunState, TaskInstanceState, TriggerRule

    from dagflow.core.states import RunState, TaskState

    assert (TriggerRule, TaskInstanceState, DagRunState) == (dagflow.TriggerRule, TaskState, RunState)
    assert TriggerRule.ONE_SUCCESS == "one_success"


def test_retry_policies_import_from_the_sdk(airflow_layer: None) -> None:
    from airflow.sdk import ChainRetryPolicy, ExceptionRetryPolicy, RetryAction, RetryRule
    from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy

    from dagflow.models import retry_policy

    assert (RetryDecision, RetryPolicy) == (retry_policy.RetryDecision, retry_policy.RetryPolicy)

    assert (ChainRetryPolicy, ExceptionRetryPolicy, RetryAction, RetryRule) == (
        retry_policy.ChainRetryPolicy,
        retry_policy.ExceptionRetryPolicy,
        retry_policy.RetryAction,
        retry_policy.RetryRule,
    )


def test_parsing_context_says_a_full_parse(airflow_layer: None) -> None:
    from airflow.sdk import get_parsing_context
    from airflow.utils.dag_parsing_context import get_parsing_context as airflow_2_path

    assert get_parsing_context() == airflow_2_path() == (None, None)
    assert get_parsing_context().dag_id is None


def test_names_are_resolved_on_first_use_then_kept_in_the_module(airflow_layer: None) -> None:
    sdk = importlib.import_module("airflow.sdk")
    assert "DAG" not in vars(sdk)
    assert sdk.DAG is dagflow.DAG
    assert vars(sdk)["DAG"] is dagflow.DAG


def test_private_names_are_plain_attribute_errors_for_tools_that_probe(airflow_layer: None) -> None:
    sdk = importlib.import_module("airflow.sdk")
    assert getattr(sdk, "__file__", None) is None
    assert not hasattr(sdk, "_private_helper")


def test_star_import_brings_the_names_dagflow_has(airflow_layer: None) -> None:
    namespace: dict[str, object] = {}
    exec("from airflow.sdk import *", namespace)
    assert namespace["DAG"] is dagflow.DAG and namespace["task"] is dagflow.task
    assert "Asset" not in namespace


def test_dag_file_with_airflow_imports_loads_in_a_dagbag(
    dags_folder: DagsFolder, airflow_layer: None
) -> None:
    dags_folder.write("from_airflow.py", AIRFLOW_DAG)
    bag = DagBag(dags_folder.path)
    assert not bag.import_errors
    dag = bag.get_dag("from_airflow")
    assert sorted(dag.task_dict) == ["bye", "hello"]
    assert dag.test().state.value == "success"


def test_unsupported_name_is_one_line_naming_name_file_and_line(
    dags_folder: DagsFolder, airflow_layer: None
) -> None:
    path = dags_folder.write("assets.py", "import pendulum\nfrom airflow.sdk import DAG, Asset\n")
    bag = DagBag(dags_folder.path)
    error = bag.import_errors[str(path)]
    assert error.line == 2
    assert error.message.startswith("UnsupportedAirflowImport: ")
    assert f"{path}:2" in error.message
    assert "'Asset' from airflow.sdk is not supported by dagflow" in error.message
    assert "\n" not in error.message
    assert "No module named" not in error.message
    assert "dagflow/compat" not in error.traceback
    assert error.traceback.startswith("Traceback (most recent call last):")


def test_unsupported_module_is_one_line_naming_module_file_and_line(
    dags_folder: DagsFolder, airflow_layer: None
) -> None:
    path = dags_folder.write(
        "old.py", "x = 1\n\nfrom airflow.contrib.operators.ssh_operator import SSHOperator\n"
    )
    bag = DagBag(dags_folder.path)
    error = bag.import_errors[str(path)]
    assert error.line == 3
    assert "module airflow.contrib is not supported by dagflow" in error.message
    assert f"{path}:3 (from airflow.contrib.operators.ssh_operator import SSHOperator)" in error.message
    with pytest.raises(ModuleNotFoundError):  # code that falls back on ImportError still can
        importlib.import_module("airflow.contrib")


def test_unsupported_submodule_of_a_layer_module_is_reported_by_name(
    dags_folder: DagsFolder, airflow_layer: None
) -> None:
    path = dags_folder.write("custom_decorator.py", "from airflow.decorators.base import DecoratedOperator\n")
    bag = DagBag(dags_folder.path)
    error = bag.import_errors[str(path)]
    assert error.line == 1
    assert "module airflow.decorators.base is not supported by dagflow" in error.message
    assert "is not a package" not in error.message


def test_row_whose_dagflow_target_does_not_exist_yet_fails_cleanly(
    airflow_layer: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = dict(table.AIRFLOW_NAMES)
    rows["airflow.sdk"] = {
        **rows["airflow.sdk"],
        "Later": "dagflow.not_written_yet:Later",
        "Typo": "dagflow:Nope",
    }
    monkeypatch.setattr(table, "AIRFLOW_NAMES", MappingProxyType(rows))
    for name, target in (("Later", "dagflow.not_written_yet:Later"), ("Typo", "dagflow:Nope")):
        with pytest.raises(UnsupportedAirflowImport, match=f"its dagflow target {target} does not exist"):
            exec(f"from airflow.sdk import {name}", {})


def test_tasks_import_airflow_names_when_they_run(dags_folder: DagsFolder, airflow_layer: None) -> None:
    dags_folder.write(
        "late.py",
        """
        from airflow.sdk import dag, task

        @dag(schedule=None)
        def late():
            @task
            def which_run():
                from airflow.sdk import get_current_context

                return get_current_context()["dag_run"].run_id

            which_run()

        late()
        """,
    )
    result = DagBag(dags_folder.path).get_dag("late").test()
    assert result.xcom("which_run") == result.run_id


def test_setting_off_takes_the_layer_away(dags_folder: DagsFolder, airflow_layer: None) -> None:
    path = dags_folder.write("from_airflow.py", AIRFLOW_DAG)
    bag = DagBag(dags_folder.path, airflow_compat=False)
    assert not compat.installed()
    assert bag.import_errors[str(path)].message == "ModuleNotFoundError: No module named 'airflow'"
    assert DagBag(dags_folder.path).dag_ids == ["from_airflow"]


def test_cli_reads_the_setting(dags_folder: DagsFolder, airflow_layer: None, cli_runner, monkeypatch) -> None:
    from dagflow.cli import cli

    dags_folder.write("from_airflow.py", AIRFLOW_DAG)
    ran = cli_runner.invoke(cli, ["dags", "test", "from_airflow", "-d", str(dags_folder.path)])
    assert ran.exit_code == 0, ran.output
    monkeypatch.setenv("DAGFLOW__CORE__AIRFLOW_COMPAT", "False")
    refused = cli_runner.invoke(cli, ["dags", "test", "from_airflow", "-d", str(dags_folder.path)])
    assert refused.exit_code != 0
    assert "No module named 'airflow'" in refused.stderr


def test_real_airflow_is_left_alone(tmp_path: Path, dags_folder: DagsFolder) -> None:
    site = tmp_path / "site"
    (site / "airflow" / "sdk").mkdir(parents=True)
    (site / "airflow" / "__init__.py").write_text("REAL = True\n")
    (site / "airflow" / "sdk" / "__init__.py").write_text("DAG = 'the real one'\n")
    dags_folder.write("uses_asset.py", "from airflow.sdk import Asset\n")
    script = textwrap.dedent(
        f"""
        import sys
        from dagflow import compat
        from dagflow.dagbag import DagBag
        bag = DagBag({str(dags_folder.path)!r})
        import airflow
        from airflow.sdk import DAG
        print(compat.installed(), airflow.REAL, DAG)
        print(next(iter(bag.import_errors.values())).message)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    installed, error = done.stdout.splitlines()
    assert installed == "False True the real one"
    assert (
        error
        == "ImportError: cannot import name 'Asset' from 'airflow.sdk' ("
        + str(site / "airflow" / "sdk" / "__init__.py")
        + ")"
    )


def test_every_target_is_a_dagflow_path() -> None:
    for module, names in table.AIRFLOW_NAMES.items():
        assert module == "airflow" or module.startswith("airflow."), module
        for name, spec in names.items():
            assert spec.startswith("dagflow"), f"{module}.{name} -> {spec}"


def test_every_row_names_a_dagflow_object_that_exists() -> None:
    """A typo in a row, or a row whose dagflow object was renamed or moved, shows here."""
    broken = []
    for module, names in table.AIRFLOW_NAMES.items():
        for name, spec in names.items():
            try:
                load_target(table.Target.parse(spec))
            except LookupError:
                broken.append(f"{module}.{name} -> {spec}")
    assert not broken


def test_airflow_timezone_helpers_give_aware_utc_dates(airflow_layer: None) -> None:
    from airflow.utils import timezone

    assert timezone.datetime(2024, 1, 1).isoformat() == "2024-01-01T00:00:00+00:00"
    assert timezone.utcnow().utcoffset() == dt.timedelta(0)
    assert timezone.convert_to_utc(dt.datetime(2024, 6, 1, 12)).isoformat() == "2024-06-01T12:00:00+00:00"
    with pytest.raises(ValueError, match="naive"):
        timezone.make_naive(dt.datetime(2024, 1, 1))


def test_finder_raises_module_errors_as_module_not_found(airflow_layer: None) -> None:
    with pytest.raises(UnsupportedAirflowModule) as caught:
        importlib.import_module("airflow.kubernetes")
    assert isinstance(caught.value, ModuleNotFoundError)
    assert caught.value.name == "airflow.kubernetes"
