"""Rendering a task's template fields without running it (``dagflow tasks render``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagflow.context import DagRunInfo, current_context
from dagflow.core.clock import utcnow
from dagflow.runtime.task_instance import RuntimeTaskInstance
from dagflow.runtime.taskrunner import _context_for
from dagflow.runtime.xcom import MemoryXComStore
from dagflow.templating import render_template_fields, template_env

if TYPE_CHECKING:
    from dagflow.models.dag import DAG


def render_task(dag: DAG, task_id: str, dag_run: DagRunInfo, map_index: int = -1) -> dict[str, Any]:
    """The rendered value of each template field of ``task_id`` in ``dag_run``, as a try would see it.

    Nothing is recorded; XCom pulls see no values (as ``tasks render`` in Airflow without a run).
    """
    task = dag.get_task(task_id)
    ti = RuntimeTaskInstance(
        task=task,
        dag_run=dag_run,
        map_index=map_index,
        try_number=1,
        max_tries=0,
        xcom_store=MemoryXComStore(),
        start_date=utcnow(),
    )
    context = _context_for(dag, task, ti, dag_run)
    resolved_ids: set[int] = set()
    with current_context(context):
        if task.is_mapped:
            operator = task.unmap(context, max(map_index, 0), resolved_ids)  # type: ignore[attr-defined]
        else:
            operator = task.prepare_for_execution()  # type: ignore[attr-defined]
        context["task"] = ti.task = operator
        return render_template_fields(operator, context, template_env(dag), resolved_ids)
