"""``dag.test()`` with Airflow 3's mapping features: expanded task groups, ``XComArg.map``/``.zip``/
``.concat``, ``expand_kwargs`` over an upstream's output and ``[core] max_map_length``."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest

from dagflow import DAG, task, task_group
from dagflow.core.states import RunState
from dagflow.operators import BashOperator
from dagflow.runtime.inprocess import RunResult

WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def run(dag: DAG, **kwargs: Any) -> RunResult:
    return dag.test(logical_date=WHEN, log_stream=io.StringIO(), **kwargs)


def states(result: RunResult) -> dict[str, str]:
    return {ti.label: ti.state.value for ti in result.task_instances}


@task
def numbers() -> list[int]:
    return [1, 2, 3]


@task
def letters() -> list[str]:
    return ["a", "b"]


@task
def echo(value: Any) -> Any:
    return value


@task
def collect(values: list[Any]) -> list[Any]:
    return values


# -- expanded task groups -------------------------------------------------------------------------


def test_an_expanded_group_runs_its_tasks_once_per_value_each_index_pulling_its_own_upstream():
    with DAG("grouped", schedule=None) as dag:

        @task_group
        def scale(x: int, factor: int) -> Any:
            @task
            def times(x: int, factor: int) -> int:
                return x * factor

            @task
            def tag(y: int, ti: Any = None) -> list[int]:
                return [y, ti.map_index]

            return tag(times(x, factor))

        collect(scale.partial(factor=10).expand(x=numbers()))

    result = run(dag)

    assert result.state is RunState.SUCCESS
    assert [result.xcom("scale.times", i) for i in range(3)] == [10, 20, 30]
    assert [result.xcom("scale.tag", i) for i in range(3)] == [[10, 0], [20, 1], [30, 2]]
    assert result.xcom("collect") == [[10, 0], [20, 1], [30, 2]]


def test_a_failing_index_of_an_expanded_group_stops_only_its_own_downstream_in_the_group():
    with DAG("grouped_failure", schedule=None, default_args={"retries": 0}) as dag:

        @task_group
        def pipeline(x: int) -> Any:
            @task
            def check(x: int) -> int:
                if x == 2:
                    raise ValueError("two is bad")
                return x

            return echo(check(x))

        pipeline.expand(x=[1, 2, 3])

    result = run(dag)

    assert states(result) == {
        "pipeline.check[0]": "success",
        "pipeline.check[1]": "failed",
        "pipeline.check[2]": "success",
        "pipeline.echo[0]": "success",
        "pipeline.echo[1]": "upstream_failed",
        "pipeline.echo[2]": "success",
    }
    assert result.state is RunState.FAILED


def test_expand_kwargs_runs_a_group_once_per_dict_of_an_upstream_missing_keys_taking_defaults():
    with DAG("grouped_kwargs", schedule=None) as dag:

        @task
        def people() -> list[dict[str, str]]:
            return [{"name": "ann"}, {"name": "bob", "greeting": "hi"}]

        @task_group
        def pair(name: str, greeting: str = "hello") -> Any:
            @task
            def say(name: str, greeting: str) -> str:
                return f"{greeting} {name}"

            return say(name, greeting)

        pair.expand_kwargs(people())

    result = run(dag)

    assert [result.xcom("pair.say", i) for i in range(2)] == ["hello ann", "hi bob"]


def test_a_group_expanded_over_nothing_is_skipped_and_bash_sees_the_map_index():
    with DAG("grouped_empty", schedule=None) as dag:

        @task
        def nothing() -> list[int]:
            return []

        @task_group
        def each(x: int) -> None:
            BashOperator(task_id="show", bash_command="echo {{ ti.map_index }}")

        each.expand(x=nothing())
        each.override(group_id="some").expand(x=[5, 6])

    result = run(dag)

    assert states(result)["each.show"] == "skipped"
    assert [result.xcom("some.show", i) for i in range(2)] == ["0", "1"]


# -- map, zip, concat ----------------------------------------------------------------------------


def test_zip_pairs_items_up_to_the_shortest_or_fills_up_to_the_longest():
    with DAG("zipped", schedule=None) as dag:
        n, a = numbers(), letters()
        echo.override(task_id="short").expand(value=n.zip(a))
        echo.override(task_id="long").expand(value=n.zip(a, fillvalue=None))
        collect(n.zip(a, fillvalue="-"))

    result = run(dag)

    # (zip gives tuples: compared as lists, whichever way the XCom store keeps tuples)
    assert [list(result.xcom("short", i)) for i in range(2)] == [[1, "a"], [2, "b"]]
    assert states(result).keys() >= {"long[2]"} and "short[2]" not in states(result)
    assert list(result.xcom("long", 2)) == [3, None]
    assert [list(pair) for pair in result.xcom("collect")] == [[1, "a"], [2, "b"], [3, "-"]]


def test_concat_chains_outputs_and_map_transforms_each_item_lazily():
    with DAG("concatenated", schedule=None) as dag:
        n, a = numbers(), letters()
        echo.override(task_id="both").expand(value=n.concat(a))
        echo.override(task_id="doubled").expand(value=n.map(lambda x: x * 2).map(str))
        collect(a.map(str.upper))

    result = run(dag)

    assert [result.xcom("both", i) for i in range(5)] == [1, 2, 3, "a", "b"]
    assert [result.xcom("doubled", i) for i in range(3)] == ["2", "4", "6"]
    assert result.xcom("collect") == ["A", "B"]


def test_expand_kwargs_over_an_upstream_output_mapped_to_dicts():
    with DAG("kwargs_map", schedule=None) as dag:

        @task
        def add(x: int, y: int) -> int:
            return x + y

        add.expand_kwargs(numbers().map(lambda n: {"x": n, "y": 100}))

    result = run(dag)

    assert [result.xcom("add", i) for i in range(3)] == [101, 102, 103]


# -- max_map_length ------------------------------------------------------------------------------


def test_an_output_longer_than_max_map_length_fails_the_task_that_returned_it():
    with DAG("too_long", schedule=None, default_args={"retries": 0}) as dag:
        echo.expand(value=numbers())

    result = run(dag, max_map_length=2)

    assert states(result) == {"numbers": "failed", "echo": "upstream_failed"}
    error = result.get("numbers").error or ""
    assert "returned 3 items" in error and "max_map_length (2)" in error


def test_max_map_length_defaults_to_the_setting(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAGFLOW__CORE__MAX_MAP_LENGTH", "3")
    with DAG("setting", schedule=None) as dag:
        echo.expand(value=numbers())

    assert run(dag).state is RunState.SUCCESS
    monkeypatch.setenv("DAGFLOW__CORE__MAX_MAP_LENGTH", "1")
    assert states(run(dag))["numbers"] == "failed"


def test_a_groups_mapped_argument_used_outside_the_group_fails_with_a_clear_error():
    with DAG("leaked", schedule=None, default_args={"retries": 0}) as dag:

        @task_group
        def each(x: int) -> Any:
            echo(x)
            return x  # the argument itself, not a task's output

        collect(each.expand(x=[1, 2]))

    result = run(dag)

    assert states(result)["collect"] == "failed"
    assert "only tasks created inside that group can use it" in (result.get("collect").error or "")


def test_a_map_function_that_skips_one_item_skips_only_that_map_index():
    from dagflow.exceptions import SkipTask

    def only_odd(n: int) -> int:
        if n % 2 == 0:
            raise SkipTask(f"{n} is even")
        return n

    with DAG("skip_one", schedule=None) as dag:
        echo.expand(value=numbers().map(only_odd))

    result = run(dag)

    assert states(result) == {
        "numbers": "success",
        "echo[0]": "success",
        "echo[1]": "skipped",
        "echo[2]": "success",
    }
    assert result.state is RunState.SUCCESS


def test_the_context_says_how_many_task_instances_a_mapped_task_expanded_into():
    with DAG("counted", schedule=None) as dag:

        @task
        def count(value: Any = None, expanded_ti_count: Any = None) -> Any:
            return expanded_ti_count

        @task_group
        def each(x: int) -> Any:
            return count.override(task_id="inner")(x)

        count.override(task_id="mapped").expand(value=numbers().zip(letters()))
        each.expand(x=numbers())
        count.override(task_id="plain")()

    result = run(dag)

    assert [result.xcom("mapped", i) for i in range(2)] == [2, 2]
    assert [result.xcom("each.inner", i) for i in range(3)] == [3, 3, 3]
    assert result.xcom("plain") is None
