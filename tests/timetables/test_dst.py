"""Schedules across daylight-saving changes land on the instants Airflow's timetables choose.

Two kinds of check: tables of known instants, and a property comparing dagflow's zoneinfo arithmetic
with a reference built directly on pendulum's ``Timezone.convert`` (which Airflow relies on) over
many zones, expressions and dates around their transitions.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pendulum
import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from dagflow.core.cron import Cron
from dagflow.core.schedule import NextRun, Restriction, parse_schedule
from dagflow.core.timetables import (
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DeltaDataIntervalTimetable,
    DeltaTriggerTimetable,
)

FAR = datetime(2030, 1, 1, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def walk(timetable, start: datetime, count: int) -> list[NextRun]:
    found: list[NextRun] = []
    last = None
    for _ in range(count):
        last = timetable.next_run(last, Restriction(start, None, True), FAR)
        assert last is not None
        found.append(last)
    return found


def test_every_six_hours_runs_at_six_local_on_the_fall_back_day():
    berlin = ZoneInfo("Europe/Berlin")
    found = walk(parse_schedule("0 */6 * * *", berlin, "d"), datetime(2024, 10, 26, tzinfo=berlin), 7)
    assert [r.logical_date for r in found][4:] == [
        utc(2024, 10, 26, 22),
        utc(2024, 10, 27, 5),
        utc(2024, 10, 27, 11),
    ]


@pytest.mark.parametrize("data_intervals", [False, True])
def test_a_repeated_local_time_runs_at_its_second_occurrence(data_intervals):
    new_york = ZoneInfo("America/New_York")
    timetable = parse_schedule("30 1 * * *", new_york, "d", cron_data_intervals=data_intervals)
    found = walk(timetable, datetime(2024, 11, 1, tzinfo=new_york), 4)
    assert [r.logical_date for r in found] == [
        utc(2024, 11, 1, 5, 30),
        utc(2024, 11, 2, 5, 30),
        utc(2024, 11, 3, 6, 30),
        utc(2024, 11, 4, 6, 30),
    ]
    if data_intervals:
        assert found[1].data_interval.end == utc(2024, 11, 3, 6, 30)


@pytest.mark.parametrize("data_intervals", [False, True])
def test_a_timedelta_adds_absolute_hours_across_the_spring_change(data_intervals):
    amsterdam = ZoneInfo("Europe/Amsterdam")
    timetable = parse_schedule(timedelta(days=1), amsterdam, "d", cron_data_intervals=data_intervals)
    kind = DeltaDataIntervalTimetable if data_intervals else DeltaTriggerTimetable
    assert isinstance(timetable, kind)
    found = walk(timetable, datetime(2024, 3, 30, 6, tzinfo=amsterdam), 3)
    assert [r.logical_date for r in found] == [utc(2024, 3, 30, 5), utc(2024, 3, 31, 5), utc(2024, 4, 1, 5)]


@pytest.mark.parametrize(
    ("expression", "zone", "start", "expected"),
    [
        # a fixed time inside the spring gap moves forward by the gap: 02:00 -> 03:00 CEST
        ("0 2 * * *", "Europe/Berlin", utc(2024, 3, 30, 12), [utc(2024, 3, 31, 1), utc(2024, 4, 1, 0)]),
        # a fixed time in the repeated hour is taken the second time: 02:00 CET
        ("0 2 * * *", "Europe/Berlin", utc(2024, 10, 26, 12), [utc(2024, 10, 27, 1), utc(2024, 10, 28, 1)]),
        # every hour: absolute steps, so the repeated hour runs twice
        (
            "30 * * * *",
            "Europe/Zurich",
            utc(2023, 10, 28, 23, 45),
            [utc(2023, 10, 29, 0, 30), utc(2023, 10, 29, 1, 30), utc(2023, 10, 29, 2, 30)],
        ),
        # every hour in spring: the skipped local hour is not run, no instant is lost
        (
            "0 * * * *",
            "America/New_York",
            utc(2024, 3, 10, 6, 30),
            [utc(2024, 3, 10, 7), utc(2024, 3, 10, 8)],
        ),
        # every two hours is a fixed list of hours: wall-clock rules, the 02:00 in the gap becomes 03:00
        (
            "0 */2 * * *",
            "America/New_York",
            utc(2024, 3, 10, 6, 30),
            [utc(2024, 3, 10, 7), utc(2024, 3, 10, 8)],
        ),
    ],
)
def test_known_instants_around_transitions(expression, zone, start, expected):
    cron = Cron(expression, ZoneInfo(zone))
    found, current = [], start
    for _ in expected:
        current = cron.next_after(current)
        found.append(current)
    assert found == expected


def _reference_step(expression: str, zone: str, current: pendulum.DateTime, forward: bool) -> datetime:
    """Airflow's algorithm written on pendulum, the library Airflow's timetables use."""
    tz = pendulum.timezone(zone)
    local = current.in_timezone(tz)
    naive = datetime(local.year, local.month, local.day, local.hour, local.minute, local.second)
    it = croniter(expression, start_time=naive)
    step = it.get_next(datetime) if forward else it.get_prev(datetime)
    if it.expanded[1] != ["*"]:
        return tz.convert(step.replace(fold=1)).astimezone(UTC)
    return (local + (step - naive)).astimezone(UTC)


ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "UTC",
]
EXPRESSIONS = [
    "30 1 * * *",
    "0 2 * * *",
    "30 2 * * *",
    "0 */6 * * *",
    "15 */2 * * *",
    "0 * * * *",
    "*/20 * * * *",
    "0 0 * * 0",
    "45 3 1 * *",
    "0 1-3 * * *",
]
# instants near the 2024 transitions of the zones above
ANCHORS = [
    utc(2024, 3, 31, 1),
    utc(2024, 10, 27, 1),
    utc(2024, 3, 10, 7),
    utc(2024, 11, 3, 6),
    utc(2024, 4, 6, 16),
    utc(2024, 10, 5, 16),
    utc(2024, 4, 7, 3),
    utc(2024, 9, 8, 4),
]


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    expression=st.sampled_from(EXPRESSIONS),
    anchor=st.sampled_from(ANCHORS),
    offset_minutes=st.integers(min_value=-36 * 60, max_value=36 * 60),
    forward=st.booleans(),
)
def test_steps_match_airflows_algorithm_on_pendulum(zone, expression, anchor, offset_minutes, forward):
    current = anchor + timedelta(minutes=offset_minutes)
    cron = Cron(expression, ZoneInfo(zone))
    ours = cron.next_after(current) if forward else cron.previous_before(current)
    theirs = _reference_step(expression, zone, pendulum.instance(current), forward)
    assert ours == theirs


def test_hourly_data_intervals_move_on_across_a_half_hour_daylight_saving_change():
    """Lord Howe Island turns its clocks back 30 minutes: an hourly cron's interval ending at the
    change must be followed by the next one, not by itself again."""
    timetable = CronDataIntervalTimetable("0 * * * *", "Australia/Lord_Howe")
    found = walk(timetable, datetime(2024, 4, 6, 14, 59, tzinfo=UTC), 4)
    starts = [r.data_interval.start for r in found]
    assert starts == sorted(set(starts))
    assert all(a.data_interval.end == b.data_interval.start for a, b in itertools.pairwise(found))


@settings(max_examples=100, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    expression=st.sampled_from(EXPRESSIONS),
    anchor=st.sampled_from(ANCHORS),
    offset_minutes=st.integers(min_value=-36 * 60, max_value=36 * 60),
)
def test_runs_move_forward_and_intervals_are_never_empty(zone, expression, anchor, offset_minutes):
    start = anchor + timedelta(minutes=offset_minutes)
    for timetable in (CronTriggerTimetable(expression, zone), CronDataIntervalTimetable(expression, zone)):
        found = walk(timetable, start, 4)
        assert all(a.logical_date < b.logical_date for a, b in itertools.pairwise(found))
        assert all(r.run_after >= r.logical_date >= start - timedelta(hours=1) for r in found)
    interval = walk(CronDataIntervalTimetable(expression, zone), start, 4)
    assert all(r.data_interval.end > r.data_interval.start for r in interval)


@settings(max_examples=100, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    anchor=st.sampled_from(ANCHORS),
    offset_minutes=st.integers(min_value=-48 * 60, max_value=48 * 60),
    hours=st.integers(min_value=1, max_value=24 * 10),
)
def test_a_timedelta_step_is_airflows_utc_addition(zone, anchor, offset_minutes, hours):
    """Airflow adds the delta to the UTC instant (``convert_to_utc(current + delta)``)."""
    start = (anchor + timedelta(minutes=offset_minutes)).astimezone(ZoneInfo(zone))
    found = walk(DeltaTriggerTimetable(timedelta(hours=hours)), start, 3)
    reference = pendulum.instance(start).in_timezone("UTC")
    expected = [reference.add(hours=n * hours) for n in range(3)]
    assert [r.logical_date for r in found] == expected
