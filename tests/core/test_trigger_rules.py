"""Trigger-rule evaluation: every rule with Airflow's meaning, checked exhaustively.

Three kinds of checks:

* a reference transcription of Airflow 3's ``TriggerRuleDep`` (``_evaluate_direct_relatives`` and
  ``_evaluate_setup_constraint``, with ``flag_upstream_failed=True`` as the scheduler uses it) that
  hypothesis compares against on arbitrary upstream states and map indexes;
* properties every rule must keep (never both runs and decides, decisions are stable, ...);
* the outcomes Apache Airflow produced for the oracle DAGs ``tr_matrix_ss/sf/sk``.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dagflow.core.states import TaskState
from dagflow.core.trigger_rules import (
    TriggerRule,
    UpstreamCounts,
    Verdict,
    evaluate,
    evaluate_rule,
    evaluate_setups,
)

TR = TriggerRule
S = TaskState

FINISHED = [S.SUCCESS, S.SKIPPED, S.FAILED, S.UPSTREAM_FAILED, S.REMOVED]
FINISHED_NOT_REMOVED = [S.SUCCESS, S.SKIPPED, S.FAILED, S.UPSTREAM_FAILED]
UNFINISHED = [S.NONE, S.SCHEDULED, S.QUEUED, S.RUNNING, S.UP_FOR_RETRY, S.UP_FOR_RESCHEDULE]
#: Rules that may fire before every upstream has finished.
FAST_RULES = {TR.ONE_SUCCESS, TR.ONE_FAILED, TR.ONE_DONE, TR.ALWAYS}

rules = st.sampled_from(list(TriggerRule))
map_indexes = st.integers(min_value=-1, max_value=6)


def upstreams(states: list[TaskState], *, min_size: int = 1) -> st.SearchStrategy[list[tuple[S, bool]]]:
    """Upstream task instances as ``(state, is_setup)`` pairs."""
    return st.lists(st.tuples(st.sampled_from(states), st.booleans()), min_size=min_size, max_size=8)


def counts_of(*states: TaskState, setups: tuple[TaskState, ...] = ()) -> UpstreamCounts:
    return UpstreamCounts.of([(s, False) for s in states] + [(s, True) for s in setups])


def outcome(verdict: Verdict) -> str:
    """``runs``, ``waits`` or the state the rule decided."""
    if verdict.new_state is not None:
        return verdict.new_state.value
    return "runs" if verdict.met else "waits"


# -- a transcription of Airflow's TriggerRuleDep, to compare against -------------------------------


def _airflow_new_state(rule: TriggerRule, c: UpstreamCounts, map_index: int) -> TaskState | None:  # noqa: C901
    success, skipped, failed, uf, removed = c.success, c.skipped, c.failed, c.upstream_failed, c.removed
    done, upstream = c.done, c.total
    upstream_done = done >= upstream
    if rule is TR.ALL_SUCCESS:
        if uf or failed:
            return S.UPSTREAM_FAILED
        if skipped:
            return S.SKIPPED
        if removed and success and map_index > -1 and map_index >= success:
            return S.REMOVED
    elif rule is TR.ALL_FAILED:
        if success or skipped:
            return S.SKIPPED
    elif rule is TR.ONE_SUCCESS:
        if upstream_done and done == skipped:
            return S.SKIPPED
        if upstream_done and success <= 0:
            return S.UPSTREAM_FAILED
    elif rule is TR.ONE_FAILED:
        if upstream_done and not (failed or uf):
            return S.SKIPPED
    elif rule is TR.ONE_DONE:
        if upstream_done and not (failed or success):
            return S.SKIPPED
    elif rule is TR.NONE_FAILED:
        if uf or failed:
            return S.UPSTREAM_FAILED
    elif rule is TR.NONE_FAILED_MIN_ONE_SUCCESS:
        if uf or failed:
            return S.UPSTREAM_FAILED
        if skipped == upstream:
            return S.SKIPPED
    elif rule is TR.NONE_SKIPPED:
        if skipped:
            return S.SKIPPED
    elif rule is TR.ALL_SKIPPED:
        if success or failed or uf:
            return S.SKIPPED
    elif rule is TR.ALL_DONE_MIN_ONE_SUCCESS:
        if skipped > 0:
            return S.SKIPPED
        if success + failed + uf + removed >= upstream - skipped and success == 0:
            return S.UPSTREAM_FAILED
    elif rule is TR.ALL_DONE_SETUP_SUCCESS:
        if upstream_done and c.setup_total and c.setup_skipped >= c.setup_total:
            return S.SKIPPED
        if upstream_done and c.setup_total and c.setup_success == 0:
            return S.UPSTREAM_FAILED
    return None


def _airflow_met(rule: TriggerRule, c: UpstreamCounts, map_index: int) -> bool:  # noqa: C901
    success, skipped, failed, uf, removed = c.success, c.skipped, c.failed, c.upstream_failed, c.removed
    upstream = c.total
    mapped_removed = removed if map_index > -1 else 0
    upstream_done = c.done >= upstream
    if rule is TR.ONE_SUCCESS:
        return success > 0
    if rule is TR.ONE_FAILED:
        return bool(failed or uf)
    if rule is TR.ONE_DONE:
        return success + failed > 0
    if rule is TR.ALL_SUCCESS:
        return upstream - success - mapped_removed <= 0
    if rule is TR.ALL_FAILED:
        return upstream - failed - uf - mapped_removed <= 0
    if rule is TR.ALL_DONE:
        return upstream_done
    if rule in (TR.NONE_FAILED, TR.NONE_FAILED_MIN_ONE_SUCCESS):
        return upstream - success - skipped - mapped_removed <= 0
    if rule is TR.NONE_SKIPPED:
        return upstream_done and not skipped
    if rule is TR.ALL_SKIPPED:
        return upstream - skipped <= 0
    if rule is TR.ALL_DONE_SETUP_SUCCESS:
        return upstream_done and not (c.setup_total and not c.setup_success)
    assert rule is TR.ALL_DONE_MIN_ONE_SUCCESS
    non_skipped_done = success + failed + uf + removed - mapped_removed
    non_skipped_upstream = upstream - skipped - mapped_removed
    return not skipped and non_skipped_done >= non_skipped_upstream and success > 0


def airflow_direct(rule: TriggerRule, c: UpstreamCounts, map_index: int) -> tuple[bool, TaskState | None]:
    """``(may run, decided state)`` as Airflow's scheduler computes it for the direct upstreams."""
    if c.total == 0 or rule is TR.ALWAYS:
        return True, None
    new_state = _airflow_new_state(rule, c, map_index)
    if new_state is not None:
        return False, new_state
    return _airflow_met(rule, c, map_index), None


