"""
### Something of everything the graph and grid draw (for the browser tests)

```
start ─> work.square[0..2] ─> work.checks.check ─┐
boom ─"on purpose"─> after_boom ─────────────────┴─> done
```

`start` prints a line to its log; `work.square` is mapped over three values; `boom` fails, so
`after_boom` is `upstream_failed` (the edge between them is labelled); `done` runs whatever
happened (`all_done`). A run ends `failed` with
tasks in the states success, failed and upstream_failed, in nested task groups.
"""

from __future__ import annotations

from datetime import datetime

from dagflow import DAG, Label, TaskGroup, task

with DAG(
    "browser_views",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    default_args={"retries": 0},
    tags=["browser-test"],
    doc_md=__doc__,
):

    @task
    def start() -> list[int]:
        print("browser_views start says hello")
        return [1, 2, 3]

    @task
    def square(x: int) -> int:
        return x * x

    @task
    def check(values: list[int]) -> int:
        return sum(values)

    @task
    def boom() -> None:
        raise ValueError("boom on purpose")

    @task
    def after_boom() -> None:
        pass

    @task(trigger_rule="all_done")
    def done() -> None:
        pass

    numbers = start()
    with TaskGroup("work"):
        squares = square.expand(x=numbers)
        with TaskGroup("checks"):
            checked = check(squares)
    after = after_boom()
    boom() >> Label("on purpose") >> after
    [checked, after] >> done()
