"""
### Branching, joins and short-circuits

```
choose_region ─┬─> process_eu ───┐
               ├─> process_us ───┼─> join ─> is_weekday ─> send_report
               └─> process_apac ─┘
```

* `choose_region` is a `@task.branch`: it returns the task id to follow, picked from the `region`
  param (`--conf '{"region": "us"}'`); the other direct downstream tasks are **skipped**.
* `join` uses `TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS`. With the default `all_success` it would
  be skipped too, because two of its upstreams were.
* `is_weekday` is a `ShortCircuitOperator` that reads the run's `logical_date`: on a Saturday or a
  Sunday it returns False and everything downstream is skipped. A skipped task does not fail the
  run. Try `--logical-date 2024-01-06` (a Saturday) and `2024-01-08` (a Monday).
"""

from __future__ import annotations

from datetime import datetime

from dagflow import DAG, Param, TriggerRule, task
from dagflow.operators import EmptyOperator, ShortCircuitOperator

REGIONS = ["eu", "us", "apac"]


def is_weekday(logical_date: datetime) -> bool:
    return logical_date.weekday() < 5


with DAG(
    "example_branching",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"region": Param("eu", enum=REGIONS, description="Which region's path to follow")},
    tags=["example", "branching"],
    doc_md=__doc__,
):

    @task.branch
    def choose_region(params=None) -> str:
        return f"process_{params['region']}"

    @task
    def process(region: str) -> str:
        return f"processed {region}"

    @task
    def send_report(ds=None) -> str:
        return f"report for {ds} sent"

    paths = [process.override(task_id=f"process_{region}")(region) for region in REGIONS]
    join = EmptyOperator(task_id="join", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    weekday = ShortCircuitOperator(task_id="is_weekday", python_callable=is_weekday)

    choose_region() >> paths >> join >> weekday >> send_report()
