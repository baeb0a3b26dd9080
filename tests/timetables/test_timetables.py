"""The timetable classes: their parameters, first runs, catch-up, manual runs and serialization."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pendulum
import pytest
from dateutil.relativedelta import relativedelta

from dagflow import DAG
from dagflow.core.schedule import NextRun, Restriction, deserialize_timetable, encode_timetable
from dagflow.exceptions import ScheduleError
from dagflow.timetables import (
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DagRunInfo,
    DataInterval,
    DeltaDataIntervalTimetable,
    DeltaTriggerTimetable,
    EventsTimetable,
    MultipleCronTriggerTimetable,
    TimeRestriction,
    Timetable,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def walk(timetable, restriction: Restriction, count: int, now: datetime) -> list[NextRun]:
    found: list[NextRun] = []
    last = None
    for _ in range(count):
        last = timetable.next_run(last, restriction, now)
        if last is None:
            break
        found.append(last)
    return found


def test_a_cron_trigger_interval_makes_each_run_cover_the_time_before_it():
    timetable = CronTriggerTimetable("0 6 * * *", timezone="UTC", interval=timedelta(hours=6))
    run = timetable.next_run(None, Restriction(utc(2024, 1, 1), None, True), utc(2024, 2, 1))
    assert run is not None
    assert (run.logical_date, run.data_interval.start, run.data_interval.end) == (
        utc(2024, 1, 1, 6),
        utc(2024, 1, 1, 0),
        utc(2024, 1, 1, 6),
    )


@pytest.mark.parametrize(
    ("run_immediately", "now", "expected"),
    [
        (True, utc(2024, 1, 1, 9, 50), utc(2024, 1, 1, 9)),  # the latest past point, however old
        (timedelta(hours=1), utc(2024, 1, 1, 9, 50), utc(2024, 1, 1, 9)),  # recent enough
        (timedelta(minutes=30), utc(2024, 1, 1, 9, 50), utc(2024, 1, 1, 10)),  # too old: wait
        (False, utc(2024, 1, 1, 9, 4), utc(2024, 1, 1, 9)),  # within max(gap / 10, 5 min)
        (False, utc(2024, 1, 1, 9, 7), utc(2024, 1, 1, 10)),
    ],
)
def test_run_immediately_decides_the_first_run_without_a_start_date(run_immediately, now, expected):
    timetable = CronTriggerTimetable("0 * * * *", timezone="UTC", run_immediately=run_immediately)
    run = timetable.next_run(None, Restriction(None, None, True), now)
    assert run is not None and run.logical_date == expected


def test_multiple_crons_run_at_the_union_of_their_times_once_each():
    timetable = MultipleCronTriggerTimetable("0 9 * * *", "30 17 * * *", "0 9 * * 1", timezone="UTC")
    found = walk(timetable, Restriction(utc(2024, 1, 1), None, True), 4, utc(2025, 1, 1))
    assert [r.logical_date for r in found] == [
        utc(2024, 1, 1, 9),  # a Monday: two expressions fire, one run
        utc(2024, 1, 1, 17, 30),
        utc(2024, 1, 2, 9),
        utc(2024, 1, 2, 17, 30),
    ]
    assert timetable.summary == "0 9 * * *, 30 17 * * *, 0 9 * * 1"


def test_multiple_crons_without_catchup_run_the_latest_due_time():
    timetable = MultipleCronTriggerTimetable("0 9 * * *", "30 17 * * *", timezone="UTC")
    run = timetable.next_run(None, Restriction(utc(2024, 1, 1), None, False), utc(2024, 1, 5, 18))
    assert run is not None and run.logical_date == utc(2024, 1, 5, 17, 30)


def test_events_run_at_each_listed_instant_in_order_and_stop_after_the_last():
    events = [utc(2024, 3, 1, 12), utc(2024, 1, 15, 8), pendulum.datetime(2024, 2, 1, 20, tz="Europe/Paris")]
    timetable = EventsTimetable(event_dates=events)
    found = walk(timetable, Restriction(utc(2024, 1, 1), None, True), 5, utc(2025, 1, 1))
    assert [r.logical_date for r in found] == [utc(2024, 1, 15, 8), utc(2024, 2, 1, 19), utc(2024, 3, 1, 12)]
    assert timetable.summary == "3 events"


def test_events_without_catchup_skip_the_past_ones():
    timetable = EventsTimetable([utc(2024, 1, 1), utc(2024, 6, 1)], description="Match days")
    run = timetable.next_run(None, Restriction(utc(2023, 1, 1), None, False), utc(2024, 2, 1))
    assert run is not None and run.logical_date == utc(2024, 6, 1)
    assert timetable.summary == "Match days"


def test_events_restricted_manual_runs_take_the_latest_past_event():
    timetable = EventsTimetable([utc(2024, 1, 1), utc(2024, 6, 1)], restrict_to_events=True)
    assert timetable.infer_manual_data_interval(run_after=utc(2024, 3, 3)).start == utc(2024, 1, 1)
    assert timetable.infer_manual_data_interval(run_after=utc(2023, 3, 3)).start == utc(2024, 1, 1)
    free = EventsTimetable([utc(2024, 1, 1)])
    assert free.infer_manual_data_interval(run_after=utc(2023, 3, 3)).start == utc(2023, 3, 3)


def test_delta_data_intervals_cover_consecutive_deltas():
    timetable = DeltaDataIntervalTimetable(timedelta(hours=8))
    found = walk(timetable, Restriction(utc(2024, 1, 1), None, True), 2, utc(2025, 1, 1))
    assert [(r.data_interval.start, r.run_after) for r in found] == [
        (utc(2024, 1, 1), utc(2024, 1, 1, 8)),
        (utc(2024, 1, 1, 8), utc(2024, 1, 1, 16)),
    ]


def test_delta_data_intervals_without_catchup_start_one_delta_before_now_rounded():
    timetable = DeltaDataIntervalTimetable(timedelta(hours=1))
    run = timetable.next_run(None, Restriction(utc(2024, 1, 1), None, False), utc(2024, 1, 5, 13, 20))
    assert run is not None and run.data_interval == DataInterval(utc(2024, 1, 5, 12), utc(2024, 1, 5, 13))


def test_a_relativedelta_schedule_steps_calendar_months():
    timetable = DeltaTriggerTimetable(relativedelta(months=1))
    found = walk(timetable, Restriction(utc(2024, 1, 31), None, True), 3, utc(2025, 1, 1))
    assert [r.logical_date for r in found] == [utc(2024, 1, 31), utc(2024, 2, 29), utc(2024, 3, 29)]


def test_cron_data_interval_manual_runs_cover_the_last_complete_interval():
    timetable = CronDataIntervalTimetable("0 0 * * *", "UTC")
    interval = timetable.infer_manual_data_interval(run_after=utc(2024, 1, 25, 1))
    assert interval == DataInterval(utc(2024, 1, 24), utc(2024, 1, 25))


@pytest.mark.parametrize(
    "timetable",
    [
        CronTriggerTimetable("0 9 * * *", timezone="Europe/Berlin", interval=timedelta(hours=1)),
        CronTriggerTimetable("@daily", timezone="UTC", run_immediately=timedelta(minutes=10)),
        CronDataIntervalTimetable("0 0 * * 1", "America/New_York"),
        DeltaTriggerTimetable(timedelta(minutes=30), interval=timedelta(minutes=30)),
        DeltaTriggerTimetable(relativedelta(months=1, days=2)),
        DeltaDataIntervalTimetable(timedelta(days=2)),
        MultipleCronTriggerTimetable("0 9 * * *", "0 18 * * *", timezone="Asia/Tokyo"),
        EventsTimetable([utc(2024, 1, 3), utc(2024, 2, 1)], restrict_to_events=True, description="x"),
    ],
)
def test_every_timetable_survives_the_store(timetable):
    again = deserialize_timetable(encode_timetable(timetable))
    assert type(again) is type(timetable)
    assert again.summary == timetable.summary
    restriction = Restriction(utc(2024, 1, 1), None, True)
    assert walk(again, restriction, 4, utc(2025, 1, 1)) == walk(timetable, restriction, 4, utc(2025, 1, 1))


class EveryOtherDay(Timetable):
    """A timetable written against Airflow's API, as in its documentation."""

    def __init__(self, hour: int = 0):
        self.hour = hour

    def infer_manual_data_interval(self, *, run_after: Any) -> DataInterval:  # type: ignore[override]
        return DataInterval(run_after - timedelta(days=2), run_after)

    def next_dagrun_info(self, *, last_automated_data_interval, restriction: TimeRestriction):
        if last_automated_data_interval is not None:
            start = last_automated_data_interval.end
        else:
            start = restriction.earliest.set(hour=self.hour, minute=0, second=0)  # a pendulum method
        return DagRunInfo.interval(start=start, end=start.add(days=2))

    def serialize(self) -> dict[str, Any]:
        return {"hour": self.hour}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> EveryOtherDay:
        return cls(data["hour"])


