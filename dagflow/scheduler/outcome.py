"""What a scheduler phase decided, for the job loop to merge into its state and act on.

Phases (:mod:`create_runs`, :mod:`decide_runs`, :mod:`liveness`, :mod:`queue_tasks`) take what they
need as arguments and return a :class:`PassOutcome`; only :class:`dagflow.scheduler.job.Scheduler`
merges outcomes into its state and hands workloads to its executor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dagflow.core.keys import RunKey
from dagflow.executors.base import Workload


@dataclass
class PassOutcome:
    #: Runs to decide (again) on the next pass.
    dirty: set[RunKey] = field(default_factory=set)
    #: Runs with task instances held back by ``depends_on_past``: looked at again on every poll.
    recheck: set[RunKey] = field(default_factory=set)
    #: When running runs reach their ``dagrun_timeout``: each is looked at again then.
    deadlines: dict[RunKey, datetime] = field(default_factory=dict)
    #: Wake up no later than this (a run due, a retry due, a slot freed).
    wake_at: datetime | None = None
    #: Workloads to hand to the executor (tasks, and DAG-level callbacks).
    submit: list[Workload] = field(default_factory=list)

    def timed(self, when: datetime) -> None:
        """Wake up no later than ``when``."""
        if self.wake_at is None or when < self.wake_at:
            self.wake_at = when

    def merge(self, other: PassOutcome) -> PassOutcome:
        self.dirty |= other.dirty
        self.recheck |= other.recheck
        self.deadlines.update(other.deadlines)
        if other.wake_at is not None:
            self.timed(other.wake_at)
        self.submit.extend(other.submit)
        return self