def airflow_setups(c: UpstreamCounts, map_index: int) -> tuple[bool, TaskState | None]:
    """``(satisfied, decided state)`` of Airflow's setup constraint over the indirect setups."""
    if c.failed or c.upstream_failed:
        return False, S.UPSTREAM_FAILED
    if c.skipped:
        return False, S.SKIPPED
    if c.removed and c.success and map_index > -1 and map_index >= c.success:
        return False, S.REMOVED
    return c.total - c.success - (c.removed if map_index > -1 else 0) <= 0, None


@given(rule=rules, states=upstreams([*FINISHED, *UNFINISHED], min_size=0), map_index=map_indexes)
def test_every_rule_matches_airflows_trigger_rule_dep(rule, states, map_index):
    counts = UpstreamCounts.of(states)
    verdict = evaluate_rule(rule, counts, map_index=map_index)
    assert (verdict.met, verdict.new_state) == airflow_direct(rule, counts, map_index)


@given(
    rule=rules,
    direct=upstreams([*FINISHED, *UNFINISHED]),
    setups=upstreams([*FINISHED, *UNFINISHED], min_size=0),
    map_index=map_indexes,
)
def test_evaluate_checks_indirect_setups_first_as_airflow_does(rule, direct, setups, map_index):
    direct_counts = UpstreamCounts.of(direct)
    setup_counts = UpstreamCounts.of([(s, True) for s, _ in setups])
    verdict = evaluate(rule, direct_counts, setup_counts, map_index=map_index)

    if rule is TR.ALWAYS:  # Airflow passes ALWAYS before looking at setups at all
        assert verdict.met
        return
    setups_ok, setups_state = airflow_setups(setup_counts, map_index)
    if setup_counts.total and setups_state is not None:
        assert (verdict.met, verdict.new_state) == (False, setups_state)
        return
    direct_met, direct_state = airflow_direct(rule, direct_counts, map_index)
    assert verdict.new_state == direct_state
    assert verdict.met == (direct_met and direct_state is None and setups_ok)


