"""Runs in production: the scheduler with its worker processes, against a real store.

One scenario per backend (the ``production`` fixture) triggers a handful of DAGs and runs the
scheduler until it is idle; each test checks one thing an Airflow user expects of those runs:

* what passes in ``dag.test()`` behaves the same in production: the same files run by
  ``dag.test()`` in this process end with the same run state, task states, try numbers and XComs;
* a failed try is retried after its ``retry_delay``, with one try-history row per try;
* task and DAG callbacks run once per event, in the worker;
* each try logs to its own file, which ``dagflow tasks logs`` prints;
* EmptyOperator task instances succeed without a worker.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from dagflow.cli import cli
from dagflow.dagbag import DagBag
from dagflow.runtime.inprocess import RunResult
from dagflow.runtime.xcom import RunRef
from tests.conftest import DagsFolder
from tests.scheduler.conftest import Orchestrator, at, deployment

LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)

PIPELINE = """
from datetime import datetime

from dagflow import DAG, TaskGroup, TriggerRule, task, task_group
from dagflow.operators import BashOperator, EmptyOperator, ShortCircuitOperator

with DAG("pipeline", schedule=None, start_date=datetime(2024, 1, 1)):

    @task(multiple_outputs=True)
    def extract():
        return {"numbers": [1, 2, 3], "kind": "batch"}

    extract_out = extract()

    @task.branch
    def choose(kind):
        return "transform" if kind == "batch" else "stream"

    stream = EmptyOperator(task_id="stream")
    after_stream = EmptyOperator(task_id="after_stream")  # skipped in cascade

    with TaskGroup("transform") as transform:

        @task
        def double(numbers):
            return [n * 2 for n in numbers]

        @task
        def square(n):
            return n * n

        squares = square.expand(n=double(extract_out["numbers"]))

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def total(values, kind):
        return {"kind": kind, "sum": sum(values)}

    report = BashOperator(
        task_id="report",
        bash_command="echo run {{ run_id }} summed {{ ti.xcom_pull(task_ids='total')['sum'] }}",
    )
    gate = ShortCircuitOperator(task_id="gate", python_callable=lambda: False)
    gated = EmptyOperator(task_id="gated")
    also_gated = EmptyOperator(task_id="also_gated", trigger_rule=TriggerRule.ALL_DONE)

    chosen = choose(extract_out["kind"])
    chosen >> [transform, stream]
    stream >> after_stream
    summed = total(squares, extract_out["kind"])
    after_stream >> summed
    summed >> report >> gate >> gated >> also_gated

    @task_group
    def per_size(n):
        @task.branch
        def size_route(n):
            return "per_size.big" if n > 1 else "per_size.small"

        @task
        def big(n):
            return f"big {n}"

        @task
        def small(n):
            return f"small {n}"

        size_route(n) >> [big(n), small(n)]

    per_size.expand(n=[1, 2])
"""

FAILURES = """
from datetime import datetime

from dagflow import DAG, TriggerRule, task
from dagflow.exceptions import SkipTask

with DAG("failures", schedule=None, start_date=datetime(2024, 1, 1)):

    @task
    def numbers():
        return [1, 2, 0]

    @task
    def invert(n):
        return 10 // n  # map index 2 divides by zero

    @task
    def collect(values):
        return sorted(values)

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def cleanup():
        return "cleaned"

    @task(trigger_rule=TriggerRule.ONE_FAILED)
    def alert():
        return "alerted"

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def unaffected():
        return "not reached"

    @task
    def skipper():
        raise SkipTask("nothing to do today")

    @task(trigger_rule=TriggerRule.NONE_SKIPPED)
    def needs_no_skips():
        return "not reached"

    @task(trigger_rule=TriggerRule.ALL_SKIPPED)
    def after_all_skipped():
        return "everything upstream skipped"

    inverted = invert.expand(n=numbers())
    collected = collect(inverted)
    inverted >> [cleanup(), alert()]
    collected >> unaffected()
    skipped = skipper()
    skipped >> [needs_no_skips(), after_all_skipped()]
"""

RETRYING = """
import os
from datetime import datetime, timedelta
from pathlib import Path

