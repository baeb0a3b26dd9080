"""What a person does on the pages, in steps the tests share."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page


def unpause(page: Page, dag_id: str) -> None:
    """On the DAGs list: switch the DAG on if it is off."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="DAGs", exact=True).click()
    toggle = page.get_by_role("button", name=f"Unpause {dag_id}", exact=True)
    if toggle.count():
        toggle.click()
        expect(page.get_by_role("status")).to_have_text(f"DAG {dag_id} is now active.")
    expect(page.get_by_role("button", name=f"Pause {dag_id}", exact=True)).to_be_visible()


def open_graph_of_this_run(page: Page) -> str:
    """From a run's or a task instance's page: the Graph tab, then this run picked in its selector."""
    from playwright.sync_api import expect

    run_id = page.locator("h2 code").first.inner_text()
    page.get_by_role("link", name="Graph", exact=True).click()
    runs = page.get_by_label("Run")
    if runs.input_value() != run_id:  # the graph shows the latest run unless told otherwise
        runs.select_option(run_id)  # the page reloads for the chosen run
        expect(page).to_have_url(re.compile(r"[?&]run_id="))
    expect(page.locator("#graph")).to_have_attribute("data-run-id", run_id)
    return run_id


def node(page: Page, task_id: str) -> Locator:
    """A task's node in the graph: its ``data-state`` follows the run live."""
    return page.locator(f'#graph g.node[data-task-id="{task_id}"]')
