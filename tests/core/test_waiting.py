"""Why a task instance is where it is (a pure function): only the reasons that hold, in every state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dagflow.core.past import held_by_past
from dagflow.core.spec import TaskSpec
from dagflow.core.states import FINISHED, RunState, TaskState
from dagflow.core.waiting import Situation, explain

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
WAITING_STATES = [
    s for s in TaskState if s not in FINISHED and s not in (TaskState.RUNNING, TaskState.QUEUED)
]

situations = st.builds(
    Situation,
    state=st.sampled_from(list(TaskState)),
    now=st.just(NOW),
    run_state=st.sampled_from(list(RunState)),
    dag_paused=st.booleans(),
    running_runs=st.integers(0, 20),
    max_active_runs=st.integers(1, 16),
    backfill_running=st.integers(0, 3),
    backfill_limit=st.none() | st.integers(1, 3),
    in_dag=st.booleans(),
    try_number=st.integers(0, 5),
    max_tries=st.integers(0, 5),
    not_before=st.none() | st.sampled_from([NOW - timedelta(minutes=1), NOW + timedelta(minutes=5)]),
    unmet=st.sampled_from(["", "trigger rule all_success waits for all upstreams to succeed (1 not yet)"]),
    decided=st.none() | st.sampled_from([TaskState.UPSTREAM_FAILED, TaskState.SKIPPED]),
    held_by_past=st.sampled_from(["", "its task instance in the previous run is failed"]),
    slot=st.sampled_from(["", "parallelism reached (32 task instances queued or running)"]),
)


@given(situations)
def test_there_is_always_one_answer(s: Situation) -> None:
    found = explain(s)

    assert len(found.reasons) == 1 and found.reasons[0].endswith(".")


@given(situations)
def test_a_paused_dag_is_the_only_reason_for_what_it_holds(s: Situation) -> None:
    found = explain(s)

    holds = (
        s.dag_paused
        and s.in_dag
        and s.state in WAITING_STATES
        and s.run_state in (RunState.QUEUED, RunState.RUNNING)
    )
    assert (
        found.reasons == ("The DAG is paused: no task instance of it starts until it is unpaused.",)
    ) is holds


@given(situations)
def test_max_active_runs_is_named_only_when_the_run_waits_for_it(s: Situation) -> None:
    text = " ".join(explain(s).reasons)

    if "max_active_runs" in text:
        assert s.run_state is RunState.QUEUED and not s.dag_paused
        assert s.running_runs >= s.max_active_runs or (
            s.backfill_limit is not None and s.backfill_running >= s.backfill_limit
        )


@given(situations)
def test_it_waits_unless_it_runs_finished_or_its_run_did(s: Situation) -> None:
    handed_over = s.state is TaskState.QUEUED  # the executor has it: it runs whatever the run became
    run_over = s.run_state in (RunState.SUCCESS, RunState.FAILED) and not handed_over
    over = s.state is TaskState.RUNNING or s.state in FINISHED or run_over
    assert explain(s).waiting is (s.in_dag and not over)


@given(situations)
def test_the_next_pass_is_promised_only_when_nothing_holds_it(s: Situation) -> None:
    text = explain(s).reasons[0]

    if "next pass" in text and "queued" not in text:
        assert not s.dag_paused and s.run_state is RunState.RUNNING
        assert not s.slot or s.state is not TaskState.SCHEDULED


PAST = TaskSpec("c", downstream=("d",), depends_on_past=True)


def test_depends_on_past_holds_only_after_a_previous_run_that_did_not_go_well() -> None:
    assert held_by_past(PAST, -1, None) == ""  # the first run
    assert held_by_past(PAST, -1, {}) == ""  # the task did not exist then
    assert held_by_past(PAST, -1, {("c", -1): "success"}) == ""
    assert held_by_past(PAST, -1, {("c", -1): "skipped"}) == ""
    assert held_by_past(PAST, -1, {("c", -1): "failed"}) == (
        "its task instance in the previous run is failed, not success or skipped"
    )
    assert held_by_past(TaskSpec("c"), -1, {("c", -1): "failed"}) == ""  # not depends_on_past


def test_wait_for_downstream_also_waits_for_the_previous_runs_downstream() -> None:
    task = TaskSpec("c", downstream=("d",), depends_on_past=True, wait_for_downstream=True)
    previous = {("c", -1): "success", ("d", -1): "upstream_failed"}

    assert held_by_past(task, -1, previous) == "wait_for_downstream: in the previous run d did not succeed"
    assert held_by_past(PAST, -1, previous) == ""
