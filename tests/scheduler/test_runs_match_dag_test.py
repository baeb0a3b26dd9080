"""Scheduler-driven runs end as ``dag.test()`` ends them: on the inline executor, in this process.

The same DAGs run on worker processes in :mod:`tests.scheduler.processes.test_production_runs`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.scheduler.conftest import deployment
from tests.scheduler.processes.test_production_runs import (
    COMPARED,
    FAILURES,
    LOGICAL_DATE,
    PIPELINE,
    Production,
    assert_matches_dag_test,
    in_process,
)


@pytest.fixture(scope="module")
def inline_runs(store_backend: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    with deployment(store_backend, tmp_path_factory.mktemp("inline_runs")) as orchestrator:
        orchestrator.write("pipeline.py", PIPELINE)
        orchestrator.write("failures.py", FAILURES)
        orchestrator.record_dags()
        expected = {dag_id: in_process(orchestrator.dags.path, dag_id) for dag_id in COMPARED}
        run_ids = {dag_id: orchestrator.trigger(dag_id, logical_date=LOGICAL_DATE) for dag_id in COMPARED}
        orchestrator.run_until_idle(executor="inline")
        yield Production(orchestrator, run_ids, expected)


@pytest.mark.parametrize("dag_id", COMPARED)
def test_inline_runs_end_with_the_states_tries_and_xcoms_dag_test_gives(inline_runs: Production, dag_id: str):
    assert_matches_dag_test(inline_runs, dag_id)
