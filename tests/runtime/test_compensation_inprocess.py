"""``dag.test()`` compensates a failed run: order, arguments, context, retries, failures, mapping,
task groups, operators as compensations, and the ``--json`` report."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from dagflow import DAG, TaskGroup, task
from dagflow.core.saga import RunCompensation
from dagflow.core.states import RunState, TaskState
from dagflow.exceptions import DagDefinitionError
from dagflow.operators import BashOperator, PythonOperator

DATE = datetime(2024, 1, 1, tzinfo=UTC)


def run(dag: DAG, **kwargs):
    return dag.test(logical_date=DATE, log_stream=io.StringIO(), sleep=lambda s: None, **kwargs)


def fail(**_):
    raise RuntimeError("no")


def test_a_failed_run_undoes_its_succeeded_tasks_in_reverse_order():
    calls: list = []

    @task
    def reserve(sku):
        return {"sku": sku}

    @reserve.compensation
    def release(sku, reserved):
        calls.append(("release", sku, reserved))

    @task
    def charge(reserved):
        return 42

    @charge.compensation
    def refund(reserved, charged, compensation, ti):
        calls.append(
            ("refund", reserved, charged, compensation["failed_tasks"], ti.xcom_pull(task_ids="charge"))
        )

    @task
    def ship(charged):
        raise RuntimeError("truck broke down")

    with DAG("saga") as dag:
        ship(charge(reserve("apple")))
    result = run(dag)
    assert result.state is RunState.FAILED
    assert result.compensation is not None
    assert result.report()["compensation"] == {
        "state": "compensated",
        "tasks": {"charge": "success", "reserve": "success"},
        "order": ["charge", "reserve"],
    }
    assert calls == [
        ("refund", {"sku": "apple"}, 42, ["ship"], 42),
        ("release", "apple", {"sku": "apple"}),
    ]


def test_a_successful_run_is_not_compensated_and_reports_no_compensation():
    @task(compensate=fail)
    def fine():
        return 1

    with DAG("fine") as dag:
        fine()
    result = run(dag)
    assert result.state is RunState.SUCCESS and result.compensation is None
    assert "compensation" not in result.report()


def test_compensate_on_never_leaves_a_failed_run_as_it_is():
    undone: list = []
    with DAG("never", compensate_on="never") as dag:
        PythonOperator(task_id="a", python_callable=lambda: 1, compensate=lambda: undone.append(1))
        PythonOperator(task_id="b", python_callable=fail)
    assert run(dag).compensation is None and undone == []


def test_a_failing_compensation_blocks_only_its_upstream_and_fires_the_callback():
    undone: list = []
    fired: list = []
    with DAG(
        "partial", on_compensation_failure_callback=lambda ctx: fired.append(ctx["compensation"])
    ) as dag:
        root = PythonOperator(
            task_id="root", python_callable=lambda: 1, compensate=lambda: undone.append("root")
        )
        left = PythonOperator(
            task_id="left",
            python_callable=lambda: 1,
            compensate=fail,
            compensation_retries=1,
            compensation_retry_delay=0,
        )
        right = PythonOperator(
            task_id="right", python_callable=lambda: 1, compensate=lambda: undone.append("right")
        )
        boom = PythonOperator(task_id="boom", python_callable=fail)
        root >> [left, right]
        left >> boom
    result = run(dag)
    comp = result.compensation
    assert comp is not None and comp.state is RunCompensation.COMPENSATION_FAILED
    assert undone == ["right"]
    assert comp.tasks == {"left": TaskState.FAILED, "right": TaskState.SUCCESS}
    assert comp.tries["left"] == 2
    assert fired and fired[0]["failed"] == ["left"]


def test_tasks_without_a_compensation_still_order_those_around_them():
    order: list = []
    with DAG("through") as dag:
        a = PythonOperator(task_id="a", python_callable=lambda: 1, compensate=lambda: order.append("a"))
        plain = PythonOperator(task_id="plain", python_callable=lambda: 1)
        c = PythonOperator(task_id="c", python_callable=lambda: 1, compensate=lambda: order.append("c"))
        end = PythonOperator(task_id="end", python_callable=fail)
        a >> plain >> c >> end
    assert run(dag).compensation.order == ["c", "a"]
    assert order == ["c", "a"]


def test_mapped_tasks_compensate_per_map_index_with_their_own_arguments():
    undone: list = []

    @task
    def book(seat):
        return f"booked {seat}"

    @book.compensation
    def unbook(seat, booked, ti):
        undone.append((seat, booked, ti.map_index))

    @task
    def pay(_):
        raise RuntimeError("card declined")

    with DAG("mapped") as dag:
        pay(book.expand(seat=[1, 2, 3]))
    result = run(dag)
    assert sorted(undone) == [(1, "booked 1", 0), (2, "booked 2", 1), (3, "booked 3", 2)]
    assert result.report()["compensation"]["tasks"] == {
        "book[0]": "success",
        "book[1]": "success",
        "book[2]": "success",
    }


def test_a_task_group_compensation_runs_after_its_tasks_and_before_its_upstream():
    order: list = []
    with DAG("grouped") as dag:
        first = PythonOperator(
            task_id="first", python_callable=lambda: 1, compensate=lambda: order.append("first")
        )
        with TaskGroup("g", compensate=lambda compensation: order.append(compensation["task_id"])) as g:
            PythonOperator(
                task_id="inner", python_callable=lambda: 1, compensate=lambda: order.append("g.inner")
            )
        last = PythonOperator(task_id="last", python_callable=fail)
        first >> g >> last
    result = run(dag)
    assert order == ["g.inner", "g", "first"]
    assert result.compensation.state is RunCompensation.COMPENSATED


def test_an_operator_outside_the_graph_can_be_the_compensation(tmp_path):
    marker = tmp_path / "undone"
    undo = BashOperator(
        task_id="undo", bash_command=f"echo {{{{ ti.xcom_pull(task_ids='make') }}}} > {marker}"
    )
    with DAG("op") as dag:
        make = PythonOperator(task_id="make", python_callable=lambda: "made", compensate=undo)
        make >> PythonOperator(task_id="then", python_callable=fail)
    assert run(dag).compensation.state is RunCompensation.COMPENSATED
    assert marker.read_text().strip() == "made"


def test_compensation_settings_default_to_the_forward_tasks_and_default_args():
    with DAG("defaults", default_args={"retries": 3, "compensation_timeout": 9}) as dag:
        a = PythonOperator(task_id="a", python_callable=lambda: 1, compensate=fail, retry_delay=7)
        b = PythonOperator(
            task_id="b",
            python_callable=lambda: 1,
            compensate=fail,
            compensation_retries=0,
            compensation_retry_delay=timedelta(seconds=1),
        )
    spec = dag.spec()
    assert (spec.tasks["a"].compensation_retries, spec.tasks["a"].compensation_retry_delay) == (3, 7.0)
    assert spec.tasks["a"].compensation_timeout == 9.0
    assert (spec.tasks["b"].compensation_retries, spec.tasks["b"].compensation_retry_delay) == (0, 1.0)
    assert a.compensation is not None and b.compensation is not None


def test_bad_compensations_name_the_dag_the_task_and_what_to_do():
    with pytest.raises(DagDefinitionError, match=r"DAG 'bad'.*compensate= must be a callable"), DAG("bad"):
        PythonOperator(task_id="a", python_callable=lambda: 1, compensate="undo")
    with DAG("in_graph") as dag:
        undo = PythonOperator(task_id="undo", python_callable=lambda: 1)
        PythonOperator(task_id="a", python_callable=lambda: 1, compensate=undo)
    with pytest.raises(DagDefinitionError, match=r"DAG 'in_graph', task 'a'.*outside 'with DAG"):
        dag.validate()
    undo = PythonOperator(task_id="undo", python_callable=lambda: 1)
    with DAG("with_upstream") as dag2:
        PythonOperator(task_id="a", python_callable=lambda: 1, compensate=undo)
        PythonOperator(task_id="b", python_callable=lambda: 1) >> undo
    with pytest.raises(DagDefinitionError, match=r"task 'a'"):
        dag2.validate()
    with pytest.raises(DagDefinitionError, match="compensate_on must be one of"):
        DAG("x", compensate_on="sometimes")
    with pytest.raises(DagDefinitionError, match="need compensate="), DAG("y"):
        PythonOperator(task_id="a", python_callable=lambda: 1, compensation_retries=2)


def test_a_compensation_that_overruns_its_timeout_fails():
    def slow():
        import time

        time.sleep(5)

    with DAG("slow") as dag:
        a = PythonOperator(
            task_id="a",
            python_callable=lambda: 1,
            compensate=slow,
            compensation_timeout=0.2,
            compensation_retries=0,
        )
        a >> PythonOperator(task_id="b", python_callable=fail)
    result = run(dag)
    assert result.compensation is not None
    assert result.compensation.tasks == {"a": TaskState.FAILED}
    assert "timeout of 0.2s" in result.compensation.errors["a"]
