"""A worker's attempt between its phases: claimed (:class:`Started`), then run (:class:`Ended`), its
outcome still to be recorded; of a task, or of a compensation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dagflow.context import DagRunInfo, with_pendulum_dates
from dagflow.executors.base import Workload
from dagflow.runtime.taskrunner import AttemptOutcome
from dagflow.store.attempts import Claim
from dagflow.store.models import DagRunRow
from dagflow.store.xcom import DbXComStore


@dataclass(frozen=True)
class Started:
    """A workload this worker claimed: its task instance is running with the workload's token."""

    workload: Workload
    claim: Claim
    dag_run: DagRunInfo


@dataclass(frozen=True)
class Ended:
    """An attempt whose task code has ended: its outcome is still to be recorded."""

    workload: Workload
    try_number: int
    outcome: AttemptOutcome
    xcoms: DbXComStore
    log_path: Path


def run_info_of(run: DagRunRow, previous: DagRunRow | None = None) -> DagRunInfo:
    """The run as tasks see it; ``previous``, the DAG's last successful run before it, gives the
    context's ``prev_*_success`` dates. Its dates are pendulum DateTimes, as tasks see them."""
    return with_pendulum_dates(
        DagRunInfo(
            dag_id=run.dag_id,
            run_id=run.run_id,
            logical_date=run.logical_date,
            data_interval_start=run.data_interval_start,
            data_interval_end=run.data_interval_end,
            run_type=run.run_type,
            conf=dict(run.conf or {}),
            start_date=run.start_date,
            run_after=run.run_after,
            prev_data_interval_start_success=previous.data_interval_start if previous else None,
            prev_data_interval_end_success=previous.data_interval_end if previous else None,
            prev_start_date_success=previous.start_date if previous else None,
            prev_end_date_success=previous.end_date if previous else None,
            state=run.state,
        )
    )
