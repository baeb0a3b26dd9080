"""The portability corpus: Airflow DAG files, unchanged, run by dagflow with the ``airflow`` import layer.

Every ``dags/<name>.py`` is loaded as the DAG processor loads it (a DagBag, the layer on) and run
once in-process (``dag.test``); the run must end as ``expected/<name>.json`` says::

    {"dag_id": "...", "logical_date": "2024-01-01T00:00:00+00:00", "conf": {...},
     "env": {"AIRFLOW_VAR_X": "..."},
     "run_state": "success",
     "tasks": {"task_id" or "task_id[i]": {"state": "success", "tries": 1, "xcom": <return_value>}}}

Keys left out are not checked (``logical_date`` defaults to now, ``conf`` to ``{}``; ``env``, the
environment variables set while the file loads and runs, to none). ``"http_service": {"<name>":
[status, ...]}`` serves a scripted HTTP service on 127.0.0.1 during the run (see
:mod:`tests.scripted_http`), whose ``host:port`` replaces ``{http_service}`` in ``env``. A task's
``xcom`` is compared in its plain JSON view (datetimes as ISO text, sets and tuples as lists...);
a task listed without ``xcom`` may have any return value.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dagflow.dagbag import DagBag
from dagflow.runtime.inprocess import RunResult
from dagflow.runtime.serde import json_view
from tests.scripted_http import serving

HERE = Path(__file__).resolve().parent
DAGS = HERE / "dags"
EXPECTED = HERE / "expected"
CASES = sorted(path.stem for path in DAGS.glob("*.py") if not path.name.startswith("_"))


def load_expected(name: str) -> dict[str, Any]:
    path = EXPECTED / f"{name}.json"
    assert path.is_file(), f"{DAGS / name}.py has no expected outcome: write {path}"
    return dict(json.loads(path.read_text()))


@contextlib.contextmanager
def case_environment(expected: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The case's ``env`` set, and its ``http_service`` served, for the block."""
    with contextlib.ExitStack() as stack:
        address = ""
        if "http_service" in expected:
            address = f"127.0.0.1:{stack.enter_context(serving(expected['http_service'])).server_port}"
        for key, value in expected.get("env", {}).items():
            monkeypatch.setenv(key, value.replace("{http_service}", address))
        yield


def run_case(name: str, expected: dict[str, Any]) -> tuple[RunResult, str]:
    bag = DagBag(DAGS / f"{name}.py", sys_path_root=DAGS, import_timeout=60)
    errors = [error.summary() for error in bag.import_errors.values()]
    assert not errors, f"{name}.py failed to import: {errors}"
    dag = bag.get_dag(expected["dag_id"])
    when = expected.get("logical_date")
    log = io.StringIO()
    result = dag.test(
        logical_date=datetime.fromisoformat(when) if when else None,
        conf=expected.get("conf") or {},
        log_stream=log,
    )
    return result, log.getvalue()


def differences(expected: dict[str, Any], result: RunResult) -> list[str]:
    """Every way the run differs from what was expected, one line each."""
    found = []
    if result.state.value != expected["run_state"]:
        found.append(f"run_state: expected {expected['run_state']!r}, got {result.state.value!r}")
    by_label = {ti.label: ti for ti in result.task_instances}
    for label, want in expected.get("tasks", {}).items():
        ti = by_label.get(label)
        if ti is None:
            found.append(f"{label}: no such task instance (have {sorted(by_label)})")
            continue
        have = {"state": ti.state.value, "tries": ti.try_number}
        if "xcom" in want:
            have["xcom"] = json_view(result.xcom(ti.task_id, ti.map_index))
        for key, value in want.items():
            if have.get(key) != value:
                found.append(f"{label}.{key}: expected {value!r}, got {have.get(key)!r}")
    return found


@pytest.mark.parametrize("name", CASES)
def test_airflow_dag_file_runs_unchanged_as_expected(
    name: str, airflow_layer: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = load_expected(name)
    with case_environment(expected, monkeypatch):
        result, log = run_case(name, expected)
    problems = differences(expected, result)
    assert not problems, "\n".join([f"{name}:", *problems, "--- log ---", log[-4000:]])


def test_every_expected_outcome_has_its_dag_file() -> None:
    orphans = sorted(path.name for path in EXPECTED.glob("*.json") if path.stem not in CASES)
    assert not orphans, f"expected outcomes without a DAG file in {DAGS}: {orphans}"
