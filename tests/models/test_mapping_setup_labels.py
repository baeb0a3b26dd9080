"""Authoring: expanded task groups, ``XComArg.map``/``.zip``/``.concat``, setup/teardown ``with``
blocks, edge labels and ``render_template``, as Airflow 3 builds them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dagflow import DAG, Label, TaskGroup, setup, task, task_group, teardown
from dagflow.core.spec import DagSpec, MapSourceSpec
from dagflow.exceptions import DagDefinitionError
from dagflow.models.baseoperator import BaseOperator
from dagflow.operators import EmptyOperator
from dagflow.serialization import serialize_dag


@task
def produce() -> list[int]:
    return [1, 2]


@task
def use(value: Any = None) -> Any:
    return value


def edges(dag: DAG) -> set[tuple[str, str]]:
    return {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}


# -- expanded task groups -------------------------------------------------------------------------


def test_tasks_of_an_expanded_group_are_mapped_over_the_groups_values_and_follow_its_source():
    with DAG("group_spec", schedule=None) as dag:

        @task_group
        def each(x: int) -> Any:
            return use.override(task_id="second")(use.override(task_id="first")(x))

        out = each.expand(x=produce())
        use.override(task_id="after")(out)

    spec = dag.spec()
    first, second, after = (spec.tasks[t] for t in ("each.first", "each.second", "after"))
    assert first.is_mapped and second.is_mapped and not after.is_mapped
    assert first.map_group == second.map_group == "each"
    assert second.map_sources == (MapSourceSpec(upstream="produce"),)
    assert spec.tasks["produce"].has_mapped_dependants
    assert edges(dag) == {("produce", "each.first"), ("each.first", "each.second"), ("each.second", "after")}
    assert DagSpec.from_json(spec.to_json()) == spec
    assert serialize_dag(dag)["task_group"]["children"][-2]["is_mapped"] is True


def test_expanded_groups_refuse_mapped_tasks_nested_groups_and_unknown_arguments():
    with DAG("group_errors", schedule=None):

        @task_group
        def inner_mapped(x: int) -> None:
            use.expand(value=[1, 2])

        with pytest.raises(DagDefinitionError, match="mapped task inside the expanded task group"):
            inner_mapped.expand(x=[1])

        @task_group
        def outer(x: int) -> None:
            @task_group
            def inner(y: int) -> None:
                use(y)

            inner.expand(y=[1])

        with pytest.raises(DagDefinitionError, match="inside another expanded task group"):
            outer.expand(x=[1])

        @task_group
        def plain(x: int) -> None:
            use(x)

        with pytest.raises(DagDefinitionError, match="unexpected argument 'y'"):
            plain.expand(y=[1])
        with pytest.raises(DagDefinitionError, match="must be a list, a dict or a task's output"):
            plain.expand(x=5)


def test_calling_an_expanded_group_twice_gives_the_second_a_suffix():
    with DAG("group_twice", schedule=None) as dag:

        @task_group
        def each(x: int) -> None:
            use(x)

        each.expand(x=[1])
        each.expand(x=[2])

    assert {"each.use", "each__1.use"} <= set(dag.task_ids)


# -- map, zip, concat ----------------------------------------------------------------------------


def test_zip_concat_and_map_describe_their_lengths_for_the_scheduler():
    with DAG("sources", schedule=None) as dag:
        a, b = produce(), produce()
        use.override(task_id="z").expand(value=a.zip(b))
        use.override(task_id="zl").expand(value=a.zip(b, fillvalue=0))
        use.override(task_id="c").expand(value=a.concat(b).map(str))

    tasks = dag.spec().tasks
    parts = (MapSourceSpec(upstream="produce"), MapSourceSpec(upstream="produce__1"))
    assert tasks["z"].map_sources == (MapSourceSpec(combine="zip", parts=parts),)
    assert tasks["zl"].map_sources == (MapSourceSpec(combine="zip_longest", parts=parts),)
    assert tasks["c"].map_sources == (MapSourceSpec(combine="concat", parts=parts),)
    assert set(tasks["c"].upstream) == {"produce", "produce__1"}
    assert repr(a.zip(b, fillvalue=0)) == "XComArg('produce').zip(XComArg('produce__1'), fillvalue=0)"


def test_map_zip_and_concat_refuse_custom_keys_and_values_that_are_not_outputs():
    with DAG("refusals", schedule=None):
        out = produce()
        with pytest.raises(DagDefinitionError, match="only a task's return value"):
            out["rows"].map(str)
        with pytest.raises(DagDefinitionError, match="takes tasks' outputs"):
            out.zip([1, 2])
        with pytest.raises(DagDefinitionError, match="plain function"):
            out.map(use)


# -- setup and teardown as context managers --------------------------------------------------------


@setup
def create() -> str:
    return "cluster"


@teardown
def delete(cluster: Any = None) -> None:
    return None


def test_work_in_a_setup_teardown_block_goes_between_the_setup_and_the_teardown():
    with DAG("blocks", schedule=None) as dag:
        made = create()
        with made >> delete(made):
            use.override(task_id="second")(use.override(task_id="first")())
        other = use.override(task_id="outside")()

    assert edges(dag) == {
        ("create", "delete"),
        ("create", "first"),
        ("first", "second"),
        ("second", "delete"),
    }
    assert not dag.get_task("outside").upstream_task_ids and other is not None


def test_a_teardown_called_on_its_setup_and_a_lone_setup_are_blocks_too():
    with DAG("blocks_forms", schedule=None) as dag:
        with delete(create()):
            use.override(task_id="work")()
        with create.override(task_id="alone")():
            EmptyOperator(task_id="after_alone")

    assert ("create", "work") in edges(dag) and ("work", "delete") in edges(dag)
    assert ("alone", "after_alone") in edges(dag)


def test_operator_setup_teardown_blocks_nest_outer_setups_first_and_inner_teardowns_first():
    with DAG("nested_blocks", schedule=None) as dag:
        s1, t1 = EmptyOperator(task_id="s1").as_setup(), EmptyOperator(task_id="t1").as_teardown()
        s2, t2 = EmptyOperator(task_id="s2").as_setup(), EmptyOperator(task_id="t2").as_teardown()
        with s1 >> t1, s2 >> t2:
            EmptyOperator(task_id="w")

    assert {("s1", "s2"), ("t2", "t1"), ("s2", "w"), ("w", "t2")} <= edges(dag)


def test_only_setup_or_teardown_tasks_open_a_block():
    with DAG("bad_block", schedule=None):
        plain = EmptyOperator(task_id="plain")
        with pytest.raises(DagDefinitionError, match="only setup and teardown tasks"), plain:
            pass


# -- edge labels ---------------------------------------------------------------------------------


def test_labels_mark_the_edges_made_through_them_and_are_serialized():
    with DAG("labels", schedule=None) as dag:
        a, b, c, d = (EmptyOperator(task_id=x) for x in "abcd")
        with TaskGroup("g") as group:
            EmptyOperator(task_id="inside")
        a >> Label("yes") >> [b, c]
        b.set_downstream(d, edge_modifier=Label("then"))
        d << Label("back") << c
        c >> Label("into") >> group

    assert edges(dag) == {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("c", "g.inside")}
    assert dag.get_edge_info("a", "c") == {"label": "yes"}
    assert serialize_dag(dag)["edge_info"] == {
        "a": {"b": {"label": "yes"}, "c": {"label": "yes"}},
        "b": {"d": {"label": "then"}},
        "c": {"d": {"label": "back"}, "g.inside": {"label": "into"}},
    }
    assert dag.get_edge_info("b", "c") == {}


# -- render_template -----------------------------------------------------------------------------


def test_render_template_renders_strings_collections_and_template_files(tmp_path: Path):
    (tmp_path / "query.sql").write_text("select * from t where day = '{{ ds }}'")

    class SqlOperator(BaseOperator):
        template_fields = ("sql",)
        template_ext = (".sql",)

        def __init__(self, *, sql: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.sql = sql

    with DAG("render", schedule=None, template_searchpath=str(tmp_path), user_defined_macros={"n": 3}):
        op = SqlOperator(task_id="q", sql="query.sql")
        decorated = use.override(task_id="deco")()

    context: Any = {"ds": "2024-01-01", "when": datetime(2024, 1, 1, tzinfo=UTC)}
    assert op.render_template("query.sql", context) == "select * from t where day = '2024-01-01'"
    assert op.render_template(["{{ ds }}", {"k": "{{ n * 2 }}"}], context) == ["2024-01-01", {"k": "6"}]
    assert decorated.operator.render_template("{{ when.year }}", context) == "2024"
    op.render_template_fields(context)
    assert op.sql.endswith("'2024-01-01'")
