"""Compensation order and the run's compensation state, decided without a database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dagflow.core.saga import (
    CompensationRecord,
    RunCompensation,
    SagaGraph,
    decide_compensations,
    targets_of,
)
from dagflow.core.states import TaskState

S = TaskState
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def chain(*tasks: str) -> dict[str, tuple[str, ...]]:
    return {t: (tasks[i + 1],) if i + 1 < len(tasks) else () for i, t in enumerate(tasks)}


def done(*keys):
    return {k: CompensationRecord(S.SUCCESS) for k in keys}


def test_a_chain_compensates_last_task_first():
    graph = SagaGraph.build(chain("a", "b", "c"), {"a", "b", "c"})
    forward = {("a", -1): S.SUCCESS, ("b", -1): S.SUCCESS, ("c", -1): S.SUCCESS}
    first = decide_compensations(graph, forward, {}, now=NOW)
    assert first.ready == [("c", -1)]
    assert first.waiting_for[("a", -1)] == [("b", -1)]  # the nearest still to end
    assert first.state is RunCompensation.COMPENSATING
    second = decide_compensations(graph, forward, done(("c", -1)), now=NOW)
    assert second.ready == [("b", -1)]


def test_only_succeeded_task_instances_are_compensated():
    graph = SagaGraph.build(chain("a", "b", "c", "d"), {"a", "b", "c", "d"})
    forward = {("a", -1): S.SUCCESS, ("b", -1): S.SKIPPED, ("c", -1): S.FAILED, ("d", -1): S.UPSTREAM_FAILED}
    decisions = decide_compensations(graph, forward, {}, now=NOW)
    assert decisions.targets == [("a", -1)]
    assert decisions.ready == [("a", -1)]


def test_order_passes_through_tasks_without_a_compensation():
    graph = SagaGraph.build(chain("a", "plain", "c"), {"a", "c"})
    forward = {("a", -1): S.SUCCESS, ("plain", -1): S.SUCCESS, ("c", -1): S.SUCCESS}
    assert decide_compensations(graph, forward, {}, now=NOW).ready == [("c", -1)]


def test_independent_branches_compensate_in_parallel():
    graph = SagaGraph.build({"root": ("x", "y"), "x": (), "y": ()}, {"root", "x", "y"})
    forward = {("root", -1): S.SUCCESS, ("x", -1): S.SUCCESS, ("y", -1): S.SUCCESS}
    assert decide_compensations(graph, forward, {}, now=NOW).ready == [("x", -1), ("y", -1)]


def test_a_failed_compensation_blocks_only_its_upstream_ones():
    graph = SagaGraph.build({"root": ("x", "y"), "x": ("x2",), "x2": (), "y": ()}, {"root", "x", "x2", "y"})
    forward = {(t, -1): S.SUCCESS for t in ("root", "x", "x2", "y")}
    comps = {("x2", -1): CompensationRecord(S.FAILED)}
    decisions = decide_compensations(graph, forward, comps, now=NOW)
    assert decisions.ready == [("y", -1)]
    assert decisions.blocked_by[("x", -1)] == [("x2", -1)]
    assert decisions.state is RunCompensation.COMPENSATING
    comps[("y", -1)] = CompensationRecord(S.SUCCESS)
    final = decide_compensations(graph, forward, comps, now=NOW)
    assert final.ready == []
    assert final.state is RunCompensation.COMPENSATION_FAILED
    assert set(final.blocked_by) == {("x", -1), ("root", -1)}


def test_mapped_indexes_compensate_independently_but_wait_for_every_downstream_index():
    graph = SagaGraph.build({"m": ("n",), "n": ()}, {"m", "n"})
    forward = {("m", 0): S.SUCCESS, ("m", 1): S.SUCCESS, ("n", 0): S.SUCCESS, ("n", 1): S.FAILED}
    first = decide_compensations(graph, forward, {}, now=NOW)
    assert first.ready == [("n", 0)]
    second = decide_compensations(graph, forward, done(("n", 0)), now=NOW)
    assert second.ready == [("m", 0), ("m", 1)]


def test_a_compensation_waiting_for_its_retry_starts_when_due():
    graph = SagaGraph.build({"a": ()}, {"a"})
    forward = {("a", -1): S.SUCCESS}
    later = NOW + timedelta(seconds=5)
    comps = {("a", -1): CompensationRecord(S.UP_FOR_RETRY, later)}
    early = decide_compensations(graph, forward, comps, now=NOW)
    assert early.ready == [] and early.waiting_until == later
    assert early.state is RunCompensation.COMPENSATING
    assert decide_compensations(graph, forward, comps, now=later).ready == [("a", -1)]


def test_a_run_with_nothing_to_undo_is_compensated_at_once():
    graph = SagaGraph.build({"a": ()}, {"a"})
    assert (
        decide_compensations(graph, {("a", -1): S.FAILED}, {}, now=NOW).state is RunCompensation.COMPENSATED
    )


def test_a_group_compensation_runs_after_its_tasks_and_before_its_upstream():
    graph = SagaGraph.build(
        {"before": ("g.a",), "g.a": ("g.b",), "g.b": ("after",), "after": ()},
        {"before", "g.a", "after"},
        groups={"g": ("g.a", "g.b")},
    )
    forward = {(t, -1): S.SUCCESS for t in ("before", "g.a", "g.b", "after")}
    assert ("g", -1) in targets_of(graph, forward)
    assert decide_compensations(graph, forward, {}, now=NOW).ready == [("after", -1)]
    assert decide_compensations(graph, forward, done(("after", -1)), now=NOW).ready == [("g.a", -1)]
    assert decide_compensations(graph, forward, done(("after", -1), ("g.a", -1)), now=NOW).ready == [
        ("g", -1)
    ]
    last = decide_compensations(graph, forward, done(("after", -1), ("g.a", -1), ("g", -1)), now=NOW)
    assert last.ready == [("before", -1)]


# -- a whole compensation simulated over random DAGs ------------------------------------------------


@st.composite
def random_runs(draw):
    size = draw(st.integers(1, 9))
    edges = {f"t{i}": tuple(f"t{j}" for j in range(i + 1, size) if draw(st.booleans())) for i in range(size)}
    compensated = {t for t in edges if draw(st.booleans())}
    states = st.sampled_from([S.SUCCESS, S.SUCCESS, S.FAILED, S.SKIPPED, S.UPSTREAM_FAILED])
    forward = {(t, -1): draw(states) for t in edges}
    failing = {t for t in compensated if draw(st.integers(0, 4)) == 0}
    return edges, compensated, forward, failing, draw(st.integers(0, 2**16))


def _descendants(edges, task):
    seen, stack = set(), list(edges[task])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(edges[node])
    return seen


@settings(max_examples=500, deadline=None)
@given(random_runs())
def test_simulated_compensation_keeps_every_rule(run):
    """Run compensations to the end in a random interleaving: each starts once, never before a
    downstream one has ended well, never while a downstream one failed; the final state says so."""
    edges, compensated, forward, failing, seed = run
    rng = random.Random(seed)
    graph = SagaGraph.build(edges, compensated)
    comps: dict = {}
    started: list = []
    running: set = set()
    for _ in range(100):
        decisions = decide_compensations(graph, forward, comps, now=NOW)
        for key in decisions.ready:
            assert key not in started, "a compensation started twice"
            below = _descendants(edges, key[0]) & compensated
            assert all(comps[(d, -1)].state is S.SUCCESS for d in below if (d, -1) in decisions.targets)
            started.append(key)
            running.add(key)
            comps[key] = CompensationRecord(S.RUNNING)
        if not running:
            break
        finish = rng.choice(sorted(running))
        running.discard(finish)
        comps[finish] = CompensationRecord(S.FAILED if finish[0] in failing else S.SUCCESS)
    targets = {(t, -1) for t in compensated if forward[(t, -1)] is S.SUCCESS}
    blocked = {
        key
        for key in targets
        if any(d in failing and (d, -1) in targets for d in _descendants(edges, key[0]))
    }
    assert set(started) == targets - blocked
    expected = (
        RunCompensation.COMPENSATION_FAILED
        if any(k[0] in failing for k in started)
        else RunCompensation.COMPENSATED
    )
    assert decide_compensations(graph, forward, comps, now=NOW).state is expected


def test_the_explanation_names_what_a_compensation_waits_for():
    from dagflow.core.saga import explain_compensation

    graph = SagaGraph.build(chain("a", "b", "c"), {"a", "b", "c"})
    forward = {("a", -1): S.SUCCESS, ("b", -1): S.SUCCESS, ("c", -1): S.FAILED}
    comps = {("b", -1): CompensationRecord(S.RUNNING)}
    decisions = decide_compensations(graph, forward, comps, now=NOW)
    running = RunCompensation.COMPENSATING

    def why(key, **kw):
        args = {"run_state": running, "forward_state": forward.get(key), "record": comps.get(key)}
        return explain_compensation(key, **{**args, **kw}, decisions=decisions)[0]

    assert "waits for the compensations downstream of a to succeed first: b" in why(("a", -1))
    assert "is running now" in why(("b", -1))
    assert "c ended failed: only task instances that succeeded" in why(("c", -1))
    assert "not being compensated" in why(("a", -1), run_state=RunCompensation.NONE)
    comps[("b", -1)] = CompensationRecord(S.FAILED)
    decisions = decide_compensations(graph, forward, comps, now=NOW)
    assert "The compensation of b (downstream of a) failed" in why(("a", -1))
    assert "--resume" in why(("b", -1))


def test_a_long_chain_is_decided_in_linear_time():
    import sys

    def work(length: int) -> int:
        """How many calls (of Python functions and of built-ins) deciding a chain of ``length`` half
        compensated makes: a count of the work done, the same on a busy machine as on a quiet one."""
        tasks = [f"t{i:05d}" for i in range(length)]
        graph = SagaGraph.build(chain(*tasks), set(tasks))
        forward = {(t, -1): S.SUCCESS for t in tasks}
        comps = {(t, -1): CompensationRecord(S.SUCCESS) for t in tasks[length // 2 :]}
        calls = 0

        def count(frame, event, arg):
            nonlocal calls
            if event in ("call", "c_call"):
                calls += 1

        sys.setprofile(count)
        try:
            decisions = decide_compensations(graph, forward, comps, now=NOW)
        finally:
            sys.setprofile(None)
        assert decisions.ready == [(tasks[length // 2 - 1], -1)]
        return calls

    # a chain four times as long: four times the calls if linear (4.0 measured), sixteen if quadratic
    ratio = work(8000) / work(2000)
    assert ratio < 4.5


@st.composite
def random_mapped_runs(draw):
    edges, compensated, _forward, failing, seed = draw(random_runs())
    states = st.sampled_from([S.SUCCESS, S.SUCCESS, S.FAILED, S.SKIPPED])
    forward = {}
    for task in edges:
        indexes = [-1] if draw(st.booleans()) else list(range(draw(st.integers(1, 3))))
        forward.update({(task, i): draw(states) for i in indexes})
    failing_keys = {k for k in forward if k[0] in failing and draw(st.booleans())}
    return edges, compensated, forward, failing_keys, seed


@settings(max_examples=300, deadline=None)
@given(random_mapped_runs())
def test_simulated_mapped_compensation_waits_for_every_downstream_index(run):
    """Map indexes compensate one by one: each only after every index of every task downstream."""
    edges, compensated, forward, failing, seed = run
    rng = random.Random(seed)
    graph = SagaGraph.build(edges, compensated)
    comps: dict = {}
    started: list = []
    running: set = set()
    targets = {k for k, s in forward.items() if s is S.SUCCESS and k[0] in compensated}
    for _ in range(200):
        for key in decide_compensations(graph, forward, comps, now=NOW).ready:
            below = [k for k in targets if k[0] in _descendants(edges, key[0])]
            assert key not in started and all(comps[k].state is S.SUCCESS for k in below)
            started.append(key)
            running.add(key)
            comps[key] = CompensationRecord(S.RUNNING)
        if not running:
            break
        finish = rng.choice(sorted(running))
        running.discard(finish)
        comps[finish] = CompensationRecord(S.FAILED if finish in failing else S.SUCCESS)
    blocked = {k for k in targets if any(f in targets and f[0] in _descendants(edges, k[0]) for f in failing)}
    assert set(started) == targets - blocked
    final = decide_compensations(graph, forward, comps, now=NOW).state
    expected = RunCompensation.COMPENSATION_FAILED if failing & set(started) else RunCompensation.COMPENSATED
    assert final is expected
