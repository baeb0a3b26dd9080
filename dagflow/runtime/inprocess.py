"""``dag.test()``: one DAG run, start to finish, in this process.

It drives the same scheduling decisions and the same task runner as the scheduler daemon, only
with task instances kept in memory and tries run one after the other. Retries really wait their
delay, and a sensor in reschedule mode really waits until its next poke (continuing the same try).
Tasks can read the state of this run only (see :class:`dagflow.runtime.run_reader.OwnRunStates`).
"""

from __future__ import annotations

import functools
import re
import socket
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from dagflow import secrets
from dagflow.context import DagRunInfo, with_pendulum_dates
from dagflow.core.clock import utcnow
from dagflow.core.decisions import Key, TIRecord, apply_expansion, decide, initial_task_instances
from dagflow.core.retries import next_retry_for
from dagflow.core.states import FINISHED, SCHEDULABLE, RunState, TaskState
from dagflow.exceptions import DagflowError
from dagflow.models.dag import as_aware
from dagflow.runtime import serde
from dagflow.runtime.dag_trigger import InProcessDagTrigger, TriggeredRun
from dagflow.runtime.inprocess_saga import (
    CompensationResult,
    InProcessCompensation,
    run_compensation_callbacks,
)
from dagflow.runtime.run_reader import OwnRunStates
from dagflow.runtime.tasklog import TaskLog
from dagflow.runtime.taskrunner import Attempt, run_attempt
from dagflow.runtime.xcom import RETURN_KEY, MemoryXComStore, RunRef
from dagflow.secrets.local_file import LocalFileBackend

if TYPE_CHECKING:
    from dagflow.core.spec import DagSpec
    from dagflow.models.dag import DAG


@dataclass
class TaskInstanceResult:
    """A task instance at the end of an in-process run."""

    task_id: str
    map_index: int
    state: TaskState
    try_number: int
    start_date: datetime | None = None
    end_date: datetime | None = None
    error: str | None = None
    #: A mapped task instance's label: its task's ``map_index_template``, rendered when it ran.
    rendered_map_index: str | None = None

    @property
    def label(self) -> str:
        """``task_id``, or ``task_id[i]`` for map index ``i``."""
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


@dataclass
class RunResult:
    """What ``dag.test()`` returns: the run's state, its task instances and their XComs."""

    dag_id: str
    run_id: str
    logical_date: datetime | None
    state: RunState
    task_instances: list[TaskInstanceResult]
    xcom_store: MemoryXComStore = field(repr=False)
    #: How the run's compensation ended (None: nothing was compensated).
    compensation: CompensationResult | None = None
    #: The runs its tasks triggered (TriggerDagRunOperator), and how those that were waited for ended.
    triggered_runs: list[TriggeredRun] = field(default_factory=list)

    def get(self, task_id: str, map_index: int = -1) -> TaskInstanceResult:
        for ti in self.task_instances:
            if ti.task_id == task_id and ti.map_index == map_index:
                return ti
        raise KeyError(f"no task instance {task_id!r} (map index {map_index}) in run {self.run_id!r}")

    # Airflow's dag.test() returns its DagRun: code after it reads the run the same way.

    def get_task_instances(self, state: Iterable[str] | str | None = None) -> list[TaskInstanceResult]:
        """The task instances, or those in ``state`` (one state or several), as ``DagRun``'s."""
        if state is None:
            return list(self.task_instances)
        wanted = {state} if isinstance(state, str) else set(state)
        return [ti for ti in self.task_instances if ti.state in wanted]

    def get_task_instance(self, task_id: str, map_index: int = -1) -> TaskInstanceResult | None:
        """The task instance, or None when the run has none such, as ``DagRun``'s."""
        try:
            return self.get(task_id, map_index)
        except KeyError:
            return None

    def xcom(self, task_id: str, map_index: int = -1, key: str = RETURN_KEY) -> Any:
        """The XCom a task instance pushed (None if it pushed nothing)."""
        return self.xcom_store.get(RunRef(self.dag_id, self.run_id), task_id, map_index, key)[1]

    def report(self) -> dict[str, Any]:
        """The summary ``dagflow dags test --json`` prints."""
        run = RunRef(self.dag_id, self.run_id)
        xcoms = {}
        for ti in self.task_instances:
            found, value = self.xcom_store.get(run, ti.task_id, ti.map_index, RETURN_KEY)
            if found:
                xcoms[ti.label] = serde.json_view(value)
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "logical_date": self.logical_date.isoformat() if self.logical_date else None,
            "run_state": self.state.value,
            "tasks": {ti.label: ti.state.value for ti in self.task_instances},
            "xcom": xcoms,
            "tries": {ti.label: ti.try_number for ti in self.task_instances if ti.try_number > 1},
            **({"compensation": self.compensation.report()} if self.compensation is not None else {}),
        }


