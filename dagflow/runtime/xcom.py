"""Where XComs live while a run is under way: one small interface, an in-memory store shipped here.

Values are kept as JSON text, exactly as the metadata store keeps them, so a task pulling a value
in ``dag.test()`` gets what it would get in production: a fresh copy, types beyond JSON (datetimes,
sets, tuples, dataclasses...) restored through :mod:`dagflow.runtime.serde`, and an error for
anything it cannot hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from dagflow.exceptions import XComValueError
from dagflow.runtime import serde

RETURN_KEY = "return_value"


@dataclass(frozen=True, slots=True)
class RunRef:
    """Which DAG run an XCom belongs to."""

    dag_id: str
    run_id: str


def encode(value: Any, *, where: str) -> str:
    """The value as JSON text (types beyond JSON in serde's typed envelope), or an XComValueError
    naming ``where`` (the task) and the type at fault."""
    try:
        return json.dumps(serde.serialize(value), allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise XComValueError(f"{where}: {exc}") from None


def decode(text: str) -> Any:
    """The value stored as ``text``: plain JSON as it is, typed envelopes as their types."""
    try:
        return serde.deserialize(json.loads(text))
    except TypeError as exc:
        raise XComValueError(str(exc)) from None


def readable(text: str) -> str:
    """The value stored as ``text`` as a person reads it (see :func:`serde.readable`): plain JSON
    exactly as stored, a datetime as its ISO text, a set as a set, never the typed envelope."""
    try:
        data = json.loads(text)
    except ValueError:  # not JSON at all: show what is there rather than fail the page
        return text
    return serde.readable(data) if serde.has_envelope(data) else text


class XComStore(Protocol):
    """Read and write XComs of task instances; every backend implements these five calls."""

    def push(self, run: RunRef, task_id: str, map_index: int, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``key``; raises XComValueError otherwise."""

    def get(self, run: RunRef, task_id: str, map_index: int, key: str) -> tuple[bool, Any]:
        """``(True, value)`` if the task instance pushed ``key``, else ``(False, None)``."""

    def get_all(self, run: RunRef, task_id: str, key: str) -> list[Any]:
        """The values of ``key`` of every map index of the task that pushed one, by map index."""

    def clear(self, run: RunRef, task_id: str, map_index: int) -> None:
        """Forget what a task instance pushed (before it runs again)."""

    def mapped_values(self, run: RunRef, task_id: str, key: str) -> list[Any]:
        """The values of a mapped task's instances that pushed ``key``, by map index."""


class MemoryXComStore:
    """XComs in a dict: the backend of the in-process runner and of tests."""

    def __init__(self) -> None:
        # (dag_id, run_id, task_id) -> key -> map_index -> JSON text
        self._data: dict[tuple[str, str, str], dict[str, dict[int, str]]] = {}

    def _keys(self, run: RunRef, task_id: str) -> dict[str, dict[int, str]]:
        return self._data.get((run.dag_id, run.run_id, task_id)) or {}

    def push(self, run: RunRef, task_id: str, map_index: int, key: str, value: Any) -> None:
        text = encode(value, where=f"task {task_id!r}")
        by_key = self._data.setdefault((run.dag_id, run.run_id, task_id), {})
        by_key.setdefault(key, {})[map_index] = text

    def get(self, run: RunRef, task_id: str, map_index: int, key: str) -> tuple[bool, Any]:
        by_index = self._keys(run, task_id).get(key)
        if not by_index or map_index not in by_index:
            return False, None
        return True, decode(by_index[map_index])

    def get_all(self, run: RunRef, task_id: str, key: str) -> list[Any]:
        by_index = self._keys(run, task_id).get(key) or {}
        return [decode(by_index[i]) for i in sorted(by_index)]

    def mapped_values(self, run: RunRef, task_id: str, key: str) -> list[Any]:
        by_index = self._keys(run, task_id).get(key) or {}
        return [decode(by_index[i]) for i in sorted(by_index) if i >= 0]

    def clear(self, run: RunRef, task_id: str, map_index: int) -> None:
        for by_index in self._keys(run, task_id).values():
            by_index.pop(map_index, None)

    def keys_of(self, run: RunRef, task_id: str, map_index: int) -> list[str]:
        """The keys a task instance pushed (for reports and the UI)."""
        return sorted(key for key, by_index in self._keys(run, task_id).items() if map_index in by_index)
