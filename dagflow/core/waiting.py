"""Why a task instance is where it is: the reasons that hold, and only those, as plain sentences.

A pure function over what the store knows (:class:`Situation`); the facts that need rules — the
trigger rule's verdict, ``depends_on_past``, the free slots — come from the same pure functions the
scheduler decides with (:mod:`dagflow.core.decisions`, :mod:`dagflow.core.past`,
:mod:`dagflow.core.dispatch`), so the answer is what the scheduler will do. The web UI and
``dagflow tasks why`` both print it (:mod:`dagflow.explain` gathers the facts).

The order of the checks is the order in which the scheduler would stop: a task instance already
handed to a worker runs whatever happens to its DAG; a paused DAG holds everything else; a queued run
holds its task instances; then the task instance's own state says what it waits for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from dagflow.core.states import FINISHED, RunState, TaskState


@dataclass(frozen=True)
class Situation:
    """What is known about one task instance, its run and its DAG at ``now``."""

    state: TaskState
    now: datetime
    run_state: RunState
    dag_paused: bool = False
    #: The DAG's running runs, and how many it may have (``max_active_runs``).
    running_runs: int = 0
    max_active_runs: int = 16
    #: For a run of a backfill: the backfill's running runs and its own ``max_active_runs``.
    backfill_running: int = 0
    backfill_limit: int | None = None
    in_dag: bool = True
    try_number: int = 0
    max_tries: int = 0
    not_before: datetime | None = None
    queued_at: datetime | None = None
    start_date: datetime | None = None
    #: The trigger rule's answer on the next pass: why it is not met (state ``none``)...
    unmet: str = ""
    #: ... or the state the next pass gives it without running it (``upstream_failed``, ``skipped``)...
    decided: TaskState | None = None
    #: ... and, when it is met, why ``depends_on_past`` still holds it back ("" when it does not).
    held_by_past: str = ""
    #: For a scheduled task instance: which limit keeps it from being queued ("" when none does).
    slot: str = ""
    #: Upstream tasks that failed or were upstream_failed (to name them for ``upstream_failed``).
    failed_upstreams: tuple[str, ...] = ()
    #: Upstream tasks not finished yet (to name them while the trigger rule is not met).
    waiting_on: tuple[str, ...] = ()
    trigger_rule: str = "all_success"


@dataclass(frozen=True)
class Explanation:
    """``waiting``: whether it is waiting to run (False when it runs or has finished)."""

    waiting: bool
    reasons: tuple[str, ...]

    @property
    def title(self) -> str:
        return "Why it is not running" if self.waiting else "Where it is"


def explain(s: Situation) -> Explanation:
    """The reasons that hold for ``s``, most decisive first."""
    if not s.in_dag:
        return Explanation(False, ("The task is no longer in the DAG: it will not run (state removed).",))
    for check in (_not_waiting, _run_blocks, _own_state):
        found = check(s)
        if found is not None:
            return found
    raise AssertionError(f"no explanation for {s.state}")  # pragma: no cover - _own_state covers all


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "an unknown time"


def _not_waiting(s: Situation) -> Explanation | None:
    if s.state is TaskState.RUNNING:
        return Explanation(False, (f"It is running: try {s.try_number}, started at {_when(s.start_date)}.",))
    if s.state is TaskState.QUEUED:  # handed to the executor: a pause or a limit no longer holds it
        return Explanation(
            True, (f"Queued at {_when(s.queued_at)}: waiting for a worker of the executor to start it.",)
        )
    if s.state in FINISHED:
        return Explanation(False, (_finished(s),))
    return None


def _finished(s: Situation) -> str:
    if s.state is TaskState.UPSTREAM_FAILED:
        names = ", ".join(s.failed_upstreams) or "an upstream task"
        return f"It will not run: {names} failed, so it is upstream_failed (clear the failed task to retry)."
    if s.state is TaskState.FAILED:
        return f"It has finished: try {s.try_number} failed and no retries are left (it has {s.max_tries})."
    if s.state is TaskState.REMOVED:
        return "It will not run: the task is no longer in the DAG (or its map index no longer exists)."
    return f"It has finished: {s.state.value}."


def _run_blocks(s: Situation) -> Explanation | None:
    if s.run_state in (RunState.SUCCESS, RunState.FAILED):
        return Explanation(
            False, (f"The run is {s.run_state.value}: nothing more of it is scheduled unless it is cleared.",)
        )
    if s.dag_paused:
        return Explanation(True, ("The DAG is paused: no task instance of it starts until it is unpaused.",))
    if s.run_state is RunState.QUEUED:
        if s.running_runs >= s.max_active_runs:
            return Explanation(
                True,
                (
                    f"The run is queued: the DAG has {s.running_runs} running run(s), as many as its "
                    f"max_active_runs ({s.max_active_runs}) allows.",
                ),
            )
        if s.backfill_limit is not None and s.backfill_running >= s.backfill_limit:
            return Explanation(
                True,
                (
                    f"The run is queued: its backfill has {s.backfill_running} running run(s), as many as "
                    f"its max_active_runs ({s.backfill_limit}) allows.",
                ),
            )
        return Explanation(True, ("The run is queued: the scheduler starts it on its next pass.",))
    return None


def _own_state(s: Situation) -> Explanation:
    return Explanation(True, (_BY_STATE.get(s.state, _none)(s),))


def _retry(s: Situation) -> str:
    if s.not_before is not None and s.not_before > s.now:
        return (
            f"Try {s.try_number} failed; try {s.try_number + 1} of {s.max_tries + 1} may start at "
            f"{_when(s.not_before)} (retry_delay)."
        )
    return f"Try {s.try_number} failed and its retry_delay has passed: the next pass schedules it again."


def _reschedule(s: Situation) -> str:
    if s.not_before is not None and s.not_before > s.now:
        return f"The sensor is rescheduled: its next poke is at {_when(s.not_before)}."
    return "The sensor is rescheduled and its poke is due: the next pass schedules it."


def _scheduled(s: Situation) -> str:
    if s.slot:
        return f"Its dependencies are met, but it waits for a slot: {s.slot}."
    return "Its dependencies are met and a slot is free: the scheduler queues it on its next pass."


def _none(s: Situation) -> str:
    if s.decided is not None:
        failed = f" (failed upstream: {', '.join(s.failed_upstreams)})" if s.failed_upstreams else ""
        return (
            f"It will not run: its trigger rule {s.trigger_rule} marks it {s.decided.value} "
            f"on the next pass{failed}."
        )
    if s.unmet:
        names = f" (not finished: {', '.join(s.waiting_on)})" if s.waiting_on else ""
        return f"Its {s.unmet}{names}."
    if s.held_by_past:
        return f"Deferred by depends_on_past: {s.held_by_past}."
    return "Its dependencies are met: the scheduler schedules it on its next pass."


_BY_STATE: dict[TaskState, Callable[[Situation], str]] = {
    TaskState.UP_FOR_RETRY: _retry,
    TaskState.UP_FOR_RESCHEDULE: _reschedule,
    TaskState.SCHEDULED: _scheduled,
}
