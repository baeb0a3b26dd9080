"""What ``schedule=`` means: cron strings, presets, timedeltas, or None for manual runs only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from dagflow.exceptions import ScheduleError

PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


@dataclass(frozen=True)
class DataInterval:
    start: datetime
    end: datetime


class Timetable:
    """When a DAG runs by itself. Subclasses say when the next run is due."""

    #: Whether the scheduler ever creates runs on its own.
    can_be_scheduled = True
    summary = ""

    def infer_manual_data_interval(self, run_after: datetime) -> DataInterval:
        """The data interval of a run triggered by hand at ``run_after``: a point in time."""
        return DataInterval(run_after, run_after)

    def serialize(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "summary": self.summary}


class NullTimetable(Timetable):
    """``schedule=None``: runs are only triggered by hand or by the API."""

    can_be_scheduled = False
    summary = "None"


class OnceTimetable(Timetable):
    """``schedule="@once"``: one run at the start date."""

    summary = "@once"


class ContinuousTimetable(Timetable):
    """``schedule="@continuous"``: a new run as soon as the last one finished."""

    summary = "@continuous"


@dataclass(frozen=True, eq=False)
class CronTimetable(Timetable):
    """A cron expression, evaluated in the DAG's timezone."""

    expression: str
    timezone: tzinfo

    @property
    def summary(self) -> str:  # type: ignore[override]
        return self.expression

    def serialize(self) -> dict[str, Any]:
        return {
            "type": "CronTimetable",
            "summary": self.expression,
            "expression": self.expression,
            "timezone": str(self.timezone),
        }


@dataclass(frozen=True, eq=False)
class DeltaTimetable(Timetable):
    """A fixed ``timedelta`` between runs, counted from the start date."""

    delta: timedelta

    @property
    def summary(self) -> str:  # type: ignore[override]
        return str(self.delta)

    def serialize(self) -> dict[str, Any]:
        return {"type": "DeltaTimetable", "summary": str(self.delta), "seconds": self.delta.total_seconds()}


def parse_schedule(value: Any, timezone: tzinfo, where: str) -> Timetable:
    """Turn a DAG's ``schedule=`` argument into a timetable, or raise a ScheduleError saying why not."""
    if value is None:
        return NullTimetable()
    if isinstance(value, Timetable):
        return value
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise ScheduleError(f"{where}: schedule timedelta must be positive, got {value}")
        return DeltaTimetable(value)
    if isinstance(value, str):
        return _parse_string(value.strip(), timezone, where)
    raise ScheduleError(
        f"{where}: schedule must be None, a cron string, a preset such as '@daily', or a timedelta; "
        f"got {type(value).__name__}"
    )


def _parse_string(value: str, timezone: tzinfo, where: str) -> Timetable:
    if value == "@once":
        return OnceTimetable()
    if value == "@continuous":
        return ContinuousTimetable()
    expression = PRESETS.get(value, value)
    if value.startswith("@") and value not in PRESETS:
        known = ", ".join(["@once", "@continuous", *PRESETS])
        raise ScheduleError(f"{where}: unknown schedule preset {value!r}; use one of {known}")
    from croniter import croniter

    if not croniter.is_valid(expression):
        raise ScheduleError(
            f"{where}: schedule {value!r} is not a valid cron expression "
            "(five fields: minute hour day-of-month month day-of-week)"
        )
    return CronTimetable(expression, timezone)
