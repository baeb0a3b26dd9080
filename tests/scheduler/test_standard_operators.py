"""Standard operators whose behaviour involves the scheduler and the store: TriggerDagRunOperator (the
worker creates the run, the scheduler runs it; waiting for it) and ExternalTaskMarker (clearing it
clears the marked task in the other DAG's run)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from dagflow import actions
from dagflow.cli import cli
from dagflow.exceptions import DagflowError
from tests.scheduler.conftest import Orchestrator

LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)

CHILD = """
from datetime import datetime, timezone
from dagflow import DAG, task

with DAG("child", start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), schedule=None) as dag:
    @task
    def double(dag_run=None):
        if dag_run.conf.get("fail"):
            raise ValueError("asked to fail")
        return dag_run.conf.get("n", 0) * 2
    double()
"""

PARENT = """
from datetime import datetime, timezone
from dagflow import DAG
from dagflow.operators import TriggerDagRunOperator

with DAG("parent", start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), schedule=None) as dag:
    TriggerDagRunOperator(
        task_id="trigger", trigger_dag_id="child", conf={{"n": 5}},
        trigger_run_id="from_{{{{ run_id }}}}", {extra}
    )
"""


def test_trigger_creates_a_run_that_the_scheduler_then_runs(orchestrator: Orchestrator):
    orchestrator.write("child.py", CHILD)
    orchestrator.write("parent.py", PARENT.format(extra=""))
    orchestrator.record_dags()
    run_id = orchestrator.trigger("parent", logical_date=LOGICAL_DATE)
    orchestrator.run_until_idle()
    child = orchestrator.run("child", f"from_{run_id}")
    assert (child.state, child.conf, child.run_type) == ("success", {"n": 5}, "manual")
    assert orchestrator.xcoms("child", child.run_id)[("double", "return_value")] == 10
    xcoms = orchestrator.xcoms("parent", run_id)
    assert xcoms[("trigger", "trigger_run_id")] == child.run_id
    assert xcoms[("trigger", "_link_Triggered DAG")] == f"/dags/child/runs/{quote(child.run_id, safe=':+')}"


def test_trigger_of_a_run_that_exists_fails_or_skips(orchestrator: Orchestrator):
    orchestrator.write("child.py", CHILD)
    orchestrator.write("parent.py", PARENT.format(extra=""))
    orchestrator.write(
        "skipper.py",
        PARENT.replace('"parent"', '"skipper"').format(extra="skip_when_already_exists=True"),
    )
    orchestrator.record_dags()
    run_id = orchestrator.trigger("parent", logical_date=LOGICAL_DATE)
    orchestrator.trigger("child", run_id=f"from_{run_id}")
    orchestrator.trigger("skipper", logical_date=LOGICAL_DATE, run_id=run_id)
    orchestrator.run_until_idle()
    assert orchestrator.states("parent", run_id) == {"trigger": "failed"}
    assert orchestrator.states("skipper", run_id) == {"trigger": "skipped"}


def test_trigger_with_reset_clears_the_existing_run_to_run_again(orchestrator: Orchestrator):
    orchestrator.write("child.py", CHILD)
    orchestrator.write("parent.py", PARENT.format(extra="reset_dag_run=True"))
    orchestrator.record_dags()
    run_id = orchestrator.trigger("parent", logical_date=LOGICAL_DATE)
    orchestrator.run_until_idle()
    with orchestrator.db.session(write=True) as session:
        actions.clear_task_instances(session, "parent", run_id, ["trigger"], owner="test")
    orchestrator.run_until_idle()
    assert orchestrator.states("parent", run_id) == {"trigger": "success"}
    [child] = orchestrator.runs("child")
    assert child.state == "success"
    assert [t.try_number for t in orchestrator.tries("child", child.run_id)] == [1, 2]


def test_trigger_waits_for_the_triggered_run_in_worker_processes(orchestrator: Orchestrator):
    orchestrator.write("child.py", CHILD)
    orchestrator.write(
        "parent.py",
        """
        from datetime import datetime, timezone
        from dagflow import DAG
        from dagflow.operators import TriggerDagRunOperator

        with DAG("parent", start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), schedule=None) as dag:
            TriggerDagRunOperator(task_id="ok", trigger_dag_id="child", trigger_run_id="ok",
                                  conf={"n": 1}, wait_for_completion=True, poke_interval=0.2)
            TriggerDagRunOperator(task_id="bad", trigger_dag_id="child", trigger_run_id="bad",
                                  logical_date="2024-02-01T00:00:00+00:00", conf={"fail": True},
                                  wait_for_completion=True, poke_interval=0.2)
        """,
    )
    orchestrator.record_dags()
    run_id = orchestrator.trigger("parent", logical_date=LOGICAL_DATE)
    orchestrator.run_until_idle(executor="local", workers=3)
    assert orchestrator.states("parent", run_id) == {"ok": "success", "bad": "failed"}
    assert orchestrator.run("child", "ok").state == "success"
    assert orchestrator.run("child", "bad").state == "failed"
    xcoms = orchestrator.xcoms("parent", run_id)  # a failed try keeps its link to the run it triggered
    assert xcoms[("bad", "_link_Triggered DAG")] == "/dags/child/runs/bad"
    assert ("bad", "trigger_run_id") not in xcoms
    ok_end = orchestrator.tries("parent", run_id, "ok")[0].end_date
    child_end = orchestrator.run("child", "ok").end_date
    assert ok_end is not None and child_end is not None and ok_end >= child_end


MARKED = """
from datetime import datetime, timezone
from dagflow import DAG
from dagflow.operators import EmptyOperator
from dagflow.sensors import ExternalTaskMarker

