"""The authoring API: what a DAG file declares and how dagflow reads it, as Airflow 3 would.

Nothing here runs a task except the ``@dag`` params test; the runner has its own test modules.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dagflow import (
    DAG,
    Param,
    TaskGroup,
    TriggerRule,
    chain,
    chain_linear,
    cross_downstream,
    dag,
    setup,
    task,
    task_group,
    teardown,
)
from dagflow.core.spec import DagSpec, TaskSpec
from dagflow.exceptions import (
    DagCycleError,
    DagDefinitionError,
    DuplicateTaskIdError,
    ParamValidationError,
    ScheduleError,
)
from dagflow.models.param import ParamsDict
from dagflow.operators import BashOperator, EmptyOperator, PythonOperator


def edges(d: DAG) -> set[tuple[str, str]]:
    return {(up, t.task_id) for t in d.tasks for up in t.upstream_task_ids}


def empties(*task_ids: str) -> list[EmptyOperator]:
    return [EmptyOperator(task_id=t) for t in task_ids]


# -- >> and << -------------------------------------------------------------------------------------


def test_rshift_makes_the_right_side_downstream_and_returns_it():
    with DAG("d") as d:
        a, b, c = empties("a", "b", "c")
        returned = a >> b
        returned >> c
    assert returned is b
    assert edges(d) == {("a", "b"), ("b", "c")}


def test_lshift_makes_the_right_side_upstream_and_returns_it():
    with DAG("d") as d:
        a, b = empties("a", "b")
        returned = a << b
    assert returned is b
    assert edges(d) == {("b", "a")}


def test_list_on_the_left_of_rshift_fans_in_and_returns_the_task():
    with DAG("d") as d:
        a, b, c = empties("a", "b", "c")
        returned = [a, b] >> c
    assert returned is c
    assert edges(d) == {("a", "c"), ("b", "c")}


def test_list_on_the_right_of_rshift_fans_out():
    with DAG("d") as d:
        a, b, c = empties("a", "b", "c")
        a >> [b, c]
    assert edges(d) == {("a", "b"), ("a", "c")}


def test_list_on_the_left_of_lshift_makes_the_task_upstream_of_each():
    with DAG("d") as d:
        a, b, c = empties("a", "b", "c")
        returned = [a, b] << c
    assert returned is c
    assert edges(d) == {("c", "a"), ("c", "b")}


def test_list_on_both_sides_is_a_python_type_error_as_in_airflow():
    with DAG("d"):
        a, b = empties("a", "b")
        with pytest.raises(TypeError):
            _ = [a] >> [b]  # type: ignore[operator]


def test_repeating_an_edge_adds_it_once():
    with DAG("d") as d:
        a, b = empties("a", "b")
        a >> b
        a >> b
    assert edges(d) == {("a", "b")}
    assert d.get_task("b").upstream_task_ids == {"a"}


def test_tasks_of_two_dags_cannot_be_linked():
    with DAG("one"):
        a = EmptyOperator(task_id="a")
    with DAG("two"):
        b = EmptyOperator(task_id="b")
    with pytest.raises(DagDefinitionError, match="different DAGs"):
        a >> b


def test_only_tasks_groups_and_outputs_can_be_linked():
    with DAG("d"):
        a = EmptyOperator(task_id="a")
        with pytest.raises(DagDefinitionError, match="cannot set a dependency on 'b'"):
            a >> "b"


# -- chain, chain_linear, cross_downstream ---------------------------------------------------------


def test_chain_links_neighbours_and_neighbouring_lists_pairwise():
    with DAG("d") as d:
        t1, t2, t3, t4, t5, t6 = empties("t1", "t2", "t3", "t4", "t5", "t6")
        chain(t1, [t2, t3], [t4, t5], t6)
    assert edges(d) == {
        ("t1", "t2"),
        ("t1", "t3"),
        ("t2", "t4"),
        ("t3", "t5"),
        ("t4", "t6"),
        ("t5", "t6"),
    }


def test_chain_rejects_neighbouring_lists_of_different_lengths():
    with DAG("d"):
        a, b, c = empties("a", "b", "c")
        with pytest.raises(DagDefinitionError, match="same length; got 1 and 2"):
            chain([a], [b, c])


def test_chain_accepts_task_groups_and_outputs():
    with DAG("d") as d:
        start = EmptyOperator(task_id="start")
        with TaskGroup("g") as g:
            first, second = empties("first", "second")
            first >> second

        @task
        def last():
            return 1

        chain(start, g, last())
    assert edges(d) == {("start", "g.first"), ("g.first", "g.second"), ("g.second", "last")}


def test_chain_linear_links_every_task_to_every_task_of_the_next_element():
    with DAG("d") as d:
        a, b, c, x, y = empties("a", "b", "c", "x", "y")
        chain_linear(a, [b, c], [x, y])
    assert edges(d) == {("a", "b"), ("a", "c"), ("b", "x"), ("b", "y"), ("c", "x"), ("c", "y")}


def test_chain_linear_of_elements_of_different_lengths_is_allowed():
    with DAG("d") as d:
        a, b, c = empties("a", "b", "c")
        chain_linear([a, b], c)
    assert edges(d) == {("a", "c"), ("b", "c")}


def test_chain_linear_without_arguments_is_an_error():
    with pytest.raises(DagDefinitionError, match="at least two elements"):
        chain_linear()


def test_chain_linear_of_one_list_reminds_to_unpack_it():
    with DAG("d"):
        tasks = empties("a", "b")
        with pytest.raises(DagDefinitionError, match="unpack a list with"):
            chain_linear(tasks)


def test_cross_downstream_links_every_pair():
    with DAG("d") as d:
        a, b, x, y = empties("a", "b", "x", "y")
        cross_downstream([a, b], [x, y])
    assert edges(d) == {("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")}


# -- task groups --------------------------------------------------------------------------------------


def test_task_ids_are_prefixed_with_their_group_ids():
    with DAG("d") as d, TaskGroup("outer") as outer:
        EmptyOperator(task_id="a")
        with TaskGroup("inner") as inner:
            EmptyOperator(task_id="b")
    assert sorted(d.task_ids) == ["outer.a", "outer.inner.b"]
    assert (outer.group_id, inner.group_id) == ("outer", "outer.inner")
    assert d.get_task("outer.inner.b").label == "b"


def test_group_without_prefix_leaves_its_task_ids_alone():
    with DAG("d") as d, TaskGroup("outer"):
        with TaskGroup("flat", prefix_group_id=False):
            EmptyOperator(task_id="a")
        EmptyOperator(task_id="b")
    assert sorted(d.task_ids) == ["a", "outer.b"]


def test_group_to_group_edges_go_from_leaves_to_roots():
    with DAG("d") as d:
        with TaskGroup("first") as first:
            a, b, c = empties("a", "b", "c")
            a >> [b, c]
        with TaskGroup("second") as second:
            empties("x", "y")
        first >> second
    assert edges(d) == {
        ("first.a", "first.b"),
        ("first.a", "first.c"),
        ("first.b", "second.x"),
        ("first.b", "second.y"),
        ("first.c", "second.x"),
        ("first.c", "second.y"),
    }


def test_task_to_group_attaches_to_the_group_roots_only():
    with DAG("d") as d:
        start = EmptyOperator(task_id="start")
        with TaskGroup("g") as g:
            a, b = empties("a", "b")
            a >> b
        start >> g
    assert edges(d) == {("start", "g.a"), ("g.a", "g.b")}


def test_group_leaves_look_past_a_teardown_to_the_work_before_it():
    with DAG("d") as d:
        with TaskGroup("g") as g:
            create, work, drop = empties("create", "work", "drop")
            create >> work >> drop.as_teardown(setups=create)
        end = EmptyOperator(task_id="end")
        g >> end
    assert d.get_task("end").upstream_task_ids == {"g.work"}


def test_task_group_function_called_twice_gets_suffixed_group_ids():
    with DAG("d") as d:

        @task_group
        def tg():
            EmptyOperator(task_id="t")

        first, second, third = tg(), tg(), tg()
    assert [g.group_id for g in (first, second, third)] == ["tg", "tg__1", "tg__2"]
    assert sorted(d.task_ids) == ["tg.t", "tg__1.t", "tg__2.t"]


def test_task_group_function_called_twice_inside_a_group_is_suffixed_there():
    with DAG("d") as d:

        @task_group
        def tg():
            EmptyOperator(task_id="t")

        with TaskGroup("outer"):
            groups = [tg(), tg(), tg()]
    assert [g.group_id for g in groups] == ["outer.tg", "outer.tg__1", "outer.tg__2"]
    assert sorted(d.task_ids) == ["outer.tg.t", "outer.tg__1.t", "outer.tg__2.t"]


def test_task_group_function_returns_what_the_function_returns():
    with DAG("d") as d:

        @task
        def inner():
            return 1

        @task_group
        def tg():
            return inner()

        end = EmptyOperator(task_id="end")
        tg() >> end
    assert d.get_task("end").upstream_task_ids == {"tg.inner"}


def test_reusing_a_task_group_id_is_a_duplicate_id_error():
    with DAG("d"):
        TaskGroup("g")
        with pytest.raises(DuplicateTaskIdError, match="'g'"):
            TaskGroup("g")


def test_task_group_ids_cannot_contain_dots():
    with DAG("d"), pytest.raises(DagDefinitionError, match=re.escape("task group id 'a.b'")):
        TaskGroup("a.b")


# -- default_args -------------------------------------------------------------------------------------


def test_dag_default_args_apply_to_arguments_the_task_does_not_pass():
    with DAG("d", default_args={"retries": 3, "owner": "data", "retry_delay": timedelta(seconds=7)}):
        a = EmptyOperator(task_id="a")
    assert (a.retries, a.owner, a.retry_delay) == (3, "data", timedelta(seconds=7))


def test_explicit_argument_beats_every_default_args():
    with DAG("d", default_args={"retries": 1}), TaskGroup("g", default_args={"retries": 2}):
        a = EmptyOperator(task_id="a", retries=4, default_args={"retries": 3})
    assert a.retries == 4


def test_task_default_args_beat_task_group_default_args():
    with DAG("d", default_args={"retries": 1}), TaskGroup("g", default_args={"retries": 2}):
        a = EmptyOperator(task_id="a", default_args={"retries": 3})
    assert a.retries == 3


def test_task_group_default_args_beat_dag_default_args():
    with DAG("d", default_args={"retries": 1, "queue": "dag_q"}), TaskGroup("g", default_args={"retries": 2}):
        a = EmptyOperator(task_id="a")
    assert (a.retries, a.queue) == (2, "dag_q")


def test_nested_task_group_default_args_override_the_outer_ones():
    with (
        DAG("d"),
        TaskGroup("outer", default_args={"retries": 1, "queue": "outer_q"}),
        TaskGroup("inner", default_args={"retries": 2}),
    ):
        a = EmptyOperator(task_id="a")
    assert (a.retries, a.queue) == (2, "outer_q")


def test_unknown_default_args_keys_are_ignored():
    with DAG("d", default_args={"not_an_argument": 1, "retries": 2}):
        a = EmptyOperator(task_id="a")
    assert a.retries == 2
    assert not hasattr(a, "not_an_argument")


def test_operator_specific_arguments_can_come_from_default_args():
    with DAG("d", default_args={"bash_command": "echo from-defaults"}):
        # bash_command comes from default_args at run time, which a type checker cannot see.
        bash = BashOperator(task_id="bash")  # type: ignore[call-arg]
        EmptyOperator(task_id="empty")  # does not take bash_command, and does not fail
    assert bash.bash_command == "echo from-defaults"


def test_default_args_params_merge_into_the_dag_params_and_win():
    with DAG("d", params={"a": 1, "b": 2}, default_args={"params": {"b": 3, "c": 4}}) as d:
        pass
    assert dict(d.params) == {"a": 1, "b": 3, "c": 4}
    assert "params" not in d.default_args


def test_a_start_date_string_in_default_args_is_parsed():
    d = DAG("d", schedule="@daily", default_args={"start_date": "2024-01-01", "end_date": "2024-02-01"})
    assert d.start_date == datetime(2024, 1, 1, tzinfo=UTC)
    assert d.end_date == datetime(2024, 2, 1, tzinfo=UTC)


def test_a_start_date_that_is_not_a_date_names_the_dag_and_the_argument():
    with pytest.raises(DagDefinitionError, match="DAG 'd': start_date must be a datetime or an ISO 8601"):
        DAG("d", default_args={"start_date": "last tuesday"})


def test_task_params_add_to_and_override_the_dag_params():
    with DAG("d", params={"a": 1, "b": 2}):
        t = EmptyOperator(task_id="t", params={"b": 20, "c": 30})
    assert t.params == {"a": 1, "b": 20, "c": 30}


def test_task_function_arguments_can_come_from_default_args():
    with DAG("d", default_args={"region": "eu", "retries": 2}):

        @task
        def report(region, limit=10):
            return region

        explicit = report(region="us").operator
        from_defaults = report().operator
    assert explicit.op_kwargs == {"region": "us"}
    assert from_defaults.op_kwargs == {"region": "eu"}
    assert from_defaults.retries == 2


# -- TaskFlow ------------------------------------------------------------------------------------------


def test_passing_an_output_makes_the_producer_upstream():
    with DAG("d") as d:

        @task
        def produce():
            return 1

        @task
        def consume(value, extra):
            return value

        first, second = produce(), produce()
        consume(first, extra={"nested": [second]})
    assert edges(d) == {("produce", "consume"), ("produce__1", "consume")}


def test_output_of_a_classic_operator_makes_an_edge_through_a_templated_argument():
    with DAG("d") as d:
        bash = BashOperator(task_id="bash", bash_command="echo 1")
        PythonOperator(task_id="py", python_callable=print, op_args=[bash.output])
    assert edges(d) == {("bash", "py")}


def test_calling_a_task_function_again_suffixes_the_task_id():
    with DAG("d") as d:

        @task
        def f():
            return 1

        ids = [f().operator.task_id for _ in range(3)]
        with TaskGroup("g"):
            in_group = [f().operator.task_id for _ in range(2)]
    assert ids == ["f", "f__1", "f__2"]
    assert in_group == ["g.f", "g.f__1"]
    assert len(d.task_ids) == 5


def test_the_next_suffix_is_one_above_the_highest_used():
    with DAG("d"):

        @task
        def f():
            return 1

        f.override(task_id="f__7")()
        f()
        assert f().operator.task_id == "f__8"


def test_override_changes_task_arguments_for_that_call_only():
    with DAG("d"):

        @task
        def f():
            return 1

        overridden = f.override(task_id="renamed", retries=5)().operator
        again = f.override(task_id="renamed")().operator
        plain = f().operator
    assert (overridden.task_id, overridden.retries) == ("renamed", 5)
    assert (again.task_id, again.retries) == ("renamed__1", 0)
    assert (plain.task_id, plain.retries) == ("f", 0)


def test_multiple_outputs_is_inferred_from_a_mapping_return_annotation():
    @task
    def typed() -> dict[str, int]:
        return {}

    @task
    def bare() -> dict:
        return {}

    @task
    def listed() -> list[int]:
        return []

    @task
    def unannotated():
        return {}

    @task(multiple_outputs=False)
    def explicit() -> dict:
        return {}

    with DAG("d"):
        inferred = {f.function.__name__: f().operator.multiple_outputs for f in (typed, bare, listed)}
        assert unannotated().operator.multiple_outputs is False
        assert explicit().operator.multiple_outputs is False
    assert inferred == {"typed": True, "bare": True, "listed": False}


@pytest.mark.parametrize(
    ("args", "kwargs", "problem"),
    [
        ((), {}, "missing a required argument: 'x'"),
        ((1, 2), {}, "too many positional arguments"),
        ((1,), {"y": 2}, "unexpected keyword argument 'y'"),
    ],
)
def test_calling_a_task_function_with_wrong_arguments_fails_when_the_dag_is_defined(args, kwargs, problem):
    with DAG("d") as d:

        @task
        def f(x):
            return x

        with pytest.raises(DagDefinitionError, match=re.escape(problem)) as raised:
            f(*args, **kwargs)
    assert "'f'" in str(raised.value)
    assert d.task_ids == []


def test_context_parameters_need_no_argument_at_definition_time():
    with DAG("d") as d:

        @task
        def f(x, ds, ti=None):
            return x

        f(1)
    assert d.task_ids == ["f"]


def test_a_context_parameter_may_only_default_to_none():
    with pytest.raises(DagDefinitionError, match="'ds' is a context name"):

        @task
        def f(ds="2024-01-01"):
            return ds


def test_methods_cannot_be_task_functions():
    with pytest.raises(DagDefinitionError, match="methods cannot be tasks"):

        class Holder:
            @task
            def f(self):
                return 1


def test_the_docstring_becomes_the_task_doc():
    with DAG("d"):

        @task
        def f():
            """Does f."""

        assert f().operator.doc_md == "Does f."


def test_dag_decorator_returns_a_dag_whose_function_arguments_are_params():
    @dag(schedule=None, params={"other": "x"})
    def pipeline(n: int = 5, label: str = "run"):
        """The pipeline."""

        @task
        def show(value):
            return value

        show(n)

    built = pipeline()
    assert isinstance(built, DAG)
    assert built.dag_id == "pipeline"
    assert built.doc_md == "The pipeline."
    assert dict(built.params) == {"other": "x", "n": 5, "label": "run"}
    assert built.task_ids == ["show"]


def test_dag_decorator_arguments_resolve_from_the_run_conf_then_the_default():
    @dag
    def pipeline(n: int = 5):
        @task
        def show(value):
            return value

        show(n)

    built = pipeline()
    assert built.test(logical_date=datetime(2024, 1, 1)).xcom("show") == 5
    assert built.test(logical_date=datetime(2024, 1, 2), conf={"n": 7}).xcom("show") == 7


def test_dag_decorator_takes_the_dag_id_as_its_first_argument():
    @dag("explicit_id")
    def pipeline():
        pass

    assert pipeline().dag_id == "explicit_id"


# -- definition errors -----------------------------------------------------------------------------


def test_two_tasks_with_one_id_is_a_duplicate_task_id_error():
    with DAG("d"):
        EmptyOperator(task_id="a")
        with pytest.raises(DuplicateTaskIdError, match="DAG 'd': task id 'a' is used twice"):
            EmptyOperator(task_id="a")


def test_a_task_id_equal_to_a_group_id_is_a_duplicate_task_id_error():
    with DAG("d"):
        TaskGroup("g")
        with pytest.raises(DuplicateTaskIdError, match="'g'"):
            EmptyOperator(task_id="g")


def test_unknown_trigger_rule_names_the_task_and_lists_the_allowed_rules():
    with DAG("d"), pytest.raises(ValueError) as raised:
        EmptyOperator(task_id="late", trigger_rule="sometimes")
    message = str(raised.value)
    assert "'late'" in message
    assert "'sometimes'" in message
    for rule in TriggerRule:
        assert rule.value in message


def test_trigger_rule_can_be_given_as_enum_or_string():
    with DAG("d"):
        a = EmptyOperator(task_id="a", trigger_rule=TriggerRule.ALL_DONE)
        b = EmptyOperator(task_id="b", trigger_rule="none_failed_min_one_success")
    assert a.trigger_rule is TriggerRule.ALL_DONE
    assert b.trigger_rule is TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS


@pytest.mark.parametrize("task_id", ["a b", "a/b", "a:b", "", "naïve?"])
def test_task_ids_are_limited_to_letters_digits_dots_dashes_and_underscores(task_id):
    with DAG("d"), pytest.raises(DagDefinitionError, match="may only contain letters"):
        EmptyOperator(task_id=task_id)


@pytest.mark.parametrize("task_id", ["a.b-c_d", "T1", "tâche", "x" * 250])
def test_valid_task_ids_are_accepted(task_id):
    with DAG("d") as d:
        EmptyOperator(task_id=task_id)
    assert d.task_ids == [task_id]


def test_task_ids_longer_than_250_characters_are_rejected_after_group_prefixing():
    with DAG("d"), TaskGroup("g"), pytest.raises(DagDefinitionError, match="longer than 250"):
        EmptyOperator(task_id="x" * 249)


def test_unknown_operator_argument_names_the_operator_task_and_argument():
    with DAG("d"), pytest.raises(DagDefinitionError) as raised:
        EmptyOperator(task_id="a", retires=3)
    assert "EmptyOperator(task_id='a')" in str(raised.value)
    assert "retires" in str(raised.value)


def test_missing_required_operator_argument_names_the_operator_task_and_argument():
    with DAG("d"), pytest.raises(DagDefinitionError) as raised:
        BashOperator(task_id="run")  # type: ignore[call-arg]  # the missing argument is the point
    assert "BashOperator(task_id='run')" in str(raised.value)
    assert "'bash_command'" in str(raised.value)


def test_operator_arguments_must_be_passed_by_keyword():
    with DAG("d"), pytest.raises(DagDefinitionError, match="by keyword"):
        EmptyOperator("a")  # type: ignore[call-arg]  # the positional argument is the point


@pytest.mark.parametrize("slots", [0, -1])
def test_pool_slots_below_one_is_an_error(slots):
    with DAG("d"), pytest.raises(DagDefinitionError, match="pool_slots must be at least 1"):
        EmptyOperator(task_id="a", pool_slots=slots)


@pytest.mark.parametrize(
    ("schedule", "summary", "scheduled"),
    [
        (None, "None", False),
        ("@daily", "@daily", True),
        ("@hourly", "@hourly", True),
        ("@once", "@once", True),
        ("30 2 * * 1-5", "30 2 * * 1-5", True),
        (timedelta(hours=6), "6:00:00", True),
    ],
)
def test_valid_schedules(schedule, summary, scheduled):
    d = DAG("d", schedule=schedule, start_date=datetime(2024, 1, 1))
    assert d.timetable.summary == summary
    assert d.timetable.can_be_scheduled is scheduled


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("@daly", "unknown schedule preset '@daly'"),
        ("* * *", "not a valid cron expression"),
        ("61 * * * *", "not a valid cron expression"),
        (timedelta(0), "must be positive"),
        (3600, "got int"),
    ],
)
def test_bad_schedules_are_schedule_errors_naming_the_dag(schedule, problem):
    with pytest.raises(ScheduleError, match=re.escape(problem)) as raised:
        DAG("nightly", schedule=schedule)
    assert "DAG 'nightly'" in str(raised.value)


# -- dynamic task mapping: errors found at definition time ------------------------------------------


@pytest.fixture
def mapping_dag():
    with DAG("m") as d:

        @task
        def produce():
            return [1, 2]

        @task
        def double(x):
            return 2 * x

        yield d, produce, double


def test_expand_without_arguments_is_an_error(mapping_dag):
    _, _, double = mapping_dag
    with pytest.raises(DagDefinitionError, match="at least one argument"):
        double.expand()
    with pytest.raises(DagDefinitionError, match="at least one argument"):
        BashOperator.partial(task_id="b").expand()


@pytest.mark.parametrize("literal", [1, "abc", None])
def test_expand_over_a_literal_that_is_not_a_list_or_dict_is_an_error(mapping_dag, literal):
    _, _, double = mapping_dag
    with pytest.raises(DagDefinitionError, match="must be a list, a dict or a task's output"):
        double.expand(x=literal)
    with pytest.raises(DagDefinitionError, match="must be a list, a dict or a task's output"):
        BashOperator.partial(task_id="b").expand(bash_command=literal)


def test_the_same_argument_in_partial_and_expand_is_an_error(mapping_dag):
    with pytest.raises(DagDefinitionError, match="bash_command given to both partial"):
        BashOperator.partial(task_id="b", bash_command="echo").expand(bash_command=["a"])


def test_expand_of_an_unknown_argument_is_an_error(mapping_dag):
    _, _, double = mapping_dag
    with pytest.raises(DagDefinitionError, match="unexpected argument 'y'"):
        double.expand(y=[1])
    with pytest.raises(DagDefinitionError, match="unknown argument"):
        BashOperator.partial(task_id="b").expand(command=["a"])


def test_mapping_over_an_xcom_with_a_custom_key_is_an_error(mapping_dag):
    _, produce, double = mapping_dag
    with pytest.raises(DagDefinitionError, match="custom key 'k'"):
        double.expand(x=produce()["k"])


def test_expand_of_a_context_name_is_an_error(mapping_dag):
    with DAG("ctx"):

        @task
        def f(x, ds=None):
            return x

        with pytest.raises(DagDefinitionError, match="context name 'ds'"):
            f.expand(ds=["a"])


def test_a_mapped_task_depends_on_what_it_maps_over(mapping_dag):
    d, produce, double = mapping_dag
    double.expand(x=produce())
    spec = d.spec()
    assert spec.tasks["double"].upstream == ("produce",)
    assert spec.tasks["double"].is_mapped
    assert spec.tasks["produce"].has_mapped_dependants
    assert not spec.tasks["double"].has_mapped_dependants


def test_literal_map_sources_know_their_length(mapping_dag):
    d, produce, double = mapping_dag
    double.expand(x=[1, 2, 3])
    BashOperator.partial(task_id="b").expand(bash_command=produce())
    spec = d.spec()
    assert [s.literal_length for s in spec.tasks["double"].map_sources] == [3]
    assert [s.upstream for s in spec.tasks["b"].map_sources] == ["produce"]


# -- setup and teardown ----------------------------------------------------------------------------------


def test_as_teardown_sets_the_trigger_rule_marks_the_setup_and_links_it():
    with DAG("d") as d:
        create, drop = empties("create", "drop")
        returned = drop.as_teardown(setups=create)
    assert returned is drop
    assert drop.is_teardown and create.is_setup
    assert drop.trigger_rule is TriggerRule.ALL_DONE_SETUP_SUCCESS
    assert edges(d) == {("create", "drop")}


def test_as_teardown_accepts_several_setups():
    with DAG("d") as d:
        s1, s2, drop = empties("s1", "s2", "drop")
        drop.as_teardown(setups=[s1, s2])
    assert s1.is_setup and s2.is_setup
    assert edges(d) == {("s1", "drop"), ("s2", "drop")}


def test_as_setup_marks_and_returns_the_task():
    with DAG("d"):
        s = EmptyOperator(task_id="s")
    assert s.as_setup() is s
    assert s.is_setup and not s.is_teardown


def test_task_outputs_can_be_marked_setup_and_teardown():
    with DAG("d") as d:

        @task
        def create():
            return "resource"

        @task
        def drop(resource):
            return None

        made = create().as_setup()
        dropped = drop(made).as_teardown(setups=made)
    assert d.get_task("create").is_setup
    assert dropped.operator.is_teardown
    assert edges(d) == {("create", "drop")}


def test_setup_and_teardown_decorators_mark_their_tasks():
    with DAG("d") as d:

        @setup
        def create():
            return 1

        @teardown
        def drop(x):
            return None

        @task
        def work(x):
            return x

        made = create()
        work(made) >> drop(made)
    flags = {t.task_id: (t.is_setup, t.is_teardown, t.trigger_rule) for t in d.tasks}
    assert flags == {
        "create": (True, False, TriggerRule.ALL_SUCCESS),
        "work": (False, False, TriggerRule.ALL_SUCCESS),
        "drop": (False, True, TriggerRule.ALL_DONE_SETUP_SUCCESS),
    }


def test_teardown_decorator_refuses_a_trigger_rule():
    with pytest.raises(DagDefinitionError, match="all_done_setup_success"):
        teardown(trigger_rule="all_done")


def test_a_setup_may_not_feed_work_with_another_trigger_rule():
    with DAG("d") as d:
        s, w = empties("s", "w")
        w.trigger_rule = TriggerRule.ALL_DONE
        s.as_setup() >> w
    with pytest.raises(DagDefinitionError, match="'w' has all_done"):
        d.validate()


def test_on_failure_fail_dagrun_only_applies_to_teardowns():
    with DAG("d") as d:
        a = EmptyOperator(task_id="a")
        a.on_failure_fail_dagrun = True
    with pytest.raises(DagDefinitionError, match="only applies to teardown"):
        d.validate()


def test_a_task_cannot_be_both_setup_and_teardown():
    with DAG("d") as d:
        a = EmptyOperator(task_id="a").as_setup()
        a.as_teardown()
    with pytest.raises(DagDefinitionError, match="both a setup and a teardown"):
        d.validate()


# -- cycles ----------------------------------------------------------------------------------------------


def cyclic_dag() -> DAG:
    with DAG("loop") as d:
        start, a, b, c = empties("start", "a", "b", "c")
        start >> a >> b >> c >> a
    return d


@pytest.mark.parametrize("check", ["check_cycle", "validate"])
def test_a_cycle_is_reported_with_its_tasks_in_order(check):
    with pytest.raises(DagCycleError) as raised:
        getattr(cyclic_dag(), check)()
    match = re.search(r"DAG 'loop' has a cycle: (.*)$", str(raised.value))
    assert match is not None
    path = match.group(1).split(" -> ")
    assert path[0] == path[-1]
    rotations = [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    assert path[:-1] in rotations


def test_an_acyclic_dag_validates():
    with DAG("fine") as d:
        a, b, c = empties("a", "b", "c")
        a >> [b, c]
        b >> c
    d.validate()


# -- dag.spec() -----------------------------------------------------------------------------------------


def test_spec_order_puts_every_task_after_its_upstreams_and_breaks_ties_by_id():
    with DAG("d") as d:
        z, b, _a, m = empties("z", "b", "a", "m")
        z >> m
        b >> m
    order = d.spec().order
    assert order == ("a", "b", "z", "m")


def test_spec_follows_edges_added_after_it_was_built():
    with DAG("d") as d:
        a, b = empties("a", "b")
    assert d.spec().order == ("a", "b")
    b >> a
    assert d.spec().order == ("b", "a")
    assert d.spec().tasks["a"].upstream == ("b",)


def test_state_leaves_look_past_ignorable_teardowns():
    with DAG("d") as d:
        create, work, drop = empties("create", "work", "drop")
        create >> work >> drop.as_teardown(setups=create)
    assert d.spec().state_leaves == ("work",)


def test_a_teardown_that_fails_the_run_is_a_state_leaf():
    with DAG("d") as d:
        create, work, drop = empties("create", "work", "drop")
        create >> work >> drop.as_teardown(setups=create, on_failure_fail_dagrun=True)
    assert d.spec().state_leaves == ("drop",)


def test_a_setup_whose_only_downstream_is_its_teardown_is_a_state_leaf():
    with DAG("d") as d:
        create, drop, _other = empties("create", "drop", "other")
        drop.as_teardown(setups=create)
    assert sorted(d.spec().state_leaves) == ["create", "other"]


def test_downstream_priority_weight_adds_every_downstream_task_once():
    with DAG("d") as d:
        a, c, end = empties("a", "c", "end")
        b = EmptyOperator(task_id="b", priority_weight=3)
        a >> [b, c] >> end
    weights = {t: s.priority_weight for t, s in d.spec().tasks.items()}
    assert weights == {"a": 6, "b": 4, "c": 2, "end": 1}


def test_uniform_priority_weights_count_the_downstream_tasks():
    with DAG("d") as d:
        a, b, c, end = empties("a", "b", "c", "end")
        a >> [b, c] >> end
    weights = {t: s.priority_weight for t, s in d.spec().tasks.items()}
    assert weights == {"a": 4, "b": 2, "c": 2, "end": 1}


def test_upstream_and_absolute_weight_rules():
    with DAG("d") as d:
        a = EmptyOperator(task_id="a", priority_weight=2)
        b = EmptyOperator(task_id="b", weight_rule="upstream")
        c = EmptyOperator(task_id="c", priority_weight=5, weight_rule="absolute")
        a >> b >> c
    weights = {t: s.priority_weight for t, s in d.spec().tasks.items()}
    assert weights == {"a": 2 + 1 + 5, "b": 1 + 2, "c": 5}


def test_unknown_weight_rule_is_an_error():
    with DAG("d"), pytest.raises(DagDefinitionError, match="weight_rule must be one of"):
        EmptyOperator(task_id="a", weight_rule="sideways")


def test_indirect_setups_are_the_setups_in_scope_that_are_not_direct_upstreams():
    with DAG("d") as d:
        create, first, second, drop, after = empties("create", "first", "second", "drop", "after")
        create >> first >> second >> drop.as_teardown(setups=create)
        second >> after
    tasks = d.spec().tasks
    assert tasks["first"].indirect_setups == ()  # a direct downstream of the setup
    assert tasks["second"].indirect_setups == ("create",)
    assert tasks["after"].indirect_setups == ()  # outside the setup's scope: its teardown is not below
    assert tasks["drop"].indirect_setups == ()


def test_a_setup_without_teardown_covers_everything_downstream():
    with DAG("d") as d:
        create, first, second = empties("create", "first", "second")
        create.as_setup() >> first >> second
    assert d.spec().tasks["second"].indirect_setups == ("create",)


# -- params ----------------------------------------------------------------------------------------------


def test_param_values_are_checked_against_their_json_schema():
    params = ParamsDict({"n": Param(5, type="integer", minimum=1), "name": "plain"})
    assert params.validate() == {"n": 5, "name": "plain"}
    with pytest.raises(ParamValidationError, match="'n': 0 is less than the minimum of 1"):
        params.with_values({"n": 0}).validate()
    with pytest.raises(ParamValidationError, match="'n': 'x' is not of type 'integer'"):
        params.with_values({"n": "x"}).validate()


def test_param_accepts_a_whole_schema():
    param = Param("b", schema={"type": "string", "enum": ["a", "b"]})
    assert param.resolve() == "b"
    with pytest.raises(ParamValidationError, match="is not one of"):
        param.resolve("c")


def test_with_values_overrides_defaults_adds_new_names_and_leaves_the_original_alone():
    params = ParamsDict({"n": Param(5, type="integer")})
    merged = params.with_values({"n": 7, "extra": "x"})
    assert merged.validate() == {"n": 7, "extra": "x"}
    assert params.validate() == {"n": 5}


def test_a_param_without_default_needs_a_value():
    params = ParamsDict({"required": Param(type="string")})
    with pytest.raises(ParamValidationError, match="'required' has no default"):
        params.validate()
    assert params.with_values({"required": "given"}).validate() == {"required": "given"}


def test_a_param_default_must_be_json():
    with pytest.raises(ParamValidationError, match="not JSON-serialisable"):
        Param(object())


def test_only_a_scheduled_dag_needs_valid_param_defaults():
    DAG("manual", params={"required": Param(type="string")}).validate()
    scheduled = DAG(
        "nightly",
        schedule="@daily",
        start_date=datetime(2024, 1, 1),
        params={"required": Param(type="string")},
    )
    with pytest.raises(DagDefinitionError, match="DAG 'nightly' has a schedule"):
        scheduled.validate()


# -- spec JSON round trip ------------------------------------------------------------------------------


def test_dag_spec_survives_a_json_round_trip():
    with DAG("rich", max_active_tasks=4) as d:

        @task(retries=2, retry_delay=timedelta(seconds=3), retry_exponential_backoff=True)
        def produce():
            return [1, 2]

        @task
        def double(x):
            return x

        create, drop = empties("create", "drop")
        with TaskGroup("g"):
            mapped = double.expand(x=produce())
            fixed = BashOperator.partial(task_id="b", pool_slots=2).expand(bash_command=["a", "b"])
        create >> mapped >> fixed >> drop.as_teardown(setups=create)
    spec = d.spec()
    restored = DagSpec.from_json(json.loads(json.dumps(spec.to_json())))
    assert restored == spec
    assert restored.order == spec.order
    assert restored.tasks["drop"].trigger_rule is TriggerRule.ALL_DONE_SETUP_SUCCESS


def test_task_spec_json_names_the_trigger_rule_by_value():
    data = TaskSpec(task_id="t", trigger_rule=TriggerRule.ONE_FAILED, upstream=("a",)).to_json()
    assert data["trigger_rule"] == "one_failed"
    assert TaskSpec.from_json(json.loads(json.dumps(data))) == TaskSpec(
        task_id="t", trigger_rule=TriggerRule.ONE_FAILED, upstream=("a",)
    )


def test_dag_and_task_answer_the_attributes_airflow_code_reads() -> None:
    with DAG("attributes", schedule=None, default_args={"owner": "etl"}) as attributes:
        first = EmptyOperator(task_id="first")
        EmptyOperator(task_id="second", owner="analytics")
    loose = EmptyOperator(task_id="loose", owner="nobody")

    assert first.dag_id == "attributes"
    assert loose.dag_id == "adhoc_nobody"
    assert attributes.owner == "analytics, etl"
    assert attributes.folder == str(Path(__file__).parent)


def test_a_task_decorator_of_another_provider_is_named_with_those_there_are() -> None:
    from dagflow.decorators import TASK_DECORATORS

    with pytest.raises(
        AttributeError, match=r"@task\.docker is not supported by dagflow; it has @task, @task\.bash"
    ):
        task.docker(image="python:3.12")
    assert all(callable(getattr(task, name)) for name in TASK_DECORATORS)
    assert not hasattr(task, "_private")


def test_sla_arguments_are_accepted_and_ignored_with_a_warning_at_the_dag_files_line() -> None:
    import warnings

    from dagflow.operators import EmptyOperator

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with DAG("slas", schedule=None, sla_miss_callback=print):
            EmptyOperator(task_id="a", sla=timedelta(hours=1))
    assert [(w.category, str(w.message).split(":")[0:2]) for w in seen] == [
        (UserWarning, ["DAG 'slas'", " sla_miss_callback is ignored"]),
        (UserWarning, ["EmptyOperator(task_id='a')", " sla is ignored"]),
    ]
    assert {w.filename for w in seen} == {__file__}


def test_dag_arguments_airflow_3_removed_say_what_to_write_instead() -> None:
    with pytest.raises(
        DagDefinitionError, match=r"DAG 'old': schedule_interval was removed in Airflow 3; use schedule="
    ):
        DAG("old", schedule_interval="@daily")
    with pytest.raises(
        DagDefinitionError, match=r"DAG 'old': concurrency was removed in Airflow 3; use max_active_tasks="
    ):
        DAG("old", concurrency=4)
    with pytest.raises(DagDefinitionError, match=r"DAG 'typo': unknown argument 'tag'; check the spelling"):
        DAG("typo", tag=["x"])