@dataclass
class _Instance:
    record: TIRecord
    start_date: datetime | None = None
    end_date: datetime | None = None
    error: str | None = None
    #: When the current try first started, while it is up for reschedule.
    try_start: datetime | None = None
    rendered_map_index: str | None = None


class _InProcessRun:
    def __init__(
        self,
        dag: DAG,
        dag_run: DagRunInfo,
        log_stream: TextIO,
        sleep: Callable[[float], None],
        max_map_length: int,
        mark_success: re.Pattern[str] | None = None,
    ):
        self.dag, self.dag_run, self.sleep = dag, dag_run, sleep
        self.mark_success = mark_success
        self.max_map_length = max_map_length
        self.spec: DagSpec = dag.spec()
        self.log = TaskLog(log_stream)
        self.xcoms = MemoryXComStore()
        self.run_ref = RunRef(dag.dag_id, dag_run.run_id)
        self.instances: dict[Key, _Instance] = {
            r.key: _Instance(r) for r in initial_task_instances(self.spec)
        }
        self.map_lengths: dict[str, int] = {}
        #: Tasks whose task instances changed since the last decisions (None: look at every task).
        self.changed: set[str] | None = None
        self.hostname = socket.gethostname()
        self.run_states = OwnRunStates(dag, dag_run.logical_date, self._states)
        self.dag_trigger = InProcessDagTrigger(
            dag, functools.partial(run_dag, log_stream=log_stream, sleep=sleep)
        )

    def _states(self) -> list[tuple[str, int, str]]:
        return [(r.task_id, r.map_index, r.state.value) for r in (i.record for i in self.instances.values())]

    def length_of(self, task_id: str) -> int | None:
        if self.spec.tasks[task_id].is_mapped:
            return len(self.xcoms.mapped_values(self.run_ref, task_id, RETURN_KEY))
        return self.map_lengths.get(task_id)

    def run(self) -> RunState:
        while True:
            now = utcnow()
            changed, self.changed = self.changed, set()
            decisions = decide(
                self.spec,
                [i.record for i in self.instances.values()],
                now=now,
                length_of=self.length_of,
                changed=changed,
            )
            self._apply_states(decisions.new_states, now)
            if decisions.expansions:
                self._expand(decisions.expansions)
                continue
            if decisions.run_state is not None:
                return decisions.run_state
            if not decisions.ready and decisions.waiting_until is not None:
                self.sleep(max(0.0, (decisions.waiting_until - utcnow()).total_seconds()))
                continue
            for key in self._by_priority(decisions.ready):
                self._run_one(self.instances[key])

    def _apply_states(self, new_states: dict[Key, TaskState], now: datetime) -> None:
        for key, state in new_states.items():
            instance = self.instances[key]
            instance.record.state = state
            instance.start_date = instance.start_date or now
            instance.end_date = now

    def _expand(self, expansions: dict[str, int]) -> None:
        records = {k: i.record for k, i in self.instances.items()}
        for task_id, count in expansions.items():
            self._note_change(task_id)
            self.instances.pop((task_id, -1), None)
            for record in apply_expansion(records, self.spec.tasks[task_id], count):
                self.instances.setdefault(record.key, _Instance(record))

    def _by_priority(self, keys: list[Key]) -> list[Key]:
        position = {task_id: i for i, task_id in enumerate(self.spec.order)}
        return sorted(keys, key=lambda k: (-self.spec.tasks[k[0]].priority_weight, position[k[0]], k[1]))

    def _run_one(self, instance: _Instance) -> None:
        record = instance.record
        if record.state not in SCHEDULABLE:  # decided meanwhile (a branch skipped it)
            return
        self._note_change(record.task_id)
        spec = self.spec.tasks[record.task_id]
        resumed = record.state is TaskState.UP_FOR_RESCHEDULE  # a reschedule continues the same try
        if not resumed:
            record.try_number += 1
            instance.try_start = None
        if spec.is_empty or self._marked_success(record.task_id):
            now = utcnow()
            record.state, instance.start_date, instance.end_date = TaskState.SUCCESS, now, now
            return
        attempt = Attempt(
            record.task_id,
            record.map_index,
            record.try_number,
            record.max_tries,
            self.dag_run,
            first_try_start=instance.try_start,
        )
        outcome = run_attempt(
            self.dag,
            spec,
            attempt,
            xcom_store=self.xcoms,
            log=self.log,
            hostname=self.hostname,
            run_states=self.run_states,
            max_map_length=self.max_map_length,
            dag_trigger=self.dag_trigger,
        )
        record.state = outcome.state
        instance.try_start = instance.try_start or outcome.start_date
        instance.rendered_map_index = outcome.rendered_map_index
        instance.start_date, instance.end_date, instance.error = (
            instance.try_start,
            outcome.end_date,
            outcome.error,
        )
        if outcome.map_length is not None:
            self.map_lengths[record.task_id] = outcome.map_length
        if outcome.state is TaskState.UP_FOR_RETRY:
            record.not_before = next_retry_for(
                spec,
                end_date=outcome.end_date,
                try_number=record.try_number,
                dag_id=self.dag.dag_id,
                run_id=self.dag_run.run_id,
                chosen=outcome.retry_delay,
            )
        elif outcome.state is TaskState.UP_FOR_RESCHEDULE:
            record.not_before = outcome.reschedule_at
        self._skip(outcome.skip_downstream, outcome.end_date, outcome.skip_map_index)

    def _marked_success(self, task_id: str) -> bool:
        if self.mark_success is None or self.mark_success.fullmatch(task_id) is None:
            return False
        self.log.info(f"Marking {task_id!r} successful without running it (mark_success_pattern)")
        return True

    def _note_change(self, task_id: str) -> None:
        if self.changed is not None:
            self.changed.add(task_id)

    def _skip(self, task_ids: list[str], now: datetime, map_index: int | None = None) -> None:
        if not task_ids:
            return
        wanted = set(task_ids)
        for task_id in wanted:
            self._note_change(task_id)
        for instance in self.instances.values():
            record = instance.record
            if (
                record.task_id in wanted
                and (map_index is None or record.map_index == map_index)
                and record.state not in FINISHED
                and record.state is not TaskState.RUNNING
            ):
                record.state = TaskState.SKIPPED
                instance.start_date = instance.end_date = now

    def result(self, state: RunState) -> RunResult:
        order = {task_id: i for i, task_id in enumerate(self.spec.order)}
        instances = sorted(
            self.instances.values(), key=lambda i: (order[i.record.task_id], i.record.map_index)
        )
        return RunResult(
            dag_id=self.dag.dag_id,
            run_id=self.dag_run.run_id,
            logical_date=self.dag_run.logical_date,
            state=state,
            task_instances=[
                TaskInstanceResult(
                    i.record.task_id,
                    i.record.map_index,
                    i.record.state,
                    i.record.try_number,
                    i.start_date,
                    i.end_date,
                    i.error,
                    i.rendered_map_index,
                )
                for i in instances
            ],
            xcom_store=self.xcoms,
            triggered_runs=self.dag_trigger.runs,
        )


