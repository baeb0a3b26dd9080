"""DAG files as the scheduler's DAG processor (a subprocess) watches them while the scheduler runs.

One scenario per backend and executor (``watched``: the attempts run on the local executor and on
Celery workers, which read the same folder), with ``[core] dags_are_paused_at_creation = False`` and a
one-second ``dagbag_import_timeout``:

1. the folder holds ``a_slow.py``, whose import sleeps far longer than the timeout (and sorts first),
   and ``steady.py``, an ``@once`` DAG: steady's run completes all the same;
2. ``fresh.py`` is added while the scheduler runs: it appears in the store unpaused and its
   ``@once`` run completes;
3. ``steady.py`` is edited into a syntax error: the import error is recorded, the DAG keeps its last
   good version, and a run triggered then completes with that version.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from dagflow.scheduler.job import SchedulerOptions
from dagflow.store.models import DagRow
from tests.scheduler.conftest import Orchestrator, deployment

SLOW = """
import time
from datetime import datetime

from dagflow import DAG
from dagflow.operators import EmptyOperator

time.sleep(60)  # far past [core] dagbag_import_timeout

with DAG("slow", schedule="@once", start_date=datetime(2024, 1, 1)):
    EmptyOperator(task_id="never")
"""

STEADY = """
from datetime import datetime

from dagflow import DAG
from dagflow.operators import EmptyOperator

with DAG("steady", schedule="@once", start_date=datetime(2024, 1, 1)):
    EmptyOperator(task_id="begin") >> EmptyOperator(task_id="end")
"""

BROKEN = """
from datetime import datetime

from dagflow import DAG
from dagflow.operators import EmptyOperator

with DAG("steady", schedule="@once", start_date=datetime(2024, 1, 1)):
    EmptyOperator(task_id="begin") >> EmptyOperator(task_id="end") >> EmptyOperator(task_id="added"
"""

FRESH = """
from datetime import datetime

from dagflow import DAG, task

with DAG("fresh", schedule="@once", start_date=datetime(2024, 1, 1)):

    @task
    def hello():
        return "hello from a new file"

    hello()
"""


@dataclass
class Watched:
    orchestrator: Orchestrator
    #: What the store held for steady just before and after its file broke.
    steady_before: dict[str, object]
    steady_after: dict[str, object]
    triggered_after_break: str


def dag_row(orchestrator: Orchestrator, dag_id: str) -> dict[str, object] | None:
    with orchestrator.db.session() as session:
        row = session.get(DagRow, dag_id)
        if row is None:
            return None
        return {"is_active": row.is_active, "is_paused": row.is_paused, "serialized": row.serialized}


def succeeded(orchestrator: Orchestrator, dag_id: str, run_id: str | None = None) -> bool:
    return any(
        r.state == "success" and (run_id is None or r.run_id == run_id) for r in orchestrator.runs(dag_id)
    )


@pytest.fixture(scope="module")
def watched(
    store_backend: object, process_executor: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Watched]:
    with deployment(store_backend, tmp_path_factory.mktemp("watched")) as orchestrator:
        orchestrator.setenv(
            CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            CORE__DAGBAG_IMPORT_TIMEOUT="1",
            SCHEDULER__PARSE_INTERVAL="0.2",
        )
        orchestrator.write("a_slow.py", SLOW)
        orchestrator.write("steady.py", STEADY)
        options = SchedulerOptions(run_processor=True)
        with orchestrator.running(options, workers=1, executor=process_executor) as scheduler:
            scheduler.until(lambda: succeeded(orchestrator, "steady"))
            scheduler.until(lambda: "a_slow.py" in orchestrator.import_errors(), outside=True)

            orchestrator.write("fresh.py", FRESH)
            scheduler.until(lambda: succeeded(orchestrator, "fresh"))

            steady_before = dag_row(orchestrator, "steady")
            orchestrator.write("steady.py", BROKEN)
            scheduler.until(lambda: "steady.py" in orchestrator.import_errors(), outside=True)
            steady_after = dag_row(orchestrator, "steady")
            run_id = orchestrator.trigger("steady")
            scheduler.until(lambda: succeeded(orchestrator, "steady", run_id))
        assert steady_before is not None and steady_after is not None
        orchestrator.check_ran_on(process_executor, "fresh")
        yield Watched(orchestrator, steady_before, steady_after, run_id)


def test_a_slow_dag_file_does_not_stall_the_scheduler(watched: Watched):
    orchestrator = watched.orchestrator
    assert "longer than 1s" in orchestrator.import_errors()["a_slow.py"]
    assert dag_row(orchestrator, "slow") is None
    assert [r.state for r in orchestrator.runs("steady") if r.run_type == "scheduled"] == ["success"]


def test_a_new_dag_file_is_picked_up_and_gets_its_scheduled_run(watched: Watched):
    orchestrator = watched.orchestrator
    row = dag_row(orchestrator, "fresh")
    assert row is not None and row["is_active"] and not row["is_paused"]
    (run,) = orchestrator.runs("fresh")
    assert (run.run_type, run.run_id, run.state) == (
        "scheduled",
        "scheduled__2024-01-01T00:00:00+00:00",
        "success",
    )
    assert orchestrator.xcoms("fresh", run.run_id) == {("hello", "return_value"): "hello from a new file"}


def test_a_dag_file_that_breaks_keeps_its_last_good_version_scheduled(watched: Watched):
    orchestrator = watched.orchestrator
    error = orchestrator.import_errors()["steady.py"]
    assert "SyntaxError" in error or "syntax" in error.lower()
    assert watched.steady_after == watched.steady_before  # active, unpaused, the same version
    run = orchestrator.run("steady", watched.triggered_after_break)
    assert run.state == "success"
    assert orchestrator.states("steady", run.run_id) == {"begin": "success", "end": "success"}
