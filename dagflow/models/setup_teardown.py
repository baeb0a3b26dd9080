"""Setup and teardown tasks as context managers, as in Airflow::

    with create_cluster >> delete_cluster:      # or: with delete_cluster(create_cluster()):
        run_query()                             #     or: with create_cluster:

The work tasks created inside the block are put in the setup's scope: those with no upstream become
downstream of the setup(s), those with no downstream become upstream of the teardown(s). A block on
a teardown finds its setups among the teardown's relatives (and a block on a setup its teardowns);
nested blocks chain the outer setups before the inner ones and the inner teardowns before the outer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dagflow.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from dagflow.models.node import TaskNode


@dataclass
class _Block:
    setups: list[TaskNode]
    teardowns: list[TaskNode]
    created: list[TaskNode] = field(default_factory=list)


_blocks: list[_Block] = []


def note_new_task(task: TaskNode) -> None:
    """Called for every task added to a DAG: one created inside a block belongs to the innermost."""
    if _blocks:
        _blocks[-1].created.append(task)


def _nearest(task: TaskNode, wanted: str) -> list[TaskNode]:
    """The nearest tasks marked ``wanted`` (``is_setup``/``is_teardown``) among ``task``'s relatives,
    looking upstream first for setups and downstream first for teardowns, then further out."""
    dag = task.dag
    if dag is None:
        return []
    first = task.upstream_task_ids if wanted == "is_setup" else task.downstream_task_ids
    layer, seen = set(first), {task.task_id}
    while layer:
        found = [dag.task_dict[t] for t in sorted(layer) if getattr(dag.task_dict[t], wanted)]
        if found:
            return found
        seen |= layer
        layer = {
            n
            for t in layer
            for n in dag.task_dict[t].upstream_task_ids | dag.task_dict[t].downstream_task_ids
        } - seen
    return []


def enter_context(task: TaskNode) -> None:
    """Open a block on setup or teardown ``task``."""
    if task.is_setup:
        _blocks.append(_Block(setups=[task], teardowns=_nearest(task, "is_teardown")))
    elif task.is_teardown:
        _blocks.append(_Block(setups=_nearest(task, "is_setup"), teardowns=[task]))
    else:
        raise DagDefinitionError(
            f"task {task.task_id!r}: only setup and teardown tasks can be used in a 'with' statement"
        )


def exit_context(task: TaskNode, *, failed: bool = False) -> None:
    """Close the innermost block: put the work created in it inside its setups' scope."""
    block = _blocks.pop()
    if failed:
        return
    work = [t for t in block.created if not t.is_setup and not t.is_teardown]
    if work:
        roots = [t for t in work if not t.upstream_task_ids] or work[:1]
        leaves = [t for t in work if not t.downstream_task_ids] or work[-1:]
        for setup in block.setups:
            setup.set_downstream(roots)
        for teardown in block.teardowns:
            teardown.set_upstream(leaves)
    if _blocks:
        outer = _blocks[-1]
        outer.created.extend(block.created)
        for setup in outer.setups:
            if setup not in block.setups:
                setup.set_downstream(block.setups)
        for teardown in outer.teardowns:
            if teardown not in block.teardowns:
                teardown.set_upstream(block.teardowns)
