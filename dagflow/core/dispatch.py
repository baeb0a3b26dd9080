"""Which ready task instances to queue now, within the limits: a pure function.

The limits are ``[core] parallelism`` (queued and running task instances in all), each DAG's
``max_active_tasks``, pool slots, and the tasks' ``max_active_tis_per_dag`` /
``max_active_tis_per_dagrun``. Higher ``priority_weight`` goes first, then older runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from dagflow.core.keys import TIKey
from dagflow.core.spec import TaskSpec

#: A DAG's ``max_active_tasks`` when the limits given do not name it (Airflow's default).
DEFAULT_MAX_ACTIVE_TASKS = 16


@dataclass(frozen=True)
class Candidate:
    """A task instance whose dependencies are met."""

    key: TIKey
    priority_weight: int
    pool: str
    pool_slots: int
    run_after: datetime
    max_active_tis_per_dag: int | None = None
    max_active_tis_per_dagrun: int | None = None

    @classmethod
    def of_task(
        cls,
        key: TIKey,
        task: TaskSpec,
        *,
        priority_weight: int,
        pool: str,
        pool_slots: int,
        run_after: datetime,
    ) -> Candidate:
        """A task instance of ``task``, with the per-task limits its spec sets."""
        return cls(
            key=key,
            priority_weight=priority_weight,
            pool=pool,
            pool_slots=pool_slots,
            run_after=run_after,
            max_active_tis_per_dag=task.max_active_tis_per_dag,
            max_active_tis_per_dagrun=task.max_active_tis_per_dagrun,
        )

    @property
    def dag_id(self) -> str:
        return self.key.dag_id

    @property
    def run_id(self) -> str:
        return self.key.run_id

    @property
    def task_id(self) -> str:
        return self.key.task_id

    @property
    def map_index(self) -> int:
        return self.key.map_index


@dataclass
class Busy:
    """What is queued or running already."""

    total: int = 0
    by_dag: Counter[str] = field(default_factory=Counter)
    pool_slots: Counter[str] = field(default_factory=Counter)
    by_dag_task: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_run_task: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add(self, c: Candidate, count: int = 1, slots: int | None = None) -> None:
        self.total += count
        self.by_dag[c.dag_id] += count
        self.pool_slots[c.pool] += c.pool_slots * count if slots is None else slots
        self.by_dag_task[(c.dag_id, c.task_id)] += count
        self.by_run_task[(c.dag_id, c.run_id, c.task_id)] += count


@dataclass
class Choice:
    chosen: list[Candidate]
    #: Why each candidate left out was left out.
    reasons: dict[TIKey, str]


def _blocked(
    c: Candidate, busy: Busy, parallelism: int, max_active_tasks: Mapping[str, int], pools: Mapping[str, int]
) -> str:
    if busy.total >= parallelism:
        return f"parallelism reached ({parallelism} task instances queued or running)"
    limit = max_active_tasks.get(c.dag_id, DEFAULT_MAX_ACTIVE_TASKS)
    if busy.by_dag[c.dag_id] >= limit:
        return f"max_active_tasks reached ({limit} task instances of this DAG queued or running)"
    if c.pool not in pools:
        return f"pool {c.pool!r} does not exist"
    if busy.pool_slots[c.pool] + c.pool_slots > pools[c.pool]:
        return f"pool {c.pool!r} is full ({busy.pool_slots[c.pool]} of {pools[c.pool]} slots in use)"
    if (
        c.max_active_tis_per_dag is not None
        and busy.by_dag_task[(c.dag_id, c.task_id)] >= c.max_active_tis_per_dag
    ):
        return f"max_active_tis_per_dag reached ({c.max_active_tis_per_dag})"
    per_run = c.max_active_tis_per_dagrun
    if per_run is not None and busy.by_run_task[(c.dag_id, c.run_id, c.task_id)] >= per_run:
        return f"max_active_tis_per_dagrun reached ({per_run})"
    return ""


def choose(
    candidates: Iterable[Candidate],
    busy: Busy,
    *,
    parallelism: int,
    max_active_tasks: Mapping[str, int],
    pools: Mapping[str, int],
) -> Choice:
    """The candidates to queue, best first, and why the others must wait."""
    ordered = sorted(
        candidates,
        key=lambda c: (-c.priority_weight, c.run_after, c.key),
    )
    chosen: list[Candidate] = []
    reasons: dict[TIKey, str] = {}
    for candidate in ordered:
        reason = _blocked(candidate, busy, parallelism, max_active_tasks, pools)
        if reason:
            reasons[candidate.key] = reason
            continue
        chosen.append(candidate)
        busy.add(candidate)
    return Choice(chosen, reasons)
