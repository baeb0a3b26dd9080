"""Triggering an example DAG from its form and watching its graph turn green."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import RUN_TIMEOUT, screenshot
from tests.browser.pages import assert_node_painted, node, open_graph_of_this_run, unpause

expect = pytest.importorskip("playwright.sync_api").expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

#: A Monday, so example_branching's ``is_weekday`` lets ``send_report`` run.
MONDAY = "2024-01-08T00:00:00+00:00"


def test_a_run_triggered_from_the_form_follows_the_chosen_param_and_turns_green(admin_page: Page) -> None:
    page = admin_page
    unpause(page, "example_branching")
    page.get_by_role("link", name="example_branching", exact=True).click()
    page.get_by_role("link", name="Trigger", exact=True).click()
    expect(page.get_by_role("heading", name="Trigger a run of example_branching")).to_be_visible()

    page.get_by_label("region").select_option(label="us")
    page.get_by_label("Logical date").fill(MONDAY)
    page.get_by_role("button", name="Trigger", exact=True).click()

    expect(page).to_have_url(re.compile(r"/dags/example_branching/runs/manual__2024-01-08"))
    expect(page.get_by_role("status")).to_contain_text('with conf {"region": "us"}')
    expect(page.locator("dd code", has_text='"region": "us"')).to_be_visible()

    open_graph_of_this_run(page)
    for task_id in ("choose_region", "process_us", "join", "is_weekday", "send_report"):
        expect(node(page, task_id)).to_have_attribute("data-state", "success", timeout=RUN_TIMEOUT)
    for task_id in ("process_eu", "process_apac"):
        expect(node(page, task_id)).to_have_attribute("data-state", "skipped")
    expect(page.locator("#run-state")).to_have_text("success", timeout=RUN_TIMEOUT)
    assert_node_painted(page, "process_us", "rgb(21, 128, 61)")  # green, white label
    assert_node_painted(page, "process_eu", "rgb(244, 114, 182)")  # pink, dark label
    screenshot(page, "graph-branching-success")
