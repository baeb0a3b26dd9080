"""Why a task instance is not running, read from the store (the facts :mod:`dagflow.core.waiting` judges).

The web UI's task instance page and ``dagflow tasks why`` both call :func:`why`; the rules are the
scheduler's own pure decisions (trigger rules, ``depends_on_past``, the slot limits), asked here for
their reasons. Nothing here imports the scheduler.
"""

from __future__ import annotations

from dataclasses import replace

from dagflow.core import dispatch
from dagflow.core.clock import utcnow
from dagflow.core.decisions import TIRecord, decide
from dagflow.core.keys import RunKey, TIKey
from dagflow.core.past import held_by_past
from dagflow.core.spec import TaskSpec
from dagflow.core.states import FINISHED, RunState, TaskState
from dagflow.core.waiting import Explanation, Situation, explain
from dagflow.exceptions import DagflowError
from dagflow.serialization import StoredDag
from dagflow.store import Session, scheduling
from dagflow.store import dags as dag_store
from dagflow.store import runs as run_store
from dagflow.store import task_instances as ti_store
from dagflow.store.models import DagRow, DagRunRow, TaskInstanceRow


class NoTaskInstance(DagflowError):
    """The DAG, run or task instance asked about is not in the store."""


def why(session: Session, key: TIKey, *, parallelism: int) -> Explanation:
    """The explanation for the task instance ``key``; NoTaskInstance naming what is missing."""
    dag = dag_store.get_dag_row(session, key.dag_id)
    if dag is None or not dag.serialized:
        raise NoTaskInstance(f"DAG {key.dag_id!r} is not known to the store")
    run = run_store.get_run(session, key.dag_id, key.run_id)
    if run is None:
        raise NoTaskInstance(f"DAG {key.dag_id!r} has no run {key.run_id!r}")
    ti = scheduling.task_instance(session, key)
    if ti is None:
        where = f" map index {key.map_index}" if key.map_index >= 0 else ""
        raise NoTaskInstance(f"run {key.run_id!r} has no task instance {key.task_id!r}{where}")
    return explain(
        situation(session, StoredDag.from_json(dag.serialized), dag, run, ti, parallelism=parallelism)
    )


def situation(
    session: Session, stored: StoredDag, dag: DagRow, run: DagRunRow, ti: TaskInstanceRow, *, parallelism: int
) -> Situation:
    """What :func:`dagflow.core.waiting.explain` needs to know, read in a handful of bounded queries."""
    state = TaskState(ti.state or TaskState.NONE.value)
    task = stored.spec.tasks.get(ti.task_id)
    base = Situation(
        state=state,
        now=utcnow(),
        run_state=RunState(run.state),
        dag_paused=bool(dag.is_paused),
        max_active_runs=stored.max_active_runs,
        in_dag=task is not None,
        try_number=ti.try_number,
        max_tries=ti.max_tries,
        not_before=ti.not_before,
        queued_at=ti.queued_at,
        start_date=ti.start_date,
    )
    if task is None:
        return base
    if run.state == RunState.QUEUED.value:
        slots = scheduling.run_slots(session, [dag.dag_id])
        backfill = run.backfill_id
        return replace(
            base,
            running_runs=slots.running[dag.dag_id],
            backfill_running=slots.backfill_running[backfill] if backfill is not None else 0,
            backfill_limit=slots.backfill_limits.get(backfill, 1) if backfill is not None else None,
        )
    if state is TaskState.SCHEDULED:
        return replace(base, slot=_slot(session, stored, run, ti, parallelism))
    if state in (TaskState.NONE, TaskState.UPSTREAM_FAILED):
        return _dependencies(session, stored, run, ti, base)
    return base


def _relevant(stored: StoredDag, task: TaskSpec, ti: TaskInstanceRow, upstream: TIRecord) -> bool:
    """In an expanded task group, a map index waits only for the same index of its upstreams there."""
    if task.map_group is None or ti.map_index < 0:
        return True
    same_group = stored.spec.tasks[upstream.task_id].map_group == task.map_group
    return not same_group or upstream.map_index == ti.map_index


