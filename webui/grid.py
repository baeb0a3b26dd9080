"""The grid: runs as columns, tasks (grouped by task group) as rows, each cell a state. Pure functions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from markupsafe import Markup, escape

from dagflow.core.states import TaskState

#: The state a group of task instances shows: the first of these any of them is in.
SEVERITY = tuple(
    s.value
    for s in (
        TaskState.FAILED,
        TaskState.UPSTREAM_FAILED,
        TaskState.UP_FOR_RETRY,
        TaskState.UP_FOR_RESCHEDULE,
        TaskState.QUEUED,
        TaskState.SCHEDULED,
        TaskState.RUNNING,
        TaskState.NONE,
        TaskState.SUCCESS,
        TaskState.SKIPPED,
        TaskState.REMOVED,
    )
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
            cells = [_cell(states.get((task_id, run), ())) for run in run_ids]
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


def _cell(found: Sequence[str]) -> tuple[str | None, int]:
    """A task's cell: most are one task instance, whose state needs no summing up."""
    if len(found) == 1:
        return found[0], 1
    return summary_state(found), len(found)


def states_by_task(rows: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for task_id, run_id, state in rows:
        found[(task_id, run_id)].append(state)
    return found


#: A cell as the template prints it: state, count, run id and link, escaped for HTML already.
Cell = tuple[Markup | None, int, Markup, Markup]


def printable(
    rows: list[GridRow],
    run_ids: list[str],
    path_of: Callable[[str], str],
    query_of: Callable[[str, int], str],
) -> list[tuple[GridRow, list[Cell]]]:
    """Each row with its cells, their values escaped once per run, state and task.

    A grid of 100 runs shows 5,000 cells and more, each printing its state, run and task several
    times: escaping every value as the template prints it was most of the page's time. A cell's
    link is ``path_of(task_id)`` + "?" + ``query_of(run_id, map_index)``.
    """
    runs = [escape(r) for r in run_ids]
    states = {s: escape(s) for row in rows for s, _n in row.cells if s}

    @cache
    def queries(map_index: int) -> list[str]:
        return [str(escape(query_of(run_id, map_index))) for run_id in run_ids]

    return [(row, _cells(row, runs, states, path_of, queries)) for row in rows]


def _cells(
    row: GridRow,
    runs: list[Markup],
    states: dict[str, Markup],
    path_of: Callable[[str], str],
    queries: Callable[[int], list[str]],
) -> list[Cell]:
    no_link = Markup()
    if row.is_group:
        return [(states.get(s or ""), n, run, no_link) for (s, n), run in zip(row.cells, runs, strict=True)]
    path = escape(path_of(row.row_id))
    cells: list[Cell] = []
    for k, (state, count) in enumerate(row.cells):
        if not state:
            cells.append((None, count, runs[k], no_link))
            continue
        query = queries(0 if row.is_mapped and count else -1)[k]
        cells.append((states[state], count, runs[k], Markup(f"{path}?{query}")))
    return cells
