"""
### Dynamic task mapping

The number of task instances is decided at run time, from data:

* `count_lines.expand(path=list_files())` runs one `count_lines` instance per file that
  `list_files` returned (shown as `count_lines[0]`, `count_lines[1]`, ...).
* `.partial(...)` fixes the arguments every instance shares; `to_kb.partial(bytes_per_line=80)`
  maps over the previous mapped task's outputs, one instance per file again.
* `total` is a **reducer**: it receives the list of every mapped instance's return value.
* Classic operators map too: `BashOperator.partial(task_id=...).expand(env=[...])`.

Try it: `dagflow dags test example_dynamic_mapping`
"""

from __future__ import annotations

from datetime import datetime

from dagflow import DAG, task
from dagflow.operators import BashOperator

with DAG(
    "example_dynamic_mapping",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["example", "mapping"],
    doc_md=__doc__,
):

    @task
    def list_files(ds=None, logical_date=None) -> list[str]:
        """A stand-in for listing the files that landed on this date: 3 to 5 of them, by day."""
        return [f"landing/{ds}/part-{n}.csv" for n in range(3 + logical_date.day % 3)]

    @task
    def count_lines(path: str) -> int:
        """A stand-in for reading the file: part n has 100 + 10 * n lines."""
        part = int(path.removesuffix(".csv").rsplit("-", 1)[1])
        return 100 + 10 * part

    @task
    def to_kb(lines: int, bytes_per_line: int) -> float:
        return round(lines * bytes_per_line / 1024, 1)

    @task
    def total(sizes: list[float]) -> dict:
        return {"files": len(sizes), "kb": round(sum(sizes), 1)}

    lines = count_lines.expand(path=list_files())
    total(to_kb.partial(bytes_per_line=80).expand(lines=lines))

    BashOperator.partial(task_id="greet", bash_command='echo "hello from $REGION"').expand(
        env=[{"REGION": "eu"}, {"REGION": "us"}, {"REGION": "apac"}]
    )
