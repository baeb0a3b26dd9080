"""Functions run in another interpreter: PythonVirtualenvOperator / ``@task.virtualenv`` (a real virtual
environment, built once for the session and reused from its cache), ExternalPythonOperator /
``@task.external_python`` and the branching forms."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dagflow import DAG, task
from dagflow.core.states import RunState, TaskState
from dagflow.exceptions import DagDefinitionError
from dagflow.operators import (
    BranchExternalPythonOperator,
    EmptyOperator,
    ExternalPythonOperator,
    PythonVirtualenvOperator,
)
from dagflow.operators.venv import MARKER, VenvSpec, ensure_venv, function_source, requirement_lines

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def venv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the session: the environment without requirements is built once."""
    return tmp_path_factory.mktemp("venvs")


def labels(result: Any) -> dict[str, str]:
    return {ti.label: ti.state.value for ti in result.task_instances}


def add(x, y, ds=None, params=None):
    import sys

    return {"sum": x + y, "ds": ds, "params": params, "prefix": sys.prefix}


def test_virtualenv_operator_calls_the_function_in_the_cached_environment(venv_cache: Path):
    with DAG("venv_op", start_date=START, schedule=None, params={"k": "v"}) as dag:
        PythonVirtualenvOperator(
            task_id="add",
            python_callable=add,
            op_args=[1],
            op_kwargs={"y": 2},
            venv_cache_path=str(venv_cache),
        )
    result = dag.test(logical_date=START)
    assert result.state is RunState.SUCCESS
    value = result.xcom("add")
    assert value["sum"] == 3 and value["ds"] == "2024-01-01" and value["params"] == {"k": "v"}
    assert Path(value["prefix"]).parent == venv_cache  # not this interpreter's prefix
    assert value["prefix"] != sys.prefix


def test_task_virtualenv_decorator_returns_values_and_reads_string_args(venv_cache: Path):
    with DAG("venv_deco", start_date=START, schedule=None) as dag:

        @task.virtualenv(venv_cache_path=str(venv_cache), string_args=["alpha", "beta"])
        def joined(separator: str) -> str:
            return separator.join(virtualenv_string_args)  # type: ignore[name-defined]  # noqa: F821

        @task.virtualenv(venv_cache_path=str(venv_cache))
        def length(text: str) -> int:
            return len(text)

        length(joined("-"))
    result = dag.test(logical_date=START)
    assert (result.xcom("joined"), result.xcom("length")) == ("alpha-beta", 10)
    assert dag.task_dict["joined"].operator_name == "@task.virtualenv"  # type: ignore[attr-defined]


def test_virtualenv_failure_names_the_error_and_exit_codes_can_skip(venv_cache: Path):
    with DAG("venv_fail", start_date=START, schedule=None) as dag:

        @task.virtualenv(venv_cache_path=str(venv_cache))
        def broken() -> None:
            raise ValueError("no good")

        @task.virtualenv(venv_cache_path=str(venv_cache), skip_on_exit_code=3)
        def skipper() -> None:
            import sys

            sys.exit(3)

        broken()
        skipper()
    result = dag.test(logical_date=START)
    assert labels(result) == {"broken": "failed", "skipper": "skipped"}
    assert "exited with code 1: ValueError: no good" in (result.get("broken").error or "")


def test_the_environment_is_cached_by_requirements_and_python_version(venv_cache: Path):
    spec = VenvSpec(sys.executable, "3.x", (), system_site_packages=True)
    other = VenvSpec(sys.executable, "3.x", ("six",), system_site_packages=True)
    assert spec.key() != other.key() != VenvSpec(sys.executable, "3.y", (), True).key()
    assert requirement_lines(["b==1", "a\n# comment\n\nc  # why"]) == ("a", "b==1", "c")

    class Log:
        lines: list[str] = []

        def info(self, message: str, *args: Any) -> None:
            self.lines.append(message % args)

        warning = info

    first = ensure_venv(venv_cache, spec, Log())
    (first / "witness").write_text("kept")
    again = ensure_venv(venv_cache, spec, Log())
    assert again == first and (again / "witness").exists() and (again / MARKER).exists()
    assert any("Reusing cached" in line for line in Log.lines)


