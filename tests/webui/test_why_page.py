"""The task instance page says why it is not running with the same sentences as ``dagflow tasks why``."""

from __future__ import annotations

import html
import re

import pytest

from dagflow.core.keys import TIKey
from dagflow.explain import why


def banner(page: str) -> list[str]:
    found = re.search(
        r'<div class="banner info" id="why"><strong>([^<]*):</strong>\s*<ul>(.*?)</ul>', page, re.S
    )
    assert found, page
    return [found.group(1)] + [html.unescape(r) for r in re.findall(r"<li>(.*?)</li>", found.group(2))]


@pytest.mark.parametrize("task_id", ["extract", "load", "report"])
def test_the_page_shows_the_explanation_the_cli_prints(seeded, logged_in, app, task_id):
    page = logged_in("viewer").get(f"/dags/shop/tasks/{task_id}", query_string={"run_id": seeded.run_id})

    with seeded.database.session() as session:
        expected = why(session, TIKey("shop", seeded.run_id, task_id), parallelism=32)
    assert page.status_code == 200
    assert banner(page.get_data(as_text=True)) == [expected.title, *expected.reasons]


def test_an_upstream_failed_page_names_the_failed_upstream(seeded, logged_in):
    page = (
        logged_in("viewer")
        .get("/dags/shop/tasks/load", query_string={"run_id": seeded.run_id})
        .get_data(as_text=True)
    )

    assert banner(page) == [
        "Where it is",
        "It will not run: process.transform failed, so it is upstream_failed "
        "(clear the failed task to retry).",
    ]


def test_the_web_uis_old_entry_point_gives_the_same_sentences(seeded, app):
    from dagflow.serialization import StoredDag
    from dagflow.store import dags, runs
    from dagflow.store.scheduling import task_instance
    from webui.explain import why_not_running

    key = TIKey("shop", seeded.run_id, "load")
    with seeded.database.session() as session:
        dag = dags.get_dag_row(session, "shop")
        run = runs.get_run(session, "shop", seeded.run_id)
        ti = task_instance(session, key)
        assert dag is not None and run is not None and ti is not None
        found = why_not_running(session, StoredDag.from_json(dag.serialized), dag, run, ti, parallelism=32)
        assert found == list(why(session, key, parallelism=32).reasons)
        assert found and "process.transform failed" in found[0]
