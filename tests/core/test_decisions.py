"""Scheduling decisions for one run: cascades, mapped expansion, run state and deadlock.

``decide()`` is pure, so most tests build a :class:`DagSpec` by hand and set task instance states
directly; the run-state tests that depend on setup/teardown leaves build a real DAG and use its spec.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dagflow import DAG
from dagflow.core.decisions import TIRecord, apply_expansion, decide, initial_task_instances
from dagflow.core.spec import DagSpec, MapSourceSpec, TaskSpec
from dagflow.core.states import RunState, TaskState
from dagflow.core.trigger_rules import TriggerRule
from dagflow.operators import EmptyOperator

S = TaskState
TR = TriggerRule
NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def task(task_id: str, *upstream: str, **kwargs) -> TaskSpec:
    return TaskSpec(task_id=task_id, upstream=tuple(upstream), **kwargs)


def mapped(task_id: str, *sources: MapSourceSpec, upstream: tuple[str, ...] = (), kind="product", **kw):
    return TaskSpec(
        task_id=task_id, upstream=upstream, is_mapped=True, map_kind=kind, map_sources=sources, **kw
    )


def literal(length: int) -> MapSourceSpec:
    return MapSourceSpec(literal_length=length)


def output_of(task_id: str) -> MapSourceSpec:
    return MapSourceSpec(upstream=task_id)


def make_spec(*tasks: TaskSpec, state_leaves: tuple[str, ...] | None = None) -> DagSpec:
    """A spec whose tasks are given in topological order; downstream edges are derived."""
    downstream: dict[str, list[str]] = {t.task_id: [] for t in tasks}
    for t in tasks:
        for up in t.upstream:
            downstream[up].append(t.task_id)
    full = {t.task_id: replace(t, downstream=tuple(downstream[t.task_id])) for t in tasks}
    leaves = tuple(t for t in full if not full[t].downstream) if state_leaves is None else state_leaves
    return DagSpec(dag_id="d", tasks=full, order=tuple(full), state_leaves=leaves)


def records(**states: TaskState) -> list[TIRecord]:
    """One unmapped task instance per keyword; ``m__2=...`` is map index 2 of task ``m``."""
    found = []
    for name, state in states.items():
        task_id, _, index = name.partition("__")
        found.append(TIRecord(task_id, int(index) if index else -1, state))
    return found


def no_lengths(task_id: str) -> int | None:
    raise AssertionError(f"length_of({task_id!r}) asked before the upstream finished")


def run_decide(spec: DagSpec, tis: list[TIRecord], length_of=no_lengths, **kwargs):
    return decide(spec, tis, now=NOW, length_of=length_of, **kwargs)


# -- cascades ------------------------------------------------------------------------------------


def test_root_tasks_are_ready_at_run_start():
    spec = make_spec(task("a"), task("b"), task("c", "a", "b"))
    decisions = run_decide(spec, initial_task_instances(spec))
    assert sorted(decisions.ready) == [("a", -1), ("b", -1)]
    assert decisions.new_states == {}
    assert decisions.run_state is None


def test_a_task_waits_while_its_upstream_has_not_finished():
    spec = make_spec(task("a"), task("b", "a"))
    decisions = run_decide(spec, records(a=S.RUNNING, b=S.NONE), explain=True)
    assert decisions.ready == []
    assert decisions.new_states == {}
    assert decisions.reasons[("b", -1)]
    assert decisions.run_state is None


def test_skip_cascades_through_a_chain_in_one_pass():
    spec = make_spec(task("a"), task("b", "a"), task("c", "b"), task("d", "c"))
    decisions = run_decide(spec, records(a=S.SKIPPED, b=S.NONE, c=S.NONE, d=S.NONE))
    assert decisions.new_states == {("b", -1): S.SKIPPED, ("c", -1): S.SKIPPED, ("d", -1): S.SKIPPED}
    assert decisions.run_state is RunState.SUCCESS


def test_upstream_failure_propagates_through_a_chain_in_one_pass():
    spec = make_spec(task("a"), task("b", "a"), task("c", "b"), task("d", "c"))
    decisions = run_decide(spec, records(a=S.FAILED, b=S.NONE, c=S.NONE, d=S.NONE))
    assert decisions.new_states == {
        ("b", -1): S.UPSTREAM_FAILED,
        ("c", -1): S.UPSTREAM_FAILED,
        ("d", -1): S.UPSTREAM_FAILED,
    }
    assert decisions.run_state is RunState.FAILED


def test_all_done_task_below_a_failure_becomes_ready_in_the_same_pass():
    spec = make_spec(task("a"), task("b", "a"), task("c", "b", trigger_rule=TR.ALL_DONE))
    decisions = run_decide(spec, records(a=S.FAILED, b=S.NONE, c=S.NONE))
    assert decisions.new_states == {("b", -1): S.UPSTREAM_FAILED}
    assert decisions.ready == [("c", -1)]


def test_one_failed_fires_before_all_upstreams_finish():
    spec = make_spec(task("a"), task("b"), task("alert", "a", "b", trigger_rule=TR.ONE_FAILED))
    decisions = run_decide(spec, records(a=S.FAILED, b=S.RUNNING, alert=S.NONE))
    assert decisions.ready == [("alert", -1)]


def test_one_failed_is_skipped_when_every_upstream_succeeded():
    spec = make_spec(task("a"), task("b"), task("alert", "a", "b", trigger_rule=TR.ONE_FAILED))
    decisions = run_decide(spec, records(a=S.SUCCESS, b=S.SUCCESS, alert=S.NONE))
    assert decisions.new_states == {("alert", -1): S.SKIPPED}


def test_finished_task_instances_are_never_revisited():
    spec = make_spec(task("a"), task("b", "a"))
    decisions = run_decide(spec, records(a=S.FAILED, b=S.SUCCESS))
    assert decisions.new_states == {}
    assert decisions.ready == []


# -- mapped tasks --------------------------------------------------------------------------------


def test_literal_mapped_task_has_its_map_indexes_from_run_start():
    spec = make_spec(task("plain"), mapped("m", literal(2), literal(3)))
    keys = [ti.key for ti in initial_task_instances(spec)]
    assert keys == [("plain", -1), *[("m", i) for i in range(6)]]


def test_expand_kwargs_over_a_literal_list_has_one_instance_per_dict():
    spec = make_spec(mapped("m", literal(4), kind="list"))
    assert [ti.map_index for ti in initial_task_instances(spec)] == [0, 1, 2, 3]


def test_mapped_task_instances_get_the_tasks_retries():
    spec = make_spec(mapped("m", literal(2), retries=3), task("u", retries=1))
    assert {ti.key: ti.max_tries for ti in initial_task_instances(spec)} == {
        ("m", 0): 3,
        ("m", 1): 3,
        ("u", -1): 1,
    }


def test_literal_mapped_task_of_length_zero_starts_as_one_placeholder_and_is_skipped():
    spec = make_spec(mapped("m", literal(0)))
    tis = initial_task_instances(spec)
    assert [ti.key for ti in tis] == [("m", -1)]
    decisions = run_decide(spec, tis)
    assert decisions.new_states == {("m", -1): S.SKIPPED}
    assert decisions.ready == []


def test_task_mapped_over_an_upstream_starts_as_a_placeholder():
    spec = make_spec(task("up"), mapped("m", output_of("up"), upstream=("up",)))
    assert [ti.key for ti in initial_task_instances(spec)] == [("up", -1), ("m", -1)]


def test_placeholder_waits_for_its_upstream_without_asking_the_length():
    spec = make_spec(task("up"), mapped("m", output_of("up"), upstream=("up",)))
    decisions = run_decide(spec, records(up=S.RUNNING, m=S.NONE))
    assert decisions.expansions == {}
    assert decisions.ready == []


def test_placeholder_expands_to_the_upstreams_length_once_it_finished():
    spec = make_spec(task("up"), mapped("m", output_of("up"), upstream=("up",)))
    decisions = run_decide(spec, records(up=S.SUCCESS, m=S.NONE), length_of={"up": 3}.get)
    assert decisions.expansions == {"m": 3}
    assert decisions.ready == []
    assert decisions.run_state is None


def test_mapping_over_a_literal_and_an_upstream_gives_their_product():
    spec = make_spec(task("up"), mapped("m", literal(2), output_of("up"), upstream=("up",)))
    decisions = run_decide(spec, records(up=S.SUCCESS, m=S.NONE), length_of={"up": 3}.get)
    assert decisions.expansions == {"m": 6}


def test_placeholder_over_an_empty_upstream_output_is_skipped():
    spec = make_spec(task("up"), mapped("m", output_of("up"), upstream=("up",)), task("after", "m"))
    decisions = run_decide(spec, records(up=S.SUCCESS, m=S.NONE, after=S.NONE), length_of={"up": 0}.get)
    assert decisions.new_states == {("m", -1): S.SKIPPED, ("after", -1): S.SKIPPED}
    assert decisions.run_state is RunState.SUCCESS


def test_placeholder_whose_upstream_pushed_nothing_is_upstream_failed():
    spec = make_spec(
        task("x"), task("up", "x"), mapped("m", output_of("up"), upstream=("up",), trigger_rule=TR.ALL_DONE)
    )
    decisions = run_decide(spec, records(x=S.SUCCESS, up=S.FAILED, m=S.NONE), length_of=lambda _: None)
    assert decisions.new_states == {("m", -1): S.UPSTREAM_FAILED}


def test_placeholder_below_a_skipped_upstream_is_skipped():
    spec = make_spec(task("up"), mapped("m", output_of("up"), upstream=("up",)))
    decisions = run_decide(spec, records(up=S.SKIPPED, m=S.NONE))
    assert decisions.new_states == {("m", -1): S.SKIPPED}


def test_placeholder_below_a_failed_upstream_is_upstream_failed():
    spec = make_spec(task("up"), mapped("m", output_of("up"), upstream=("up",)))
    decisions = run_decide(spec, records(up=S.FAILED, m=S.NONE))
    assert decisions.new_states == {("m", -1): S.UPSTREAM_FAILED}


def test_mapped_upstream_length_counts_its_instances_once_all_finished():
    spec = make_spec(
        mapped("a", literal(3)), mapped("b", output_of("a"), upstream=("a",)), task("after", "b")
    )
    running = records(a__0=S.SUCCESS, a__1=S.RUNNING, a__2=S.SUCCESS, b=S.NONE, after=S.NONE)
    assert run_decide(spec, running).expansions == {}
    done = records(a__0=S.SUCCESS, a__1=S.SUCCESS, a__2=S.SUCCESS, b=S.NONE, after=S.NONE)
    assert run_decide(spec, done, length_of={"a": 2}.get).expansions == {"b": 2}


def test_every_map_index_of_an_upstream_counts_for_the_trigger_rule():
    spec = make_spec(
        mapped("m", literal(2)),
        task("all_success", "m"),
        task("all_done", "m", trigger_rule=TR.ALL_DONE),
    )
    decisions = run_decide(spec, records(m__0=S.SUCCESS, m__1=S.FAILED, all_success=S.NONE, all_done=S.NONE))
    assert decisions.new_states == {("all_success", -1): S.UPSTREAM_FAILED}
    assert decisions.ready == [("all_done", -1)]


def test_expanded_map_indexes_are_ready_once_upstreams_are_met():
    spec = make_spec(task("up"), mapped("m", literal(2), upstream=("up",)))
    decisions = run_decide(spec, records(up=S.SUCCESS, m__0=S.NONE, m__1=S.NONE))
    assert decisions.ready == [("m", 0), ("m", 1)]


def test_apply_expansion_turns_the_placeholder_into_index_zero_and_adds_the_rest():
    spec_task = mapped("m", output_of("up"), upstream=("up",), retries=2)
    placeholder = TIRecord("m", -1, S.NONE, max_tries=2)
    result = apply_expansion({placeholder.key: placeholder}, spec_task, 3)
    assert [(ti.map_index, ti.state, ti.max_tries) for ti in result] == [
        (0, S.NONE, 2),
        (1, S.NONE, 2),
        (2, S.NONE, 2),
    ]
    assert result[0] is placeholder


def test_apply_expansion_keeps_existing_indexes_and_removes_those_beyond_the_new_length():
    spec_task = mapped("m", output_of("up"), upstream=("up",))
    existing = {("m", i): TIRecord("m", i, S.SUCCESS) for i in range(4)}
    result = apply_expansion(existing, spec_task, 2)
    assert {ti.map_index: ti.state for ti in result} == {
        0: S.SUCCESS,
        1: S.SUCCESS,
        2: S.REMOVED,
        3: S.REMOVED,
    }
    assert result[0] is existing[("m", 0)]


# -- run state -----------------------------------------------------------------------------------


def test_run_succeeds_when_all_leaves_succeeded_or_were_skipped():
    spec = make_spec(task("a"), task("b", "a"), task("c", "a"))
    decisions = run_decide(spec, records(a=S.SUCCESS, b=S.SUCCESS, c=S.SKIPPED))
    assert decisions.run_state is RunState.SUCCESS


@pytest.mark.parametrize("leaf_state", [S.FAILED, S.UPSTREAM_FAILED])
def test_run_fails_when_a_leaf_failed(leaf_state):
    spec = make_spec(task("a"), task("b", "a"), task("c", "a"))
    decisions = run_decide(spec, records(a=S.SUCCESS, b=S.SUCCESS, c=leaf_state))
    assert decisions.run_state is RunState.FAILED


def test_non_leaf_failure_does_not_fail_the_run_when_the_all_done_leaf_succeeded():
    spec = make_spec(task("a"), task("cleanup", "a", trigger_rule=TR.ALL_DONE))
    decisions = run_decide(spec, records(a=S.FAILED, cleanup=S.SUCCESS))
    assert decisions.run_state is RunState.SUCCESS


def test_run_is_not_over_while_any_task_instance_is_unfinished():
    spec = make_spec(task("a"), task("b"))
    decisions = run_decide(spec, records(a=S.FAILED, b=S.RUNNING))
    assert decisions.run_state is None


def test_one_failed_map_index_of_a_mapped_leaf_fails_the_run():
    spec = make_spec(mapped("m", literal(3)))
    decisions = run_decide(spec, records(m__0=S.SUCCESS, m__1=S.FAILED, m__2=S.SUCCESS))
    assert decisions.run_state is RunState.FAILED


def test_removed_leaf_instances_do_not_count_for_the_run_state():
    spec = make_spec(mapped("m", literal(2)))
    decisions = run_decide(spec, records(m__0=S.SUCCESS, m__1=S.REMOVED))
    assert decisions.run_state is RunState.SUCCESS


def _setup_work_teardown(*, fail_dagrun: bool) -> DagSpec:
    with DAG("setup_teardown_leaves", schedule=None) as dag:
        s = EmptyOperator(task_id="s").as_setup()
        w = EmptyOperator(task_id="w")
        t = EmptyOperator(task_id="t")
        s >> w >> t
        t.as_teardown(setups=s, on_failure_fail_dagrun=fail_dagrun)
    return dag.spec()


def test_teardown_is_not_a_leaf_for_the_run_state():
    spec = _setup_work_teardown(fail_dagrun=False)
    assert spec.state_leaves == ("w",)
    decisions = run_decide(spec, records(s=S.SUCCESS, w=S.SUCCESS, t=S.FAILED))
    assert decisions.run_state is RunState.SUCCESS


def test_failed_work_before_a_successful_teardown_fails_the_run():
    spec = _setup_work_teardown(fail_dagrun=False)
    decisions = run_decide(spec, records(s=S.SUCCESS, w=S.FAILED, t=S.SUCCESS))
    assert decisions.run_state is RunState.FAILED


def test_failed_teardown_with_on_failure_fail_dagrun_fails_the_run():
    spec = _setup_work_teardown(fail_dagrun=True)
    assert "t" in spec.state_leaves
    decisions = run_decide(spec, records(s=S.SUCCESS, w=S.SUCCESS, t=S.FAILED))
    assert decisions.run_state is RunState.FAILED


def test_run_waits_for_teardowns_before_it_ends():
    spec = _setup_work_teardown(fail_dagrun=False)
    decisions = run_decide(spec, records(s=S.SUCCESS, w=S.FAILED, t=S.RUNNING))
    assert decisions.run_state is None


def test_setup_whose_only_downstream_is_its_teardown_is_a_leaf():
    with DAG("setup_only", schedule=None) as dag:
        s = EmptyOperator(task_id="s")
        t = EmptyOperator(task_id="t")
        t.as_teardown(setups=s)
    assert dag.spec().state_leaves == ("s",)


def test_work_in_a_failed_setups_scope_is_upstream_failed_through_indirect_setups():
    with DAG("indirect", schedule=None) as dag:
        s = EmptyOperator(task_id="s")
        w1 = EmptyOperator(task_id="w1")
        w2 = EmptyOperator(task_id="w2", trigger_rule=TR.ALL_DONE)
        t = EmptyOperator(task_id="t")
        s >> w1 >> w2 >> t
        t.as_teardown(setups=s)
    spec = dag.spec()
    assert spec.tasks["w2"].indirect_setups == ("s",)
    decisions = run_decide(spec, records(s=S.FAILED, w1=S.NONE, w2=S.NONE, t=S.NONE))
    assert decisions.new_states == {
        ("w1", -1): S.UPSTREAM_FAILED,
        ("w2", -1): S.UPSTREAM_FAILED,
        ("t", -1): S.UPSTREAM_FAILED,
    }
    assert decisions.run_state is RunState.FAILED


# -- deadlock and waiting ------------------------------------------------------------------------


def test_a_run_that_can_never_progress_is_deadlocked_and_fails():
    # An unmapped task below a removed upstream instance: all_success can never be met nor decided.
    spec = make_spec(task("a"), task("b", "a"))
    decisions = run_decide(spec, records(a=S.REMOVED, b=S.NONE))
    assert decisions.ready == []
    assert decisions.run_state is RunState.FAILED


def test_a_run_with_a_task_in_flight_is_not_deadlocked():
    spec = make_spec(task("a"), task("b", "a"), task("c"))
    decisions = run_decide(spec, records(a=S.REMOVED, b=S.NONE, c=S.QUEUED))
    assert decisions.run_state is None


def test_a_task_waiting_on_depends_on_past_does_not_deadlock_the_run():
    spec = make_spec(task("a"), task("b", "a", depends_on_past=True))
    decisions = run_decide(spec, records(a=S.REMOVED, b=S.NONE))
    assert decisions.run_state is None


def test_up_for_retry_waits_until_its_next_try_and_reports_when():
    soon, later = NOW + timedelta(seconds=30), NOW + timedelta(seconds=90)
    spec = make_spec(task("a"), task("b"))
    tis = [
        TIRecord("a", -1, S.UP_FOR_RETRY, try_number=1, max_tries=2, not_before=later),
        TIRecord("b", -1, S.UP_FOR_RETRY, try_number=1, max_tries=2, not_before=soon),
    ]
    decisions = run_decide(spec, tis)
    assert decisions.ready == []
    assert decisions.waiting_until == soon
    assert decisions.run_state is None


def test_up_for_retry_is_ready_once_its_delay_passed():
    spec = make_spec(task("a"))
    due = TIRecord("a", -1, S.UP_FOR_RETRY, try_number=1, max_tries=1, not_before=NOW - timedelta(1))
    decisions = run_decide(spec, [due])
    assert decisions.ready == [("a", -1)]
    assert decisions.waiting_until is None
