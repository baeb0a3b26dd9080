"""Task-instance and run states, as Airflow users know them, in one place."""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    """The state of one task instance (one task, one run, one map index).

    A task instance that has never been looked at has no state at all (``None``); ``NONE`` is the
    name used where a value is needed, for example in counts and in the JSON output.
    """

    NONE = "none"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    UPSTREAM_FAILED = "upstream_failed"
    SKIPPED = "skipped"
    REMOVED = "removed"


class RunState(StrEnum):
    """The state of one DAG run."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


class RunType(StrEnum):
    """How a DAG run came to be: the ``run_type`` of ``dag_run`` (Airflow's ``DagRunType`` values)."""

    MANUAL = "manual"
    SCHEDULED = "scheduled"
    BACKFILL_JOB = "backfill"


class JobState(StrEnum):
    """The state of a long-lived process's job row (a scheduler)."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


#: States from which a task instance will not move again without a clear.
FINISHED = frozenset(
    {TaskState.SUCCESS, TaskState.FAILED, TaskState.SKIPPED, TaskState.UPSTREAM_FAILED, TaskState.REMOVED}
)
#: States in which the scheduling decisions look at a task instance (its trigger rule is evaluated).
SCHEDULABLE = frozenset({TaskState.NONE, TaskState.UP_FOR_RETRY, TaskState.UP_FOR_RESCHEDULE})
#: States in which a leaf task makes its run fail.
FAILED_STATES = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED})
#: States in which a leaf task lets its run succeed.
SUCCESS_STATES = frozenset({TaskState.SUCCESS, TaskState.SKIPPED})
#: States in which a try is under way, or waiting only for a free slot (scheduled).
IN_FLIGHT = frozenset({TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING})
