"""The graph: a DAG laid out left to right in layers (longest path from the roots), as SVG geometry.

A task group is a band as wide as the columns its tasks span, with a box (a cluster) around it: the
band holds the group's tasks and nothing else, so the boxes never cover other tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

NODE_WIDTH = 180
NODE_HEIGHT = 34
LAYER_GAP = 70
ROW_GAP = 14
#: Extra room below a group's band.
GROUP_GAP = 10
#: A cluster's margin around its members, and the height of its title above them.
CLUSTER_PAD = 8
CLUSTER_TITLE = 16


@dataclass(frozen=True)
class Node:
    task_id: str
    label: str
    x: int
    y: int
    is_mapped: bool


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str
    label: str | None = None
    label_x: int = 0
    label_y: int = 0


@dataclass(frozen=True)
class Cluster:
    """A task group's box: around its tasks and the clusters of its subgroups."""

    group_id: str
    label: str
    x: int
    y: int
    width: int
    height: int
    depth: int
    members: tuple[str, ...]
    parent: str | None


@dataclass(frozen=True)
class Layout:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    clusters: list[Cluster]


def edge_labels(serialized: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Labels of edges, from the stored DAG's ``edge_info`` ({upstream: {downstream: {"label": ...}}}),
    the shape Airflow serializes ``Label`` into. dagflow's authoring model has no edge labels yet: a
    DAG stored without ``edge_info`` has none."""
    info = serialized.get("edge_info") or {}
    return {
        (up, down): str(data["label"])
        for up, downs in info.items()
        for down, data in (downs or {}).items()
        if isinstance(data, dict) and data.get("label")
    }


def layout(
    spec_tasks: list[dict[str, Any]],
    extras: dict[str, Any],
    tree: dict[str, Any] | None = None,
    labels: dict[tuple[str, str], str] | None = None,
) -> Layout:
    """Place each task in the column of its longest path from a root.

    Vertically, a group's items (its tasks and its subgroups, each subgroup a band as wide as the
    columns its tasks span) are stacked in the order the tasks run, each as high up as the columns it
    spans leave room for: a group's box then holds its own tasks and nothing else.
    """
    graph = nx.DiGraph()
    for task in spec_tasks:
        graph.add_node(task["task_id"])
        graph.add_edges_from((task["task_id"], down) for down in task.get("downstream", []))
    layer: dict[str, int] = {}
    for task_id in nx.topological_sort(graph):
        layer[task_id] = max((layer[up] + 1 for up in graph.predecessors(task_id)), default=0)
    rank = {t: k for k, t in enumerate(nx.lexicographical_topological_sort(graph))}
    root = tree if tree and tree.get("children") else {"children": [{"task_id": t} for t in graph]}
    depth = _depth(root) - 1
    nodes: dict[str, Node] = {}
    clusters: list[Cluster] = []

    def column_x(column: int) -> int:
        return 10 + depth * CLUSTER_PAD + column * (NODE_WIDTH + LAYER_GAP)

    for kind, item, y in _block(root, layer, rank, level=0).placed(10):
        if kind == "task":
            info = extras.get(item, {})
            nodes[item] = Node(
                item, info.get("label", item), column_x(layer[item]), y, bool(info.get("is_mapped"))
            )
            continue
        block: _Block = item
        pad = CLUSTER_PAD * _depth(block.group)
        left, right = column_x(block.first) - pad, column_x(block.last) + NODE_WIDTH + pad
        group_id = block.group["group_id"]
        clusters.append(
            Cluster(
                group_id,
                (block.group.get("label") or group_id) + (" [ ]" if block.group.get("is_mapped") else ""),
                left,
                y,
                right - left,
                block.height,
                block.level,
                block.members,
                block.parent,
            )
        )
    edges = [_edge(nodes[a], nodes[b], (labels or {}).get((a, b))) for a, b in graph.edges]
    right = max([n.x + NODE_WIDTH for n in nodes.values()] + [c.x + c.width for c in clusters], default=0)
    bottom = max([n.y + NODE_HEIGHT for n in nodes.values()] + [c.y + c.height for c in clusters], default=0)
    return Layout(list(nodes.values()), edges, right + 20, bottom + 20, clusters)


def _depth(group: dict[str, Any]) -> int:
    """1 for a group without subgroups, 1 + its deepest subgroup's otherwise."""
    return 1 + max((_depth(c) for c in group.get("children", []) if "task_id" not in c), default=0)


@dataclass
class _Block:
    """A group laid out on its own: its items with their y relative to the group's top."""

    group: dict[str, Any]
    level: int
    parent: str | None
    first: int
    last: int
    height: int
    members: tuple[str, ...]
    items: list[tuple[str, Any, int]]  # ("task", task_id, y) or ("group", _Block, y)

    def placed(self, top: int) -> list[tuple[str, Any, int]]:
        """Every task and subgroup with its absolute y, each group before what it holds."""
        found: list[tuple[str, Any, int]] = []
        for kind, item, y in self.items:
            found.append((kind, item, top + y))
            if kind == "group":
                found.extend(item.placed(top + y))
        return found


def _block(
    group: dict[str, Any], layer: dict[str, int], rank: dict[str, int], level: int, parent: str | None = None
) -> _Block:
    """Stack the group's items in the order they run, each as high as the columns it spans allow."""
    entries: list[tuple[int, str, Any, int, int, int]] = []  # rank, kind, item, first, last, height
    members: list[str] = []
    for child in group.get("children", []):
        if "task_id" in child:
            task_id = child["task_id"]
            if task_id in layer:
                entries.append((rank[task_id], "task", task_id, layer[task_id], layer[task_id], NODE_HEIGHT))
                members.append(task_id)
            continue
        sub = _block(child, layer, rank, level + 1, group.get("group_id"))
        if sub.members:
            entries.append((min(rank[t] for t in sub.members), "group", sub, sub.first, sub.last, sub.height))
            members.extend(sub.members)
    top = CLUSTER_TITLE + CLUSTER_PAD if level else 0
    skyline: dict[int, int] = {}
    items: list[tuple[str, Any, int]] = []
    for _rank, kind, item, first, last, height in sorted(entries, key=lambda e: e[0]):
        columns = range(first, last + 1)
        y = max(skyline.get(c, top) for c in columns)
        items.append((kind, item, y))
        for c in columns:
            skyline[c] = y + height + ROW_GAP + (GROUP_GAP if kind == "group" else 0)
    bottom = max(skyline.values(), default=top + ROW_GAP) - ROW_GAP + (CLUSTER_PAD if level else 0)
    first = min((e[3] for e in entries), default=0)
    last = max((e[4] for e in entries), default=0)
    return _Block(group, level, parent, first, last, bottom, tuple(members), items)


def _edge(a: Node, b: Node, label: str | None) -> Edge:
    x1, y1 = a.x + NODE_WIDTH, a.y + NODE_HEIGHT // 2
    x2, y2 = b.x, b.y + NODE_HEIGHT // 2
    middle = (x1 + x2) // 2
    path = f"M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}"
    return Edge(a.task_id, b.task_id, path, label, middle, (y1 + y2) // 2)
