"""The grid: runs as columns, tasks (grouped by task group) as rows, each cell a state. Pure functions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: The state a group of task instances shows: the first of these any of them is in.
SEVERITY = (
    "failed",
    "upstream_failed",
    "up_for_retry",
    "up_for_reschedule",
    "queued",
    "scheduled",
    "running",
    "none",
    "success",
    "skipped",
    "removed",
)


def summary_state(states: Iterable[str]) -> str | None:
    """The one state that stands for several (a mapped task, a task group)."""
    present = set(states)
    if not present:
        return None
    for state in SEVERITY:
        if state in present:
            return state
    return sorted(present)[0]


@dataclass
class GridRow:
    """A task or a task group: its label, depth, and one cell (state, count) per run."""

    row_id: str
    label: str
    depth: int
    is_group: bool
    is_mapped: bool = False
    cells: list[tuple[str | None, int]] = field(default_factory=list)


def build_rows(
    tree: dict[str, Any], tasks: dict[str, Any], run_ids: list[str], states: dict[tuple[str, str], list[str]]
) -> list[GridRow]:
    """Rows in task-group order. ``states[(task_id, run_id)]`` lists the states of its task instances."""
    rows: list[GridRow] = []
    _walk(tree, tasks, run_ids, states, rows, depth=0)
    return rows


def _walk(
    node: dict[str, Any],
    tasks: dict[str, Any],
    run_ids: list[str],
    states: dict[tuple[str, str], list[str]],
    rows: list[GridRow],
    depth: int,
) -> list[str]:
    """Add the rows of ``node``'s children; return the task ids under it."""
    under: list[str] = []
    for child in node.get("children", []):
        if "task_id" in child:
            task_id = child["task_id"]
            info = tasks.get(task_id, {})
            cells = [
                (summary_state(states.get((task_id, run), [])), len(states.get((task_id, run), [])))
                for run in run_ids
            ]
            rows.append(
                GridRow(task_id, info.get("label", task_id), depth, False, bool(info.get("is_mapped")), cells)
            )
            under.append(task_id)
            continue
        group_row = GridRow(child["group_id"], child.get("label") or child["group_id"], depth, True)
        rows.append(group_row)
        members = _walk(child, tasks, run_ids, states, rows, depth + 1)
        group_row.cells = [
            (summary_state(s for t in members for s in states.get((t, run), [])), 0) for run in run_ids
        ]
        under.extend(members)
    return under


def states_by_task(rows: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for task_id, run_id, state in rows:
        found[(task_id, run_id)].append(state)
    return found