def manual_run_id(logical_date: datetime) -> str:
    return f"manual__{logical_date.isoformat()}"


def run_dag(
    dag: DAG,
    *,
    logical_date: datetime | None = None,
    conf: dict[str, Any] | None = None,
    log_stream: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_map_length: int | None = None,
    run_id: str | None = None,
    run_after: datetime | None = None,
    mark_success_pattern: str | re.Pattern[str] | None = None,
) -> RunResult:
    """Run ``dag`` once in this process (see the module docstring) and return the finished run.

    ``max_map_length`` defaults to the ``[core] max_map_length`` setting in force. A task whose id
    ``mark_success_pattern`` fully matches succeeds without running (and returns nothing).
    """
    dag.validate()
    mark_success = re.compile(mark_success_pattern) if mark_success_pattern is not None else None
    logical_date = as_aware(logical_date) or utcnow()
    interval = dag.timetable.infer_manual_data_interval(run_after=logical_date)
    conf = dict(conf or {})
    dag.params.with_values(conf).validate()
    dag_run = with_pendulum_dates(
        DagRunInfo(
            dag_id=dag.dag_id,
            run_id=run_id or manual_run_id(logical_date),
            logical_date=logical_date,
            data_interval_start=interval.start,
            data_interval_end=interval.end,
            run_type="manual",
            conf=conf,
            start_date=utcnow(),
            run_after=as_aware(run_after) or logical_date,
        )
    )
    if max_map_length is None:
        from dagflow.config import Settings

        max_map_length = Settings.load().getint("core", "max_map_length")
    run = _InProcessRun(dag, dag_run, log_stream or sys.stderr, sleep, max_map_length, mark_success)
    state = run.run()
    result = run.result(state)
    _run_dag_callbacks(dag, dag_run, result, run.log)
    if state is RunState.FAILED and dag.compensate_on == "failure" and run.spec.has_compensations:
        result.compensation = compensate_run(dag, dag_run, result, log=run.log, sleep=sleep)
    return result


