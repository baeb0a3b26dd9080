"""WeekDay: the days of the week, numbered as ``datetime.isoweekday()`` numbers them (Monday is 1)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any


class WeekDay(enum.IntEnum):
    """A day of the week; ``WeekDay.MONDAY == 1`` ... ``WeekDay.SUNDAY == 7``."""

    MONDAY = 1
    TUESDAY = 2
    WEDNESDAY = 3
    THURSDAY = 4
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7

    @classmethod
    def get_weekday_number(cls, week_day_str: str) -> int:
        """The number of a day given by its full English name, in any case (``"monday"`` -> 1)."""
        try:
            return cls[week_day_str.upper()].value
        except KeyError:
            names = ", ".join(day.name.capitalize() for day in cls)
            raise AttributeError(f"Invalid Week Day passed: {week_day_str!r} (use one of {names})") from None

    @classmethod
    def convert(cls, day: str | WeekDay) -> int:
        """The number of a day given as a WeekDay or its name."""
        if isinstance(day, WeekDay):
            return day.value
        return cls.get_weekday_number(day)

    @classmethod
    def validate_week_day(cls, week_day: Any) -> set[int]:
        """The day numbers of one day or of a collection of days (names or WeekDays).

        Anything else is a TypeError naming what was passed, as a DAG file learns at parse time.
        """
        if isinstance(week_day, (str, WeekDay)):
            return {cls.convert(week_day)}
        if isinstance(week_day, Iterable) and not isinstance(week_day, (bytes, dict)):
            days = list(week_day)
            if all(isinstance(day, (str, WeekDay)) for day in days):
                return {cls.convert(day) for day in days}
        raise TypeError(
            f"Unsupported Type for week_day parameter: {type(week_day).__name__} ({week_day!r}). "
            "Input should be a day name, a WeekDay, or a set/list/tuple of them"
        )
