"""LatestOnlyOperator: let downstream tasks run only in the run of the latest schedule interval."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from dagflow.core.clock import utcnow
from dagflow.core.schedule import DataInterval, NextRun, Restriction
from dagflow.operators.branch import BaseBranchOperator

if TYPE_CHECKING:
    from dagflow.context import Context, DagRunInfo


class LatestOnlyOperator(BaseBranchOperator):
    """Skips its direct downstream tasks unless this run is the one of the latest schedule interval.

    A run is the latest when now lies after the end of the previous run's interval (this run's start)
    and at most at the end of the next run's interval: an older run (a backfill, a catch-up) skips
    downstream. A manual run always continues, and so does a run with no next run on the schedule.
    """

    ui_color = "#e9ffdb"

    def choose_branch(self, context: Context) -> str | Iterable[str]:
        everything = sorted(self.downstream_task_ids)
        dag_run: DagRunInfo = context["dag_run"]
        if dag_run.run_type == "manual":
            self.log.info("Manually triggered run: allowing execution to proceed.")
            return everything
        window = self._window(dag_run)
        if window is None:
            self.log.info("Last scheduled run: allowing execution to proceed.")
            return everything
        now = utcnow()
        left, right = window
        self.log.info("Checking latest only with left_window: %s right_window: %s now: %s", left, right, now)
        if not left < now <= right:
            self.log.info("Not latest execution, skipping downstream.")
            return []
        self.log.info("Latest, allowing execution to proceed.")
        return everything

    def _window(self, dag_run: DagRunInfo) -> tuple[datetime, datetime] | None:
        """From the end of the schedule point before this run to the end of the next run's interval."""
        assert self.dag is not None
        date = dag_run.logical_date or dag_run.run_after
        assert date is not None, "a scheduled run has a logical date"
        current = DataInterval(dag_run.data_interval_start or date, dag_run.data_interval_end or date)
        this_run = NextRun(date, current, dag_run.run_after or current.end)
        timetable, now = self.dag.timetable, utcnow()
        before = Restriction(earliest=None, latest=current.end - timedelta(microseconds=1), catchup=True)
        previous = timetable.next_run(this_run, before, now)
        left = previous.data_interval.end if previous is not None else current.start
        following = timetable.next_run(
            this_run, Restriction(earliest=current.end, latest=None, catchup=True), now
        )
        if following is None:
            return None
        return left, following.data_interval.end
