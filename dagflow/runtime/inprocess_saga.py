"""``dag.test()``'s compensation: after a failed run, undo its succeeded tasks in this process.

The same decisions as the scheduler (:func:`dagflow.core.saga.decide_compensations`); compensations
that could run in parallel run one after the other here, in the order the decisions list them.
Retries really wait their delay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dagflow.core.clock import utcnow
from dagflow.core.saga import (
    CompensationRecord,
    RunCompensation,
    compensation_label,
    decide_compensations,
)
from dagflow.core.states import TaskState
from dagflow.runtime.compensation import CompensationAttempt, run_compensation

if TYPE_CHECKING:
    from dagflow.context import DagRunInfo
    from dagflow.core.saga import Key
    from dagflow.core.spec import DagSpec
    from dagflow.models.dag import DAG
    from dagflow.runtime.tasklog import TaskLog
    from dagflow.runtime.xcom import XComStore


@dataclass
class CompensationResult:
    """How a run's compensation ended: its state, each compensation's state, the order they started."""

    state: RunCompensation
    tasks: dict[str, TaskState] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    tries: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "tasks": {label: state.value for label, state in self.tasks.items()},
            "order": list(self.order),
        }


def settings_of(spec: DagSpec, node_id: str) -> tuple[int, float, float | None]:
    """A compensation's retries, retry delay and timeout (seconds), as the DAG's spec records them."""
    task = spec.tasks.get(node_id)
    if task is not None:
        return task.compensation_retries, task.compensation_retry_delay, task.compensation_timeout
    group = spec.compensated_groups[node_id]
    return int(group["retries"]), float(group["retry_delay"]), group.get("timeout")


class InProcessCompensation:
    """Drives one run's compensation to its end in this process."""

    def __init__(
        self,
        dag: DAG,
        dag_run: DagRunInfo,
        forward: dict[Key, TaskState],
        *,
        xcom_store: XComStore,
        log: TaskLog,
        sleep: Callable[[float], None],
        run_state: str,
    ):
        self.dag, self.dag_run, self.forward = dag, dag_run, forward
        self.spec = dag.spec()
        self.graph = self.spec.saga_graph
        self.xcom_store, self.log, self.sleep = xcom_store, log, sleep
        self.failed_tasks = tuple(sorted({k[0] for k, s in forward.items() if s is TaskState.FAILED}))
        self.run_state = run_state
        self.records: dict[Key, CompensationRecord] = {}
        self.result = CompensationResult(RunCompensation.COMPENSATING)

    def run(self) -> CompensationResult:
        while True:
            decisions = decide_compensations(self.graph, self.forward, self.records, now=utcnow())
            if not decisions.ready and decisions.waiting_until is not None:
                self.sleep(max(0.0, (decisions.waiting_until - utcnow()).total_seconds()))
                continue
            if not decisions.ready:
                self.result.state = decisions.state
                return self.result
            for key in decisions.ready:
                self._run_one(key)

    def _run_one(self, key: Key) -> None:
        label = compensation_label(key)
        if label not in self.result.order:
            self.result.order.append(label)
        retries, delay, timeout = settings_of(self.spec, key[0])
        try_number = self.result.tries.get(label, 0) + 1
        self.result.tries[label] = try_number
        attempt = CompensationAttempt(
            node_id=key[0],
            map_index=key[1],
            try_number=try_number,
            max_tries=retries,
            dag_run=self.dag_run,
            timeout=timeout,
            failed_tasks=self.failed_tasks,
            run_state=self.run_state,
        )
        outcome = run_compensation(self.dag, attempt, xcom_store=self.xcom_store, log=self.log)
        record = CompensationRecord(outcome.state)
        if outcome.state is TaskState.UP_FOR_RETRY:
            record.not_before = outcome.end_date + timedelta(seconds=delay)
        self.records[key] = record
        self.result.tasks[label] = outcome.state
        if outcome.error:
            self.result.errors[label] = outcome.error


def run_compensation_callbacks(
    dag: DAG, dag_run: DagRunInfo, result: CompensationResult, log: TaskLog
) -> None:
    """``on_compensation_failure_callback``: once, when a run's compensation ends ``compensation_failed``."""
    if result.state is not RunCompensation.COMPENSATION_FAILED:
        return
    failed = [label for label, state in result.tasks.items() if state is TaskState.FAILED]
    context = {
        "dag": dag,
        "dag_run": dag_run,
        "run_id": dag_run.run_id,
        "reason": "compensation_failed",
        "compensation": {"state": result.state.value, "failed": failed, "errors": dict(result.errors)},
    }
    for callback in dag.on_compensation_failure_callback:
        try:
            callback(context)
        except Exception as exc:  # a callback's failure never changes the compensation's state
            log.error(f"DAG {dag.dag_id!r} on_compensation_failure_callback failed", exc)
