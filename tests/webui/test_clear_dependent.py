"""The clear confirmation names what ExternalTaskMarkers also clear in other DAGs' runs."""

from __future__ import annotations

from webui.views.actions import _dependent_lines


def test_dependent_task_instances_are_listed_per_run_of_the_other_dag():
    lines = _dependent_lines(
        [("child", "r1", "start", -1), ("child", "r1", "after", -1), ("other", "r9", "mapped", 2)]
    )
    assert len(lines) == 2
    assert lines[0].startswith("Through ExternalTaskMarkers, in run r1 of DAG child too:")
    assert "start" in lines[0] and "after" in lines[0]
    assert "run r9 of DAG other" in lines[1] and "mapped[2]" in lines[1]
    assert _dependent_lines([]) == []
