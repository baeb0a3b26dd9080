"""What a person does on the pages, in steps the tests share."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page


def unpause(page: Page, dag_id: str) -> None:
    """On the DAGs list: switch the DAG on if it is off."""
    from playwright.sync_api import expect

    page.goto("/")  # (a click on "DAGs" let the check below read the page it was leaving)
    toggle = page.get_by_role("button", name=f"Unpause {dag_id}", exact=True)
    pause = page.get_by_role("button", name=f"Pause {dag_id}", exact=True)
    expect(toggle.or_(pause)).to_be_visible()
    if toggle.count():
        toggle.click()
        expect(page.get_by_role("status")).to_have_text(f"DAG {dag_id} is now active.")
    expect(pause).to_be_visible()


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


#: Reads an SVG node's computed rect fill and label colour, as the browser paints them.
_NODE_COLOURS = """(g) => {
  const rect = g.querySelector("rect"), text = g.querySelector("text");
  return [getComputedStyle(rect).fill, getComputedStyle(text).fill];
}"""


def _channels(css_colour: str) -> tuple[float, float, float]:
    numbers = re.findall(r"[\d.]+", css_colour)
    if len(numbers) < 3:
        raise AssertionError(f"not an rgb() colour: {css_colour!r}")
    red, green, blue = (float(n) for n in numbers[:3])
    return red, green, blue


def _luminance(css_colour: str) -> float:
    """WCAG 2 relative luminance of an ``rgb(r, g, b)`` colour."""

    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(c) for c in _channels(css_colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two computed CSS colours (1 to 21)."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def node_colours(page: Page, task_id: str) -> tuple[str, str]:
    """The computed fill of a graph node's box and of its label."""
    fill, ink = node(page, task_id).evaluate(_NODE_COLOURS)
    return str(fill), str(ink)


def assert_node_painted(page: Page, task_id: str, expected_fill: str) -> None:
    """The node's box is filled with the state's colour and its label reads against it (WCAG AA)."""
    fill, ink = node_colours(page, task_id)
    assert fill == expected_fill, f"{task_id}: box filled {fill}, expected {expected_fill}"
    ratio = contrast(fill, ink)
    assert ratio >= 4.5, f"{task_id}: label {ink} on {fill} has contrast {ratio:.2f}, below 4.5"