# -- properties ------------------------------------------------------------------------------


@given(rule=rules, states=upstreams([*FINISHED, *UNFINISHED], min_size=0), map_index=map_indexes)
def test_a_rule_never_both_runs_and_decides(rule, states, map_index):
    verdict = evaluate_rule(rule, UpstreamCounts.of(states), map_index=map_index)
    assert not (verdict.met and verdict.new_state is not None)
    if not verdict.met and verdict.new_state is None:
        assert verdict.reason, "a waiting task instance says what it waits for"


@given(rule=rules, states=upstreams([*FINISHED, *UNFINISHED]))
def test_only_one_star_rules_and_always_run_before_all_upstreams_finish(rule, states):
    counts = UpstreamCounts.of(states)
    assume(not counts.all_done)
    if rule not in FAST_RULES:
        assert not evaluate_rule(rule, counts).met


@given(rule=rules, states=upstreams(FINISHED_NOT_REMOVED))
def test_every_rule_runs_or_decides_once_all_upstreams_finish(rule, states):
    verdict = evaluate_rule(rule, UpstreamCounts.of(states))
    assert verdict.met or verdict.new_state is not None


@st.composite
def finishing_upstreams(draw):
    """Upstream states now, and the same upstreams later after some unfinished ones finished."""
    before = draw(upstreams([*FINISHED_NOT_REMOVED, *UNFINISHED]))
    after = [
        (draw(st.sampled_from([state, *FINISHED_NOT_REMOVED])), is_setup)
        if state in UNFINISHED
        else (state, is_setup)
        for state, is_setup in before
    ]
    return before, after


@given(rule=rules, change=finishing_upstreams())
def test_a_decided_state_is_stable_as_more_upstreams_finish(rule, change):
    before, after = change
    first = evaluate_rule(rule, UpstreamCounts.of(before))
    assume(first.new_state is not None)
    later = evaluate_rule(rule, UpstreamCounts.of(after))
    assert later.new_state is not None
    if rule is TR.ALL_SUCCESS:  # a failure that arrives after a skip outranks it
        assert later.new_state in (S.SKIPPED, S.UPSTREAM_FAILED)
    else:
        assert later.new_state == first.new_state


@given(rule=rules, change=finishing_upstreams())
def test_a_met_rule_stays_met_as_more_upstreams_finish(rule, change):
    before, after = change
    assume(evaluate_rule(rule, UpstreamCounts.of(before)).met)
    assert evaluate_rule(rule, UpstreamCounts.of(after)).met


@given(
    others=upstreams([*FINISHED, *UNFINISHED], min_size=0),
    rule_and_state=st.sampled_from(
        [
            (TR.ONE_SUCCESS, S.SUCCESS),
            (TR.ONE_FAILED, S.FAILED),
            (TR.ONE_FAILED, S.UPSTREAM_FAILED),
            (TR.ONE_DONE, S.SUCCESS),
            (TR.ONE_DONE, S.FAILED),
        ]
    ),
)
def test_one_star_rules_fire_as_soon_as_one_upstream_qualifies(others, rule_and_state):
    rule, state = rule_and_state
    verdict = evaluate_rule(rule, UpstreamCounts.of([(state, False), *others]))
    assert verdict.met