def _dependencies(
    session: Session, stored: StoredDag, run: DagRunRow, ti: TaskInstanceRow, base: Situation
) -> Situation:
    """The trigger rule's verdict on the next pass, the upstreams it waits for, and depends_on_past."""
    records = ti_store.load_records(session, run.dag_id, run.run_id)
    task = stored.spec.tasks[ti.task_id]
    upstream = [r for r in records if r.task_id in task.upstream and _relevant(stored, task, ti, r)]
    failed = tuple(sorted({r.task_id for r in upstream if r.state in _FAILED}))
    if base.state is TaskState.UPSTREAM_FAILED:
        return replace(base, failed_upstreams=failed)
    decisions = decide(
        stored.spec,
        records,
        now=base.now,
        length_of=lambda task_id: _length(session, stored, run, task_id),
        explain=True,
    )
    key = (ti.task_id, ti.map_index)
    waiting_on = tuple(sorted({r.task_id for r in upstream if r.state not in FINISHED}))
    held = ""
    if key in decisions.ready or (
        task.is_mapped and ti.map_index < 0 and task.task_id in decisions.expansions
    ):
        previous = scheduling.previous_run_states(session, run.dag_id, run.logical_date)
        held = held_by_past(task, ti.map_index, previous)
    return replace(
        base,
        unmet=decisions.reasons.get(key, ""),
        decided=decisions.new_states.get(key),
        held_by_past=held,
        waiting_on=waiting_on,
        failed_upstreams=failed,
        trigger_rule=task.trigger_rule.value,
    )


_FAILED = (TaskState.FAILED, TaskState.UPSTREAM_FAILED)


def _length(session: Session, stored: StoredDag, run: DagRunRow, task_id: str) -> int | None:
    """How many values ``task_id``'s output offers to map over (as the scheduler counts them)."""
    run_key = RunKey(run.dag_id, run.run_id)
    if stored.spec.tasks[task_id].is_mapped:
        return scheduling.mapped_output_count(session, run_key, task_id)
    return scheduling.recorded_map_length(session, run_key, task_id)


def _slot(session: Session, stored: StoredDag, run: DagRunRow, ti: TaskInstanceRow, parallelism: int) -> str:
    """Which limit keeps a scheduled task instance from being queued now ("" when a slot is free)."""
    spec = stored.spec.tasks[ti.task_id]
    key = TIKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
    candidate = dispatch.Candidate.of_task(
        key,
        spec,
        priority_weight=ti.priority_weight,
        pool=ti.pool,
        pool_slots=ti.pool_slots,
        run_after=run.run_after,
    )
    choice = dispatch.choose(
        [candidate],
        scheduling.busy(session),
        parallelism=parallelism,
        max_active_tasks={ti.dag_id: stored.max_active_tasks},
        pools=scheduling.pool_sizes(session),
    )
    return choice.reasons.get(key, "")


def why_compensation(session: Session, stored: StoredDag, run: DagRunRow, key: TIKey) -> list[str]:
    """Why the compensation of task instance (or task group) ``key`` is not running, read from the store."""
    from dagflow.core.saga import RunCompensation, decide_compensations, explain_compensation
    from dagflow.store import compensations as comp_store

    forward = comp_store.forward_states(session, key.run)
    states = {k: state for k, (state, _) in forward.items()}
    records = comp_store.records_of(comp_store.compensation_rows(session, key.run))
    spec = stored.spec
    decisions = decide_compensations(spec.saga_graph, states, records, now=utcnow())
    node = (key.task_id, key.map_index)
    if node[0] not in spec.saga_graph.compensated:
        return [f"{key.task_id} has no compensation (no compensate= in the DAG)."]
    return explain_compensation(
        node,
        run_state=RunCompensation(run.compensation_state),
        forward_state=states.get(node),
        record=records.get(node),
        decisions=decisions,
    )
