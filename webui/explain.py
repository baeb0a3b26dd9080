"""Why a task instance is not running: the same rules the scheduler applies, asked for their reasons."""

from __future__ import annotations

from datetime import datetime

from dagflow.core import dispatch
from dagflow.core.clock import utcnow
from dagflow.core.decisions import decide
from dagflow.core.keys import TIKey
from dagflow.core.states import FINISHED, TaskState
from dagflow.serialization import StoredDag
from dagflow.store import Session, scheduling
from dagflow.store import task_instances as ti_store
from dagflow.store.models import DagRow, DagRunRow, TaskInstanceRow


def why_not_running(
    session: Session, stored: StoredDag, dag: DagRow, run: DagRunRow, ti: TaskInstanceRow, *, parallelism: int
) -> list[str]:
    """Plain sentences: what the task instance waits for (empty when it is running or finished)."""
    state = TaskState(ti.state)
    if state is TaskState.RUNNING or state in FINISHED:
        return []
    reasons: list[str] = []
    if dag.is_paused:
        reasons.append("The DAG is paused: no task instance of it starts until it is unpaused.")
    if run.state == "queued":
        reasons.append(
            f"The run is queued: the DAG already has {dag.max_active_runs} active run(s) "
            "(max_active_runs), or the scheduler has not started it yet."
        )
    reasons.extend(_state_reasons(session, stored, run, ti, state, parallelism))
    return reasons


def _state_reasons(
    session: Session,
    stored: StoredDag,
    run: DagRunRow,
    ti: TaskInstanceRow,
    state: TaskState,
    parallelism: int,
) -> list[str]:
    if state is TaskState.UP_FOR_RETRY:
        return [
            f"Try {ti.try_number} failed; the next try may start at {_when(ti.not_before)} (retry_delay)."
        ]
    if state is TaskState.UP_FOR_RESCHEDULE:
        return [f"The sensor is rescheduled: its next poke is at {_when(ti.not_before)}."]
    if state is TaskState.QUEUED:
        return [f"Queued at {_when(ti.queued_at)}: waiting for a free worker."]
    if state is TaskState.SCHEDULED:
        return _slot_reasons(session, stored, run, ti, parallelism)
    return _dependency_reasons(session, stored, run, ti)


def _dependency_reasons(
    session: Session, stored: StoredDag, run: DagRunRow, ti: TaskInstanceRow
) -> list[str]:
    records = ti_store.load_records(session, run.dag_id, run.run_id)
    decisions = decide(stored.spec, records, now=utcnow(), length_of=lambda _task_id: None, explain=True)
    reason = decisions.reasons.get((ti.task_id, ti.map_index))
    task = stored.spec.tasks.get(ti.task_id)
    if task is None:
        return ["The task is no longer in the DAG."]
    states = {(r.task_id, r.map_index): r.state.value for r in records}
    waiting_on = sorted(
        {
            up
            for up in task.upstream
            for (t, _m), s in states.items()
            if t == up and TaskState(s) not in FINISHED
        }
    )
    found = []
    if reason:
        found.append(f"{reason[0].upper()}{reason[1:]}.")
    if waiting_on:
        found.append("Waiting for upstream task(s): " + ", ".join(waiting_on) + ".")
    if task.depends_on_past:
        found.append("depends_on_past: it also waits for its task instance in the previous run to succeed.")
    if not found:
        found.append("Its dependencies are met: the scheduler will schedule it on its next pass.")
    return found


def _slot_reasons(
    session: Session, stored: StoredDag, run: DagRunRow, ti: TaskInstanceRow, parallelism: int
) -> list[str]:
    spec = stored.spec.tasks.get(ti.task_id)
    if spec is None:
        return []
    key = TIKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
    candidate = dispatch.Candidate(
        key=key,
        priority_weight=ti.priority_weight,
        pool=ti.pool,
        pool_slots=ti.pool_slots,
        run_after=run.run_after,
        max_active_tis_per_dag=spec.max_active_tis_per_dag,
        max_active_tis_per_dagrun=spec.max_active_tis_per_dagrun,
    )
    choice = dispatch.choose(
        [candidate],
        scheduling.busy(session),
        parallelism=parallelism,
        max_active_tasks={ti.dag_id: stored.max_active_tasks},
        pools=scheduling.pool_sizes(session),
    )
    reason = choice.reasons.get(key)
    if reason:
        return [f"Ready, but waiting for a slot: {reason}."]
    return ["Ready: it will be queued on the scheduler's next pass."]


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "an unknown time"