def run_dag_test(
    dag: DAG,
    *,
    logical_date: datetime | None,
    conf: dict[str, Any] | None,
    run_conf: dict[str, Any] | None,
    execution_date: datetime | None,
    conn_file_path: str | None,
    variable_file_path: str | None,
    use_executor: bool,
    **kwargs: Any,
) -> RunResult:
    """``dag.test()`` with Airflow's argument names (see :meth:`dagflow.DAG.test`) turned into
    :func:`run_dag`'s, the local secrets files first in the secrets chain while it runs."""
    where = f"DAG {dag.dag_id!r}: dag.test()"
    if conf is not None and run_conf is not None:
        raise TypeError(f"{where} takes conf or run_conf (the same thing), not both")
    if logical_date is not None and execution_date is not None:
        raise TypeError(f"{where} takes logical_date or execution_date (the same thing), not both")
    if use_executor:
        raise DagflowError(
            f"{where} runs tasks in this process only (use_executor=True is not supported); "
            "trigger the DAG to run it through the executor"
        )
    chain = secrets.backends()
    if conn_file_path is not None or variable_file_path is not None:
        files = LocalFileBackend(variables_file=variable_file_path, connections_file=conn_file_path)
        chain = [files, *chain]
    with secrets.using(chain):
        return run_dag(
            dag,
            logical_date=logical_date if logical_date is not None else execution_date,
            conf=conf if conf is not None else run_conf,
            **kwargs,
        )


def compensate_run(
    dag: DAG,
    dag_run: DagRunInfo,
    result: RunResult,
    *,
    log: TaskLog | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CompensationResult:
    """Undo the succeeded task instances of a finished in-process run (a failed one, or by hand)."""
    log = log or TaskLog(sys.stderr)
    forward = {(ti.task_id, ti.map_index): ti.state for ti in result.task_instances}
    saga = InProcessCompensation(
        dag,
        dag_run,
        forward,
        xcom_store=result.xcom_store,
        log=log,
        sleep=sleep,
        run_state=result.state.value,
    )
    compensation = saga.run()
    run_compensation_callbacks(dag, dag_run, compensation, log)
    return compensation


def _run_dag_callbacks(dag: DAG, dag_run: DagRunInfo, result: RunResult, log: TaskLog) -> None:
    callbacks = dag.on_success_callback if result.state is RunState.SUCCESS else dag.on_failure_callback
    if not callbacks:
        return
    reason = "success" if result.state is RunState.SUCCESS else "task_failure"
    context = {
        "dag": dag,
        "dag_run": replace(dag_run, state=result.state.value),
        "run_id": dag_run.run_id,
        "reason": reason,
        "result": result,
    }
    for callback in callbacks:
        try:
            callback(context)
        except Exception as exc:  # a callback's failure never changes the run's state
            log.error(f"DAG {dag.dag_id!r} {reason} callback failed", exc)