from dagflow import DAG, get_current_context, task

EVENTS = Path(__file__).parent / "callback_events.txt"


def note(line):
    with open(EVENTS, "a") as stream:
        stream.write(line + "\\n")


def task_event(event):
    return lambda context: note(f"{event} {context['ti'].dag_id}.{context['ti'].task_id} "
                                f"try={context['ti'].try_number} pid={os.getpid()}")


def dag_event(event):
    return lambda context: note(f"{event} {context['dag_run'].dag_id} {context['run_id']} "
                                f"{context['dag_run'].state} pid={os.getpid()}")


for dag_id, fails_until in (("recovers", 2), ("gives_up", 99)):
    with DAG(
        dag_id,
        schedule=None,
        start_date=datetime(2024, 1, 1),
        on_success_callback=dag_event("dag_success"),
        on_failure_callback=dag_event("dag_failure"),
    ):

        @task(
            retries=2,
            retry_delay=timedelta(seconds=1),
            on_retry_callback=task_event("retry"),
            on_success_callback=task_event("success"),
            on_failure_callback=task_event("failure"),
        )
        def flaky(fails_until=fails_until):
            try_number = get_current_context()["ti"].try_number
            if try_number < fails_until:
                raise RuntimeError(f"not yet on try {try_number}")
            return f"done on try {try_number}"

        flaky()
"""

CHATTY = """
from datetime import datetime, timedelta

from dagflow import DAG, get_current_context, task
from dagflow.operators import BashOperator

with DAG("chatty", schedule=None, start_date=datetime(2024, 1, 1)):

    @task(retries=1, retry_delay=timedelta(0))
    def talk():
        try_number = get_current_context()["ti"].try_number
        print(f"talk prints on try {try_number}")
        if try_number == 1:
            raise ValueError("first try fails on purpose")

    shell = BashOperator(task_id="shell", bash_command="echo from bash in $PWD; echo last line")
    talk() >> shell
"""

EMPTY_ENDS = """
from datetime import datetime

from dagflow import DAG, task
from dagflow.operators import EmptyOperator

with DAG("empty_ends", schedule=None, start_date=datetime(2024, 1, 1)):

    @task
    def work():
        return "worked"

    EmptyOperator(task_id="begin") >> work() >> EmptyOperator(task_id="end")
