"""The example DAGs in the repository's ``dags/`` folder load cleanly and each one runs to success.

The DAG ids are read from the folder when the tests are collected, so a new example is tested
without touching this file.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest

from dagflow.core.states import RunState
from dagflow.dagbag import DagBag

EXAMPLES = Path(__file__).resolve().parent.parent / "dags"
LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


def load_examples() -> DagBag:
    saved_path = list(sys.path)
    try:
        return DagBag(EXAMPLES)
    finally:
        sys.path[:] = saved_path


EXAMPLE_IDS = load_examples().dag_ids


def test_every_example_file_loads_without_import_errors():
    bag = load_examples()
    assert {f: e.summary() for f, e in bag.import_errors.items()} == {}
    assert bag.dag_ids == EXAMPLE_IDS


if EXAMPLE_IDS:

    @pytest.mark.parametrize("dag_id", EXAMPLE_IDS)
    def test_example_runs_to_success(dag_id, monkeypatch):
        monkeypatch.setattr(sys, "path", list(sys.path))
        dag = load_examples().get_dag(dag_id)
        log = StringIO()
        result = dag.test(logical_date=LOGICAL_DATE, log_stream=log)
        failed = {ti.label: ti.error for ti in result.task_instances if ti.state.value != "success"}
        assert result.state is RunState.SUCCESS, f"{failed}\n{log.getvalue()[-4000:]}"
