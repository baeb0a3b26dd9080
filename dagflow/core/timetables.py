"""The time-based timetables: cron and delta, in Airflow 3's two conventions, and listed events.

*Trigger* timetables (:class:`CronTriggerTimetable`, :class:`DeltaTriggerTimetable`,
:class:`MultipleCronTriggerTimetable`) run at each time the schedule fires; that time is the logical
date and the data interval ends there (it is ``interval`` long, zero by default). *Data-interval*
timetables (:class:`CronDataIntervalTimetable`, :class:`DeltaDataIntervalTimetable`) cover the
interval between two schedule points, run when it ends, and take its start as the logical date.
Daylight-saving rules are those of :mod:`dagflow.core.cron`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from dagflow.core.cron import Cron, delta_seconds, expand_preset, shift
from dagflow.core.schedule import (
    DataInterval,
    NextRun,
    Restriction,
    Timetable,
    decode_delta,
    encode_delta,
    resolve_timezone,
    timezone_name,
)


def _decode_immediately(value: Any) -> bool | timedelta:
    """``run_immediately`` as stored: a flag (None behaves as False, as in Airflow) or seconds."""
    if value is None or isinstance(value, bool):
        return bool(value)
    return timedelta(seconds=value)


def _trigger_run(fire: datetime, interval: Any) -> NextRun:
    return NextRun(fire, DataInterval(shift(fire, interval, -1), fire), fire)


class _CronSteps:
    """Steps along a cron expression, shown as its author wrote it (both cron timetables)."""

    _cron: Cron
    written: str

    @property
    def summary(self) -> str:
        return self.written

    def _next(self, current: datetime) -> datetime:
        return self._cron.next_after(current)

    def _align_next(self, current: datetime) -> datetime:
        return self._cron.align_to_next(current)

    def _align_previous(self, current: datetime) -> datetime:
        return self._cron.align_to_previous(current)


class _DeltaSteps:
    """Steps of ``delta``, added in UTC, shown as the delta (both delta timetables)."""

    delta: Any

    @property
    def summary(self) -> str:
        return str(self.delta)

    def _next(self, current: datetime) -> datetime:
        return shift(current, self.delta)

    def _align_next(self, current: datetime) -> datetime:
        return current.astimezone(UTC)

    def _align_previous(self, current: datetime) -> datetime:
        return current.astimezone(UTC)


class _TriggerTimetable(Timetable):
    """Runs at each schedule point; what the subclasses differ in is how points are computed."""

    interval: Any = timedelta(0)

    def _next(self, current: datetime) -> datetime:
        raise NotImplementedError

    def _align_next(self, current: datetime) -> datetime:
        raise NotImplementedError

    def _align_previous(self, current: datetime) -> datetime:
        raise NotImplementedError

    def _first_without_start(self, now: datetime) -> datetime:
        raise NotImplementedError

    def infer_manual_data_interval(self, run_after: datetime) -> DataInterval:
        return DataInterval(shift(run_after, self.interval, -1), run_after)

    def next_run(self, last: NextRun | None, restriction: Restriction, now: datetime) -> NextRun | None:
        """Catch-up walks point by point from the start date; otherwise the latest due point wins."""
        if restriction.catchup:
            if last is not None:
                fire = self._next(last.data_interval.end)
            elif restriction.earliest is None:
                fire = self._first_without_start(now)
            else:
                fire = self._align_next(restriction.earliest)
        else:
            candidates = [self._align_previous(now)]
            if last is not None:
                candidates.append(self._next(last.data_interval.end))
            elif restriction.earliest is None:
                candidates.append(self._first_without_start(now))
            if restriction.earliest is not None:
                candidates.append(self._align_next(restriction.earliest))
            fire = max(candidates)
        if restriction.latest is not None and fire > restriction.latest:
            return None
        return _trigger_run(fire, self.interval)


class CronTriggerTimetable(_CronSteps, _TriggerTimetable):  # type: ignore[override]  # summary: a property, as the subclasses had it
    """Runs each time ``cron`` fires in ``timezone`` (Airflow 3's meaning of ``schedule="<cron>"``).

    ``interval``: how long each run's data interval is (it ends at the fire time). ``run_immediately``
    decides the first run of a DAG with no start date and no runs yet: True runs the latest past point,
    a timedelta runs it if it is that recent, False or None if it is within a tenth of the gap between
    points (at least five minutes), as Airflow does.
    """

    def __init__(
        self,
        cron: str,
        timezone: tzinfo | str = UTC,
        *,
        interval: Any = timedelta(0),
        run_immediately: bool | timedelta | None = False,
        written: str | None = None,
    ):
        self.timezone = resolve_timezone(timezone)
        self._cron = Cron(cron, self.timezone)
        self.expression = self._cron.expression
        self.interval = interval
        self.run_immediately = run_immediately
        #: what the DAG's author wrote (a preset such as "@daily"), shown to people instead of the cron
        self.written = written or cron

    def _first_without_start(self, now: datetime) -> datetime:
        past, following = self._align_previous(now), self._align_next(now)
        if self.run_immediately is True:
            return past
        if isinstance(self.run_immediately, timedelta):
            buffer = self.run_immediately
        else:
            buffer = max((following - past) / 10, timedelta(minutes=5))
        return past if now - past <= buffer else following

    def serialize(self) -> dict[str, Any]:
        immediately = self.run_immediately
        return {
            "type": "CronTriggerTimetable",
            "summary": self.written,
            "expression": self.expression,
            "timezone": timezone_name(self.timezone),
            "interval": encode_delta(self.interval),
            "run_immediately": immediately.total_seconds()
            if isinstance(immediately, timedelta)
            else immediately,
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> CronTriggerTimetable:
        immediately = data.get("run_immediately", False)
        return cls(
            data["expression"],
            data["timezone"],
            interval=decode_delta(data.get("interval", 0)),
            run_immediately=_decode_immediately(immediately),
            written=data.get("summary"),
        )


class DeltaTriggerTimetable(_DeltaSteps, _TriggerTimetable):  # type: ignore[override]  # summary: a property, as the subclasses had it
    """Runs every ``delta`` (added in UTC) from the start date; ``interval`` as for cron triggers."""

    def __init__(self, delta: Any, *, interval: Any = timedelta(0)):
        self.delta = delta
        self.interval = interval

    def _first_without_start(self, now: datetime) -> datetime:
        return now.astimezone(UTC)

    def serialize(self) -> dict[str, Any]:
        return {
            "type": "DeltaTriggerTimetable",
            "summary": self.summary,
            "delta": encode_delta(self.delta),
            "interval": encode_delta(self.interval),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> DeltaTriggerTimetable:
        delta = data["delta"] if "delta" in data else data["seconds"]
        return cls(decode_delta(delta), interval=decode_delta(data.get("interval", 0)))


class MultipleCronTriggerTimetable(Timetable):
    """Runs whenever any of several cron expressions fires; one run for a time several fire at."""

    def __init__(
        self,
        *crons: str,
        timezone: tzinfo | str = UTC,
        interval: Any = timedelta(0),
        run_immediately: bool | timedelta | None = False,
    ):
        if not crons:
            raise ValueError("MultipleCronTriggerTimetable needs at least one cron expression")
        self.timetables = [
            CronTriggerTimetable(c, timezone, interval=interval, run_immediately=run_immediately)
            for c in crons
        ]

    @property
    def summary(self) -> str:  # type: ignore[override]
        return ", ".join(t.summary for t in self.timetables)

    def infer_manual_data_interval(self, run_after: datetime) -> DataInterval:
        intervals = [t.infer_manual_data_interval(run_after=run_after) for t in self.timetables]
        return min(intervals, key=lambda interval: interval.start)

    def next_run(self, last: NextRun | None, restriction: Restriction, now: datetime) -> NextRun | None:
        """With catch-up the earliest next point; without, the latest point already due, else the next."""
        found = [t.next_run(last, restriction, now) for t in self.timetables]

        def key(info: NextRun | None) -> float:
            if info is None:
                return math.inf
            stamp = info.logical_date.timestamp()
            if restriction.catchup:
                return stamp
            return -stamp if stamp <= now.timestamp() else stamp

        return min(found, key=key)

    def serialize(self) -> dict[str, Any]:
        first = self.timetables[0].serialize()
        return {
            "type": "MultipleCronTriggerTimetable",
            "summary": self.summary,
            "expressions": [t.written for t in self.timetables],
            "timezone": first["timezone"],
            "interval": first["interval"],
            "run_immediately": first["run_immediately"],
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> MultipleCronTriggerTimetable:
        immediately = data.get("run_immediately", False)
        return cls(
            *data["expressions"],
            timezone=data["timezone"],
            interval=decode_delta(data.get("interval", 0)),
            run_immediately=_decode_immediately(immediately),
        )


class _DataIntervalTimetable(Timetable):
    """Each run covers the interval between two schedule points and is due when it ends."""

    def _next(self, current: datetime) -> datetime:
        raise NotImplementedError

    def _align_next(self, current: datetime) -> datetime:
        raise NotImplementedError

    def _align_previous(self, current: datetime) -> datetime:
        raise NotImplementedError

    def _skip_to_latest(self, earliest: datetime | None, now: datetime) -> datetime:
        raise NotImplementedError

    def next_run(self, last: NextRun | None, restriction: Restriction, now: datetime) -> NextRun | None:
        """Intervals follow each other from the start date; without catch-up, from the latest complete."""
        earliest = restriction.earliest
        if not restriction.catchup:
            earliest = self._skip_to_latest(earliest, now)
        elif earliest is not None:
            earliest = self._align_next(earliest)
        if last is None:
            if earliest is None:
                return None
            start = earliest
        else:
            # re-aligned: the schedule may have changed since the last run
            start = self._align_previous(last.data_interval.end)
            if earliest is not None:
                start = max(start, earliest)
            # never the same interval again, even where stepping back and on do not meet (an hourly
            # cron across a 30-minute daylight-saving change)
            if start <= last.data_interval.start:
                start = last.data_interval.end
        if restriction.latest is not None and start > restriction.latest:
            return None
        end = self._next(start)
        return NextRun(start, DataInterval(start, end), end)


class CronDataIntervalTimetable(_CronSteps, _DataIntervalTimetable):  # type: ignore[override]  # summary: a property, as the subclasses had it
    """Each run covers one cron interval; ``schedule="<cron>"`` with ``create_cron_data_intervals``."""

    def __init__(self, cron: str, timezone: tzinfo | str = UTC, *, written: str | None = None):
        self.timezone = resolve_timezone(timezone)
        self._cron = Cron(cron, self.timezone)
        self.expression = self._cron.expression
        self.written = written or cron

    def _skip_to_latest(self, earliest: datetime | None, now: datetime) -> datetime:
        """The start of the latest complete interval (or the one starting right now, on a boundary)."""
        now = now.astimezone(UTC)
        last_start = self._cron.previous_before(now)
        if self._cron.next_after(last_start) == now:
            latest = last_start
        else:
            latest = self._cron.previous_before(last_start)
        return latest if earliest is None else max(latest, self._align_next(earliest))

    def infer_manual_data_interval(self, run_after: datetime) -> DataInterval:
        """The last complete interval before ``run_after``."""
        end = self._align_previous(run_after)
        return DataInterval(self._cron.previous_before(end), end)

    def serialize(self) -> dict[str, Any]:
        return {
            "type": "CronDataIntervalTimetable",
            "summary": self.written,
            "expression": self.expression,
            "timezone": timezone_name(self.timezone),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> CronDataIntervalTimetable:
        return cls(data["expression"], data["timezone"], written=data.get("summary"))


class DeltaDataIntervalTimetable(_DeltaSteps, _DataIntervalTimetable):  # type: ignore[override]  # summary: a property, as the subclasses had it
    """Each run covers ``delta`` (added in UTC); ``schedule=<timedelta>`` with data intervals on."""

    def __init__(self, delta: Any):
        self.delta = delta

    def _skip_to_latest(self, earliest: datetime | None, now: datetime) -> datetime:
        """One delta before ``now`` rounded down to a multiple of the delta since the epoch."""
        seconds = delta_seconds(self.delta)
        stamp = now.timestamp()
        rounded = datetime.fromtimestamp(stamp - stamp % seconds, tz=UTC)
        latest = shift(rounded, self.delta, -1)
        return latest if earliest is None else max(latest, earliest.astimezone(UTC))

    def infer_manual_data_interval(self, run_after: datetime) -> DataInterval:
        return DataInterval(shift(run_after, self.delta, -1), run_after)

    def serialize(self) -> dict[str, Any]:
        return {
            "type": "DeltaDataIntervalTimetable",
            "summary": self.summary,
            "delta": encode_delta(self.delta),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> DeltaDataIntervalTimetable:
        return cls(decode_delta(data["delta"]))


class EventsTimetable(Timetable):
    """Runs at each of a finite list of instants (``event_dates``; duplicates run once).

    ``restrict_to_events``: a manual run takes the most recent past event (or the first one) as its
    logical date instead of the time it was triggered. ``description`` replaces "N events" in the UI.
    """

    def __init__(
        self,
        event_dates: Iterable[datetime],
        restrict_to_events: bool = False,
        presorted: bool = False,
        description: str | None = None,
    ):
        dates = [d if d.tzinfo else d.replace(tzinfo=UTC) for d in event_dates]
        self.event_dates = dates if presorted else sorted(dates)
        self.restrict_to_events = restrict_to_events
        self.description = description
        self._summary = description or f"{len(self.event_dates)} events"

    @property
    def summary(self) -> str:  # type: ignore[override]
        return self._summary

    def next_run(self, last: NextRun | None, restriction: Restriction, now: datetime) -> NextRun | None:
        """The first event not before the start date (or now, without catch-up) and after the last run."""
        earliest = restriction.earliest
        if not restriction.catchup and (earliest is None or now > earliest):
            earliest = now
        for event in self.event_dates:
            if earliest is not None and event < earliest:
                continue
            if last is not None and event <= last.data_interval.end:
                continue
            if restriction.latest is not None and event > restriction.latest:
                return None
            return NextRun(event, DataInterval(event, event), event)
        return None

    def infer_manual_data_interval(self, run_after: datetime) -> DataInterval:
        if not self.restrict_to_events or not self.event_dates:
            return DataInterval(run_after, run_after)
        past = [e for e in self.event_dates if e <= run_after]
        chosen = past[-1] if past else self.event_dates[0]
        return DataInterval(chosen, chosen)

    def serialize(self) -> dict[str, Any]:
        return {
            "type": "EventsTimetable",
            "summary": self._summary,
            "event_dates": [d.isoformat() for d in self.event_dates],
            "restrict_to_events": self.restrict_to_events,
            "description": self.description,
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> EventsTimetable:
        return cls(
            [datetime.fromisoformat(d) for d in data["event_dates"]],
            restrict_to_events=bool(data.get("restrict_to_events")),
            presorted=True,
            description=data.get("description"),
        )


def cron_timetable(expression: str, timezone: tzinfo, *, data_intervals: bool, written: str) -> Timetable:
    """``schedule="<cron or preset>"``: a trigger timetable, or a data-interval one when configured."""
    if data_intervals:
        return CronDataIntervalTimetable(expand_preset(expression), timezone, written=written)
    return CronTriggerTimetable(expand_preset(expression), timezone, written=written)


def delta_timetable(delta: Any, *, data_intervals: bool) -> Timetable:
    """``schedule=<timedelta or relativedelta>``, by the same setting as cron strings (as Airflow 3)."""
    return DeltaDataIntervalTimetable(delta) if data_intervals else DeltaTriggerTimetable(delta)


BUILTIN = (
    CronTriggerTimetable,
    DeltaTriggerTimetable,
    MultipleCronTriggerTimetable,
    CronDataIntervalTimetable,
    DeltaDataIntervalTimetable,
    EventsTimetable,
)