with DAG("{dag_id}", start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), schedule=None) as dag:
    start = EmptyOperator(task_id="start")
    start >> ExternalTaskMarker(task_id="marker", external_dag_id="{target}",
                                external_task_id="start", recursion_depth={depth})
    EmptyOperator(task_id="unrelated")
"""

MARKED_CHILD = """
from datetime import datetime, timezone
from dagflow import DAG, task
from dagflow.operators import EmptyOperator

with DAG("marked_child", start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), schedule=None) as dag:
    @task
    def start():
        return 1
    start() >> EmptyOperator(task_id="after")
    EmptyOperator(task_id="apart")
"""


def test_clearing_an_external_task_marker_clears_the_marked_task_downstream(orchestrator: Orchestrator):
    orchestrator.write("parent.py", MARKED.format(dag_id="marking", target="marked_child", depth=10))
    orchestrator.write("child.py", MARKED_CHILD)
    orchestrator.record_dags()
    parent_run = orchestrator.trigger("marking", logical_date=LOGICAL_DATE)
    child_run = orchestrator.trigger("marked_child", logical_date=LOGICAL_DATE)
    orchestrator.run_until_idle()
    with orchestrator.db.session(write=True) as session:
        result = actions.clear_task_instances(session, "marking", parent_run, ["marker"], dry_run=True)
    assert result.cleared == [("marker", -1)]
    assert sorted(result.dependent) == [
        ("marked_child", child_run, "after", -1),
        ("marked_child", child_run, "start", -1),
    ]
    with orchestrator.db.session(write=True) as session:
        actions.clear_task_instances(session, "marking", parent_run, ["marker"])
    states = orchestrator.states("marked_child", child_run)
    assert states == {"start": "none", "after": "none", "apart": "success"}
    orchestrator.run_until_idle()
    assert orchestrator.states("marked_child", child_run) == {
        "start": "success",
        "after": "success",
        "apart": "success",
    }
    assert len(orchestrator.tries("marked_child", child_run, "start")) == 2


def test_tasks_clear_lists_the_marked_tasks_and_can_leave_them_alone(orchestrator: Orchestrator, cli_runner):
    orchestrator.write("parent.py", MARKED.format(dag_id="marking", target="marked_child", depth=10))
    orchestrator.write("child.py", MARKED_CHILD)
    orchestrator.record_dags()
    parent_run = orchestrator.trigger("marking", logical_date=LOGICAL_DATE)
    child_run = orchestrator.trigger("marked_child", logical_date=LOGICAL_DATE)
    orchestrator.run_until_idle()

    base = ["tasks", "clear", "marking", parent_run, "-t", "marker"]
    excluded = cli_runner.invoke(cli, [*base, "--exclude-dependent-dags"], catch_exceptions=False)
    assert excluded.exit_code == 0 and "ExternalTaskMarker" not in excluded.output
    assert orchestrator.states("marked_child", child_run)["start"] == "success"
    cleared = cli_runner.invoke(cli, base, catch_exceptions=False)
    assert cleared.exit_code == 0, cleared.output
    assert f"  marked_child {child_run} start (through an ExternalTaskMarker)" in cleared.output
    assert orchestrator.states("marked_child", child_run)["start"] == "none"


def test_markers_deeper_than_the_recursion_depth_are_an_error_and_clear_nothing(orchestrator: Orchestrator):
    # The first marker's depth counts: loop_b's marker is one level too deep for loop_a's depth of 1.
    orchestrator.write("a.py", MARKED.format(dag_id="loop_a", target="loop_b", depth=1))
    orchestrator.write("b.py", MARKED.format(dag_id="loop_b", target="loop_a", depth=5))
    orchestrator.record_dags()
    runs = {d: orchestrator.trigger(d, logical_date=LOGICAL_DATE) for d in ("loop_a", "loop_b")}
    orchestrator.run_until_idle()
    with (
        pytest.raises(
            DagflowError,
            match="Maximum recursion depth 1 reached for ExternalTaskMarker 'marker' of DAG 'loop_b'",
        ),
        orchestrator.db.session(write=True) as session,
    ):
        actions.clear_task_instances(session, "loop_a", runs["loop_a"], ["start"], downstream=True)
    assert set(orchestrator.states("loop_a", runs["loop_a"]).values()) == {"success"}
    assert set(orchestrator.states("loop_b", runs["loop_b"]).values()) == {"success"}


def test_markers_in_a_loop_are_each_followed_once(orchestrator: Orchestrator):
    orchestrator.write("a.py", MARKED.format(dag_id="loop_a", target="loop_b", depth=5))
    orchestrator.write("b.py", MARKED.format(dag_id="loop_b", target="loop_a", depth=5))
    orchestrator.record_dags()
    runs = {d: orchestrator.trigger(d, logical_date=LOGICAL_DATE) for d in ("loop_a", "loop_b")}
    orchestrator.run_until_idle()
    with orchestrator.db.session(write=True) as session:
        result = actions.clear_task_instances(session, "loop_a", runs["loop_a"], ["marker"], dry_run=True)
    assert sorted(result.dependent) == [
        ("loop_a", runs["loop_a"], "marker", -1),
        ("loop_a", runs["loop_a"], "start", -1),
        ("loop_b", runs["loop_b"], "marker", -1),
        ("loop_b", runs["loop_b"], "start", -1),
    ]


def test_latest_only_lets_downstream_run_only_in_the_latest_scheduled_run(orchestrator: Orchestrator):
    orchestrator.write(
        "latest.py",
        """
        from datetime import datetime, timedelta, timezone
        from dagflow import DAG
        from dagflow.operators import EmptyOperator, LatestOnlyOperator

        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        with DAG("latest", start_date=today - timedelta(days=2), schedule="@daily", catchup=True) as dag:
            LatestOnlyOperator(task_id="latest_only") >> EmptyOperator(task_id="work")
        """,
    )
    orchestrator.record_dags()
    orchestrator.run_until_idle()
    runs = [r for r in orchestrator.runs("latest") if r.run_type == "scheduled"]
    assert len(runs) == 3
    work = [orchestrator.states("latest", r.run_id)["work"] for r in runs]
    assert work == ["skipped", "skipped", "success"]
