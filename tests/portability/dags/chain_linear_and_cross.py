"""Wiring helpers: chain_linear, chain with lists of equal length, cross_downstream and chain through a
task group; every task reports the upstream task ids Airflow gave it."""

from datetime import datetime

from airflow.models.baseoperator import chain, cross_downstream
from airflow.operators.python import PythonOperator
from airflow.sdk import DAG, chain_linear
from airflow.utils.task_group import TaskGroup


def report_upstreams(**context):
    return sorted(context["task"].upstream_task_ids)


def step(task_id):
    return PythonOperator(task_id=task_id, python_callable=report_upstreams)


with DAG(dag_id="chain_linear_and_cross", start_date=datetime(2024, 1, 1), schedule=None, catchup=False):
    start = step("start")
    # chain_linear: every task of one element runs after every task of the element before it
    extract = [step("extract_orders"), step("extract_users")]
    transform = [step("clean"), step("dedupe"), step("enrich")]
    staged = step("staged")
    chain_linear(start, extract, transform, staged)

    # chain with two lists of the same length pairs them up; a single task fans out and in
    load = [step("load_a"), step("load_b")]
    check = [step("check_a"), step("check_b")]
    loaded = step("loaded")
    chain(staged, load, check, loaded)

    # cross_downstream: each of the first list upstream of each of the second
    exports = [step("export_csv"), step("export_parquet")]
    notices = [step("notify_team"), step("notify_client")]
    cross_downstream(exports, notices)
    loaded >> exports

    with TaskGroup("publish") as publish:
        first = step("first")
        second = step("second")
        first >> second
    # a group in chain: the previous task runs before the group's roots, the next after its leaves
    chain(notices[0], publish, step("done"))
