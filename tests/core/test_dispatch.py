"""Which scheduled task instances to queue now, within the limits: ``dispatch.choose`` (pure, no store)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dagflow.core.dispatch import Busy, Candidate, choose
from dagflow.core.keys import TIKey

T0 = datetime(2024, 1, 1, tzinfo=UTC)
POOLS = {"default_pool": 128}


def candidate(
    task_id: str = "t",
    *,
    dag_id: str = "d",
    run_id: str = "r",
    map_index: int = -1,
    priority_weight: int = 1,
    pool: str = "default_pool",
    pool_slots: int = 1,
    run_after: datetime = T0,
    max_active_tis_per_dag: int | None = None,
    max_active_tis_per_dagrun: int | None = None,
) -> Candidate:
    return Candidate(
        key=TIKey(dag_id, run_id, task_id, map_index),
        priority_weight=priority_weight,
        pool=pool,
        pool_slots=pool_slots,
        run_after=run_after,
        max_active_tis_per_dag=max_active_tis_per_dag,
        max_active_tis_per_dagrun=max_active_tis_per_dagrun,
    )


def key(c: Candidate) -> TIKey:
    return c.key


def pick(candidates, busy=None, *, parallelism=32, max_active_tasks=None, pools=None):
    return choose(
        candidates,
        busy or Busy(),
        parallelism=parallelism,
        max_active_tasks=max_active_tasks or {},
        pools=POOLS if pools is None else pools,
    )


def test_everything_is_chosen_when_no_limit_is_reached():
    candidates = [candidate(f"t{i}") for i in range(5)]

    choice = pick(candidates)

    assert choice.chosen == candidates
    assert choice.reasons == {}


def test_higher_priority_goes_first_then_the_older_run():
    low = candidate("low", priority_weight=1)
    high = candidate("high", priority_weight=10)
    old = candidate("mid_old", priority_weight=5, run_id="old", run_after=T0)
    new = candidate("mid_new", priority_weight=5, run_id="new", run_after=T0 + timedelta(hours=1))

    choice = pick([low, new, high, old])

    assert [c.task_id for c in choice.chosen] == ["high", "mid_old", "mid_new", "low"]


def test_map_indexes_of_one_task_go_in_order():
    choice = pick([candidate(map_index=i) for i in (2, 0, 1)])

    assert [c.map_index for c in choice.chosen] == [0, 1, 2]


def test_parallelism_counts_what_is_already_busy_and_what_this_choice_takes():
    busy = Busy(total=1)
    candidates = [candidate(f"t{i}", priority_weight=10 - i) for i in range(3)]

    choice = pick(candidates, busy, parallelism=2)

    assert [c.task_id for c in choice.chosen] == ["t0"]
    assert choice.reasons == {
        key(candidates[1]): "parallelism reached (2 task instances queued or running)",
        key(candidates[2]): "parallelism reached (2 task instances queued or running)",
    }
    assert busy.total == 2  # the chosen one now counts as busy


def test_max_active_tasks_limits_each_dag_on_its_own():
    a = [candidate(f"a{i}", dag_id="a") for i in range(3)]
    b = [candidate(f"b{i}", dag_id="b") for i in range(3)]

    choice = pick(a + b, max_active_tasks={"a": 2, "b": 3})

    assert Counter(c.dag_id for c in choice.chosen) == {"a": 2, "b": 3}
    assert choice.reasons[key(a[2])].startswith("max_active_tasks reached (2 ")


def test_max_active_tasks_defaults_to_16_for_a_dag_without_a_limit():
    choice = pick([candidate(map_index=i) for i in range(20)])

    assert len(choice.chosen) == 16


def test_a_pool_admits_task_instances_while_their_slots_fit():
    busy = Busy()
    busy.pool_slots["etl"] = 1
    big = candidate("big", pool="etl", pool_slots=2, priority_weight=9)
    small = candidate("small", pool="etl", pool_slots=1, priority_weight=5)
    third = candidate("third", pool="etl", pool_slots=1, priority_weight=1)

    choice = pick([big, small, third], busy, pools={"etl": 2})

    assert [c.task_id for c in choice.chosen] == ["small"]  # the big one does not block the small one
    assert choice.reasons[key(big)] == "pool 'etl' is full (1 of 2 slots in use)"
    assert choice.reasons[key(third)] == "pool 'etl' is full (2 of 2 slots in use)"


def test_a_task_instance_in_a_pool_that_does_not_exist_waits_and_says_so():
    lost = candidate(pool="missing")

    choice = pick([lost])

    assert choice.chosen == []
    assert choice.reasons == {key(lost): "pool 'missing' does not exist"}


def test_max_active_tis_per_dag_counts_the_task_across_runs():
    busy = Busy()
    busy.by_dag_task[("d", "t")] = 1
    runs = [candidate(run_id=f"r{i}", max_active_tis_per_dag=2) for i in range(3)]

    choice = pick(runs, busy)

    assert [c.run_id for c in choice.chosen] == ["r0"]
    assert choice.reasons[key(runs[1])] == "max_active_tis_per_dag reached (2)"


def test_max_active_tis_per_dagrun_counts_the_task_within_each_run():
    candidates = [
        candidate(run_id=run_id, map_index=i, max_active_tis_per_dagrun=2)
        for run_id in ("r1", "r2")
        for i in range(3)
    ]

    choice = pick(candidates)

    assert Counter(c.run_id for c in choice.chosen) == {"r1": 2, "r2": 2}
    assert choice.reasons[("d", "r1", "t", 2)] == "max_active_tis_per_dagrun reached (2)"


def test_busy_add_counts_a_task_instance_against_every_limit():
    busy = Busy()

    busy.add(candidate(pool="etl", pool_slots=3), count=2)

    assert (busy.total, busy.by_dag["d"], busy.pool_slots["etl"]) == (2, 2, 6)
    assert (busy.by_dag_task[("d", "t")], busy.by_run_task[("d", "r", "t")]) == (2, 2)


@st.composite
def candidates_strategy(draw: st.DrawFn) -> list[Candidate]:
    """Candidates of a few tasks; each task has one set of limits, as a task's settings do."""
    limit = st.none() | st.integers(1, 3)
    limits = {task_id: (draw(limit), draw(limit)) for task_id in ("a", "b", "c")}
    instances = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["a", "b", "c"]),
                st.sampled_from(["d1", "d2"]),
                st.sampled_from(["r1", "r2"]),
                st.integers(-1, 5),
            ),
            max_size=30,
            unique=True,
        )
    )
    return [
        candidate(
            task_id,
            dag_id=dag_id,
            run_id=run_id,
            map_index=map_index,
            priority_weight=draw(st.integers(1, 3)),
            pool=draw(st.sampled_from(["p1", "p2"])),
            pool_slots=draw(st.integers(1, 3)),
            max_active_tis_per_dag=limits[task_id][0],
            max_active_tis_per_dagrun=limits[task_id][1],
        )
        for task_id, dag_id, run_id, map_index in instances
    ]


