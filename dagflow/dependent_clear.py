"""What clearing an ExternalTaskMarker reaches: the marked task, and its downstream tasks, in the run
of another DAG, then the markers among those, and so on, as Airflow's recursive clear does.

The marker's target comes from the stored DAG (its ``external_task_marker`` entry), its templated
fields rendered against the cleared run's dates. The first marker met sets how deep the chain may go
(its ``recursion_depth``): a chain that goes deeper is an error naming the marker, and nothing is
cleared; each marker is followed once, so a loop of markers ends where it began. A target DAG,
run or task that does not exist is passed over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jinja2

from dagflow.exceptions import DagflowError
from dagflow.serialization import StoredDag
from dagflow.store import Session
from dagflow.store import dags as dag_store
from dagflow.store import runs as run_store
from dagflow.store.models import DagRunRow


@dataclass(frozen=True)
class DependentClear:
    """Task ids to clear in one run of another DAG."""

    dag_id: str
    run_id: str
    task_ids: frozenset[str]


def _serialized(session: Session, dag_id: str) -> dict[str, Any] | None:
    row = dag_store.get_dag_row(session, dag_id)
    return row.serialized if row is not None and row.is_active and row.serialized else None


def _render(value: str, run: DagRunRow) -> str:
    if "{" not in value:
        return value
    date = run.logical_date
    if date is not None and date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    context = {
        "logical_date": date,
        "ds": date.strftime("%Y-%m-%d") if date else None,
        "ds_nodash": date.strftime("%Y%m%d") if date else None,
        "ts": date.isoformat() if date else None,
        "data_interval_start": run.data_interval_start,
        "data_interval_end": run.data_interval_end,
        "run_id": run.run_id,
        "dag_run": run,
    }
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(value).render(context)


def _target_date(text: str, where: str) -> datetime:
    try:
        date = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DagflowError(f"{where}: logical_date {text!r} is not an ISO 8601 date and time") from None
    return date if date.tzinfo is not None else date.replace(tzinfo=UTC)


def _downstream(spec_tasks: Mapping[str, Any], task_id: str) -> frozenset[str]:
    found, frontier = {task_id}, [task_id]
    while frontier:
        for other in spec_tasks[frontier.pop()].downstream:
            if other not in found:
                found.add(other)
                frontier.append(other)
    return frozenset(found)


class _Planner:
    def __init__(self, session: Session):
        self.session = session
        self.plan: list[DependentClear] = []
        self.seen: set[tuple[str, str, str]] = set()
        self.max_depth: int | None = None

    def follow(self, dag_id: str, run: DagRunRow, task_ids: Iterable[str], depth: int) -> None:
        serialized = _serialized(self.session, dag_id)
        if serialized is None:
            return
        tasks = serialized.get("tasks") or {}
        for task_id in sorted(task_ids):
            marker = (tasks.get(task_id) or {}).get("external_task_marker")
            if marker:
                self._follow_marker(dag_id, task_id, marker, run, depth)

    def _follow_marker(
        self, dag_id: str, task_id: str, marker: Mapping[str, Any], run: DagRunRow, depth: int
    ) -> None:
        where = f"ExternalTaskMarker {task_id!r} of DAG {dag_id!r}"
        if (dag_id, run.run_id, task_id) in self.seen:  # a marker is followed once (cycles end here)
            return
        self.seen.add((dag_id, run.run_id, task_id))
        if depth == 0:
            self.max_depth = int(marker["recursion_depth"])
        assert self.max_depth is not None
        if depth + 1 > self.max_depth:
            raise DagflowError(
                f"Maximum recursion depth {self.max_depth} reached for {where}. Attempted to clear too "
                "many tasks or there may be a cyclic dependency."
            )
        try:
            ext_dag = _render(str(marker["external_dag_id"]), run)
            ext_task = _render(str(marker["external_task_id"]), run)
            date = _target_date(_render(str(marker["logical_date"]), run), where)
        except jinja2.TemplateError as exc:
            raise DagflowError(f"{where}: cannot render its target: {exc}") from None
        ext_run = run_store.run_with_logical_date(self.session, ext_dag, date)
        serialized = _serialized(self.session, ext_dag)
        if ext_run is None or serialized is None:
            return
        spec_tasks = StoredDag.from_json(serialized).spec.tasks
        if ext_task not in spec_tasks:
            return
        ids = _downstream(spec_tasks, ext_task)
        self.plan.append(DependentClear(ext_dag, ext_run.run_id, ids))
        self.follow(ext_dag, ext_run, ids, depth + 1)


def dependent_clears(
    session: Session, dag_id: str, run: DagRunRow, task_ids: Iterable[str]
) -> list[DependentClear]:
    """The runs of other DAGs, and their task ids, that clearing ``task_ids`` in ``run`` reaches."""
    planner = _Planner(session)
    planner.follow(dag_id, run, task_ids, 0)
    return planner.plan
