"""What ``schedule=`` means: when a DAG's runs are due, and which data interval each one covers.

dagflow follows Airflow 3. A cron schedule (or a preset such as ``@daily``) *triggers* a run at each
time the expression fires; that time is the run's logical date, and its data interval ends there
(zero-length unless the timetable is given an ``interval``). A ``timedelta`` does the same every
delta. The older convention, where a run covers the interval *ending* when it starts and its logical
date is the interval's start, is :class:`~dagflow.core.timetables.CronDataIntervalTimetable` /
``DeltaDataIntervalTimetable``, or for every plain schedule ``[scheduler] create_cron_data_intervals``.

Cron expressions are evaluated in the DAG's timezone (its ``start_date``'s), with Airflow's rules
across daylight-saving changes (see :mod:`dagflow.core.cron`). The timetable classes live in
:mod:`dagflow.core.timetables`; this module holds the base class, the simple timetables, the
parsing of ``schedule=`` and the (de)serialization every stored DAG goes through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from dagflow.core.cron import PRESETS, is_positive
from dagflow.exceptions import ScheduleError


@dataclass(frozen=True)
class DataInterval:
    """What a run covers: from ``start`` to ``end``."""

    start: datetime
    end: datetime

    @classmethod
    def exact(cls, at: datetime) -> DataInterval:
        """A point in time (start equals end)."""
        return cls(at, at)


@dataclass(frozen=True)
class NextRun:
    """A run the scheduler should create: its logical date, its data interval, and when it is due."""

    logical_date: datetime
    data_interval: DataInterval
    run_after: datetime


@dataclass(frozen=True)
class Restriction:
    """The DAG's limits on its runs: ``start_date``, ``end_date`` and ``catchup``."""

    earliest: datetime | None
    latest: datetime | None
    catchup: bool


class Timetable:
    """When a DAG runs by itself. Subclasses say when the next run is due."""

    #: Whether the scheduler ever creates runs on its own.
    can_be_scheduled = True
    summary = ""

    def infer_manual_data_interval(self, run_after: datetime) -> DataInterval:
        """The data interval of a run triggered by hand at ``run_after``: a point in time."""
        return DataInterval(run_after, run_after)

    def next_run(self, last: NextRun | None, restriction: Restriction, now: datetime) -> NextRun | None:
        """The next run after ``last`` (the latest scheduled run), or None if there is none."""
        return None

    def serialize(self) -> dict[str, Any]:
        """What :meth:`deserialize` needs to build this timetable again (JSON-ready)."""
        return {"type": type(self).__name__, "summary": self.summary}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls()


class NullTimetable(Timetable):
    """``schedule=None``: runs are only triggered by hand or by the API."""

    can_be_scheduled = False
    summary = "None"


class UnavailableTimetable(NullTimetable):
    """A stored timetable that cannot be rebuilt here (its plugin is gone): no runs until it is back."""

    def __init__(self, summary: str, reason: str):
        self.summary = summary
        self.reason = reason


class OnceTimetable(Timetable):
    """``schedule="@once"``: one run at the start date."""

    summary = "@once"

    def next_run(self, last: NextRun | None, restriction: Restriction, now: datetime) -> NextRun | None:
        if last is not None or restriction.earliest is None:
            return None
        start = restriction.earliest
        if restriction.latest is not None and start > restriction.latest:
            return None
        return NextRun(start, DataInterval(start, start), start)


class ContinuousTimetable(Timetable):
    """``schedule="@continuous"``: a new run as soon as the last one finished (one at a time)."""

    summary = "@continuous"

    def next_run(self, last: NextRun | None, restriction: Restriction, now: datetime) -> NextRun | None:
        start = max(now, restriction.earliest) if restriction.earliest else now
        if restriction.latest is not None and start > restriction.latest:
            return None
        begin = last.data_interval.end if last is not None else start
        return NextRun(start, DataInterval(begin, start), start)


def timezone_name(timezone: tzinfo) -> str:
    return getattr(timezone, "key", None) or getattr(timezone, "name", None) or str(timezone)


def timezone_named(name: str) -> tzinfo:
    """A timezone by IANA name, or a fixed offset written ``+02:00`` / ``UTC+02:00``."""
    if name in ("UTC", "utc", "UTC+00:00", "+00:00", "Z", "Etc/UTC"):
        return UTC
    offset = name.removeprefix("UTC")
    if offset[:1] in ("+", "-") and ":" in offset:
        hours, minutes = offset[1:].split(":")[:2]
        sign = -1 if offset[0] == "-" else 1
        return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    return ZoneInfo(name)


def resolve_timezone(value: tzinfo | str) -> tzinfo:
    """A timezone given by name (as Airflow's timetables accept) or as an object."""
    return timezone_named(value) if isinstance(value, str) else value


_DELTA_FIELDS = ("years", "months", "days", "leapdays", "hours", "minutes", "seconds", "microseconds")