@settings(max_examples=150, deadline=None)
@given(
    candidates=candidates_strategy(),
    parallelism=st.integers(0, 20),
    max_active_tasks=st.integers(0, 10),
    pool_sizes=st.tuples(st.integers(0, 8), st.integers(0, 8)),
)
def test_a_choice_never_exceeds_a_limit_and_explains_every_candidate_left_out(
    candidates, parallelism, max_active_tasks, pool_sizes
):
    pools = {"p1": pool_sizes[0], "p2": pool_sizes[1]}
    limits = {"d1": max_active_tasks, "d2": max_active_tasks}

    choice = choose(candidates, Busy(), parallelism=parallelism, max_active_tasks=limits, pools=pools)

    chosen = choice.chosen
    assert len(chosen) <= parallelism
    assert all(n <= max_active_tasks for n in Counter(c.dag_id for c in chosen).values())
    for pool, size in pools.items():
        assert sum(c.pool_slots for c in chosen if c.pool == pool) <= size
    for c in chosen:
        same_task = [o for o in chosen if (o.dag_id, o.task_id) == (c.dag_id, c.task_id)]
        if c.max_active_tis_per_dag is not None:
            assert len(same_task) <= c.max_active_tis_per_dag
        if c.max_active_tis_per_dagrun is not None:
            assert len([o for o in same_task if o.run_id == c.run_id]) <= c.max_active_tis_per_dagrun
    assert {key(c) for c in chosen} | set(choice.reasons) == {key(c) for c in candidates}
    assert not {key(c) for c in chosen} & set(choice.reasons)
