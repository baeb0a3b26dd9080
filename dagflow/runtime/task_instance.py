"""The ``ti`` a running task sees: its identity, its try number, XCom push/pull, and what it may
read about DAG runs (for sensors)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from itertools import product
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from dagflow.exceptions import DagflowError
from dagflow.models.param import NOTSET
from dagflow.runtime.xcom import RETURN_KEY, RunRef, XComStore

if TYPE_CHECKING:
    from dagflow.context import DagRunInfo
    from dagflow.models.node import TaskNode
    from dagflow.runtime.dag_trigger import DagTrigger
    from dagflow.runtime.run_reader import DagOutline, RunStateReader, TaskStates


class RuntimeTaskInstance:
    """One task instance while one of its tries runs."""

    def __init__(
        self,
        *,
        task: TaskNode,
        dag_run: DagRunInfo,
        map_index: int,
        try_number: int,
        max_tries: int,
        xcom_store: XComStore,
        start_date: datetime,
        hostname: str = "",
        first_try_start: datetime | None = None,
        run_states: RunStateReader | None = None,
        dag_trigger: DagTrigger | None = None,
    ):
        self.task = task
        self.dag_run = dag_run
        self.dag_id = dag_run.dag_id
        self.run_id = dag_run.run_id
        self.task_id = task.task_id
        self.map_index = map_index
        self.try_number = try_number
        self.max_tries = max_tries
        self.xcom_store = xcom_store
        self.run_ref = RunRef(dag_run.dag_id, dag_run.run_id)
        self.start_date = start_date
        self.end_date: datetime | None = None
        self.hostname = hostname
        self.state = "running"
        #: When this try first started, if it was rescheduled since (a sensor in reschedule mode).
        self.first_try_start = first_try_start
        self.run_states = run_states
        self.dag_trigger = dag_trigger

    def __repr__(self) -> str:
        index = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"<TaskInstance: {self.dag_id}.{self.task_id}{index} {self.run_id} try {self.try_number}>"

    @property
    def logical_date(self) -> datetime | None:
        return self.dag_run.logical_date

    @property
    def log_url(self) -> str:
        """The web UI page of this try's log (``[webserver] base_url``, else localhost at its port),
        as failure alerts link it."""
        from dagflow.config import Settings

        settings = Settings.load()
        base = (
            settings.get("webserver", "base_url") or f"http://localhost:{settings.get('webserver', 'port')}"
        )
        query = urlencode({"run_id": self.run_id, "map_index": self.map_index, "try": self.try_number})
        dag_id, task_id = quote(self.dag_id, safe=""), quote(self.task_id, safe="")
        return f"{base.rstrip('/')}/dags/{dag_id}/tasks/{task_id}/logs?{query}"

    @property
    def mark_success_url(self) -> str:
        """Airflow 3's is the log page too: the task instance can be marked from there."""
        return self.log_url

    def get_dagrun(self) -> DagRunInfo:
        return self.dag_run

    def get_first_reschedule_date(self, context: object = None) -> datetime | None:
        """When this try's first poke started, or None if the try has not been rescheduled yet."""
        return self.first_try_start

    # -- reading DAG runs (see dagflow.runtime.run_reader) ------------------------------------------------

    def _reader(self) -> RunStateReader:
        if self.run_states is None:
            raise DagflowError(f"{self!r} cannot read the state of DAG runs where it runs now")
        return self.run_states

    def triggerer(self) -> DagTrigger:
        """What creates and reads other DAGs' runs where this task runs (see dagflow.runtime.dag_trigger)."""
        if self.dag_trigger is None:
            raise DagflowError(f"{self!r} cannot trigger DAG runs where it runs now")
        return self.dag_trigger

    def dag_outline(self, dag_id: str) -> DagOutline | None:
        """The tasks and task groups of DAG ``dag_id``, or None if that DAG is not known."""
        return self._reader().outline(dag_id)

    def dag_run_state(self, dag_id: str, logical_date: datetime) -> str | None:
        """The state of DAG ``dag_id``'s run at ``logical_date``, or None if it has no such run."""
        return self._reader().dag_run_state(dag_id, logical_date)

    def task_states(
        self, dag_id: str, logical_date: datetime, task_ids: Collection[str] | None = None
    ) -> TaskStates | None:
        """Task id -> the states of its task instances in DAG ``dag_id``'s run at ``logical_date``
        (only ``task_ids`` when given); None if it has no such run."""
        return self._reader().task_states(dag_id, logical_date, task_ids)

    def xcom_push(self, key: str, value: Any) -> None:
        """Make ``value`` (JSON-serialisable) available to other tasks under ``key``."""
        self.xcom_store.push(self.run_ref, self.task_id, self.map_index, key, value)

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        dag_id: str | None = None,
        key: str = RETURN_KEY,
        include_prior_dates: bool = False,
        *,
        map_indexes: int | Iterable[int] | None = NOTSET,
        default: Any = None,
        run_id: str | None = None,
    ) -> Any:
        """Pull XComs as Airflow does.

        One task id and no ``map_indexes``: that task's value (a list for a mapped task, None when
        nothing was pushed). A list of task ids: a list with one entry per value found (None for a
        task that pushed nothing). With ``map_indexes``: one entry per (task, index), ``default``
        where nothing was pushed.
        """
        run = RunRef(dag_id or self.dag_id, run_id or self.run_id)
        single_task = task_ids is None or isinstance(task_ids, str)
        ids = (
            [self.task_id]
            if task_ids is None
            else [task_ids]
            if isinstance(task_ids, str)
            else list(task_ids)
        )
        if map_indexes is NOTSET:
            values: list[Any] = []
            for task_id in ids:
                found = self.xcom_store.get_all(run, task_id, key)
                values.extend(found if found else [None])
            return values[0] if single_task and len(values) == 1 else values
        single_index = map_indexes is None or isinstance(map_indexes, int)
        indexes: list[int] = (
            [-1 if map_indexes is None else map_indexes]  # type: ignore[list-item]
            if single_index
            else list(map_indexes)  # type: ignore[arg-type]
        )
        pulled = []
        for task_id, index in product(ids, indexes):
            ok, value = self.xcom_store.get(run, task_id, index, key)
            pulled.append(value if ok and value is not None else default)
        return pulled[0] if single_task and single_index else pulled
