"""What people do to DAGs and runs — trigger, pause, clear, mark, delete, backfill — on the store.

The CLI and the web UI both call these. Each takes the caller's session (the caller commits),
checks its input first and raises a :class:`~dagflow.exceptions.DagflowError` with a one-line
message on bad input, so nothing is half-written. Each records an audit line in the event log.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dagflow.core.clock import utcnow
from dagflow.core.keys import RunKey, TIKey
from dagflow.core.schedule import DataInterval, NextRun, Restriction
from dagflow.core.states import RunState, TaskState
from dagflow.dependent_clear import dependent_clears
from dagflow.exceptions import DagflowError, DagNotFound, ParamValidationError, TaskNotFound
from dagflow.serialization import StoredDag
from dagflow.store import Session, ti_changes
from dagflow.store import compensations as comp_store
from dagflow.store import dags as dag_store
from dagflow.store import pools as pool_store
from dagflow.store import runs as run_store
from dagflow.store import versions as version_store
from dagflow.store.events import record_event
from dagflow.store.models import BackfillRow, DagRunRow, PoolRow, TaskInstanceRow
from dagflow.store.notify import wake_after_commit

#: What a run id may be: it becomes a URL segment and a folder of the logs.
RUN_ID = re.compile(r"[^/\x00-\x1f\x7f]{1,250}")


class RunExists(DagflowError):
    """A run with that id or logical date exists already."""


def stored_dag(session: Session, dag_id: str) -> StoredDag:
    """The stored DAG, or DagNotFound naming it."""
    row = dag_store.get_dag_row(session, dag_id)
    if row is None or not row.serialized:
        raise DagNotFound(f"DAG {dag_id!r} is not known to the store (is the scheduler parsing its file?)")
    if not row.is_active:  # the scheduler ignores it: a new or cleared run of it would never start
        raise DagNotFound(f"DAG {dag_id!r} is no longer defined in the DAGs folder (it was in {row.fileloc})")
    return dataclasses.replace(StoredDag.from_json(row.serialized), version_id=row.dag_version_id)


def validated_conf(stored: StoredDag, conf: dict[str, Any] | None) -> dict[str, Any]:
    if conf is not None and not isinstance(conf, dict):
        raise ParamValidationError(f"DAG {stored.dag_id!r}: conf must be a JSON object")
    try:
        stored.params.with_values(conf).validate()
    except ParamValidationError as exc:
        raise ParamValidationError(f"DAG {stored.dag_id!r}: {exc}") from None
    return dict(conf or {})


def check_run_id(run_id: str) -> str:
    """``run_id``, or a clear error if it could not name a run (and its folder of logs)."""
    if not RUN_ID.fullmatch(run_id) or not run_id.strip(". "):
        raise DagflowError(
            f"run id {run_id!r} is not valid: use 1 to 250 characters, without '/' or control "
            "characters, and not only dots and spaces"
        )
    return run_id


def trigger_dag(
    session: Session,
    dag_id: str,
    *,
    conf: dict[str, Any] | None = None,
    logical_date: datetime | None = None,
    run_id: str | None = None,
    owner: str | None = None,
    now: datetime | None = None,
) -> DagRunRow:
    """Create a manual run (queued: the scheduler starts it); refuse a taken run id or logical date."""
    now = now or utcnow()
    stored = stored_dag(session, dag_id)
    conf = validated_conf(stored, conf)
    when = logical_date or now
    if when.tzinfo is None:
        raise DagflowError("the logical date needs a timezone (for example 2024-01-01T00:00:00+00:00)")
    run_id = check_run_id(run_id) if run_id is not None else f"manual__{when.isoformat()}"
    if run_store.get_run(session, dag_id, run_id) is not None:
        raise RunExists(f"DAG {dag_id!r} already has a run with id {run_id!r}")
    if run_store.run_with_logical_date(session, dag_id, when) is not None:
        raise RunExists(f"DAG {dag_id!r} already has a run with logical date {when.isoformat()}")
    interval = stored.timetable.infer_manual_data_interval(run_after=when)
    run = run_store.create_run(
        session,
        stored,
        run_id=run_id,
        logical_date=when,
        data_interval=(interval.start, interval.end),
        run_after=now,
        run_type="manual",
        conf=conf,
        now=now,
        triggered_by=owner,
    )
    wake_after_commit(session)
    record_event(session, event="trigger", owner=owner, dag_id=dag_id, run_id=run_id, extra={"conf": conf})
    return run


def set_paused(session: Session, dag_id: str, paused: bool, *, owner: str | None = None) -> None:
    if not dag_store.set_paused(session, dag_id, paused):
        raise DagNotFound(f"DAG {dag_id!r} not found")
    record_event(session, event="pause" if paused else "unpause", owner=owner, dag_id=dag_id)


def get_run(session: Session, dag_id: str, run_id: str) -> DagRunRow:
    run = run_store.get_run(session, dag_id, run_id)
    if run is None:
        if dag_store.get_dag_row(session, dag_id) is None:
            raise DagNotFound(f"DAG {dag_id!r} not found")
        raise DagflowError(f"DAG {dag_id!r} has no run {run_id!r}")
    return run


@dataclass(frozen=True)
class ClearResult:
    """The task instances cleared (or that would be, on a dry run), by task id and map index."""

    cleared: list[tuple[str, int]]
    #: Task instances of other DAGs' runs reached through ExternalTaskMarkers:
    #: (dag_id, run_id, task_id, map_index).
    dependent: list[tuple[str, str, str, int]] = field(default_factory=list)


def _related(stored: StoredDag, task_ids: Iterable[str], *, upstream: bool, downstream: bool) -> set[str]:
    found = set(task_ids)
    frontier = list(found)
    while frontier:
        task = stored.spec.tasks[frontier.pop()]
        neighbours: list[str] = []
        if downstream:
            neighbours.extend(task.downstream)
        if upstream:
            neighbours.extend(task.upstream)
        for other in neighbours:
            if other not in found:
                found.add(other)
                frontier.append(other)
    return found


def clear_task_instances(
    session: Session,
    dag_id: str,
    run_id: str,
    task_ids: Sequence[str],
    *,
    downstream: bool = False,
    upstream: bool = False,
    only_failed: bool = False,
    owner: str | None = None,
    dry_run: bool = False,
    include_dependent_dags: bool = True,
    now: datetime | None = None,
    dag_version: str = "run",
) -> ClearResult:
    """Clear task instances so they run again (with ``retries`` more tries); their run runs again too.

    With ``include_dependent_dags`` (the default), clearing an ExternalTaskMarker also clears the task
    it marks in the other DAG's run, with that task's downstream tasks (see :mod:`dagflow.dependent_clear`).
    ``dag_version``: ``run`` (the default) runs them again on the DAG version the run started with;
    ``latest`` moves the run to the DAG's latest version first (tasks it adds are created, those it
    no longer has are removed), as Airflow 3's "run on latest version".
    """
    now = now or utcnow()
    if dag_version not in DAG_VERSION_CHOICES:
        raise DagflowError(
            f"dag_version must be one of {', '.join(DAG_VERSION_CHOICES)}, got {dag_version!r}"
        )
    stored = stored_dag(session, dag_id)
    run = get_run(session, dag_id, run_id)
    if dag_version == "latest":
        if not dry_run:
            run_store.move_to_version(session, run=run, stored=stored, now=now)
    elif run.dag_version_id is not None and run.dag_version_id != stored.version_id:
        stored = version_store.stored_version(session, run.dag_version_id) or stored
    unknown = [t for t in task_ids if t not in stored.spec.tasks]
    if unknown:
        raise TaskNotFound(f"DAG {dag_id!r} has no task(s) {', '.join(unknown)}")
    wanted = _related(stored, task_ids or list(stored.spec.tasks), upstream=upstream, downstream=downstream)
    rows = ti_changes.to_clear(session, run=RunKey(dag_id, run_id), task_ids=wanted, only_failed=only_failed)
    cleared = [(row.task_id, row.map_index) for row in rows]
    plan = (
        dependent_clears(session, dag_id, run, {row.task_id for row in rows})
        if include_dependent_dags
        else []
    )
    dependent_rows = [
        (
            target,
            ti_changes.to_clear(session, run=RunKey(target.dag_id, target.run_id), task_ids=target.task_ids),
        )
        for target in plan
    ]
    dependent = [(t.dag_id, t.run_id, r.task_id, r.map_index) for t, found in dependent_rows for r in found]
    if dry_run or not rows:
        return ClearResult(cleared, dependent)
    _clear_rows(session, stored, run, rows, owner=owner, now=now)
    for target, found in dependent_rows:
        if found:
            other = stored_dag(session, target.dag_id)
            _clear_rows(
                session, other, get_run(session, target.dag_id, target.run_id), found, owner=owner, now=now
            )
    return ClearResult(cleared, dependent)


def _clear_rows(
    session: Session,
    stored: StoredDag,
    run: DagRunRow,
    rows: Sequence[TaskInstanceRow],
    *,
    owner: str | None,
    now: datetime,
) -> None:
    retries = {task_id: task.retries for task_id, task in stored.spec.tasks.items()}
    ti_changes.clear(session, rows=rows, retries=retries, now=now)
    run_store.requeue_finished(session, run=run, now=now)
    record_event(
        session,
        event="clear",
        owner=owner,
        dag_id=run.dag_id,
        run_id=run.run_id,
        extra={
            "task_instances": [f"{r.task_id}[{r.map_index}]" if r.map_index >= 0 else r.task_id for r in rows]
        },
    )


DAG_VERSION_CHOICES = ("run", "latest")
SETTABLE = (TaskState.SUCCESS, TaskState.FAILED, TaskState.SKIPPED)


def set_task_instance_state(
    session: Session,
    dag_id: str,
    run_id: str,
    task_id: str,
    state: TaskState,
    *,
    map_index: int = -1,
    owner: str | None = None,
    now: datetime | None = None,
) -> TaskInstanceRow:
    """Mark a task instance success, failed or skipped by hand; a running try is stopped."""
    now = now or utcnow()
    if state not in SETTABLE:
        raise DagflowError(
            f"a task instance can be marked {', '.join(s.value for s in SETTABLE)}, not {state.value}"
        )
    run = get_run(session, dag_id, run_id)
    row = ti_changes.mark(session, key=TIKey(dag_id, run_id, task_id, map_index), state=state, now=now)
    if row is None:
        raise TaskNotFound(
            f"run {run_id!r} of DAG {dag_id!r} has no task instance {task_id!r} (map index {map_index})"
        )
    run_store.reopen_finished(session, run=run, now=now)
    record_event(
        session,
        event=f"mark_{state.value}",
        owner=owner,
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        map_index=map_index,
    )
    return row


def set_run_state(
    session: Session, dag_id: str, run_id: str, state: RunState, *, owner: str | None = None
) -> DagRunRow:
    """Mark a whole run success or failed: its unfinished task instances take that state too."""
    if state not in (RunState.SUCCESS, RunState.FAILED):
        raise DagflowError(f"a run can be marked success or failed, not {state.value}")
    now = utcnow()
    run = get_run(session, dag_id, run_id)
    ti_changes.finish_unfinished(session, run=RunKey(dag_id, run_id), state=TaskState(state.value), now=now)
    run_store.finish_run(session, run=run, state=state, now=now)
    record_event(session, event=f"mark_run_{state.value}", owner=owner, dag_id=dag_id, run_id=run_id)
    return run


def delete_run(session: Session, dag_id: str, run_id: str, *, owner: str | None = None) -> None:
    """Delete a run with its task instances, tries and XComs."""
    run = get_run(session, dag_id, run_id)
    run_store.delete_run(session, run=run)
    record_event(session, event="delete_run", owner=owner, dag_id=dag_id, run_id=run_id)


def backfill(
    session: Session,
    dag_id: str,
    *,
    start: datetime,
    end: datetime,
    max_active_runs: int = 1,
    owner: str | None = None,
) -> tuple[BackfillRow, list[DagRunRow]]:
    """Create the missing runs of the schedule points from ``start`` to ``end``; the scheduler runs them."""
    if start.tzinfo is None or end.tzinfo is None:
        raise DagflowError("backfill dates need a timezone (for example 2024-01-01T00:00:00+00:00)")
    if end < start:
        raise DagflowError(f"backfill end {end.isoformat()} is before its start {start.isoformat()}")
    if max_active_runs < 1:
        raise DagflowError("--max-active-runs must be at least 1")
    stored = stored_dag(session, dag_id)
    if not stored.timetable.can_be_scheduled:
        raise DagflowError(f"DAG {dag_id!r} has no schedule, so it has no schedule points to backfill")
    points = _schedule_points(stored, start, end)
    record, created = run_store.create_backfill(
        session,
        stored=stored,
        points=points,
        start=start,
        end=end,
        max_active_runs=max_active_runs,
        now=utcnow(),
    )
    record_event(
        session,
        event="backfill",
        owner=owner,
        dag_id=dag_id,
        extra={"start": start.isoformat(), "end": end.isoformat(), "runs": [r.run_id for r in created]},
    )
    return record, created


def _schedule_points(stored: StoredDag, start: datetime, end: datetime) -> list[NextRun]:
    restriction = Restriction(earliest=start, latest=end, catchup=True)
    points: list[NextRun] = []
    last: NextRun | None = None
    while len(points) < 10_000:
        point = stored.timetable.next_run(last, restriction, start)
        if point is None or point.logical_date > end:
            break
        points.append(point)
        last = point
    return points


def interval_of(run: DagRunRow) -> DataInterval | None:
    if run.data_interval_start is None or run.data_interval_end is None:
        return None
    return DataInterval(run.data_interval_start, run.data_interval_end)


def set_pool(
    session: Session, name: str, slots: int, *, description: str | None = None, owner: str | None = None
) -> PoolRow:
    """Create a pool or change its slots (a pool limits how many task instances using it run at once)."""
    if not name or len(name) > 250:
        raise DagflowError("a pool needs a name of 1 to 250 characters")
    if slots < 0:
        raise DagflowError(f"pool {name!r}: slots must be 0 or more, got {slots}")
    pool = pool_store.set_pool(session, name=name, slots=slots, description=description)
    record_event(session, event="set_pool", owner=owner, extra={"pool": name, "slots": slots})
    return pool


def delete_pool(session: Session, name: str, *, owner: str | None = None) -> None:
    if name == "default_pool":
        raise DagflowError("the default pool cannot be deleted (set its slots instead)")
    if not pool_store.delete_pool(session, name=name):
        raise DagflowError(f"no pool named {name!r}")
    record_event(session, event="delete_pool", owner=owner, extra={"pool": name})


def compensate_run(
    session: Session, dag_id: str, run_id: str, *, resume: bool = False, owner: str | None = None
) -> DagRunRow:
    """Compensate a finished run by hand (a failed one, or a successful one undone later), or with
    ``resume`` give the failed compensations of a ``compensation_failed`` run another round of tries.
    The scheduler does the work; this records that it is to be done."""
    run = get_run(session, dag_id, run_id)
    where = f"DAG {dag_id!r}, run {run_id!r}"
    if run.state not in (RunState.SUCCESS.value, RunState.FAILED.value):
        raise DagflowError(f"{where} is {run.state}; wait until it has finished, then compensate it")
    stored = stored_dag(session, dag_id)
    if not stored.spec.has_compensations:
        raise DagflowError(f"{where}: no task of the DAG has compensate=; there is nothing to undo")
    current = run.compensation_state
    if current == "compensating":
        raise DagflowError(f"{where} is being compensated already")
    if current != "none" and not resume:
        raise DagflowError(f"{where} was compensated already ({current}); pass --resume to retry what failed")
    retries = {t.task_id: t.compensation_retries for t in stored.spec.tasks.values() if t.has_compensation}
    retries.update({g: int(v.get("retries", 0)) for g, v in stored.spec.compensated_groups.items()})
    comp_store.begin(session, run, resume=resume, retries=retries)
    event = "resume_compensation" if resume else "compensate_run"
    record_event(session, event=event, owner=owner, dag_id=dag_id, run_id=run_id)
    return run