@pytest.mark.parametrize("rule", [TR.ONE_SUCCESS, TR.ONE_FAILED, TR.ONE_DONE])
def test_one_star_rules_fire_before_all_upstreams_finish(rule):
    trigger = S.SUCCESS if rule is not TR.ONE_FAILED else S.FAILED
    verdict = evaluate_rule(rule, counts_of(trigger, S.RUNNING, S.NONE))
    assert verdict.met


def test_one_done_ignores_upstream_failed_upstreams():
    assert not evaluate_rule(TR.ONE_DONE, counts_of(S.UPSTREAM_FAILED, S.RUNNING)).met
    verdict = evaluate_rule(TR.ONE_DONE, counts_of(S.UPSTREAM_FAILED, S.SKIPPED))
    assert verdict.new_state is S.SKIPPED


def test_one_success_is_upstream_failed_when_all_finished_without_success():
    assert evaluate_rule(TR.ONE_SUCCESS, counts_of(S.FAILED, S.SKIPPED)).new_state is S.UPSTREAM_FAILED
    assert evaluate_rule(TR.ONE_SUCCESS, counts_of(S.SKIPPED, S.SKIPPED)).new_state is S.SKIPPED


@given(others=upstreams([*FINISHED, *UNFINISHED], min_size=0))
def test_all_done_min_one_success_skips_on_any_skip(others):
    counts = UpstreamCounts.of([(S.SKIPPED, False), *others])
    assert evaluate_rule(TR.ALL_DONE_MIN_ONE_SUCCESS, counts).new_state is S.SKIPPED


def test_all_done_min_one_success_needs_a_success_among_finished_upstreams():
    verdict = evaluate_rule(TR.ALL_DONE_MIN_ONE_SUCCESS, counts_of(S.FAILED, S.UPSTREAM_FAILED))
    assert verdict.new_state is S.UPSTREAM_FAILED
    assert evaluate_rule(TR.ALL_DONE_MIN_ONE_SUCCESS, counts_of(S.FAILED, S.SUCCESS)).met
    assert not evaluate_rule(TR.ALL_DONE_MIN_ONE_SUCCESS, counts_of(S.SUCCESS, S.RUNNING)).met


@given(states=upstreams([*FINISHED, *UNFINISHED], min_size=0), map_index=map_indexes)
def test_always_runs_whatever_the_upstreams(states, map_index):
    assert evaluate_rule(TR.ALWAYS, UpstreamCounts.of(states), map_index=map_index).met


@given(rule=rules, setups=upstreams([*FINISHED, *UNFINISHED], min_size=0))
def test_a_task_without_upstreams_always_runs(rule, setups):
    no_upstreams = UpstreamCounts(total=0)
    assert evaluate_rule(rule, no_upstreams).met
    assert evaluate(rule, no_upstreams, UpstreamCounts.of(setups)).met


def test_all_success_removes_map_indexes_beyond_the_upstreams_remaining_successes():
    counts = counts_of(S.SUCCESS, S.SUCCESS, S.REMOVED)
    assert evaluate_rule(TR.ALL_SUCCESS, counts, map_index=2).new_state is S.REMOVED
    assert evaluate_rule(TR.ALL_SUCCESS, counts, map_index=1).met
    assert not evaluate_rule(TR.ALL_SUCCESS, counts, map_index=-1).met


def test_counts_tally_states_and_setups_separately():
    counts = UpstreamCounts.of(
        [(S.SUCCESS, True), (S.SKIPPED, True), (S.FAILED, False), (S.RUNNING, False), (None, False)]
    )
    assert counts == UpstreamCounts(
        total=5, success=1, skipped=1, failed=1, setup_total=2, setup_success=1, setup_skipped=1
    )
    assert counts.done == 3
    assert not counts.all_done


