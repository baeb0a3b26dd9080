"""A DAG as JSON: what the DAG processor stores so that nothing else ever imports DAG files.

The scheduler reads the :class:`~dagflow.core.spec.DagSpec` and the scheduling fields; the web UI reads
the rest (task groups, docs, params, template fields).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dagflow.core.schedule import Restriction, Timetable, deserialize_timetable, encode_timetable
from dagflow.core.spec import DagSpec
from dagflow.models.param import ParamsDict
from dagflow.models.taskgroup import TaskGroup

if TYPE_CHECKING:
    from dagflow.models.dag import DAG
    from dagflow.models.node import TaskNode

FORMAT_VERSION = 1


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _task_extras(task: TaskNode) -> dict[str, Any]:
    attrs: Any = task
    return {
        "operator": attrs.operator_name,
        "label": task.label,
        "ui_color": getattr(attrs, "operator_class", attrs).ui_color,
        "doc_md": getattr(attrs, "doc_md", None),
        "owner": getattr(attrs, "owner", None),
        "template_fields": list(attrs.template_fields),
        "template_fields_renderers": dict(getattr(attrs, "template_fields_renderers", {}) or {}),
        "is_mapped": task.is_mapped,
        # What an operator needs kept beyond the spec (an ExternalTaskMarker's target).
        **(attrs.serialized_extras() if hasattr(attrs, "serialized_extras") else {}),
    }


def _group_tree(group: TaskGroup) -> dict[str, Any]:
    children = []
    for child in group.children.values():
        if isinstance(child, TaskGroup):
            children.append(_group_tree(child))
        else:
            children.append({"task_id": child.task_id})
    return {
        "group_id": group.group_id,
        "label": group.label,
        "tooltip": group.tooltip,
        "ui_color": group.ui_color,
        "is_mapped": group.is_expanded,
        "children": children,
    }


def serialize_dag(dag: DAG) -> dict[str, Any]:
    """Everything the scheduler and the UI need to know about ``dag``, as JSON-ready data."""
    owners = sorted({str(getattr(t, "owner", "")) for t in dag.task_dict.values()} - {""})
    return {
        "version": FORMAT_VERSION,
        "spec": dag.spec().to_json(),
        "dag": {
            "dag_id": dag.dag_id,
            "fileloc": dag.fileloc,
            "description": dag.description,
            "doc_md": dag.doc_md,
            "tags": list(dag.tags),
            "owners": owners,
            "timezone": getattr(dag.timezone, "key", None) or str(dag.timezone),
            "start_date": _iso(dag.start_date),
            "end_date": _iso(dag.end_date),
            "catchup": dag.catchup,
            "timetable": encode_timetable(dag.timetable),
            "max_active_runs": dag.max_active_runs,
            "max_active_tasks": dag.max_active_tasks,
            "params": dag.params.dump(),
            "is_paused_upon_creation": dag.is_paused_upon_creation,
            "has_on_success_callback": bool(dag.on_success_callback),
            "has_on_failure_callback": bool(dag.on_failure_callback),
            "dagrun_timeout": dag.dagrun_timeout.total_seconds() if dag.dagrun_timeout else None,
        },
        "tasks": {task_id: _task_extras(task) for task_id, task in dag.task_dict.items()},
        "task_group": _group_tree(dag.task_group),
        "edge_info": {up: dict(downs) for up, downs in dag.edge_info.items() if downs},
    }


def _timetable(data: dict[str, Any]) -> Timetable:
    """A stored timetable; a custom one is built by the class a plugin registered."""
    if not data.get("custom"):
        return deserialize_timetable(data)
    from dagflow.core.schedule import UnavailableTimetable
    from dagflow.exceptions import ScheduleError
    from dagflow.plugins.manager import current_plugins

    try:
        return deserialize_timetable(data, current_plugins().timetables)
    except ScheduleError as exc:  # the scheduler and the UI carry on; the DAG processor reports it
        return UnavailableTimetable(f"{data.get('summary')} (unavailable)", str(exc))


def fingerprint(serialized: dict[str, Any]) -> str:
    """A hash that changes whenever anything in the serialized DAG changes."""
    text = json.dumps(serialized, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class StoredDag:
    """A serialized DAG read back: what the scheduler works from."""

    dag_id: str
    fileloc: str
    spec: DagSpec
    timetable: Timetable
    restriction: Restriction
    max_active_runs: int
    max_active_tasks: int
    params: ParamsDict
    has_on_success_callback: bool
    has_on_failure_callback: bool
    dagrun_timeout: timedelta | None
    #: The stored DAG version this was read from (None: not read from a version).
    version_id: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredDag:
        info = data["dag"]

        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        params = ParamsDict()
        from dagflow.models.param import Param

        for name, dumped in (info.get("params") or {}).items():
            params[name] = Param.load(dumped)
        timeout = info.get("dagrun_timeout")
        return cls(
            dag_id=info["dag_id"],
            fileloc=info["fileloc"],
            spec=DagSpec.from_json(data["spec"]),
            timetable=_timetable(info["timetable"]),
            restriction=Restriction(
                when(info.get("start_date")), when(info.get("end_date")), bool(info.get("catchup"))
            ),
            max_active_runs=info.get("max_active_runs", 16),
            max_active_tasks=info.get("max_active_tasks", 16),
            params=params,
            has_on_success_callback=bool(info.get("has_on_success_callback")),
            has_on_failure_callback=bool(info.get("has_on_failure_callback")),
            dagrun_timeout=timedelta(seconds=timeout) if timeout else None,
        )
