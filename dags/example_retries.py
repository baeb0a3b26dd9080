"""
### Retries, callbacks, and a setup/teardown pair

```
create_workspace (setup) ─┬─> flaky_download ─┬─> remove_workspace (teardown)
                          └─> flaky_api_call ─┘
```

* `flaky_download` fails on its first two tries (it reads `ti.try_number`) and succeeds on the
  third: `retries=2` means up to three tries, `retry_delay` seconds apart.
* `flaky_api_call` fails twice too, but with `retry_exponential_backoff` its second wait is
  twice the first (plus some jitter), capped by `max_retry_delay`.
* `on_retry_callback` and `on_failure_callback` (set for every task through `default_args`) log
  what happened; the failure callback only fires once a task has no tries left.
* `create_workspace().as_setup()` and `.as_teardown(setups=...)`: the teardown runs once the work
  in between is done, whether it succeeded or not, so the scratch directory is always removed. A
  teardown's own state does not decide the run's.

The run ends `success`, after about three seconds of retry delays.
Try it: `dagflow dags test example_retries`
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from dagflow import DAG, task


def log_retry(context) -> None:
    ti = context["ti"]
    error = context["exception"]
    context["task"].log.warning("%s failed on try %s, will retry: %s", ti.task_id, ti.try_number, error)


def log_failure(context) -> None:
    ti = context["ti"]
    context["task"].log.error("%s failed for good after %s tries", ti.task_id, ti.try_number)


with DAG(
    "example_retries",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=1),
        "on_retry_callback": log_retry,
        "on_failure_callback": log_failure,
    },
    tags=["example", "retries", "setup-teardown"],
    doc_md=__doc__,
):

    @task
    def create_workspace() -> str:
        return tempfile.mkdtemp(prefix="dagflow_example_retries_")

    @task
    def flaky_download(workspace: str, ti=None) -> str:
        if ti.try_number < 3:
            raise ConnectionError(f"the server hung up (try {ti.try_number})")
        target = Path(workspace) / "download.csv"
        target.write_text("id,value\n1,42\n")
        return f"downloaded {target.name} on try {ti.try_number}"

    @task(retry_exponential_backoff=True, max_retry_delay=timedelta(seconds=2))
    def flaky_api_call(ti=None) -> str:
        if ti.try_number < 3:
            raise TimeoutError(f"the API did not answer in time (try {ti.try_number})")
        return f"API answered on try {ti.try_number}"

    @task
    def remove_workspace(workspace: str) -> None:
        shutil.rmtree(workspace, ignore_errors=True)

    workspace = create_workspace().as_setup()
    cleanup = remove_workspace(workspace).as_teardown(setups=workspace)
    workspace >> [flaky_download(workspace), flaky_api_call()] >> cleanup
