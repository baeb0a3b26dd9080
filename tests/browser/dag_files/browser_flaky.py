"""
### A DAG that fails until someone fixes its input (for the browser tests)

```
wait_for_flag ─> report
```

`wait_for_flag` fails while the flag file `$DAGFLOW_HOME/browser_flaky.flag` is missing, so the first
run fails and `report` is `upstream_failed`. Once the file exists, clearing `wait_for_flag` (with its
downstream) makes both run again and succeed. No retries: the first failure is final.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from dagflow import DAG, task

FLAG_NAME = "browser_flaky.flag"


def flag_path() -> Path:
    """Looked up when the task runs, not when the file is parsed."""
    return Path(os.environ["DAGFLOW_HOME"]) / FLAG_NAME


with DAG(
    "browser_flaky",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    default_args={"retries": 0},
    tags=["browser-test"],
    doc_md=__doc__,
):

    @task
    def wait_for_flag() -> str:
        flag = flag_path()
        if not flag.exists():
            raise FileNotFoundError(f"the flag file {flag} is missing: create it, then clear this task")
        return flag.read_text().strip()

    @task
    def report(flag_text: str) -> str:
        return f"the flag says {flag_text!r}"

    report(wait_for_flag())
