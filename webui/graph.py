"""The graph: a DAG laid out left to right in layers (longest path from the roots), as SVG geometry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

NODE_WIDTH = 180
NODE_HEIGHT = 34
LAYER_GAP = 70
ROW_GAP = 14


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


@dataclass(frozen=True)
class Layout:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int


def layout(spec_tasks: list[dict[str, Any]], extras: dict[str, Any]) -> Layout:
    """Place each task in the layer of its longest path from a root, in order within the layer."""
    graph = nx.DiGraph()
    for task in spec_tasks:
        graph.add_node(task["task_id"])
        graph.add_edges_from((task["task_id"], down) for down in task.get("downstream", []))
    layer: dict[str, int] = {}
    for task_id in nx.topological_sort(graph):
        layer[task_id] = max((layer[up] + 1 for up in graph.predecessors(task_id)), default=0)
    columns: dict[int, list[str]] = {}
    for task_id in sorted(layer, key=lambda t: (layer[t], t)):
        columns.setdefault(layer[task_id], []).append(task_id)
    nodes: dict[str, Node] = {}
    for column, members in columns.items():
        for row, task_id in enumerate(members):
            info = extras.get(task_id, {})
            nodes[task_id] = Node(
                task_id,
                info.get("label", task_id),
                10 + column * (NODE_WIDTH + LAYER_GAP),
                10 + row * (NODE_HEIGHT + ROW_GAP),
                bool(info.get("is_mapped")),
            )
    edges = [Edge(a, b, _curve(nodes[a], nodes[b])) for a, b in graph.edges]
    width = 20 + max((n.x + NODE_WIDTH for n in nodes.values()), default=0)
    height = 20 + max((n.y + NODE_HEIGHT for n in nodes.values()), default=0)
    return Layout(list(nodes.values()), edges, width, height)


def _curve(a: Node, b: Node) -> str:
    x1, y1 = a.x + NODE_WIDTH, a.y + NODE_HEIGHT // 2
    x2, y2 = b.x, b.y + NODE_HEIGHT // 2
    middle = (x1 + x2) // 2
    return f"M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}"
