"""The executor interface: ``submit`` workloads, ``poll`` events, ``kill`` an attempt.

Workers record each attempt's outcome in the metadata store themselves; events only tell the
scheduler what happened sooner than the store would (an attempt finished, a worker died with an
attempt in hand), so it can decide what runs next at once.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Workload:
    """One attempt to run: which task instance, which try, and the token proving it was handed out."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    token: str
    fileloc: str
    execution_timeout: float | None = None
    priority_weight: int = 1
    #: Run the DAG's success/failure callbacks for this run instead of a task ("success"/"failure").
    dag_callback: str | None = None

    @property
    def label(self) -> str:
        index = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}.{self.task_id}{index} {self.run_id} try {self.try_number}"


@dataclass(frozen=True)
class ExecutorEvent:
    """Something that happened to a workload.

    ``finished``, ``lost`` (its worker died or was killed) or ``rejected`` (it was not the
    worker's to run any more).
    """

    kind: str
    workload: Workload
    state: str | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Executor(abc.ABC):
    """Runs workloads somewhere and reports what happened to them."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start the workers."""

    @abc.abstractmethod
    def submit(self, workloads: list[Workload]) -> None:
        """Queue workloads; they run in the order given as workers free up."""

    @abc.abstractmethod
    def poll(self) -> list[ExecutorEvent]:
        """Events since the last poll, without waiting."""

    @abc.abstractmethod
    def waitables(self) -> list[Any]:
        """Objects ``multiprocessing.connection.wait`` can wait on for new events."""

    @abc.abstractmethod
    def kill(self, token: str, reason: str) -> bool:
        """Stop the attempt with this token if it is running here; True if it was."""

    @abc.abstractmethod
    def outstanding(self) -> int:
        """Workloads submitted and not yet finished."""

    @abc.abstractmethod
    def outstanding_tokens(self) -> set[str]:
        """The tokens of the workloads submitted and not yet finished."""

    @abc.abstractmethod
    def end(self, timeout: float = 10.0) -> list[Workload]:
        """Stop taking work, stop the workers, and return the workloads that did not finish."""
