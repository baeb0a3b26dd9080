"""``depends_on_past``: whether a task instance must wait for its counterpart in the previous run.

A pure function over the previous run's task instance states, used by the scheduler to hold ready
task instances back and by :mod:`dagflow.core.waiting` to say why.
"""

from __future__ import annotations

from collections.abc import Mapping

from dagflow.core.spec import TaskSpec
from dagflow.core.states import TaskState

#: The states of the previous run's task instance that let this one go.
DONE_OK = (TaskState.SUCCESS.value, TaskState.SKIPPED.value)


def held_by_past(task: TaskSpec, map_index: int, previous: Mapping[tuple[str, int], str] | None) -> str:
    """Why ``depends_on_past`` holds the task instance back, or "" when it does not.

    ``previous``: the previous run's (by logical date) task instance states, None when there is no
    previous run. The first run, and a task instance that did not exist in the previous run, are not
    held; with ``wait_for_downstream`` the previous run's downstream tasks must have finished well too.
    """
    if not task.depends_on_past or previous is None:
        return ""
    past = previous.get((task.task_id, map_index))
    if past is not None and past not in DONE_OK:
        return f"its task instance in the previous run is {past}, not success or skipped"
    if task.wait_for_downstream:
        waiting = sorted({t for (t, _m), s in previous.items() if t in task.downstream and s not in DONE_OK})
        if waiting:
            return "wait_for_downstream: in the previous run " + ", ".join(waiting) + " did not succeed"
    return ""