"""

FILES = {
    "pipeline.py": PIPELINE,
    "failures.py": FAILURES,
    "retrying.py": RETRYING,
    "chatty.py": CHATTY,  # (not logging.py: the DAGs folder is on sys.path)
    "empty_ends.py": EMPTY_ENDS,
}
COMPARED = ("pipeline", "failures")


def in_process(folder: Path, dag_id: str) -> RunResult:
    """``dag.test()`` of the DAG, loaded from its file."""
    dag = DagBag(folder / f"{dag_id}.py").get_dag(dag_id)
    return dag.test(logical_date=LOGICAL_DATE, log_stream=io.StringIO())


def all_xcoms(result: RunResult) -> dict[tuple[str, str], object]:
    """Every XCom ``dag.test()`` kept, by ``(task instance label, key)``."""
    run = RunRef(result.dag_id, result.run_id)
    return {
        (ti.label, key): result.xcom_store.get(run, ti.task_id, ti.map_index, key)[1]
        for ti in result.task_instances
        for key in result.xcom_store.keys_of(run, ti.task_id, ti.map_index)
    }


@dataclass
class Production:
    orchestrator: Orchestrator
    run_ids: dict[str, str]
    in_process: dict[str, RunResult]


@pytest.fixture(scope="module")
def production(store_backend: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    with deployment(store_backend, tmp_path_factory.mktemp("production")) as orchestrator:
        for name, source in FILES.items():
            orchestrator.write(name, source)
        dag_ids = orchestrator.record_dags()
        expected = {dag_id: in_process(orchestrator.dags.path, dag_id) for dag_id in COMPARED}
        run_ids = {dag_id: orchestrator.trigger(dag_id, logical_date=LOGICAL_DATE) for dag_id in dag_ids}
        orchestrator.run_until_idle(executor="local")  # callbacks run in the worker processes
        yield Production(orchestrator, run_ids, expected)


def assert_matches_dag_test(production: Production, dag_id: str) -> None:
    """The stored run of ``dag_id`` ended with the run state, states, tries and XComs of ``dag.test()``."""
    orchestrator, result = production.orchestrator, production.in_process[dag_id]
    run_id = production.run_ids[dag_id]
    assert run_id == result.run_id
    report = result.report()
    stored = orchestrator.task_instances(dag_id, run_id)
    assert orchestrator.run(dag_id, run_id).state == report["run_state"]
    assert {name: ti.state for name, ti in stored.items()} == report["tasks"]
    assert {name: ti.try_number for name, ti in stored.items()} == {
        ti.label: ti.try_number for ti in result.task_instances
    }
    assert orchestrator.xcoms(dag_id, run_id) == all_xcoms(result)


@pytest.mark.parametrize("dag_id", COMPARED)
def test_runs_end_with_the_states_tries_and_xcoms_dag_test_gives(production: Production, dag_id: str):
    assert_matches_dag_test(production, dag_id)


def test_the_compared_dags_branch_skip_map_fail_and_pass_xcoms(dags_folder: DagsFolder):
    """A guard on the comparison above: it compares runs that exercise what it claims to."""
    dags_folder.write("pipeline.py", PIPELINE)
    dags_folder.write("failures.py", FAILURES)
    pipeline = in_process(dags_folder.path, "pipeline").report()
    failures = in_process(dags_folder.path, "failures").report()

    assert pipeline["run_state"] == "success"
    assert pipeline["tasks"]["stream"] == pipeline["tasks"]["after_stream"] == "skipped"
    assert pipeline["tasks"]["gated"] == pipeline["tasks"]["also_gated"] == "skipped"
    assert pipeline["xcom"]["transform.square[2]"] == 36
    assert pipeline["xcom"]["total"] == {"kind": "batch", "sum": 56}
    assert pipeline["xcom"]["report"] == "run manual__2024-01-01T00:00:00+00:00 summed 56"
    # a branch in an expanded task group skips its own index only
    assert [
        pipeline["tasks"][f"per_size.{name}"] for name in ("big[0]", "big[1]", "small[0]", "small[1]")
    ] == [
        "skipped",
        "success",
        "success",
        "skipped",
    ]
    assert failures["run_state"] == "failed"
    assert failures["tasks"] == {
        "numbers": "success",
        "invert[0]": "success",
        "invert[1]": "success",
        "invert[2]": "failed",
        "collect": "upstream_failed",
        "cleanup": "success",
        "alert": "success",
        "unaffected": "upstream_failed",
        "skipper": "skipped",
        "needs_no_skips": "skipped",
        "after_all_skipped": "success",
    }


def test_a_failed_try_is_retried_after_its_delay_with_one_history_row_per_try(production: Production):
    orchestrator, run_ids = production.orchestrator, production.run_ids

    assert orchestrator.run("recovers").state == "success"
    ti = orchestrator.task_instances("recovers", run_ids["recovers"])["flaky"]
    assert (ti.state, ti.try_number, ti.max_tries) == ("success", 2, 2)
    first, second = orchestrator.tries("recovers", task_id="flaky")
    assert [(t.try_number, t.state) for t in (first, second)] == [(1, "up_for_retry"), (2, "success")]
    assert "not yet on try 1" in (first.error or "")
    assert at(second.start_date) >= at(first.end_date) + timedelta(seconds=1)
    assert orchestrator.xcoms("recovers", run_ids["recovers"]) == {("flaky", "return_value"): "done on try 2"}

    assert orchestrator.run("gives_up").state == "failed"
    ti = orchestrator.task_instances("gives_up", run_ids["gives_up"])["flaky"]
    assert (ti.state, ti.try_number) == ("failed", 3)
    tries = orchestrator.tries("gives_up", task_id="flaky")
    assert [(t.try_number, t.state) for t in tries] == [
        (1, "up_for_retry"),
        (2, "up_for_retry"),
        (3, "failed"),
    ]
    for earlier, later in itertools.pairwise(tries):
        assert at(later.start_date) >= at(earlier.end_date) + timedelta(seconds=1)


def test_callbacks_run_once_per_event_in_a_worker(production: Production):
    orchestrator, run_ids = production.orchestrator, production.run_ids
    lines = (orchestrator.dags.path / "callback_events.txt").read_text().splitlines()
    events = sorted(line.rsplit(" pid=", 1)[0] for line in lines)
    assert events == sorted(
        [
            "retry recovers.flaky try=1",
            "success recovers.flaky try=2",
            f"dag_success recovers {run_ids['recovers']} success",
            "retry gives_up.flaky try=1",
            "retry gives_up.flaky try=2",
            "failure gives_up.flaky try=3",
            f"dag_failure gives_up {run_ids['gives_up']} failed",
        ]
    )
    worker_pids = {t.pid for dag_id in ("recovers", "gives_up") for t in orchestrator.tries(dag_id)}
    task_callback_pids = {int(line.rsplit("pid=", 1)[1]) for line in lines if "try=" in line}
    assert task_callback_pids <= worker_pids  # each ran in the worker that ran the try
    assert os.getpid() not in {int(line.rsplit("pid=", 1)[1]) for line in lines}


def test_each_try_logs_to_its_own_file_and_dagflow_tasks_logs_prints_it(
    production: Production, cli_runner: CliRunner, monkeypatch: pytest.MonkeyPatch
):
    orchestrator, run_id = production.orchestrator, production.run_ids["chatty"]
    assert orchestrator.run("chatty").state == "success"
    folder = orchestrator.home / "logs" / "chatty" / run_id
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*.log")) == [
        "shell/attempt=1.log",
        "talk/attempt=1.log",
        "talk/attempt=2.log",
    ]
    first = orchestrator.log("chatty", run_id, "talk", try_number=1)
    assert "talk prints on try 1" in first
    assert "ValueError: first try fails on purpose" in first  # the traceback
    assert "{INFO} Starting <TaskInstance: chatty.talk" in first and "try 1 of 2" in first  # dagflow's lines
    second = orchestrator.log("chatty", run_id, "talk", try_number=2)
    assert "talk prints on try 2" in second and "talk prints on try 1" not in second
    assert "ended success" in second
    shell = orchestrator.log("chatty", run_id, "shell")
    assert "from bash in /" in shell and "last line" in shell  # the subprocess's output
    assert orchestrator.xcoms("chatty", run_id)[("shell", "return_value")] == "last line"

    monkeypatch.setenv("DAGFLOW_HOME", str(orchestrator.home))
    monkeypatch.setenv("DAGFLOW__DATABASE__URL", orchestrator.database_url)
    result = cli_runner.invoke(cli, ["tasks", "logs", "chatty", run_id, "talk", "--try", "1"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == first
    result = cli_runner.invoke(cli, ["tasks", "logs", "chatty", run_id, "talk"])  # the latest try
    assert result.exit_code == 0, result.stderr
    assert result.stdout == second


def test_empty_operators_succeed_without_a_worker(production: Production):
    orchestrator, run_id = production.orchestrator, production.run_ids["empty_ends"]
    assert orchestrator.run("empty_ends").state == "success"
    tis = orchestrator.task_instances("empty_ends", run_id)
    for name in ("begin", "end"):
        ti = tis[name]
        assert (ti.state, ti.try_number) == ("success", 1), name
        assert ti.hostname is None and ti.pid is None, f"{name} went to a worker"
        assert ti.start_date is not None and ti.end_date is not None
        assert not orchestrator.log_path("empty_ends", run_id, name).exists()
        assert orchestrator.tries("empty_ends", run_id, name) == []
    assert (
        at(tis["begin"].end_date)
        <= at(tis["work"].start_date)
        <= at(tis["work"].end_date)
        <= at(tis["end"].start_date)
    )
    assert orchestrator.log_path("empty_ends", run_id, "work").exists()
    assert orchestrator.xcoms("empty_ends", run_id) == {("work", "return_value"): "worked"}
