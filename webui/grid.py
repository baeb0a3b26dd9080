"""The grid: runs as columns, tasks (grouped by task group) as rows, each cell a state. Pure functions."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import networkx as nx
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


def counts_by_state(states: Iterable[str]) -> dict[str, int]:
    """How many task instances (of a mapped task) are in each state, in the order of SEVERITY."""
    found = Counter(states)
    ordered = {s: found.pop(s) for s in SEVERITY if s in found}
    ordered.update(sorted(found.items()))
    return ordered


@dataclass
class GridRow:
    """A task or a task group: its label, depth, and one cell (state, count) per run."""

    row_id: str
    label: str
    depth: int
    is_group: bool
    is_mapped: bool = False
    cells: list[tuple[str | None, int]] = field(default_factory=list)
    #: The ids of the groups this row is inside, outermost first (a collapsed one hides the row).
    parents: tuple[str, ...] = ()


def dependency_rank(spec_tasks: list[dict[str, Any]]) -> dict[str, int]:
    """Each task's place in a topological order of the DAG (ties by task id): the order tasks run."""
    graph = nx.DiGraph()
    for task in spec_tasks:
        graph.add_node(task["task_id"])
        graph.add_edges_from((task["task_id"], down) for down in task.get("downstream", []))
    return {task_id: k for k, task_id in enumerate(nx.lexicographical_topological_sort(graph))}


def build_rows(
    tree: dict[str, Any],
    tasks: dict[str, Any],
    run_ids: list[str],
    states: dict[tuple[str, str], list[str]],
    rank: dict[str, int] | None = None,
) -> list[GridRow]:
    """Rows of tasks under their groups. ``states[(task_id, run_id)]`` lists the states of its task
    instances. With ``rank`` (see :func:`dependency_rank`), each group's children come in dependency
    order, a group placed by its first task; without it, in the order the DAG file defines them."""
    rows: list[GridRow] = []
    ordered = _ordered(tree, rank) if rank is not None else tree
    _walk(ordered, tasks, run_ids, states, rows, depth=0)
    return rows


def _ordered(node: dict[str, Any], rank: dict[str, int]) -> dict[str, Any]:
    """A copy of the group tree with each group's children sorted by the rank of their first task."""
    if "task_id" in node:
        return node
    children = [_ordered(child, rank) for child in node.get("children", [])]
    children.sort(key=lambda child: _first_rank(child, rank))
    return {**node, "children": children}


def _first_rank(node: dict[str, Any], rank: dict[str, int]) -> int:
    if "task_id" in node:
        return rank.get(node["task_id"], len(rank))
    return min((_first_rank(child, rank) for child in node.get("children", [])), default=len(rank))


def _walk(
    node: dict[str, Any],
    tasks: dict[str, Any],
    run_ids: list[str],
    states: dict[tuple[str, str], list[str]],
    rows: list[GridRow],
    depth: int,
    parents: tuple[str, ...] = (),
) -> list[str]:
    """Add the rows of ``node``'s children; return the task ids under it."""
    under: list[str] = []
    for child in node.get("children", []):
        if "task_id" in child:
            task_id = child["task_id"]
            info = tasks.get(task_id, {})
            cells = [_cell(states.get((task_id, run), ())) for run in run_ids]
            rows.append(
                GridRow(
                    task_id,
                    info.get("label", task_id),
                    depth,
                    False,
                    bool(info.get("is_mapped")),
                    cells,
                    parents,
                )
            )
            under.append(task_id)
            continue
        group_id = child["group_id"]
        group_row = GridRow(group_id, child.get("label") or group_id, depth, True, parents=parents)
        rows.append(group_row)
        members = _walk(child, tasks, run_ids, states, rows, depth + 1, (*parents, group_id))
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


@dataclass(frozen=True)
class RunColumn:
    """A run's column head: a bar whose height is the run's duration, its state and its date."""

    run_id: str
    state: str
    seconds: float | None
    height: int
    date: str
    time: str


#: The tallest run bar, in pixels (the longest run shown); a run that has not started gets none.
BAR_HEIGHT = 60


def run_columns(runs: Sequence[Any], now: datetime) -> list[RunColumn]:
    """Bars scaled to the longest of these runs; a run still going counts until ``now``."""
    seconds: list[float | None] = []
    for run in runs:
        start, end = run.start_date, run.end_date or now
        seconds.append(max((end - start).total_seconds(), 0.0) if start else None)
    longest = max((s for s in seconds if s is not None), default=0.0) or 1.0
    columns = []
    for run, took in zip(runs, seconds, strict=True):
        height = 0 if took is None else max(3, round(BAR_HEIGHT * took / longest))
        when = run.logical_date or run.run_after
        columns.append(
            RunColumn(run.run_id, run.state, took, height, when.strftime("%m-%d"), when.strftime("%H:%M"))
        )
    return columns


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
