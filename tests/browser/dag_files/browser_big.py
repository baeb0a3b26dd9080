"""
### 522 tasks (for the browser tests of the graph's zoom, pan and fit)

`start`, then 26 task groups side by side, each a chain of 20 tasks, then `end`.
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

from dagflow import DAG, TaskGroup
from dagflow.operators import EmptyOperator

with DAG("browser_big", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["browser-test"]):
    start, end = EmptyOperator(task_id="start"), EmptyOperator(task_id="end")
    for g in range(26):
        with TaskGroup(f"part_{g:02d}") as part:
            chain = [EmptyOperator(task_id=f"step_{i:02d}") for i in range(20)]
            for up, down in pairwise(chain):
                up >> down
        start >> part >> end
