"""BranchDateTimeOperator: follow one branch inside a time window and another outside it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from dagflow.core.clock import utcnow
from dagflow.exceptions import DagDefinitionError
from dagflow.operators.branch import BaseBranchOperator

if TYPE_CHECKING:
    from dagflow.context import Context

Target = dt.datetime | dt.time | None


def target_times_as_dates(base_date: dt.datetime, lower: Target, upper: Target) -> tuple[Any, Any]:
    """The bounds as datetimes: a time of day is taken on ``base_date``'s date; when both are times and
    the upper one comes first, the window crosses midnight, so the upper bound is on the next day."""
    if isinstance(lower, dt.datetime) and isinstance(upper, dt.datetime):
        return lower, upper
    if isinstance(lower, dt.time):
        lower = dt.datetime.combine(base_date, lower)
    if isinstance(upper, dt.time):
        upper = dt.datetime.combine(base_date, upper)
    if lower is None or upper is None:
        return lower, upper
    if upper < lower:
        upper += dt.timedelta(days=1)
    return lower, upper


def _in_zone(value: dt.datetime | None, zone: dt.tzinfo) -> dt.datetime | None:
    """A naive datetime is read in the DAG's timezone; an aware one is kept."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=zone)


class BranchDateTimeOperator(BaseBranchOperator):
    """Follows ``follow_task_ids_if_true`` when now (or, with ``use_task_logical_date``, the run's
    logical date) lies within ``target_lower``..``target_upper``, else ``follow_task_ids_if_false``.

    A bound may be a datetime or a time of day (read in the DAG's timezone), or None for an open side;
    at least one bound is needed.
    """

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        target_lower: Target,
        target_upper: Target,
        use_task_logical_date: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if target_lower is None and target_upper is None:
            raise DagDefinitionError(
                f"BranchDateTimeOperator(task_id={self.task_id!r}): both target_upper and target_lower are "
                "None; set at least one to compare the current datetime with"
            )
        self.target_lower = target_lower
        self.target_upper = target_upper
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.use_task_logical_date = use_task_logical_date

    def _now(self, context: Context) -> dt.datetime:
        if not self.use_task_logical_date:
            return utcnow()
        return context.get("logical_date") or context["dag_run"].run_after

    def choose_branch(self, context: Context) -> str | Iterable[str]:
        assert self.dag is not None
        now = self._now(context)
        zone = self.dag.timezone
        # The date a time of day is taken on is now's own (UTC) date, as in Airflow.
        lower, upper = target_times_as_dates(now, self.target_lower, self.target_upper)
        lower, upper = _in_zone(lower, zone), _in_zone(upper, zone)
        if upper is not None and upper < now:
            return self.follow_task_ids_if_false
        if lower is not None and lower > now:
            return self.follow_task_ids_if_false
        return self.follow_task_ids_if_true
