"""The decisions for expanded task groups and for ``zip``/``concat`` sources, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

from dagflow.core.decisions import TIRecord, decide, source_length
from dagflow.core.spec import MapSourceSpec
from dagflow.core.states import TaskState
from tests.core.test_decisions import make_spec, mapped, output_of, task

S = TaskState
NOW = datetime(2024, 1, 1, 12, tzinfo=UTC)
LENGTHS = {"a": 3, "b": 2}


def test_zip_is_as_long_as_its_shortest_part_or_with_a_fillvalue_its_longest_and_concat_their_sum():
    a, b = output_of("a"), output_of("b")
    assert source_length(MapSourceSpec(combine="zip", parts=(a, b)), LENGTHS.get) == 2
    assert source_length(MapSourceSpec(combine="zip_longest", parts=(a, b)), LENGTHS.get) == 3
    concat = MapSourceSpec(combine="concat", parts=(a, b, MapSourceSpec(literal_length=4)))
    assert source_length(concat, LENGTHS.get) == 9
    assert source_length(MapSourceSpec(combine="zip", parts=(a, output_of("c"))), LENGTHS.get) is None


def group_spec():
    """src -> g.first[i] -> g.second[i] -> after, the group mapped over src's output."""
    in_group = {"map_group": "g"}
    return make_spec(
        task("src"),
        mapped("g.first", output_of("src"), upstream=("src",), **in_group),
        mapped("g.second", output_of("src"), upstream=("g.first",), **in_group),
        task("after", "g.second"),
    )


def test_a_deeper_task_of_a_group_expands_once_the_groups_source_is_done_not_before():
    spec = group_spec()
    waiting = decide(
        spec,
        [TIRecord("src", state=S.RUNNING), TIRecord("g.first"), TIRecord("g.second"), TIRecord("after")],
        now=NOW,
        length_of=lambda _: None,
    )
    assert not waiting.expansions and not waiting.new_states

    done = decide(
        spec,
        [TIRecord("src", state=S.SUCCESS), TIRecord("g.first"), TIRecord("g.second"), TIRecord("after")],
        now=NOW,
        length_of=lambda _: 2,
    )
    assert done.expansions == {"g.first": 2, "g.second": 2}


def test_each_map_index_of_a_group_waits_only_for_the_same_index_upstream_in_the_group():
    spec = group_spec()
    tis = [
        TIRecord("src", state=S.SUCCESS),
        TIRecord("g.first", 0, S.SUCCESS),
        TIRecord("g.first", 1, S.RUNNING),
        TIRecord("g.first", 2, S.FAILED),
        TIRecord("g.second", 0),
        TIRecord("g.second", 1),
        TIRecord("g.second", 2),
        TIRecord("after"),
    ]
    decisions = decide(spec, tis, now=NOW, length_of=lambda _: 3)

    assert decisions.ready == [("g.second", 0)]
    # index 2 fails on its own; the task after the group sees every index, so it fails at once
    assert decisions.new_states == {("g.second", 2): S.UPSTREAM_FAILED, ("after", -1): S.UPSTREAM_FAILED}