def encode_delta(delta: Any) -> Any:
    """A timedelta as seconds; a relativedelta (or a pendulum duration with months) as its fields."""
    from dagflow.core.cron import calendar_part

    calendar = calendar_part(delta) if isinstance(delta, timedelta) else delta
    if calendar is None:
        return delta.total_seconds()
    return {name: getattr(calendar, name) for name in _DELTA_FIELDS if getattr(calendar, name, 0)}


def decode_delta(value: Any) -> Any:
    if isinstance(value, dict):
        from dateutil.relativedelta import relativedelta

        return relativedelta(**value)
    return timedelta(seconds=value)


def _builtin_timetables() -> dict[str, type[Timetable]]:
    from dagflow.core.timetables import BUILTIN

    simple: tuple[type[Timetable], ...] = (NullTimetable, OnceTimetable, ContinuousTimetable)
    return {cls.__name__: cls for cls in (*simple, *BUILTIN)}


def class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def is_builtin(timetable: Timetable) -> bool:
    return _builtin_timetables().get(type(timetable).__name__) is type(timetable)


def encode_timetable(timetable: Timetable) -> dict[str, Any]:
    """How a DAG's timetable is stored: a built-in by name, any other by its class path and data."""
    if is_builtin(timetable):
        return timetable.serialize()
    return {
        "type": class_path(type(timetable)),
        "summary": str(timetable.summary),
        "custom": True,
        "data": timetable.serialize(),
    }


def deserialize_timetable(data: dict[str, Any], custom: Mapping[str, type[Any]] | None = None) -> Timetable:
    """The timetable a stored DAG described with :func:`encode_timetable`.

    ``custom``: the timetable classes plugins registered, by class path. A custom timetable whose
    class no plugin registers is an error saying so.
    """
    kind = str(data.get("type"))
    if data.get("custom"):
        cls = (custom or {}).get(kind)
        if cls is None:
            raise ScheduleError(
                f"timetable class {kind!r} is not registered by any plugin; "
                "list it in a plugin's `timetables` in the plugins folder"
            )
        timetable: Timetable = cls.deserialize(data.get("data") or {})
        return timetable
    return _builtin_timetables().get(kind, NullTimetable).deserialize(data)


def parse_schedule(
    value: Any, timezone: tzinfo, where: str, *, cron_data_intervals: bool = False
) -> Timetable:
    """Turn a DAG's ``schedule=`` argument into a timetable, or raise a ScheduleError saying why not."""
    from dagflow.core.timetables import delta_timetable

    if value is None:
        return NullTimetable()
    if isinstance(value, Timetable) or _is_timetable_like(value):
        return value
    if _is_delta(value):
        if not is_positive(value):
            raise ScheduleError(f"{where}: schedule timedelta must be positive, got {value}")
        return delta_timetable(value, data_intervals=cron_data_intervals)
    if isinstance(value, str):
        return _parse_string(value.strip(), timezone, where, cron_data_intervals)
    raise ScheduleError(
        f"{where}: schedule must be None, a cron string, a preset such as '@daily', a timedelta "
        f"or a timetable; got {type(value).__name__}"
    )


def _is_delta(value: Any) -> bool:
    if isinstance(value, timedelta):
        return True
    return type(value).__name__ == "relativedelta"


def _is_timetable_like(value: Any) -> bool:
    """An object with a timetable's methods (a class written against another base)."""
    return callable(getattr(value, "next_run", None)) and hasattr(value, "infer_manual_data_interval")


def _parse_string(value: str, timezone: tzinfo, where: str, cron_data_intervals: bool) -> Timetable:
    from dagflow.core.timetables import cron_timetable

    if value == "@once":
        return OnceTimetable()
    if value == "@continuous":
        return ContinuousTimetable()
    if value.startswith("@") and value not in PRESETS:
        known = ", ".join(["@once", "@continuous", *PRESETS])
        raise ScheduleError(f"{where}: unknown schedule preset {value!r}; use one of {known}")
    expression = PRESETS.get(value, value)
    from croniter import croniter

    if not croniter.is_valid(expression):
        raise ScheduleError(
            f"{where}: schedule {value!r} is not a valid cron expression "
            "(five fields: minute hour day-of-month month day-of-week)"
        )
    return cron_timetable(expression, timezone, data_intervals=cron_data_intervals, written=value)


_MOVED = {
    "CronTriggerTimetable",
    "CronDataIntervalTimetable",
    "DeltaTriggerTimetable",
    "DeltaDataIntervalTimetable",
    "MultipleCronTriggerTimetable",
    "EventsTimetable",
}


def __getattr__(name: str) -> Any:
    """The time-based timetables, which live in :mod:`dagflow.core.timetables`, by their old address."""
    if name in _MOVED:
        from dagflow.core import timetables

        return getattr(timetables, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
