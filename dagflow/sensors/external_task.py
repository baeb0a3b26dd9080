"""ExternalTaskSensor: waits for another DAG's run, or some of its tasks, at a logical date;
ExternalTaskMarker: clearing it clears a task of another DAG.

It reads states through ``ti`` (see :mod:`dagflow.runtime.run_reader`): from the metadata store under the
scheduler. In ``dag.test()`` only the run under test is known, so a sensor waiting for another DAG
waits until its timeout there (and ``check_existence=True`` fails at once).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dagflow.core.states import RunState, TaskState
from dagflow.exceptions import (
    DagDefinitionError,
    DagflowError,
    DagNotFound,
    ExternalTaskFailed,
    SkipTask,
    TaskNotFound,
)
from dagflow.models.dag import as_aware
from dagflow.operators.empty import EmptyOperator
from dagflow.operators.python import callable_kwargs
from dagflow.sensors.base import BaseSensorOperator

if TYPE_CHECKING:
    from dagflow.context import Context
    from dagflow.runtime.task_instance import RuntimeTaskInstance

TASK_STATES = frozenset(s.value for s in TaskState)
RUN_STATES = frozenset(s.value for s in RunState)


@dataclass(frozen=True)
class Observed:
    """What one poke saw at one logical date: the watched states, and whether all were there."""

    states: tuple[str, ...]
    complete: bool


def _state_values(states: Iterable[str] | None, default: list[str]) -> list[str]:
    return [str(getattr(s, "value", s)) for s in states] if states else list(default)


class ExternalTaskSensor(BaseSensorOperator):
    """Waits for DAG ``external_dag_id``'s run at the same logical date (or at one chosen with
    ``execution_delta`` or ``execution_date_fn``) to reach one of ``allowed_states``.

    What is watched: the tasks ``external_task_id`` / ``external_task_ids``, every task of the task
    group ``external_task_group_id``, or, with none of these, the DAG run itself. The sensor is done
    when, at every logical date looked at, every watched task instance (or the run) is in
    ``allowed_states`` (default ``["success"]``). It fails at once (or skips with ``soft_fail``) as
    soon as one is in ``failed_states``, and skips as soon as one is in ``skipped_states``; by
    default neither list is set, so a failed external task just keeps the sensor waiting until its
    timeout (time enough to clear and rerun it), as in Airflow.

    ``execution_delta``: look at the run that far *before* this one's logical date.
    ``execution_date_fn``: called with this run's logical date (and the context names it declares)
    and returns the logical date, or a list of them, to look at. ``check_existence``: fail at the
    first poke when the DAG, the tasks or the task group do not exist.
    """

    template_fields = (
        "external_dag_id",
        "external_task_id",
        "external_task_ids",
        "external_task_group_id",
    )
    ui_color = "#4db7db"

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str | None = None,
        external_task_ids: Collection[str] | None = None,
        external_task_group_id: str | None = None,
        allowed_states: Iterable[str] | None = None,
        skipped_states: Iterable[str] | None = None,
        failed_states: Iterable[str] | None = None,
        execution_delta: timedelta | None = None,
        execution_date_fn: Callable[..., Any] | None = None,
        check_existence: bool = False,
        poll_interval: float = 2.0,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # Airflow's trigger-based wait (deferrable, polled every poll_interval): here the mode says how.
        self.poll_interval, self.deferrable = poll_interval, deferrable
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        self.external_task_ids = list(external_task_ids) if external_task_ids else None
        self.external_task_group_id = external_task_group_id
        self.allowed_states = _state_values(allowed_states, [TaskState.SUCCESS.value])
        self.skipped_states = _state_values(skipped_states, [])
        self.failed_states = _state_values(failed_states, [])
        self.execution_delta = execution_delta
        self.execution_date_fn = execution_date_fn
        self.check_existence = check_existence
        self._check_arguments()

    def _check_arguments(self) -> None:
        where = self._where()
        targets = [self.external_task_id, self.external_task_ids, self.external_task_group_id]
        if sum(t is not None for t in targets) > 1:
            raise DagDefinitionError(
                f"{where}: give only one of external_task_id, external_task_ids and external_task_group_id"
            )
        if self.execution_delta is not None and self.execution_date_fn is not None:
            raise DagDefinitionError(f"{where}: give execution_delta or execution_date_fn, not both")
        every = [*self.allowed_states, *self.skipped_states, *self.failed_states]
        if len(set(every)) != len(every):
            raise DagDefinitionError(
                f"{where}: a state appears twice across allowed_states, skipped_states and failed_states"
            )
        kind, valid = ("task", TASK_STATES) if self.watches_tasks else ("DAG run", RUN_STATES)
        unknown = sorted(set(every) - valid)
        if unknown:
            raise DagDefinitionError(
                f"{where}: {', '.join(map(repr, unknown))} not {kind} state(s); "
                f"use one of {', '.join(sorted(valid))}"
            )

    @property
    def watches_tasks(self) -> bool:
        """True when watching tasks or a task group, False when watching the whole DAG run."""
        targets = (self.external_task_id, self.external_task_ids, self.external_task_group_id)
        return any(t is not None for t in targets)

    # -- poking ---------------------------------------------------------------------------------------

    def poke(self, context: Context) -> bool:
        ti: RuntimeTaskInstance = context["ti"]
        dates = self.logical_dates(context)
        task_ids = self._watched_task_ids(ti)
        shown = ", ".join(d.isoformat() for d in dates)
        self.log.info("Poking for %s of DAG %r at %s", self._target_label(), self.external_dag_id, shown)
        seen = [self._observe(ti, date, task_ids) for date in dates]
        if any(state in self.failed_states for o in seen for state in o.states):
            self._external_failed()
        if any(state in self.skipped_states for o in seen for state in o.states):
            raise SkipTask(f"{self._target_label()} of DAG {self.external_dag_id!r} reached a skipped_state")
        return all(o.complete and all(s in self.allowed_states for s in o.states) for o in seen)

    def logical_dates(self, context: Context) -> list[datetime]:
        """The logical dates of the external runs to look at."""
        logical_date = context.get("logical_date") or getattr(context.get("dag_run"), "run_after", None)
        if logical_date is None:
            raise DagflowError(f"{self._where()}: the run has neither a logical date nor run_after")
        if self.execution_delta is not None:
            return [logical_date - self.execution_delta]
        if self.execution_date_fn is None:
            return [logical_date]
        names = {k: v for k, v in context.items() if k != "logical_date"}
        names["context"] = context
        found = self.execution_date_fn(logical_date, **callable_kwargs(self.execution_date_fn, [1], names))
        dates = found if isinstance(found, (list, tuple)) else [found]
        return [as_aware(d) for d in dates]  # type: ignore[misc]

    def _target_label(self) -> str:
        if self.external_task_group_id is not None:
            return f"task group {self.external_task_group_id!r}"
        if self.watches_tasks:
            return f"task(s) {', '.join(map(repr, self._given_task_ids()))}"
        return "the run"

    def _given_task_ids(self) -> list[str]:
        if self.external_task_id is not None:
            return [self.external_task_id]
        return list(self.external_task_ids or [])

    def _watched_task_ids(self, ti: RuntimeTaskInstance) -> list[str] | None:
        """The task ids to watch (None: the DAG run); checks existence first when asked to."""
        if self.check_existence:
            self._check_exists(ti)
        if self.external_task_group_id is None:
            return self._given_task_ids() if self.watches_tasks else None
        outline = ti.dag_outline(self.external_dag_id)
        group = outline.groups.get(self.external_task_group_id) if outline else None
        return sorted(group or ())

    def _check_exists(self, ti: RuntimeTaskInstance) -> None:
        outline = ti.dag_outline(self.external_dag_id)
        if outline is None:
            raise DagNotFound(f"{self._where()}: the external DAG {self.external_dag_id!r} does not exist")
        missing = ", ".join(repr(t) for t in self._given_task_ids() if t not in outline.task_ids)
        if missing:
            raise TaskNotFound(f"{self._where()}: DAG {self.external_dag_id!r} has no task(s) {missing}")
        group = self.external_task_group_id
        if group is not None and group not in outline.groups:
            raise TaskNotFound(f"{self._where()}: DAG {self.external_dag_id!r} has no task group {group!r}")

    def _observe(self, ti: RuntimeTaskInstance, date: datetime, task_ids: list[str] | None) -> Observed:
        if task_ids is None:
            state = ti.dag_run_state(self.external_dag_id, date)
            return Observed((state,) if state else (), state is not None)
        if not task_ids:  # an unknown or empty task group: nothing to wait for will ever come
            return Observed((), False)
        found = ti.task_states(self.external_dag_id, date, task_ids)
        if found is None:
            return Observed((), False)
        states = tuple(s for task_id in task_ids for s in found.get(task_id, ()))
        return Observed(states, all(found.get(task_id) for task_id in task_ids))

    def _external_failed(self) -> None:
        message = f"{self._target_label()} of DAG {self.external_dag_id!r} reached a failed_state"
        if self.soft_fail:
            raise SkipTask(f"skipping (soft_fail): {message}")
        raise ExternalTaskFailed(message)


#: What an ExternalTaskMarker's ``logical_date`` is unless told otherwise: its own run's logical date.
MARKER_DEFAULT_DATE = "{{ logical_date.isoformat() }}"


class ExternalTaskMarker(EmptyOperator):
    """Marks that task ``external_task_id`` of DAG ``external_dag_id`` depends on this task.

    It does nothing when it runs. Clearing it clears that task (and its downstream tasks) in the run
    of the other DAG at ``logical_date`` (templated; by default this run's logical date), and so on
    through the markers found there, at most ``recursion_depth`` DAGs deep.
    """

    template_fields = ("external_dag_id", "external_task_id", "logical_date")
    ui_color = "#4db7db"

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str,
        logical_date: str | datetime | None = MARKER_DEFAULT_DATE,
        recursion_depth: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        where = f"ExternalTaskMarker(task_id={self.task_id!r})"
        if isinstance(logical_date, datetime):
            self.logical_date: str = logical_date.isoformat()
        elif isinstance(logical_date, str):
            self.logical_date = logical_date
        else:
            raise DagDefinitionError(
                f"{where}: logical_date must be a str or a datetime, got {type(logical_date).__name__}"
            )
        if not isinstance(recursion_depth, int) or recursion_depth <= 0:
            raise DagDefinitionError(f"{where}: recursion_depth should be a positive integer")
        self.recursion_depth = recursion_depth

    def serialized_extras(self) -> dict[str, Any]:
        """What clearing the marker needs to know, kept with the stored DAG (nothing imports DAG
        files to clear)."""
        return {
            "external_task_marker": {
                "external_dag_id": self.external_dag_id,
                "external_task_id": self.external_task_id,
                "logical_date": self.logical_date,
                "recursion_depth": self.recursion_depth,
            }
        }