# -- what Airflow produced for the oracle DAGs tr_matrix_ss / tr_matrix_sf / tr_matrix_sk ----------

RUNS, SKIPPED, UPSTREAM_FAILED = "runs", "skipped", "upstream_failed"

ORACLE = {
    # upstreams: ok + ok
    (S.SUCCESS, S.SUCCESS): {
        TR.ALL_SUCCESS: RUNS,
        TR.ALL_FAILED: SKIPPED,
        TR.ALL_DONE: RUNS,
        TR.ALL_DONE_MIN_ONE_SUCCESS: RUNS,
        TR.ALL_DONE_SETUP_SUCCESS: RUNS,
        TR.ONE_SUCCESS: RUNS,
        TR.ONE_FAILED: SKIPPED,
        TR.ONE_DONE: RUNS,
        TR.NONE_FAILED: RUNS,
        TR.NONE_FAILED_MIN_ONE_SUCCESS: RUNS,
        TR.NONE_SKIPPED: RUNS,
        TR.ALWAYS: RUNS,
        TR.ALL_SKIPPED: SKIPPED,
    },
    # upstreams: ok + fail
    (S.SUCCESS, S.FAILED): {
        TR.ALL_SUCCESS: UPSTREAM_FAILED,
        TR.ALL_FAILED: SKIPPED,
        TR.ALL_DONE: RUNS,
        TR.ALL_DONE_MIN_ONE_SUCCESS: RUNS,
        TR.ALL_DONE_SETUP_SUCCESS: RUNS,
        TR.ONE_SUCCESS: RUNS,
        TR.ONE_FAILED: RUNS,
        TR.ONE_DONE: RUNS,
        TR.NONE_FAILED: UPSTREAM_FAILED,
        TR.NONE_FAILED_MIN_ONE_SUCCESS: UPSTREAM_FAILED,
        TR.NONE_SKIPPED: RUNS,
        TR.ALWAYS: RUNS,
        TR.ALL_SKIPPED: SKIPPED,
    },
    # upstreams: ok + skip
    (S.SUCCESS, S.SKIPPED): {
        TR.ALL_SUCCESS: SKIPPED,
        TR.ALL_FAILED: SKIPPED,
        TR.ALL_DONE: RUNS,
        TR.ALL_DONE_MIN_ONE_SUCCESS: SKIPPED,
        TR.ALL_DONE_SETUP_SUCCESS: RUNS,
        TR.ONE_SUCCESS: RUNS,
        TR.ONE_FAILED: SKIPPED,
        TR.ONE_DONE: RUNS,
        TR.NONE_FAILED: RUNS,
        TR.NONE_FAILED_MIN_ONE_SUCCESS: RUNS,
        TR.NONE_SKIPPED: SKIPPED,
        TR.ALWAYS: RUNS,
        TR.ALL_SKIPPED: SKIPPED,
    },
}


def test_the_oracle_table_covers_every_rule():
    for situation in ORACLE.values():
        assert set(situation) == set(TriggerRule)


@pytest.mark.parametrize(
    ("upstream_states", "rule", "expected"),
    [(states, rule, expected) for states, table in ORACLE.items() for rule, expected in table.items()],
    ids=lambda v: "+".join(v) if isinstance(v, tuple) else str(v),
)
def test_outcome_matches_what_airflow_produced(upstream_states, rule, expected):
    assert outcome(evaluate(rule, counts_of(*upstream_states))) == expected


# -- setups ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", [TR.ALL_SUCCESS, TR.ALL_DONE, TR.NONE_FAILED, TR.ONE_SUCCESS])
@pytest.mark.parametrize("setup_state", [S.FAILED, S.UPSTREAM_FAILED])
def test_a_failed_indirect_setup_makes_the_task_upstream_failed(rule, setup_state):
    verdict = evaluate(rule, counts_of(S.SUCCESS), counts_of(setups=(setup_state,)))
    assert verdict.new_state is S.UPSTREAM_FAILED


