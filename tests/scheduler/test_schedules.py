"""Runs the scheduler creates by itself, from each DAG's schedule; paused DAGs; backfills.

One scenario per backend (``scheduled``), in three phases:

1. the DAG files are recorded as the default settings say: every new DAG starts paused; a few
   passes later no DAG has a run but the one triggered by hand, which stays queued;
2. all DAGs but that one are unpaused and a backfill is requested: the scheduler creates and runs
   the scheduled runs and the backfill's, while the paused DAG's run is still queued;
3. that DAG is unpaused: its run starts and completes.

Airflow 3's convention (see :mod:`dagflow.core.schedule`): a run's logical date is the time the schedule
fires, its data interval ends there, and its run id is ``scheduled__<logical date>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from dagflow import actions
from dagflow.core.clock import utcnow
from dagflow.scheduler.job import SchedulerOptions
from dagflow.store.models import BackfillRow, DagRow, DagRunRow
from tests.scheduler.conftest import Orchestrator, at, deployment, max_concurrent, span

DAG_FILE = """
from datetime import datetime, timedelta

from dagflow import DAG, task

with DAG(
    "{dag_id}",
    schedule={schedule},
    start_date=datetime.fromisoformat("{start_date}"),
    end_date={end_date},
    catchup={catchup},
):

    @task
    def where(ds=None, logical_date=None, data_interval_start=None, data_interval_end=None):
        return [ds, logical_date.isoformat(), data_interval_start.isoformat(), data_interval_end.isoformat()]

    where()
"""


def iso(value: datetime | None) -> str:
    return f'datetime.fromisoformat("{value.isoformat()}")' if value else "None"


@dataclass
class Dates:
    now: datetime = field(default_factory=utcnow)

    @property
    def today(self) -> datetime:
        return self.now.replace(hour=0, minute=0, second=0, microsecond=0)

    @property
    def hourly_start(self) -> datetime:
        return (self.now - timedelta(hours=3)).replace(second=0, microsecond=0)


def dag_files(dates: Dates) -> dict[str, dict[str, object]]:
    today = dates.today
    return {
        "cron_catchup": dict(
            schedule='"0 6 * * *"',
            start_date=today - timedelta(days=3),
            end_date=iso(today - timedelta(days=1) + timedelta(hours=12)),
            catchup=True,
        ),
        "cron_latest_only": dict(
            schedule='"@daily"', start_date=today - timedelta(days=5), end_date=iso(dates.now), catchup=False
        ),
        "every_hour": dict(
            schedule="timedelta(hours=1)",
            start_date=dates.hourly_start,
            end_date=iso(dates.hourly_start + timedelta(hours=2)),
            catchup=True,
        ),
        "once": dict(
            schedule='"@once"', start_date=today - timedelta(days=2, hours=-5), end_date="None", catchup=True
        ),
        "backfilled": dict(  # its schedule ended before today: it only gets the backfill's runs
            schedule='"@daily"',
            start_date=today - timedelta(days=10),
            end_date=iso(today - timedelta(days=5)),
            catchup=False,
        ),
        "paused": dict(schedule="None", start_date=today - timedelta(days=1), end_date="None", catchup=False),
    }


@dataclass
class Scheduled:
    orchestrator: Orchestrator
    dates: Dates
    paused_at_creation: dict[str, bool]
    #: (dag_id, run_type, state) of every run after phase 1 and phase 2.
    after_phase_1: list[tuple[str, str, str]]
    after_phase_2: dict[str, str]
    manual_run_id: str
    unpaused_at: datetime
    backfill_id: int


@pytest.fixture(scope="module")
def scheduled(store_backend: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scheduled]:
    dates = Dates()
    with deployment(store_backend, tmp_path_factory.mktemp("scheduled")) as orchestrator:
        for dag_id, values in dag_files(dates).items():
            orchestrator.write(f"{dag_id}.py", DAG_FILE, dag_id=dag_id, **values)
        orchestrator.record_dags(paused=None)  # as a fresh install's settings say
        with orchestrator.db.session() as session:
            paused_at_creation = {row.dag_id: row.is_paused for row in session.scalars(select(DagRow))}
        manual_run_id = orchestrator.trigger("paused")

        # each of the polls below looks at the store: a short poll interval keeps them quick
        with orchestrator.running(SchedulerOptions(run_processor=False, poll_interval=0.02)) as scheduler:
            scheduler.polls(3)
            after_phase_1 = [(r.dag_id, r.run_type, r.state) for r in orchestrator.runs()]

            orchestrator.unpause(*(dag_id for dag_id in paused_at_creation if dag_id != "paused"))
            with orchestrator.db.session(write=True) as session:
                backfill, _ = actions.backfill(
                    session,
                    "backfilled",
                    start=dates.today - timedelta(days=9),
                    end=dates.today - timedelta(days=7),
                    max_active_runs=1,
                )
                backfill_id = backfill.id
            expected_runs = 3 + 1 + 3 + 1 + 3

            def others_done() -> bool:
                done = [
                    r
                    for r in orchestrator.runs()
                    if r.dag_id != "paused" and r.state in ("success", "failed")
                ]
                return len(done) >= expected_runs

            scheduler.until(others_done)
            scheduler.polls(2)
            after_phase_2 = {r.run_id: r.state for r in orchestrator.runs("paused")}

            unpaused_at = utcnow()
            orchestrator.unpause("paused")
            scheduler.until()
        yield Scheduled(
            orchestrator,
            dates,
            paused_at_creation,
            after_phase_1,
            after_phase_2,
            manual_run_id,
            unpaused_at,
            backfill_id,
        )


def runs_of(scheduled: Scheduled, dag_id: str) -> list[DagRunRow]:
    return scheduled.orchestrator.runs(dag_id)


def check_run(
    orchestrator: Orchestrator, run: DagRunRow, logical_date: datetime, run_type: str = "scheduled"
) -> None:
    """The run's dates, id and type, and what its task saw, are those of ``logical_date``."""
    assert run.logical_date == logical_date
    assert (run.data_interval_start, run.data_interval_end) == (logical_date, logical_date)
    assert run.run_id == f"{run_type}__{logical_date.isoformat()}"
    assert (run.run_type, run.state) == (run_type, "success")
    seen = orchestrator.xcoms(run.dag_id, run.run_id)[("where", "return_value")]
    assert seen == [logical_date.date().isoformat(), *[logical_date.isoformat()] * 3]


