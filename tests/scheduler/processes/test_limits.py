"""The limits on what runs at once, checked from the start and end times the workers recorded.

``parallelism`` and ``priority_weight`` get a scheduler of their own (the first limits everything,
the second needs a single worker); the per-DAG limits — ``max_active_tasks``, pools and
``pool_slots``, ``max_active_runs``, ``depends_on_past`` — share one scenario (``limited``) whose
DAGs run side by side on more workers than any of those limits. Both run on each of the
``process_executor`` fixture's executors (the local one, Celery on Redis and on RabbitMQ).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dagflow.scheduler.job import SchedulerOptions
from dagflow.store.models import PoolRow
from tests.scheduler.conftest import Orchestrator, at, deployment, max_concurrent, span

FAN_OUT = """
import time
from datetime import datetime
from pathlib import Path

from dagflow import DAG, task

STARTED = Path(__file__).parent / "fan_out_started"

with DAG("fan_out", schedule=None, start_date=datetime(2024, 1, 1), max_active_tasks=MAX_ACTIVE_TASKS):
    for index in range(6):

        @task(task_id=f"nap_{index}")
        def nap(ti=None):
            # Wait (a while at most) for a second nap to start, so that two of them surely overlap
            # however slowly the worker processes came up: the limit is reached, not just kept.
            STARTED.mkdir(exist_ok=True)
            (STARTED / ti.task_id).touch()
            deadline = time.monotonic() + 10
            while len(list(STARTED.iterdir())) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.2)

        nap()
"""

POOLED = """
import time
from datetime import datetime

from dagflow import DAG, task

with DAG("pooled", schedule=None, start_date=datetime(2024, 1, 1)):
    for index in range(3):

        @task(task_id=f"solo_{index}", pool="solo")
        def solo():
            time.sleep(0.3)

        solo()

    for index, slots in enumerate((1, 1, 2)):

        @task(task_id=f"pair_{index}", pool="pair", pool_slots=slots)
        def pair():
            time.sleep(0.3)

        pair()
"""

ONE_RUN_AT_A_TIME = """
import time
from datetime import datetime

from dagflow import DAG, task

with DAG("one_run_at_a_time", schedule=None, start_date=datetime(2024, 1, 1), max_active_runs=1):

    @task
    def first():
        time.sleep(0.3)

    @task
    def second():
        time.sleep(0.2)

    first() >> second()
"""

DEPENDS_ON_PAST = """
import time
from datetime import datetime

from dagflow import DAG, task

for dag_id, fails in (("waits", False), ("held", True)):
    with DAG(dag_id, schedule=None, start_date=datetime(2024, 1, 1), max_active_runs=2):

        @task(depends_on_past=True)
        def step(logical_date=None, fails=fails):
            time.sleep(0.4)
            if fails and logical_date.day == 1:
                raise RuntimeError("the first run's step fails")

        @task
        def independent():
            time.sleep(0.2)

        step()
        independent()
"""

FIRST, SECOND = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)


def intervals(
    orchestrator: Orchestrator, dag_id: str, run_id: str | None = None
) -> list[tuple[datetime, datetime]]:
    return [span(t) for t in orchestrator.tries(dag_id, run_id)]


@dataclass
class Limited:
    orchestrator: Orchestrator
    #: Run ids by (dag_id, logical date).
    runs: dict[tuple[str, datetime], str]


@pytest.fixture(scope="module")
def limited(
    store_backend: object, process_executor: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Limited]:
    with deployment(store_backend, tmp_path_factory.mktemp("limited")) as orchestrator:
        with orchestrator.db.session(write=True) as session:
            session.add(PoolRow(name="solo", slots=1, description="one at a time"))
            session.add(PoolRow(name="pair", slots=2, description="two slots"))
        orchestrator.write("fan_out.py", FAN_OUT.replace("MAX_ACTIVE_TASKS", "2"))
        orchestrator.write("pooled.py", POOLED)
        orchestrator.write("one_run_at_a_time.py", ONE_RUN_AT_A_TIME)
        orchestrator.write("depends_on_past.py", DEPENDS_ON_PAST)
        orchestrator.record_dags()
        runs = {}
        for dag_id in ("fan_out", "pooled"):
            runs[(dag_id, FIRST)] = orchestrator.trigger(dag_id, logical_date=FIRST)
        for dag_id, days in (
            ("one_run_at_a_time", (FIRST, SECOND)),  # queued runs start in the order they were triggered
            ("waits", (SECOND, FIRST)),  # "previous" is by logical date: the run triggered first waits
            ("held", (SECOND, FIRST)),
        ):
            for day in days:
                runs[(dag_id, day)] = orchestrator.trigger(dag_id, logical_date=day)
        held_second = runs[("held", SECOND)]

        def settled() -> bool:  # every run over but the held one, whose other task is done
            others = [r for r in orchestrator.runs() if r.run_id != held_second or r.dag_id != "held"]
            held = orchestrator.states("held", held_second)
            return all(r.state in ("success", "failed") for r in others) and held["independent"] == "success"

        with orchestrator.running(workers=3, executor=process_executor) as scheduler:  # attempts at once
            scheduler.until(settled)
            scheduler.polls(3)  # the held run is looked at again: still held
        for dag_id in ("fan_out", "pooled", "one_run_at_a_time", "waits", "held"):
            orchestrator.check_ran_on(process_executor, dag_id)
        yield Limited(orchestrator, runs)


def test_no_more_task_instances_run_at_once_than_parallelism(
    orchestrator: Orchestrator, process_executor: str
):
    orchestrator.write("fan_out.py", FAN_OUT.replace("MAX_ACTIVE_TASKS", "16"))
    orchestrator.record_dags()
    orchestrator.trigger("fan_out")
    orchestrator.run_until_idle(
        SchedulerOptions(parallelism=2, run_processor=False), workers=3, executor=process_executor
    )

    assert orchestrator.run("fan_out").state == "success"
    ran = intervals(orchestrator, "fan_out")
    assert len(ran) == 6
    assert max_concurrent(ran) == 2
    orchestrator.check_ran_on(process_executor, "fan_out")


WEIGHTED = """
from datetime import datetime