def test_a_half_built_environment_is_built_again(tmp_path: Path):
    spec = VenvSpec(sys.executable, "half", (), system_site_packages=False)
    broken = tmp_path / spec.key()
    (broken / "junk").mkdir(parents=True)  # no marker: a build that stopped halfway

    class Quiet:
        def info(self, *args: Any) -> None: ...

        warning = info

    built = ensure_venv(tmp_path, spec, Quiet())
    assert not (built / "junk").exists() and (built / "bin" / "python").exists()


def test_external_python_and_its_branch_form_use_the_given_interpreter():
    def where() -> str:
        import sys

        return sys.executable

    def choose(flag: bool) -> str:
        return "yes" if flag else "no"

    with DAG("external", start_date=START, schedule=None) as dag:
        ExternalPythonOperator(task_id="where", python=sys.executable, python_callable=where)
        BranchExternalPythonOperator(
            task_id="choose", python=sys.executable, python_callable=choose, op_args=[False]
        ) >> [EmptyOperator(task_id="yes"), EmptyOperator(task_id="no")]

        @task.external_python(python=sys.executable)
        def doubled(n: int) -> int:
            return n * 2

        @task.branch_external_python(python=sys.executable)
        def pick() -> str:
            return "picked"

        doubled(4)
        pick() >> [EmptyOperator(task_id="picked"), EmptyOperator(task_id="passed_over")]
    result = dag.test(logical_date=START)
    assert result.xcom("where") == sys.executable and result.xcom("doubled") == 8
    assert labels(result)["no"] == "success" and labels(result)["yes"] == "skipped"
    assert labels(result)["picked"] == "success" and labels(result)["passed_over"] == "skipped"


def test_external_python_with_a_missing_interpreter_fails_naming_it():
    def nothing() -> None:
        return None

    with DAG("external_missing", start_date=START, schedule=None) as dag:
        ExternalPythonOperator(task_id="t", python="/no/such/python", python_callable=nothing)
    result = dag.test(logical_date=START)
    assert result.get("t").state is TaskState.FAILED
    assert "'/no/such/python' does not exist" in (result.get("t").error or "")


def test_only_def_functions_can_travel():
    with DAG("lambdas", start_date=START, schedule=None), pytest.raises(DagDefinitionError, match="def"):
        PythonVirtualenvOperator(task_id="t", python_callable=lambda: 1)


def test_the_function_travels_without_its_decorators():
    @task.virtualenv(requirements=["x"])
    def decorated() -> int:
        return 1

    source = function_source(decorated.function, "here")
    assert source.startswith("def decorated()") and "@task" not in source


def test_arguments_travel_as_plain_datetimes_in_standard_zones():
    import pickle
    from datetime import timedelta, tzinfo

    from dagflow.operators.python_virtualenv import plain

    class ForeignZone(tzinfo):  # a timezone class of another library, named as IANA names it
        name = "Europe/Amsterdam"

        def utcoffset(self, dt: Any) -> timedelta:
            return timedelta(hours=1)

        def dst(self, dt: Any) -> timedelta:
            return timedelta(0)

        def tzname(self, dt: Any) -> str:
            return "foreign"

    class FancyDateTime(datetime):
        pass

    value = FancyDateTime(2024, 1, 15, 12, 0, tzinfo=ForeignZone())
    travelled = plain({"when": [value], "pair": (value, 1)})
    when = travelled["when"][0]
    assert type(when) is datetime and when.tzinfo is not None and when.tzinfo.tzname(when) == "CET"
    assert when.utcoffset() == timedelta(hours=1) and when == value
    assert isinstance(travelled["pair"], tuple)
    assert b"ForeignZone" not in pickle.dumps(travelled) and b"FancyDateTime" not in pickle.dumps(travelled)


def test_requirements_can_come_from_a_templated_file(dags_folder, tmp_path: Path):
    # "pip" is already there through the system site packages: pip checks it without downloading.
    dags_folder.write("requirements.txt", "# what {{ dag.dag_id }} needs\npip\n")

    def listed() -> str:
        import sys
        from pathlib import Path

        return Path(sys.prefix, "requirements.txt").read_text()

    with DAG("venv_file", start_date=START, schedule=None, template_searchpath=str(dags_folder.path)) as dag:
        PythonVirtualenvOperator(
            task_id="listed",
            python_callable=listed,
            requirements="requirements.txt",
            venv_cache_path=str(tmp_path),
        )
    result = dag.test(logical_date=START)
    assert result.state is RunState.SUCCESS, result.get("listed").error
    assert result.xcom("listed") == "pip\n"
