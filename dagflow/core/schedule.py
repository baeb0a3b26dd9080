"""What ``schedule=`` means: when a DAG's runs are due, and which data interval each one covers.

dagflow follows Airflow 3's default convention. A cron schedule (or a preset such as ``@daily``)
*triggers* a run at each time the expression fires; that time is the run's logical date, and its
data interval ends there (zero-length unless the timetable is given an ``interval``). The older
convention, where a run covers the interval *ending* when it starts and its logical date is the
interval's start, is available as :class:`CronDataIntervalTimetable`, or for every cron schedule with
``[scheduler] create_cron_data_intervals = True``.

Cron expressions are evaluated in the DAG's timezone (its ``start_date``'s), so "0 2 * * *" means
02:00 local time across daylight-saving changes; expressions that fire hourly or more often advance
in absolute time, so a repeated or skipped local hour neither doubles nor drops a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

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
        return {"type": type(self).__name__, "summary": self.summary}


class NullTimetable(Timetable):
    """``schedule=None``: runs are only triggered by hand or by the API."""

    can_be_scheduled = False
    summary = "None"


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


class _Cron:
    """Cron arithmetic in a timezone (see the module docstring for daylight-saving changes)."""

    def __init__(self, expression: str, timezone: tzinfo):
        self.expression = expression
        self.timezone = timezone
        fields = expression.split()
        # Fires at a fixed hour and minute: advance in local time. Otherwise: in absolute time.
        self.local_time = len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit()

    def _step(self, current: datetime, forward: bool) -> datetime:
        from croniter import croniter

        local = current.astimezone(self.timezone).replace(tzinfo=None)
        it = croniter(self.expression, local)
        step = it.get_next(datetime) if forward else it.get_prev(datetime)
        if self.local_time:
            return step.replace(tzinfo=self.timezone).astimezone(UTC)
        return current.astimezone(UTC) + (step - local)

    def next_after(self, current: datetime) -> datetime:
        return self._step(current, forward=True)

    def previous_before(self, current: datetime) -> datetime:
        return self._step(current, forward=False)

    def align_to_next(self, current: datetime) -> datetime:
        """``current`` if the expression fires then, else the next time it fires."""
        current = current.astimezone(UTC)
        previous = self.previous_before(current + timedelta(microseconds=1))
        return current if previous == current else self.next_after(current)

    def align_to_previous(self, current: datetime) -> datetime:
        """``current`` if the expression fires then, else the last time it fired."""
        current = current.astimezone(UTC)
        following = self.next_after(current - timedelta(microseconds=1))
        return current if following == current else self.previous_before(current)


class CronTriggerTimetable(Timetable):
    """Runs at each time a cron expression fires; the logical date is that time (Airflow 3's default)."""

    def __init__(
        self,
        expression: str,
        timezone: tzinfo = UTC,
        *,
        interval: timedelta = timedelta(0),
        written: str | None = None,
    ):
        self.expression = expression
        self.timezone = timezone
        self.interval = interval
        # what the DAG's author wrote (a preset such as "@daily"), shown to people instead of the cron
        self.written = written or expression
        self._cron = _Cron(expression, timezone)

    @property
    def summary(self) -> str:  # type: ignore[override]
        return self.written

    def infer_manual_data_interval(self, run_after: datetime) -> DataInterval:
        return DataInterval(run_after - self.interval, run_after)

    def next_run(self, last: NextRun | None, restriction: Restriction, now: datetime) -> NextRun | None:
        if restriction.catchup:
            if last is not None:
                start = self._cron.next_after(last.logical_date)
            elif restriction.earliest is None:
                return None
            else:
                start = self._cron.align_to_next(restriction.earliest)
        else:
            candidates = [self._cron.align_to_previous(now)]
            if last is not None:
                candidates.append(self._cron.next_after(last.logical_date))
            if restriction.earliest is not None:
                candidates.append(self._cron.align_to_next(restriction.earliest))
            start = max(candidates)
        if restriction.latest is not None and start > restriction.latest:
            return None
        return NextRun(start, DataInterval(start - self.interval, start), start)

    def serialize(self) -> dict[str, Any]:
        return {
            "type": "CronTriggerTimetable",
            "summary": self.written,
            "expression": self.expression,
            "timezone": _tz_name(self.timezone),
            "interval": self.interval.total_seconds(),
        }


class CronDataIntervalTimetable(Timetable):
    """Each run covers one cron interval and starts when it ends; the logical date is the interval's start."""

    def __init__(self, expression: str, timezone: tzinfo = UTC, *, written: str | None = None):
        self.expression = expression
        self.timezone = timezone
        self.written = written or expression
        self._cron = _Cron(expression, timezone)

    @property
    def summary(self) -> str:  # type: ignore[override]
        return self.written

    def infer_manual_data_interval(self, run_after: datetime) -> DataInterval:
        end = self._cron.align_to_previous(run_after)
        return DataInterval(self._cron.previous_before(end), end)

    def _latest_complete_start(self, now: datetime) -> datetime:
        last_start = self._cron.previous_before(now)
        if self._cron.next_after(last_start) == now.astimezone(UTC):
            return last_start
        return self._cron.previous_before(last_start)

    def next_run(self, last: NextRun | None, restriction: Restriction, now: datetime) -> NextRun | None:
        earliest = restriction.earliest
        if not restriction.catchup:
            latest_start = self._latest_complete_start(now)
            earliest = max(latest_start, self._cron.align_to_next(earliest)) if earliest else latest_start
        elif earliest is not None:
            earliest = self._cron.align_to_next(earliest)
        if last is None:
            if earliest is None:
                return None
            start = earliest
        else:
            start = self._cron.align_to_previous(last.data_interval.end)
            start = max(start, earliest) if earliest is not None else start
        if restriction.latest is not None and start > restriction.latest:
            return None
        end = self._cron.next_after(start)
        return NextRun(start, DataInterval(start, end), end)

    def serialize(self) -> dict[str, Any]:
        return {
            "type": "CronDataIntervalTimetable",
            "summary": self.written,
            "expression": self.expression,
            "timezone": _tz_name(self.timezone),
        }


class DeltaTriggerTimetable(Timetable):
    """Runs every ``delta``, counted from the start date; the logical date is the run's time."""

    def __init__(self, delta: timedelta):
        self.delta = delta

    @property
    def summary(self) -> str:  # type: ignore[override]
        return str(self.delta)

    def next_run(self, last: NextRun | None, restriction: Restriction, now: datetime) -> NextRun | None:
        if restriction.catchup:
            if last is not None:
                start = last.logical_date + self.delta
            elif restriction.earliest is None:
                return None
            else:
                start = restriction.earliest
        else:
            candidates = [now]
            if last is not None:
                candidates.append(last.logical_date + self.delta)
            if restriction.earliest is not None:
                candidates.append(restriction.earliest)
            start = max(candidates)
        if restriction.latest is not None and start > restriction.latest:
            return None
        return NextRun(start, DataInterval(start, start), start)

    def serialize(self) -> dict[str, Any]:
        return {
            "type": "DeltaTriggerTimetable",
            "summary": str(self.delta),
            "seconds": self.delta.total_seconds(),
        }


def _tz_name(timezone: tzinfo) -> str:
    return getattr(timezone, "key", None) or str(timezone)


def timezone_named(name: str) -> tzinfo:
    return UTC if name in ("UTC", "utc", "UTC+00:00") else ZoneInfo(name)


def deserialize_timetable(data: dict[str, Any]) -> Timetable:
    """The timetable a stored DAG described with :meth:`Timetable.serialize`."""
    kind = data.get("type")
    if kind == "CronTriggerTimetable":
        return CronTriggerTimetable(
            data["expression"],
            timezone_named(data["timezone"]),
            interval=timedelta(seconds=data.get("interval", 0)),
            written=data.get("summary"),
        )
    if kind == "CronDataIntervalTimetable":
        return CronDataIntervalTimetable(
            data["expression"], timezone_named(data["timezone"]), written=data.get("summary")
        )
    if kind == "DeltaTriggerTimetable":
        return DeltaTriggerTimetable(timedelta(seconds=data["seconds"]))
    simple: dict[str, type[Timetable]] = {
        "OnceTimetable": OnceTimetable,
        "ContinuousTimetable": ContinuousTimetable,
        "NullTimetable": NullTimetable,
    }
    return simple.get(str(kind), NullTimetable)()


def parse_schedule(
    value: Any, timezone: tzinfo, where: str, *, cron_data_intervals: bool = False
) -> Timetable:
    """Turn a DAG's ``schedule=`` argument into a timetable, or raise a ScheduleError saying why not."""
    if value is None:
        return NullTimetable()
    if isinstance(value, Timetable):
        return value
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise ScheduleError(f"{where}: schedule timedelta must be positive, got {value}")
        return DeltaTriggerTimetable(value)
    if isinstance(value, str):
        return _parse_string(value.strip(), timezone, where, cron_data_intervals)
    raise ScheduleError(
        f"{where}: schedule must be None, a cron string, a preset such as '@daily', or a timedelta; "
        f"got {type(value).__name__}"
    )


def _parse_string(value: str, timezone: tzinfo, where: str, cron_data_intervals: bool) -> Timetable:
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
    if cron_data_intervals:
        return CronDataIntervalTimetable(expression, timezone, written=value)
    return CronTriggerTimetable(expression, timezone, written=value)