from dagflow import DAG, task

with DAG("weighted", schedule=None, start_date=datetime(2024, 1, 1)):

    @task
    def root():
        pass

    started = root()
    for name, weight in {weights!r}.items():

        @task(task_id=name, priority_weight=weight, weight_rule="absolute")
        def weighted():
            pass

        started >> weighted()
"""


def test_ready_task_instances_start_in_priority_weight_order(orchestrator: Orchestrator):
    weights = {"low": 1, "top": 50, "middle": 10, "high": 30, "lowest": 0, "higher": 40}
    orchestrator.write("weighted.py", WEIGHTED, weights=weights)
    orchestrator.record_dags()
    run_id = orchestrator.trigger("weighted")
    orchestrator.run_until_idle(workers=1)

    started = [t.task_id for t in orchestrator.tries("weighted", run_id)]
    assert started == ["root", *sorted(weights, key=lambda name: -weights[name])]


def test_no_more_task_instances_of_a_dag_run_at_once_than_its_max_active_tasks(limited: Limited):
    orchestrator = limited.orchestrator
    assert orchestrator.run("fan_out").state == "success"
    ran = intervals(orchestrator, "fan_out")
    assert len(ran) == 6
    assert max_concurrent(ran) == 2


def test_pools_limit_the_slots_in_use_and_pool_slots_counts_against_them(limited: Limited):
    orchestrator = limited.orchestrator
    assert orchestrator.run("pooled").state == "success"
    tries = {t.task_id: span(t) for t in orchestrator.tries("pooled")}
    assert len(tries) == 6
    assert max_concurrent([tries[f"solo_{i}"] for i in range(3)]) == 1
    wide = tries["pair_2"]  # takes both slots of its pool: nothing else of the pool beside it
    assert max_concurrent([wide, tries["pair_0"]]) == max_concurrent([wide, tries["pair_1"]]) == 1


def test_max_active_runs_one_runs_two_triggered_runs_one_after_the_other(limited: Limited):
    orchestrator = limited.orchestrator
    early, late = limited.runs[("one_run_at_a_time", FIRST)], limited.runs[("one_run_at_a_time", SECOND)]
    runs = {r.run_id: r for r in orchestrator.runs("one_run_at_a_time")}
    assert [runs[early].state, runs[late].state] == ["success", "success"]
    assert at(runs[early].end_date) <= at(runs[late].start_date)
    tries = orchestrator.tries("one_run_at_a_time")
    assert [t.run_id for t in tries] == [early, early, late, late]
    assert max_concurrent([span(t) for t in tries]) == 1


def test_depends_on_past_waits_for_the_previous_runs_task_to_succeed(limited: Limited):
    orchestrator, runs = limited.orchestrator, limited.runs
    assert orchestrator.run("waits", runs[("waits", SECOND)]).state == "success"
    step = {t.run_id: t for t in orchestrator.tries("waits", task_id="step")}
    assert at(step[runs[("waits", FIRST)]].end_date) <= at(step[runs[("waits", SECOND)]].start_date)


def test_depends_on_past_holds_a_task_whose_previous_run_failed(limited: Limited):
    orchestrator, runs = limited.orchestrator, limited.runs
    assert orchestrator.run("held", runs[("held", FIRST)]).state == "failed"
    assert orchestrator.run("held", runs[("held", SECOND)]).state == "running"
    assert orchestrator.states("held", runs[("held", SECOND)]) == {"step": "none", "independent": "success"}


WAITING = """
import os
import time
from datetime import datetime

from dagflow import DAG
from dagflow.operators.python import PythonOperator

ARRIVED = {arrived!r}


def wait_for_the_others(index):
    # waiting on another system (no CPU used) until every task of the DAG has started
    open(os.path.join(ARRIVED, str(index)), "w").close()
    deadline = time.monotonic() + 45
    while len(os.listdir(ARRIVED)) < {count}:
        if time.monotonic() > deadline:
            raise TimeoutError("the other tasks did not start meanwhile")
        time.sleep(0.05)


with DAG("waiting", schedule=None, start_date=datetime(2024, 1, 1)):
    for i in range({count}):
        PythonOperator(task_id=f"wait_{{i}}", python_callable=wait_for_the_others, op_args=[i])
"""


def test_more_waiting_tasks_than_cores_run_at_once_with_the_pool_as_deployed(
    orchestrator: Orchestrator, tmp_path: Path
):
    """As with Airflow's local executor (up to ``parallelism`` at once): tasks that wait do not queue
    behind one another because the machine has fewer cores; the pool grows for them. Each task
    waits until all have started, and fails if they do not within 45 s."""
    count = (os.cpu_count() or 1) + 2
    (arrived := tmp_path / "arrived").mkdir()
    orchestrator.write("waiting.py", WAITING.format(count=count, arrived=str(arrived)))
    orchestrator.record_dags()
    orchestrator.trigger("waiting")

    orchestrator.run_until_idle(workers=None, executor="local")  # [worker] processes unset

    assert orchestrator.run("waiting").state == "success"
    assert max_concurrent(intervals(orchestrator, "waiting")) == count
