"""The base for timetables written the way Airflow's documentation teaches (``next_dagrun_info``).

A custom timetable subclasses :class:`Timetable` and implements
``next_dagrun_info(*, last_automated_data_interval, restriction)`` and
``infer_manual_data_interval(*, run_after)``, receiving pendulum DateTimes as in Airflow; it is
registered by a plugin (``timetables = [MyTimetable]``) so that the scheduler and the web UI can
build it again from the stored DAG (``serialize``/``deserialize``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from dagflow.core import schedule
from dagflow.core.schedule import DataInterval, NextRun, Restriction

__all__ = ["DagRunInfo", "DataInterval", "TimeRestriction", "Timetable"]


class TimeRestriction(NamedTuple):
    """The DAG's limits: the earliest (start date) and latest (end date) runs, and catch-up."""

    earliest: Any
    latest: Any
    catchup: bool


class DagRunInfo(NamedTuple):
    """The next run a timetable asks for: when it may start and the data interval it covers."""

    run_after: Any
    data_interval: DataInterval

    @property
    def logical_date(self) -> Any:
        return self.data_interval.start

    @classmethod
    def exact(cls, at: datetime) -> DagRunInfo:
        """A run for one point in time, due at that time."""
        return cls(run_after=at, data_interval=DataInterval.exact(at))

    @classmethod
    def interval(cls, start: datetime, end: datetime) -> DagRunInfo:
        """A run covering ``start`` to ``end``, due at ``end``."""
        return cls(run_after=end, data_interval=DataInterval(start, end))


def _pendulum(value: datetime | None) -> Any:
    if value is None:
        return None
    import pendulum

    return pendulum.instance(value)


class Timetable(schedule.Timetable):
    """Subclass and implement :meth:`next_dagrun_info` (and usually :meth:`infer_manual_data_interval`)."""

    #: Whether runs are created by the scheduler at all.
    can_be_scheduled = True
    #: Whether the timetable runs periodically (shown in the UI; catch-up applies).
    periodic = True
    description: str | None = None

    @property
    def summary(self) -> str:  # type: ignore[override]
        """What the UI shows in the schedule column: the class name unless overridden."""
        return type(self).__name__

    def validate(self) -> None:
        """Raise if the timetable's parameters are unusable (called when the DAG is loaded)."""

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        """The next run after the last scheduled one, or None for no more runs."""
        raise NotImplementedError(f"{type(self).__name__} must implement next_dagrun_info")

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:  # type: ignore[override]
        """The data interval of a run triggered by hand at ``run_after``: that instant by default."""
        return DataInterval.exact(run_after)

    def next_run(self, last: NextRun | None, restriction: Restriction, now: datetime) -> NextRun | None:
        """dagflow's question, answered through :meth:`next_dagrun_info` with pendulum values."""
        last_interval = None
        if last is not None:
            start, end = last.data_interval.start, last.data_interval.end
            last_interval = DataInterval(_pendulum(start), _pendulum(end))
        limits = TimeRestriction(
            _pendulum(restriction.earliest), _pendulum(restriction.latest), restriction.catchup
        )
        info = self.next_dagrun_info(last_automated_data_interval=last_interval, restriction=limits)
        if info is None:
            return None
        interval = DataInterval(_aware(info.data_interval.start), _aware(info.data_interval.end))
        return NextRun(interval.start, interval, _aware(info.run_after))

    def serialize(self) -> dict[str, Any]:
        """The parameters :meth:`deserialize` needs; none by default."""
        return {}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls()


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
