"""Branching: follow some direct downstream tasks and skip the others."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from dagflow.exceptions import DagflowError, DownstreamTasksSkipped
from dagflow.models.baseoperator import BaseOperator
from dagflow.models.mappedtaskgroup import closest_mapped_group

if TYPE_CHECKING:
    from dagflow.context import Context
    from dagflow.models.node import TaskNode

SKIPMIXIN_KEY = "skipmixin_key"


def _as_id_set(choice: Any, where: str) -> set[str]:
    if choice is None:
        return set()
    if isinstance(choice, str):
        return {choice}
    if isinstance(choice, Iterable):
        ids = set(choice)
        bad = [c for c in ids if not isinstance(c, str)]
        if bad:
            raise DagflowError(f"{where}: a branch must return task ids (str), got {bad!r}")
        return ids
    raise DagflowError(f"{where}: a branch must return a task id, a list of task ids or None, got {choice!r}")


def _resolve_branch_id(task: TaskNode, branch_id: str) -> str:
    """A DAG-wide task or group id wins; otherwise an id relative to the branching task's group."""
    dag = task.dag
    assert dag is not None
    if branch_id in dag.task_dict or branch_id in dag.task_group_dict:
        return branch_id
    prefix = task.task_group.prefix if task.task_group is not None else ""
    candidate = f"{prefix}{branch_id}"
    if prefix and (candidate in dag.task_dict or candidate in dag.task_group_dict):
        return candidate
    return branch_id


def expand_task_groups(task: TaskNode, ids: set[str]) -> set[str]:
    """Task group ids stand for the group's root tasks; task and group ids relative to the task's
    group are resolved first, as Airflow's branching does."""
    dag = task.dag
    assert dag is not None
    expanded: set[str] = set()
    for branch_id in (_resolve_branch_id(task, branch) for branch in ids):
        group = dag.task_group_dict.get(branch_id)
        if group is not None:
            expanded.update(t.task_id for t in group.roots)
        else:
            expanded.add(branch_id)
    return expanded


def raise_skips(task: TaskNode, context: Context, to_skip: list[str], result: Any) -> None:
    """Skip ``to_skip`` (direct downstream tasks of ``task``) by raising DownstreamTasksSkipped.

    A task instance with a map index decides for that index only: inside an expanded task group,
    the tasks of the same group at the same index are skipped (Airflow's NotPreviouslySkippedDep
    reads the decision at the downstream's own index); other tasks are left to their trigger rules.
    """
    map_index = context["ti"].map_index
    if map_index < 0:
        if to_skip:
            raise DownstreamTasksSkipped(to_skip)
        return
    dag = task.dag
    assert dag is not None
    group = closest_mapped_group(task)
    in_group = [t for t in to_skip if group is not None and closest_mapped_group(dag.task_dict[t]) is group]
    if in_group:
        raise DownstreamTasksSkipped(in_group, map_index=map_index, result=result)


def skip_all_except(task: TaskNode, context: Context, choice: Any) -> None:
    """Skip the direct downstream tasks of ``task`` that are not chosen and not downstream of a chosen one.

    Raises DownstreamTasksSkipped (the try then succeeds without pushing its return value) when
    there is something to skip.
    """
    where = f"task {task.task_id!r}"
    dag = task.dag
    assert dag is not None
    followed = expand_task_groups(task, _as_id_set(choice, where))
    unknown = followed - set(dag.task_dict)
    if unknown:
        raise DagflowError(f"{where}: the branch returned unknown task id(s) {sorted(unknown)}")
    downstream = sorted(task.downstream_task_ids)
    if not downstream:
        return
    for branch_id in list(followed):
        followed |= dag.relative_ids(branch_id, upstream=False)
    to_skip = [t for t in downstream if t not in followed]
    context["ti"].xcom_push(SKIPMIXIN_KEY, {"followed": [t for t in downstream if t in followed]})
    raise_skips(task, context, to_skip, choice)


class BaseBranchOperator(BaseOperator):
    """Subclass and implement :meth:`choose_branch` to return the task id(s) to follow."""

    def choose_branch(self, context: Context) -> str | Iterable[str] | None:
        raise NotImplementedError(f"{type(self).__name__} does not implement choose_branch()")

    def execute(self, context: Context) -> Any:
        choice = self.choose_branch(context)
        skip_all_except(self, context, choice)
        return choice
