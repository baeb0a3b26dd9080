"""multiple_outputs (explicit and inferred from a dict return annotation), and the shapes
ti.xcom_pull returns: one task id, a list of task ids, a custom key, a missing key."""

from __future__ import annotations

import pendulum
from airflow.decorators import dag, task
from airflow.operators.bash import BashOperator


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def multiple_outputs_and_pulls():
    @task(multiple_outputs=True)
    def stats():
        return {"count": 4, "mean": 2.5}

    # a dict return annotation turns multiple_outputs on by itself
    @task
    def bounds() -> dict[str, int]:
        return {"low": 1, "high": 9}

    @task
    def tag(ti=None):
        ti.xcom_push(key="count", value="tagged")
        return "tag-v1"

    @task
    def combine(count, high, ti=None):
        return {
            "count": count,
            "high": high,
            "whole": ti.xcom_pull(task_ids="stats"),
            "mean": ti.xcom_pull(task_ids="stats", key="mean"),
            # a list of task ids gives a list, in the order asked, None where nothing was pushed
            "counts": ti.xcom_pull(task_ids=["stats", "tag", "bounds"], key="count"),
            "missing": ti.xcom_pull(task_ids="tag", key="nope"),
        }

    s, b, t = stats(), bounds(), tag()
    t >> combine(s["count"], b["high"])
    report = BashOperator(
        task_id="report",
        bash_command="echo {{ ti.xcom_pull(task_ids='bounds', key='low') }}-{{ ti.xcom_pull('tag') }}",
    )
    [b, t] >> report


multiple_outputs_and_pulls()