def test_new_dags_start_paused_and_paused_dags_get_no_runs(scheduled: Scheduled):
    assert set(scheduled.paused_at_creation.values()) == {True}
    assert len(scheduled.paused_at_creation) == 6
    assert scheduled.after_phase_1 == [("paused", "manual", "queued")]  # only the one triggered by hand


def test_a_queued_run_of_a_paused_dag_starts_only_once_the_dag_is_unpaused(scheduled: Scheduled):
    assert scheduled.after_phase_2 == {scheduled.manual_run_id: "queued"}
    run = scheduled.orchestrator.run("paused")
    assert run.state == "success"
    assert run.start_date is not None and run.start_date >= scheduled.unpaused_at


def test_catchup_creates_one_run_per_schedule_point_between_start_and_end_date(scheduled: Scheduled):
    today = scheduled.dates.today
    runs = runs_of(scheduled, "cron_catchup")
    expected = [today - timedelta(days=days) + timedelta(hours=6) for days in (3, 2, 1)]
    assert [r.logical_date for r in runs] == expected
    for run, logical_date in zip(runs, expected, strict=True):
        check_run(scheduled.orchestrator, run, logical_date)


def test_without_catchup_only_the_latest_schedule_point_gets_a_run(scheduled: Scheduled):
    (run,) = runs_of(scheduled, "cron_latest_only")
    check_run(scheduled.orchestrator, run, scheduled.dates.today)


def test_a_timedelta_schedule_runs_every_interval_from_the_start_date(scheduled: Scheduled):
    start = scheduled.dates.hourly_start
    runs = runs_of(scheduled, "every_hour")
    expected = [start + timedelta(hours=hours) for hours in (0, 1, 2)]
    assert [r.logical_date for r in runs] == expected
    for run, logical_date in zip(runs, expected, strict=True):
        check_run(scheduled.orchestrator, run, logical_date)


def test_once_runs_once_at_its_start_date(scheduled: Scheduled):
    (run,) = runs_of(scheduled, "once")
    check_run(scheduled.orchestrator, run, scheduled.dates.today - timedelta(days=2, hours=-5))


def test_a_backfill_runs_its_schedule_points_within_its_max_active_runs(scheduled: Scheduled):
    orchestrator, today = scheduled.orchestrator, scheduled.dates.today
    runs = runs_of(scheduled, "backfilled")
    expected = [today - timedelta(days=days) for days in (9, 8, 7)]
    assert [r.logical_date for r in runs] == expected
    for run, logical_date in zip(runs, expected, strict=True):
        check_run(orchestrator, run, logical_date, run_type="backfill")
        assert run.backfill_id == scheduled.backfill_id
    assert max_concurrent([span(r) for r in runs]) == 1  # max_active_runs=1
    assert [r.start_date for r in runs] == sorted(at(r.start_date) for r in runs)  # in date order
    with orchestrator.db.session() as session:
        backfill = session.get(BackfillRow, scheduled.backfill_id)
        assert backfill is not None and backfill.completed_at is not None
        assert backfill.completed_at >= max(at(r.end_date) for r in runs)
