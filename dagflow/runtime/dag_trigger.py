"""What a running task may do to other DAGs' runs: trigger one, reset it, read its state.

:class:`~dagflow.operators.trigger_dagrun.TriggerDagRunOperator` asks through ``ti``. Under the
scheduler the worker answers from the metadata store (:class:`dagflow.executors.dag_trigger.DbDagTrigger`):
the new run is queued there and the scheduler is woken to start it. ``dag.test()`` has no store, so
:class:`InProcessDagTrigger`, shipped here, records the runs it is asked for, as Airflow's ``dag.test``
leaves them queued; a run the task waits for (``wait_for_completion``) is run in this process too,
with the DAG found in the DAG files next to the tested one, since nothing else would ever run it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dagflow.core.states import RunState
from dagflow.exceptions import DagflowError, DagNotFound

if TYPE_CHECKING:
    from dagflow.models.dag import DAG
    from dagflow.runtime.inprocess import RunResult


class DagRunAlreadyExists(DagflowError):
    """The DAG already has a run with that run id or logical date."""


@dataclass(frozen=True)
class TriggerRequest:
    """A run to create: DAG, run id, logical date and conf, and who asks (``dag_id.task_id``)."""

    dag_id: str
    run_id: str
    logical_date: datetime
    conf: dict[str, Any] = field(default_factory=dict)
    triggered_by: str = ""


class DagTrigger(Protocol):
    """Creates, resets and reads DAG runs on behalf of a running task."""

    def is_paused(self, dag_id: str) -> bool:
        """Whether the DAG is paused (DagNotFound if it is unknown)."""

    def trigger(self, request: TriggerRequest) -> str:
        """Create the run and return its run id; DagRunAlreadyExists if the id or date is taken."""

    def reset(self, dag_id: str, run_id: str, logical_date: datetime) -> str:
        """Clear every task instance of the existing run (by id, else by logical date) so it runs
        again; return its run id."""

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        """The run's state, or None if there is no such run."""


@dataclass
class TriggeredRun:
    """A run triggered during ``dag.test()``: its request, state, and result when it was run here."""

    request: TriggerRequest
    state: str = RunState.QUEUED.value
    result: RunResult | None = None


class InProcessDagTrigger:
    """The DagTrigger of ``dag.test()`` (see the module docstring)."""

    def __init__(self, dag: DAG, run_dag: Callable[..., RunResult]):
        self.dag = dag
        self.run_dag = run_dag
        self.runs: list[TriggeredRun] = []
        self._dags: dict[str, DAG] = {dag.dag_id: dag}

    def is_paused(self, dag_id: str) -> bool:
        return False

    def trigger(self, request: TriggerRequest) -> str:
        for run in self.runs:
            same = run.request.dag_id == request.dag_id and (
                run.request.run_id == request.run_id or run.request.logical_date == request.logical_date
            )
            if same:
                raise DagRunAlreadyExists(
                    f"DAG {request.dag_id!r} already has a run {run.request.run_id!r} "
                    f"(logical date {run.request.logical_date.isoformat()})"
                )
        self.runs.append(TriggeredRun(request))
        return request.run_id

    def reset(self, dag_id: str, run_id: str, logical_date: datetime) -> str:
        for run in self.runs:
            if run.request.dag_id == dag_id and (
                run.request.run_id == run_id or run.request.logical_date == logical_date
            ):
                run.state, run.result = RunState.QUEUED.value, None
                return run.request.run_id
        raise DagflowError(f"DAG {dag_id!r} has no run {run_id!r} to reset")

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        """A queued run is run here, now: someone waits for it and no scheduler will start it."""
        for run in self.runs:
            if run.request.dag_id == dag_id and run.request.run_id == run_id:
                if run.state == RunState.QUEUED.value:
                    self._run(run)
                return run.state
        return None

    def _run(self, run: TriggeredRun) -> None:
        request = run.request
        dag = self.dag_by_id(request.dag_id)
        run.result = self.run_dag(
            dag, logical_date=request.logical_date, conf=request.conf, run_id=request.run_id
        )
        run.state = run.result.state.value

    def dag_by_id(self, dag_id: str) -> DAG:
        """The DAG from the folder of the tested DAG's file, else from the configured DAGs folder."""
        found = self._dags.get(dag_id)
        if found is not None:
            return found
        from dagflow.config import Settings
        from dagflow.dagbag import DagBag

        folders = [Path(self.dag.fileloc).parent, Settings.load().dags_folder]
        for folder in dict.fromkeys(folders):
            if folder.is_dir():
                bag = DagBag(folder)
                if dag_id in bag.dags:
                    self._dags[dag_id] = bag.dags[dag_id]
                    return bag.dags[dag_id]
        raise DagNotFound(
            f"DAG {dag_id!r} (triggered and waited for) is not in "
            f"{' or '.join(map(str, dict.fromkeys(folders)))}"
        )