@pytest.mark.parametrize("rule", [TR.ALL_SUCCESS, TR.ALL_DONE, TR.NONE_FAILED])
def test_a_skipped_indirect_setup_makes_the_task_skipped(rule):
    verdict = evaluate(rule, counts_of(S.SUCCESS), counts_of(setups=(S.SKIPPED,)))
    assert verdict.new_state is S.SKIPPED


def test_a_failed_indirect_setup_decides_without_waiting_for_the_other_setups():
    setups = counts_of(setups=(S.RUNNING, S.FAILED))
    assert evaluate(TR.ALL_SUCCESS, counts_of(S.SUCCESS), setups).new_state is S.UPSTREAM_FAILED
    assert evaluate_setups(setups).new_state is S.UPSTREAM_FAILED


def test_a_failed_indirect_setup_outranks_a_skipped_one():
    setups = counts_of(setups=(S.SKIPPED, S.FAILED))
    assert evaluate(TR.ALL_SUCCESS, counts_of(S.SUCCESS), setups).new_state is S.UPSTREAM_FAILED


def test_pending_indirect_setups_make_the_task_wait():
    verdict = evaluate(TR.ALL_SUCCESS, counts_of(S.SUCCESS), counts_of(setups=(S.SUCCESS, S.RUNNING)))
    assert not verdict.met
    assert verdict.new_state is None
    assert "setup" in verdict.reason


def test_direct_upstreams_still_decide_while_indirect_setups_are_pending():
    verdict = evaluate(TR.ALL_SUCCESS, counts_of(S.FAILED), counts_of(setups=(S.RUNNING,)))
    assert verdict.new_state is S.UPSTREAM_FAILED


def test_the_task_runs_once_every_indirect_setup_succeeded():
    assert evaluate(TR.ALL_SUCCESS, counts_of(S.SUCCESS), counts_of(setups=(S.SUCCESS, S.SUCCESS))).met


def test_always_ignores_failed_indirect_setups():
    assert evaluate(TR.ALWAYS, counts_of(S.FAILED), counts_of(setups=(S.FAILED,))).met


def test_teardown_runs_after_failed_work_when_its_setup_succeeded():
    direct = counts_of(S.FAILED, setups=(S.SUCCESS,))
    assert evaluate(TR.ALL_DONE_SETUP_SUCCESS, direct).met


def test_teardown_waits_for_all_direct_upstreams_even_after_its_setup_succeeded():
    direct = counts_of(S.RUNNING, setups=(S.SUCCESS,))
    verdict = evaluate(TR.ALL_DONE_SETUP_SUCCESS, direct)
    assert not verdict.met
    assert verdict.new_state is None


def test_teardown_runs_when_one_of_several_setups_succeeded():
    direct = counts_of(S.UPSTREAM_FAILED, setups=(S.FAILED, S.SUCCESS))
    assert evaluate(TR.ALL_DONE_SETUP_SUCCESS, direct).met


def test_teardown_is_upstream_failed_when_no_setup_succeeded():
    direct = counts_of(S.UPSTREAM_FAILED, setups=(S.FAILED,))
    assert evaluate(TR.ALL_DONE_SETUP_SUCCESS, direct).new_state is S.UPSTREAM_FAILED


def test_teardown_is_skipped_when_all_its_setups_were_skipped():
    direct = counts_of(S.SKIPPED, setups=(S.SKIPPED, S.SKIPPED))
    assert evaluate(TR.ALL_DONE_SETUP_SUCCESS, direct).new_state is S.SKIPPED


def test_teardown_without_setups_behaves_like_all_done():
    assert evaluate(TR.ALL_DONE_SETUP_SUCCESS, counts_of(S.FAILED, S.SKIPPED)).met
    assert not evaluate(TR.ALL_DONE_SETUP_SUCCESS, counts_of(S.FAILED, S.RUNNING)).met
