"""BranchDayOfWeekOperator: follow one branch on some days of the week and another on the others."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from dagflow.core.clock import utcnow
from dagflow.operators.branch import BaseBranchOperator
from dagflow.utils.weekday import WeekDay

if TYPE_CHECKING:
    from dagflow.context import Context


class BranchDayOfWeekOperator(BaseBranchOperator):
    """Follows ``follow_task_ids_if_true`` when today (in the DAG's timezone), or with
    ``use_task_logical_date`` the run's logical date, is one of ``week_day``; else
    ``follow_task_ids_if_false``. ``week_day``: a day name (any case), a WeekDay, or a set of them."""

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        week_day: str | Iterable[str] | WeekDay | Iterable[WeekDay],
        use_task_logical_date: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.week_day = week_day
        self.use_task_logical_date = use_task_logical_date
        self._week_day_num = WeekDay.validate_week_day(week_day)

    def choose_branch(self, context: Context) -> str | Iterable[str]:
        assert self.dag is not None
        now = (
            context["logical_date"] if self.use_task_logical_date else utcnow().astimezone(self.dag.timezone)
        )
        if now.isoweekday() in self._week_day_num:
            return self.follow_task_ids_if_true
        return self.follow_task_ids_if_false
