"""Schedules: when runs are due and what each covers, in the DAG's timezone, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from dagflow import DAG
from dagflow.core.schedule import (
    ContinuousTimetable,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DeltaTriggerTimetable,
    NextRun,
    NullTimetable,
    OnceTimetable,
    Restriction,
    deserialize_timetable,
    parse_schedule,
)
from dagflow.exceptions import ScheduleError

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2024, 1, 5, 13, 30, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def runs(timetable, restriction: Restriction, count: int, now: datetime = NOW) -> list[NextRun]:
    found, last = [], None
    for _ in range(count):
        last = timetable.next_run(last, restriction, now)
        if last is None:
            break
        found.append(last)
    return found


def test_a_daily_cron_with_catchup_runs_each_day_from_the_start_date_at_the_fire_time():
    timetable = parse_schedule("@daily", UTC, "DAG 'd'")
    found = runs(timetable, Restriction(utc(2024, 1, 1), None, True), 3)
    assert [r.logical_date for r in found] == [utc(2024, 1, 1), utc(2024, 1, 2), utc(2024, 1, 3)]
    # the trigger convention: the run is due at its logical date, its data interval is that instant
    assert all(r.run_after == r.logical_date == r.data_interval.start == r.data_interval.end for r in found)


def test_without_catchup_only_the_latest_due_run_is_created():
    timetable = parse_schedule("0 0 * * *", UTC, "DAG 'd'")
    first = timetable.next_run(None, Restriction(utc(2024, 1, 1), None, False), NOW)
    assert first is not None and first.logical_date == utc(2024, 1, 5)
    following = timetable.next_run(first, Restriction(utc(2024, 1, 1), None, False), NOW)
    assert following is not None and following.logical_date == utc(2024, 1, 6)


def test_a_start_date_in_the_future_holds_the_first_run_until_then():
    timetable = parse_schedule("@hourly", UTC, "DAG 'd'")
    first = timetable.next_run(None, Restriction(utc(2024, 2, 1, 10, 15), None, False), NOW)
    assert first is not None and first.logical_date == utc(2024, 2, 1, 11)


def test_the_end_date_stops_the_schedule():
    timetable = parse_schedule("@daily", UTC, "DAG 'd'")
    found = runs(timetable, Restriction(utc(2024, 1, 1), utc(2024, 1, 3), True), 10)
    assert [r.logical_date.day for r in found] == [1, 2, 3]


def test_a_local_time_cron_keeps_its_wall_clock_hour_across_the_spring_change():
    timetable = CronTriggerTimetable("0 9 * * *", BERLIN)
    found = runs(timetable, Restriction(datetime(2024, 3, 30, tzinfo=BERLIN), None, True), 3)
    assert [r.logical_date.astimezone(BERLIN).hour for r in found] == [9, 9, 9]
    assert [r.logical_date.hour for r in found] == [8, 7, 7]  # UTC+1, then UTC+2 from 31 March


def test_a_fire_time_that_does_not_exist_on_the_spring_day_runs_once_an_hour_later():
    timetable = CronTriggerTimetable("30 2 * * *", BERLIN)
    found = runs(timetable, Restriction(datetime(2024, 3, 30, tzinfo=BERLIN), None, True), 3)
    local = [r.logical_date.astimezone(BERLIN) for r in found]
    assert [(d.day, d.hour, d.minute) for d in local] == [(30, 2, 30), (31, 3, 30), (1, 2, 30)]


def test_a_fire_time_that_happens_twice_on_the_autumn_day_runs_once():
    timetable = CronTriggerTimetable("30 2 * * *", BERLIN)
    found = runs(timetable, Restriction(datetime(2024, 10, 26, tzinfo=BERLIN), None, True), 3)
    assert [r.logical_date.astimezone(BERLIN).day for r in found] == [26, 27, 28]


def test_an_hourly_cron_neither_doubles_nor_drops_a_run_when_the_clock_goes_back():
    timetable = CronTriggerTimetable("0 * * * *", BERLIN)
    found = runs(timetable, Restriction(datetime(2024, 10, 27, 0, 0, tzinfo=BERLIN), None, True), 5)
    gaps = {b.logical_date - a.logical_date for a, b in pairwise(found)}
    assert gaps == {timedelta(hours=1)}
    assert len({r.logical_date for r in found}) == 5


def test_the_data_interval_convention_covers_the_interval_that_ends_when_the_run_starts():
    timetable = CronDataIntervalTimetable("0 0 * * *", UTC)
    found = runs(timetable, Restriction(utc(2024, 1, 1), None, True), 2)
    assert found[0].logical_date == found[0].data_interval.start == utc(2024, 1, 1)
    assert found[0].data_interval.end == found[0].run_after == utc(2024, 1, 2)
    assert found[1].logical_date == utc(2024, 1, 2)


def test_the_data_interval_convention_without_catchup_runs_the_latest_complete_interval():
    timetable = CronDataIntervalTimetable("0 0 * * *", UTC)
    first = timetable.next_run(None, Restriction(utc(2024, 1, 1), None, False), NOW)
    assert first is not None
    assert (first.data_interval.start, first.data_interval.end) == (utc(2024, 1, 4), utc(2024, 1, 5))


def test_a_timedelta_schedule_runs_every_delta_from_the_start_date():
    timetable = parse_schedule(timedelta(hours=6), UTC, "DAG 'd'")
    assert isinstance(timetable, DeltaTriggerTimetable)
    found = runs(timetable, Restriction(utc(2024, 1, 1), None, True), 3)
    assert [r.logical_date.hour for r in found] == [0, 6, 12]


def test_once_runs_a_single_time_at_the_start_date():
    timetable = parse_schedule("@once", UTC, "DAG 'd'")
    assert isinstance(timetable, OnceTimetable)
    assert [r.logical_date for r in runs(timetable, Restriction(utc(2024, 1, 1), None, False), 3)] == [
        utc(2024, 1, 1)
    ]


def test_continuous_starts_the_next_run_now():
    timetable = parse_schedule("@continuous", UTC, "DAG 'd'")
    assert isinstance(timetable, ContinuousTimetable)
    run = timetable.next_run(None, Restriction(utc(2024, 1, 1), None, False), NOW)
    assert run is not None and run.run_after == NOW


def test_none_means_manual_runs_only():
    timetable = parse_schedule(None, UTC, "DAG 'd'")
    assert isinstance(timetable, NullTimetable)
    assert not timetable.can_be_scheduled
    assert timetable.next_run(None, Restriction(utc(2024, 1, 1), None, True), NOW) is None


@pytest.mark.parametrize("preset", ["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually"])
def test_presets_are_cron_schedules(preset):
    assert isinstance(parse_schedule(preset, UTC, "DAG 'd'"), CronTriggerTimetable)


@pytest.mark.parametrize("bad", ["not a cron", "61 * * * *", "@sometimes", 42])
def test_a_bad_schedule_is_an_error_naming_the_dag(bad):
    with pytest.raises(ScheduleError, match="DAG 'd'"):
        parse_schedule(bad, UTC, "DAG 'd'")


def test_a_manual_run_of_a_cron_dag_covers_the_instant_it_was_triggered():
    timetable = parse_schedule("@daily", UTC, "DAG 'd'")
    interval = timetable.infer_manual_data_interval(run_after=NOW)
    assert interval.start == interval.end == NOW


def test_timetables_survive_serialization():
    for timetable in (
        CronTriggerTimetable("0 9 * * *", BERLIN, interval=timedelta(hours=1)),
        CronDataIntervalTimetable("0 0 * * *", UTC),
        DeltaTriggerTimetable(timedelta(minutes=30)),
        OnceTimetable(),
    ):
        again = deserialize_timetable(timetable.serialize())
        restriction = Restriction(datetime(2024, 3, 29, tzinfo=BERLIN), None, True)
        assert runs(again, restriction, 4) == runs(timetable, restriction, 4)


def test_a_dag_evaluates_its_cron_in_its_start_dates_timezone():
    with DAG("berlin", schedule="0 9 * * *", start_date=datetime(2024, 3, 30, tzinfo=BERLIN)) as dag:
        pass
    assert dag.timezone == BERLIN
    first = dag.timetable.next_run(None, Restriction(dag.start_date, None, True), NOW)
    assert first is not None and first.logical_date.astimezone(BERLIN).hour == 9


def test_a_naive_start_date_is_read_as_utc():
    with DAG("naive", schedule="@daily", start_date=datetime(2024, 1, 1)) as dag:
        pass
    assert dag.start_date == utc(2024, 1, 1)


@pytest.mark.parametrize("cron_data_intervals", [False, True])
def test_a_preset_is_shown_as_written_and_kept_through_serialization(cron_data_intervals):
    from dagflow.core.schedule import deserialize_timetable, parse_schedule

    timetable = parse_schedule("@daily", UTC, "d", cron_data_intervals=cron_data_intervals)
    again = deserialize_timetable(timetable.serialize())
    assert (timetable.summary, again.summary) == ("@daily", "@daily")
    assert again.expression == "0 0 * * *"  # type: ignore[attr-defined]
