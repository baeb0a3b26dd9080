"""The pictures' reads: a run's tries over time, runs counted by day, recent durations."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dagflow.core.keys import RunKey
from dagflow.store import chart_reads
from dagflow.store.engine import Database
from dagflow.store.models import DagRow, DagRunRow, TaskInstanceRow, TaskInstanceTryRow

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
DAG = "charts"


def add_run(session, run_id: str, run_after: datetime, state: str, minutes: float | None = None) -> None:
    end = run_after + timedelta(minutes=minutes) if minutes is not None else None
    start = run_after if state != "queued" else None
    session.add(
        DagRunRow(
            dag_id=DAG,
            run_id=run_id,
            run_after=run_after,
            run_type="scheduled",
            state=state,
            conf={},
            queued_at=run_after,
            start_date=start,
            end_date=end,
        )
    )


def seed(database: Database) -> None:
    with database.session(write=True) as session:
        session.add(DagRow(dag_id=DAG, fileloc="/dags/charts.py", is_paused=False, is_active=True))
        session.flush()
        add_run(session, "r1", T0, "success", 2)
        add_run(session, "r2", T0 + timedelta(hours=1), "failed", 5)
        add_run(session, "r3", T0 + timedelta(days=1), "success", 1)
        add_run(session, "r4", T0 + timedelta(days=400), "running")
        session.flush()
        # in r1: "a" failed its first try and succeeded on its second; "b" is running its first try
        session.add(
            TaskInstanceTryRow(
                dag_id=DAG,
                run_id="r1",
                task_id="a",
                map_index=-1,
                try_number=1,
                state="failed",
                queued_at=T0,
                start_date=T0 + timedelta(seconds=5),
                end_date=T0 + timedelta(seconds=20),
            )
        )
        session.add(
            TaskInstanceTryRow(
                dag_id=DAG,
                run_id="r1",
                task_id="a",
                map_index=-1,
                try_number=2,
                state="success",
                queued_at=T0 + timedelta(seconds=30),
                start_date=T0 + timedelta(seconds=31),
                end_date=T0 + timedelta(seconds=40),
            )
        )
        common = {"dag_id": DAG, "run_id": "r1"}
        session.add(
            TaskInstanceRow(
                **common,
                task_id="a",
                map_index=-1,
                state="success",
                try_number=2,
                queued_at=T0 + timedelta(seconds=30),
                start_date=T0 + timedelta(seconds=31),
                end_date=T0 + timedelta(seconds=40),
                duration=9.0,
            )
        )
        session.add(
            TaskInstanceRow(
                **common,
                task_id="b",
                map_index=-1,
                state="running",
                try_number=1,
                queued_at=T0 + timedelta(seconds=41),
                start_date=T0 + timedelta(seconds=42),
            )
        )
        session.add(TaskInstanceRow(**common, task_id="c", map_index=-1, state="none", try_number=0))
        for index, seconds in enumerate((3.0, 7.0)):
            session.add(
                TaskInstanceRow(
                    dag_id=DAG,
                    run_id="r2",
                    task_id="m",
                    map_index=index,
                    state="success",
                    try_number=1,
                    duration=seconds,
                )
            )


def test_a_runs_try_spans_hold_each_ended_try_and_the_current_one_but_not_tasks_never_tried(database):
    seed(database)
    with database.session() as session:
        spans = chart_reads.run_try_spans(session, run=RunKey(DAG, "r1"))
    assert [(s.task_id, s.try_number, s.state) for s in spans] == [
        ("a", 1, "failed"),
        ("a", 2, "success"),
        ("b", 1, "running"),
    ]
    assert spans[2].end_date is None and spans[2].start_date == T0 + timedelta(seconds=42)


def test_runs_are_counted_by_state_per_utc_day_within_the_range(database):
    seed(database)
    with database.session() as session:
        days = chart_reads.run_states_by_day(
            session,
            dag_id=DAG,
            since=datetime(2024, 1, 1, tzinfo=UTC),
            until=datetime(2025, 1, 1, tzinfo=UTC),
        )
    assert days == {date(2024, 3, 1): {"success": 1, "failed": 1}, date(2024, 3, 2): {"success": 1}}


def test_recent_run_spans_are_the_latest_runs_oldest_first_with_their_durations(database):
    seed(database)
    with database.session() as session:
        spans = chart_reads.recent_run_spans(session, dag_id=DAG, limit=3)
    assert [s.run_id for s in spans] == ["r2", "r3", "r4"]
    assert [s.duration for s in spans] == [300.0, 60.0, None]


def test_task_durations_count_a_mapped_task_as_its_longest_index(database):
    seed(database)
    with database.session() as session:
        durations = chart_reads.task_durations_of_runs(session, dag_id=DAG, run_ids=["r1", "r2"])
    assert durations == {("a", "r1"): 9.0, ("m", "r2"): 7.0}
