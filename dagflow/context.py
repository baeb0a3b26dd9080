"""The template context: what templates and task callables can ask for (``ds``, ``ti``, ``params``...)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dagflow.macros import MACROS
from dagflow.models.variable import template_accessors

if TYPE_CHECKING:
    from dagflow.models.dag import DAG
    from dagflow.models.node import TaskNode
    from dagflow.runtime.task_instance import RuntimeTaskInstance

Context = dict[str, Any]

_current: ContextVar[tuple[Context, ...]] = ContextVar("dagflow_current_context", default=())


@dataclass(frozen=True)
class DagRunInfo:
    """The DAG run a task instance belongs to, as templates and callables see it (``dag_run``).

    The ``prev_*_success`` dates are those of the DAG's latest successful run before this one (by
    logical date), as Airflow's context has them; None when there is none (or none is known, as in
    ``dag.test()``, which runs one run alone).
    """

    dag_id: str
    run_id: str
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_type: str = "manual"
    conf: dict[str, Any] = field(default_factory=dict)
    start_date: datetime | None = None
    run_after: datetime | None = None
    prev_data_interval_start_success: datetime | None = None
    prev_data_interval_end_success: datetime | None = None
    prev_start_date_success: datetime | None = None
    prev_end_date_success: datetime | None = None
    #: The run's state when it was read: ``running`` while its tasks run, its end state in the DAG's
    #: success and failure callbacks (Airflow's ``dag_run.state``).
    state: str = "running"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "run_type": self.run_type,
            "conf": self.conf,
            "state": self.state,
        }
        for name in RUN_DATES:
            value = getattr(self, name)
            data[name] = value.isoformat() if value else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DagRunInfo:
        dates = {name: datetime.fromisoformat(data[name]) if data.get(name) else None for name in RUN_DATES}
        return cls(
            dag_id=data["dag_id"],
            run_id=data["run_id"],
            run_type=data.get("run_type", "manual"),
            conf=dict(data.get("conf") or {}),
            state=data.get("state", "running"),
            **dates,
        )


#: The dates of a DagRunInfo: pendulum DateTimes in the context.
RUN_DATES = (
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "start_date",
    "run_after",
    "prev_data_interval_start_success",
    "prev_data_interval_end_success",
    "prev_start_date_success",
    "prev_end_date_success",
)
PREV_SUCCESS_DATES = RUN_DATES[5:]


def as_pendulum(value: datetime | None) -> Any:
    """``value`` as a pendulum DateTime in its own time zone (None stays None), as Airflow hands
    dates to tasks and templates: ``logical_date.add(days=1)``, ``.format("YYYY")`` work on it."""
    if value is None:
        return None
    import pendulum  # here, not at module level: parsing DAG files does not need it

    return value if isinstance(value, pendulum.DateTime) else pendulum.instance(value)


def with_pendulum_dates(dag_run: DagRunInfo) -> DagRunInfo:
    """``dag_run`` with its dates as pendulum DateTimes (what tasks and callbacks see); ``dag_run``
    itself if they are already (a worker converts a run's once, not for every try of its tasks)."""
    import pendulum

    dates = {name: getattr(dag_run, name) for name in RUN_DATES}
    if all(value is None or isinstance(value, pendulum.DateTime) for value in dates.values()):
        return dag_run
    return replace(dag_run, **{name: as_pendulum(value) for name, value in dates.items()})


def build_context(
    *, dag: DAG, task: TaskNode, ti: RuntimeTaskInstance, dag_run: DagRunInfo, params: dict[str, Any]
) -> Context:
    """The context of one task instance's try. Its dates (``logical_date``, ``data_interval_*``,
    those of ``dag_run``) are pendulum DateTimes; the ``ds``/``ts`` family are strings."""
    dag_run = with_pendulum_dates(dag_run)
    context: Context = {
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "run_id": dag_run.run_id,
        "dag_run": dag_run,
        "params": params,
        "macros": _macros(),
        "inlets": getattr(task, "inlets", []),
        "outlets": getattr(task, "outlets", []),
        "map_index_template": getattr(task, "map_index_template", None),
        "task_instance_key_str": f"{dag.dag_id}__{task.task_id}__{dag_run.run_id}",
        **{name: getattr(dag_run, name) for name in PREV_SUCCESS_DATES},
        **template_accessors(),
    }
    logical_date = dag_run.logical_date
    if logical_date is not None:
        ds = logical_date.strftime("%Y-%m-%d")
        ts = logical_date.isoformat()
        context.update(
            logical_date=logical_date,
            ds=ds,
            ds_nodash=ds.replace("-", ""),
            ts=ts,
            ts_nodash=logical_date.strftime("%Y%m%dT%H%M%S"),
            ts_nodash_with_tz=ts.replace("-", "").replace(":", ""),
            task_instance_key_str=f"{dag.dag_id}__{task.task_id}__{ds.replace('-', '')}",
            data_interval_start=dag_run.data_interval_start,
            data_interval_end=dag_run.data_interval_end,
        )
    return context


def get_current_context() -> Context:
    """The context of the task running right now; only callable from inside a running task."""
    stack = _current.get()
    if not stack:
        raise RuntimeError(
            "get_current_context() was called outside a running task: call it from inside a task's "
            "callable (a @task function or a PythonOperator's python_callable)"
        )
    return stack[-1]


@contextmanager
def current_context(context: Context) -> Iterator[None]:
    token = _current.set((*_current.get(), context))
    try:
        yield
    finally:
        _current.reset(token)


class _PluginMacros:
    """``macros`` with each plugin's macros under its name: ``{{ macros.<plugin>.<function>(...) }}``."""

    def __init__(self, base: Any, plugins: dict[str, Any]):
        self._base = base
        self._plugins = plugins

    def __getattr__(self, name: str) -> Any:
        if name in self._plugins:
            return self._plugins[name]
        return getattr(self._base, name)


def _macros() -> Any:
    from dagflow.plugins.manager import TRY_MAX_AGE, current_plugins

    plugins = current_plugins(max_age=TRY_MAX_AGE).macros
    return _PluginMacros(MACROS, plugins) if plugins else MACROS
