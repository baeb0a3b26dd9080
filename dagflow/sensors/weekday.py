"""DayOfWeekSensor: waits until a given day of the week."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from dagflow.core.clock import utcnow
from dagflow.sensors.base import BaseSensorOperator
from dagflow.utils.weekday import WeekDay

if TYPE_CHECKING:
    from dagflow.context import Context


class DayOfWeekSensor(BaseSensorOperator):
    """Succeeds on one of ``week_day`` (a day name in any case, a WeekDay, or a set of them): today in
    UTC, or with ``use_task_logical_date`` the run's logical date, which never changes, so such a
    sensor either succeeds at once or waits until its timeout."""

    def __init__(
        self,
        *,
        week_day: str | Iterable[str] | WeekDay | Iterable[WeekDay],
        use_task_logical_date: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.week_day = week_day
        self.use_task_logical_date = use_task_logical_date
        self._week_day_num = WeekDay.validate_week_day(week_day)

    def poke(self, context: Context) -> bool:
        today = utcnow()
        self.log.info(
            "Poking until weekday is in %s, Today is %s", self.week_day, WeekDay(today.isoweekday()).name
        )
        day = context["logical_date"] if self.use_task_logical_date else today
        return day.isoweekday() in self._week_day_num