def test_an_airflow_style_timetable_answers_through_next_dagrun_info_with_pendulum_dates():
    timetable = EveryOtherDay(hour=3)
    found = walk(timetable, Restriction(utc(2024, 1, 1, 12), None, True), 2, utc(2025, 1, 1))
    assert [(r.logical_date, r.run_after) for r in found] == [
        (utc(2024, 1, 1, 3), utc(2024, 1, 3, 3)),
        (utc(2024, 1, 3, 3), utc(2024, 1, 5, 3)),
    ]
    assert timetable.summary == "EveryOtherDay"


def test_a_custom_timetable_is_stored_by_class_and_needs_a_registration_to_come_back():
    data = encode_timetable(EveryOtherDay(hour=5))
    assert data["type"].endswith("EveryOtherDay") and data["data"] == {"hour": 5}
    again = deserialize_timetable(data, {data["type"]: EveryOtherDay})
    assert isinstance(again, EveryOtherDay) and again.hour == 5
    with pytest.raises(ScheduleError, match="not registered by any plugin"):
        deserialize_timetable(data, {})


def test_a_dag_accepts_a_timetable_object_as_its_schedule():
    with DAG(
        "tt", schedule=CronTriggerTimetable("0 1 * * *", timezone="UTC"), start_date=utc(2024, 1, 1)
    ) as dag:
        pass
    run = dag.timetable.next_run(None, Restriction(dag.start_date, None, True), utc(2025, 1, 1))
    assert run is not None and run.logical_date == utc(2024, 1, 1, 1)


@pytest.mark.parametrize(
    "zone",
    [pendulum.fixed_timezone(7200), pendulum.timezone("Europe/Berlin"), timezone(timedelta(hours=-5))],
)
def test_a_cron_in_a_fixed_offset_or_pendulum_zone_survives_the_store(zone):
    timetable = CronTriggerTimetable("0 3 * * *", zone)
    again = deserialize_timetable(encode_timetable(timetable))
    start = datetime(2024, 1, 1, tzinfo=zone)
    restriction = Restriction(start, None, True)
    assert walk(again, restriction, 3, utc(2025, 1, 1)) == walk(timetable, restriction, 3, utc(2025, 1, 1))
    assert walk(again, restriction, 1, utc(2025, 1, 1))[0].logical_date.astimezone(zone).hour == 3
