"""A viewer reads everything but is offered no button that changes anything."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import log_in

expect = pytest.importorskip("playwright.sync_api").expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

VIEWER, PASSWORD = "vera", "a viewer's long password"


def add_viewer_and_a_run(page: Page) -> str:
    """As the admin: add the viewer on the Users page and trigger example_etl (paused: it stays queued)."""
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_label("User name").fill(VIEWER)
    page.get_by_label("Role").select_option("viewer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("status")).to_have_text(f"User {VIEWER} (viewer) created.")
    page.goto("/dags/example_etl/trigger")
    page.get_by_role("button", name="Trigger", exact=True).click()
    expect(page).to_have_url(re.compile(r"/dags/example_etl/runs/manual__"))
    run_id = page.locator("h2 code").first.inner_text()
    page.get_by_role("button", name="Log out").click()
    return run_id


def test_a_viewer_sees_dags_runs_and_task_instances_without_action_buttons(admin_page: Page) -> None:
    page = admin_page
    run_id = add_viewer_and_a_run(page)
    log_in(page, VIEWER, PASSWORD)

    row = page.locator('#dags tr[data-dag-id="example_etl"]')
    expect(row).to_contain_text("paused")
    expect(page.locator("#dags button.toggle")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("^Trigger"))).to_have_count(0)
    expect(page.get_by_role("link", name="Users", exact=True)).to_have_count(0)

    row.get_by_role("link", name="example_etl", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("^example_etl"))).to_be_visible()
    expect(page.locator("#trigger-link")).to_have_count(0)

    page.get_by_role("link", name="Runs", exact=True).last.click()
    page.get_by_role("link", name=run_id, exact=True).click()
    expect(page.locator("#task-instances")).to_be_visible()
    expect(page.locator("#run-actions")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Clear|Mark|Delete"))).to_have_count(0)

    page.locator("#task-instances").get_by_role("link", name="extract", exact=True).click()
    expect(page.locator("#ti-state")).to_be_visible()
    expect(page.locator("#ti-actions")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Clear|Mark"))).to_have_count(0)

    page.goto("/dags/example_etl/trigger")
    expect(page.get_by_role("heading", name=re.compile("^403"))).to_be_visible()
