"""A task that fails: its red node, its log with the error, then a clear that makes it run again."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import FLAG_NAME, RUN_TIMEOUT, Server, screenshot
from tests.browser.pages import assert_node_painted, node, open_graph_of_this_run, unpause

expect = pytest.importorskip("playwright.sync_api").expect

if TYPE_CHECKING:
    from playwright.sync_api import Page


def test_a_failed_task_shows_its_error_in_its_log_and_runs_again_once_cleared(
    admin_page: Page, dagflow_server: Server
) -> None:
    page = admin_page
    flag = dagflow_server.home / FLAG_NAME
    flag.unlink(missing_ok=True)

    unpause(page, "browser_flaky")
    page.get_by_role("link", name="Trigger browser_flaky").click()
    page.get_by_role("button", name="Trigger", exact=True).click()
    expect(page).to_have_url(re.compile(r"/dags/browser_flaky/runs/manual__"))

    run_id = open_graph_of_this_run(page)
    expect(node(page, "wait_for_flag")).to_have_attribute("data-state", "failed", timeout=RUN_TIMEOUT)
    expect(node(page, "report")).to_have_attribute("data-state", "upstream_failed", timeout=RUN_TIMEOUT)
    expect(page.locator("#run-state")).to_have_text("failed", timeout=RUN_TIMEOUT)
    assert_node_painted(page, "wait_for_flag", "rgb(185, 28, 28)")  # red, white label
    assert_node_painted(page, "report", "rgb(245, 158, 11)")  # amber, dark label
    screenshot(page, "graph-flaky-failed")

    node(page, "wait_for_flag").click()
    expect(page.locator("#ti-state")).to_have_text("failed")
    tries = page.locator("#tries tbody tr")
    expect(tries).to_have_count(1)
    expect(tries.first).to_contain_text("is missing")
    tries.first.get_by_role("link", name="log").click()
    expect(page.get_by_role("heading", name=re.compile(r"Log of wait_for_flag, try 1"))).to_be_visible()
    expect(page.locator("#log")).to_contain_text("FileNotFoundError")
    expect(page.locator("#log")).to_contain_text(f"the flag file {flag} is missing")

    flag.write_text("set by the browser test\n")
    page.get_by_role("heading", name=re.compile("Log of")).get_by_role("link", name=run_id).click()
    expect(page.locator("#ti-state")).to_have_text("failed")
    actions = page.locator("#ti-actions")
    actions.get_by_label("downstream").check()
    actions.get_by_role("button", name="Clear").click()

    expect(page.get_by_role("heading", name=f"Clear 2 task instance(s) of run {run_id}?")).to_be_visible()
    expect(page.get_by_text("They run again: report, wait_for_flag.")).to_be_visible()
    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Cleared 2 task instance(s) of run {run_id}: report, wait_for_flag."
    )

    open_graph_of_this_run(page)
    for task_id in ("wait_for_flag", "report"):
        expect(node(page, task_id)).to_have_attribute("data-state", "success", timeout=RUN_TIMEOUT)
    expect(page.locator("#run-state")).to_have_text("success", timeout=RUN_TIMEOUT)

    node(page, "wait_for_flag").click()
    expect(page.locator("#tries tbody tr")).to_have_count(2)
    expect(page.locator("#tries tbody tr").nth(1)).to_contain_text("success")
