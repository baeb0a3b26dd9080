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
