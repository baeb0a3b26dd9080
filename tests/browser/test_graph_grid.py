"""The graph and the grid of a finished run, as a person sees them in Chromium at 1440x900: colours by
state with readable labels, a legend, highlight on hover, groups that fold, run bars with dates, a side
panel with a try's log, and keyboard moves. Any console error fails the test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import pytest

from tests.browser.conftest import RUN_TIMEOUT, SCREENSHOTS, screenshot
from tests.browser.pages import assert_node_painted, contrast, node, unpause

expect = pytest.importorskip("playwright.sync_api").expect

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page

DAG_ID = "browser_views"
#: The light theme's state colours (dagflow.css), as Chromium computes them.
STATE_FILL = {
    "success": "rgb(21, 128, 61)",
    "failed": "rgb(185, 28, 28)",
    "upstream_failed": "rgb(245, 158, 11)",
    "running": "rgb(101, 163, 13)",
    "queued": "rgb(156, 163, 175)",
    "none": "rgb(241, 245, 249)",
}
#: The states a finished run of browser_views leaves its tasks in.
FINAL = {
    "start": "success",
    "work.square": "success",
    "work.checks.check": "success",
    "boom": "failed",
    "after_boom": "upstream_failed",
    "done": "success",
}
#: Each server's finished runs (the browser tests run once per store, each with a server of its own).
_runs: dict[str, list[str]] = {}


@pytest.fixture
def views_page(admin_page: Page) -> Iterator[Page]:
    """The admin's page at 1440x900, failing the test on any console error or uncaught exception."""
    page = admin_page
    page.set_viewport_size({"width": 1440, "height": 900})
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"console errors: {errors}"


def finished_run(page: Page) -> str:
    """The latest of two runs of browser_views, both ended (triggered once per server)."""
    page.goto("/")
    runs = _runs.setdefault(urlsplit(page.url).netloc, [])
    if runs:
        return runs[-1]
    # dag_files/browser_views.py is not among the DAGs the server waits for: give the processor time
    expect(page.locator(f'#dags tr[data-dag-id="{DAG_ID}"]')).to_have_count(1, timeout=RUN_TIMEOUT)
    unpause(page, DAG_ID)
    for _ in range(2):  # two runs: the grid has two columns to compare
        page.goto(f"/dags/{DAG_ID}/trigger")
        page.get_by_role("button", name="Trigger", exact=True).click()
        expect(page).to_have_url(re.compile(rf"/dags/{DAG_ID}/runs/manual__"))
        run_id = page.locator("h2 code").first.inner_text()
        page.goto(graph_url(run_id))
        page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads
        expect(page.locator("#run-state")).to_have_text(re.compile("success|failed"), timeout=RUN_TIMEOUT)
        expect(node(page, "boom")).to_have_attribute("data-state", "failed")
        assert page.evaluate("() => window.sameDocument === true"), "the graph reloaded to follow the run"
        runs.append(run_id)
    return runs[-1]


def graph_url(run_id: str) -> str:
    return f"/dags/{DAG_ID}/graph?run_id={quote(run_id)}"


def computed(page: Page, selector: str, prop: str) -> str:
    return str(page.locator(selector).first.evaluate(f"(el) => getComputedStyle(el).{prop}"))


def test_graph_nodes_are_painted_by_state_with_a_legend_and_readable_labels(views_page: Page) -> None:
    page = views_page
    run_id = finished_run(page)
    page.goto(graph_url(run_id))
    for task_id, state in FINAL.items():
        expect(node(page, task_id)).to_have_attribute("data-state", state)
        assert_node_painted(page, task_id, STATE_FILL[state])

    legend = page.locator("#legend")
    expect(legend).to_be_visible()
    for state in ("success", "failed", "upstream_failed", "running", "queued", "none"):
        item = legend.locator("li", has_text=re.compile(rf"^{state.replace('_', ' ')}$"))
        expect(item).to_be_visible()
        assert (
            item.locator(".swatch").evaluate("(el) => getComputedStyle(el).backgroundColor")
            == STATE_FILL[state]
        )

    square = node(page, "work.square")  # mapped over 3 values: a count and a bar by state
    expect(square.locator(".map-count")).to_have_text("3")
    expect(square.locator(".map-bar rect")).to_have_count(1)
    expect(square.locator(".map-bar rect")).to_have_attribute("data-count", "3")
    assert (
        square.locator(".map-bar rect").evaluate("(el) => getComputedStyle(el).fill") == STATE_FILL["success"]
    )
    screenshot(page, "graph-browser-views")


_LABEL_SEEN = """(el) => {
  const box = el.getBoundingClientRect();
  const top = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
  let bg = "rgba(0, 0, 0, 0)";
  for (let n = el.parentElement; n; n = n.parentElement) {
    bg = getComputedStyle(n).backgroundColor;
    if (bg && bg !== "rgba(0, 0, 0, 0)" && bg !== "transparent") { break; }
  }
  return [top === el, getComputedStyle(el).fill, bg, parseFloat(getComputedStyle(el).fontSize), box.width];
}"""


def test_an_edge_label_is_drawn_on_its_edge_in_readable_text(views_page: Page) -> None:
    page = views_page
    page.goto(graph_url(finished_run(page)))
    label = page.locator('#graph text.edge-label[data-source="boom"][data-target="after_boom"]')
    expect(label).to_be_visible()
    expect(label).to_have_text("on purpose")
    on_top, ink, background, size, width = label.evaluate(_LABEL_SEEN)
    assert on_top, "the edge label is covered by something else"
    assert size >= 11 and width > 20, f"the edge label is too small to read ({size}px, {width}px wide)"
    ratio = contrast(ink, background)
    assert ratio >= 4.5, f"edge label {ink} on {background} has contrast {ratio:.2f}, below 4.5"


def test_hovering_a_task_highlights_its_upstream_and_downstream_and_fades_the_rest(views_page: Page) -> None:
    page = views_page
    page.goto(graph_url(finished_run(page)))

    def stroke_width(task_id: str) -> str:
        return str(
            node(page, task_id).locator("rect").first.evaluate("(el) => getComputedStyle(el).strokeWidth")
        )

    def opacity(task_id: str) -> str:
        return str(node(page, task_id).evaluate("(el) => getComputedStyle(el).opacity"))

    assert stroke_width("work.square") == "1px" and opacity("boom") == "1"
    node(page, "work.square").hover()
    assert stroke_width("work.square") == "3px"  # the task itself
    assert stroke_width("start") == "2.5px"  # upstream
    assert stroke_width("work.checks.check") == "2.5px" and stroke_width("done") == "2.5px"  # downstream
    assert opacity("boom") == "0.28" and opacity("after_boom") == "0.28"  # unrelated: faded
    assert opacity("start") == "1"
    screenshot(page, "graph-hover")
    page.locator("#legend").hover()
    assert opacity("boom") == "1" and stroke_width("start") == "1px"


def test_a_task_group_collapses_into_one_node_and_expands_back(views_page: Page) -> None:
    page = views_page
    page.goto(graph_url(finished_run(page)))
    group_node = page.locator('#graph g.group-node[data-group-id="work"]')
    expect(group_node).to_be_hidden()
    page.get_by_role("button", name="Collapse group work").click()
    expect(node(page, "work.square")).to_be_hidden()
    expect(node(page, "work.checks.check")).to_be_hidden()
    expect(group_node).to_be_visible()
    expect(group_node).to_have_attribute("data-state", "success")
    fill, ink = group_node.evaluate(
        "(g) => [g.querySelector('rect'), g.querySelector('text')].map((el) => getComputedStyle(el).fill)"
    )
    assert fill == STATE_FILL["success"] and contrast(fill, ink) >= 4.5
    # the edges into and out of the group now end at its node: none is left pointing at a hidden task
    start_edge = page.locator('#graph path.edge[data-source="start"][data-target="work.square"]')
    box = group_node.locator("rect").bounding_box()
    edge_box = start_edge.bounding_box()
    assert box and edge_box and abs((edge_box["x"] + edge_box["width"]) - box["x"]) < 8
    screenshot(page, "graph-group-collapsed")

    page.get_by_role("button", name="Expand group work").click()
    expect(node(page, "work.square")).to_be_visible()
    expect(group_node).to_be_hidden()


def test_zoom_buttons_scale_the_drawing_and_a_click_on_a_task_opens_its_details(views_page: Page) -> None:
    page = views_page
    page.goto(graph_url(finished_run(page)))
    width = node(page, "boom").bounding_box()["width"]  # type: ignore[index]
    page.get_by_role("button", name="Zoom in").click()
    assert node(page, "boom").bounding_box()["width"] == pytest.approx(width * 1.25, rel=0.02)  # type: ignore[index]
    page.get_by_role("button", name="1:1").click()
    node(page, "boom").click()
    expect(page.locator("#ti-state")).to_have_text("failed")


def test_the_grid_shows_run_bars_and_cells_by_state_in_dependency_order(views_page: Page) -> None:
    page = views_page
    finished_run(page)
    page.goto(f"/dags/{DAG_ID}/grid")
    bar = page.locator("#grid .run-bar").last
    state = bar.get_attribute("data-state") or ""
    assert bar.evaluate("(el) => getComputedStyle(el).backgroundColor") == STATE_FILL[state]
    assert bar.bounding_box()["height"] >= 3  # type: ignore[index]
    date = page.locator("#grid .run-date").last
    expect(date).to_have_text(re.compile(r"\d\d-\d\d\s*\d\d:\d\d"))
    panel_bg = computed(page, ".grid-scroll", "backgroundColor")
    assert contrast(computed(page, "#grid .run-date", "color"), panel_bg) >= 4.5

    rows = page.locator("#grid tbody tr").evaluate_all("(trs) => trs.map((tr) => tr.dataset.row)")
    for before, after in [("start", "work"), ("work.square", "work.checks.check"), ("boom", "after_boom")]:
        assert rows.index(before) < rows.index(after), rows
    assert rows.index("after_boom") < rows.index("done") and rows.index("work") < rows.index("done")

    cells = page.locator("#grid a.cell")
    for k in range(cells.count()):
        cell = cells.nth(k)
        fill, ink, line = cell.evaluate(
            "(el) => ((s) => [s.backgroundColor, s.color, s.borderTopColor])(getComputedStyle(el))"
        )
        assert fill == STATE_FILL[cell.get_attribute("data-state") or ""]
        assert contrast(fill, ink) >= 4.5  # the mapped count printed in the cell
        assert contrast(line, panel_bg) >= 3  # a pale state's cell still stands out (WCAG non-text)
        box = cell.bounding_box()
        assert box and box["height"] == pytest.approx(16, abs=1) and box["width"] >= 15
    expect(page.locator('#grid a.cell[data-task-id="work.square"]').last).to_have_text("3")
    screenshot(page, "grid-browser-views")


def test_a_grid_cell_opens_a_side_panel_with_the_log_and_the_keyboard_moves_between_cells(
    views_page: Page,
) -> None:
    page = views_page
    finished_run(page)
    page.goto(f"/dags/{DAG_ID}/grid")
    url = page.url
    panel = page.locator("#side-panel")
    expect(panel).to_be_hidden()
    page.locator('#grid a.cell[data-task-id="start"]').last.click()
    expect(panel).to_be_visible()
    expect(page.locator("#side-log")).to_contain_text("browser_views start says hello")
    expect(panel.locator("#tries")).to_contain_text("success")
    expect(panel).to_contain_text("Rendered template fields")
    expect(panel).to_contain_text("XComs")
    assert page.url == url
    screenshot(page, "grid-side-panel")

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    focused = "() => document.activeElement.dataset.taskId"
    assert page.evaluate(focused) == "start"
    page.keyboard.press("ArrowDown")  # the group row has no cell of its own: on to work.square
    assert page.evaluate(focused) == "work.square"
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == "work.checks.check"
    page.keyboard.press("ArrowUp")
    assert page.evaluate(focused) == "work.square"
    expect(page.locator("#grid a.cell.selected")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(panel).to_be_visible()
    expect(page.locator("#side-title")).to_contain_text("work.square")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()

    page.get_by_role("button", name="Collapse group work").click()
    expect(page.locator('#grid tr[data-row="work.square"]')).to_be_hidden()
    expect(page.locator('#grid tr[data-row="work.checks.check"]')).to_be_hidden()
    page.get_by_role("button", name="Expand group work").click()
    expect(page.locator('#grid tr[data-row="work.square"]')).to_be_visible()


def test_a_graph_of_500_tasks_fits_the_frame_then_zooms_and_pans(views_page: Page) -> None:
    page = views_page
    page.goto("/")
    expect(page.locator('#dags tr[data-dag-id="browser_big"]')).to_have_count(1, timeout=RUN_TIMEOUT)
    page.goto("/dags/browser_big/graph")
    expect(page.locator("#graph g.node")).to_have_count(522)
    loaded = page.evaluate("() => performance.getEntriesByType('navigation')[0].domInteractive")
    print(f"browser_big graph: DOM interactive after {loaded:.0f} ms")
    frame = page.locator("#graph").bounding_box()
    drawing = page.locator("#viewport").bounding_box()
    assert frame and drawing
    # fitted: the whole drawing inside the frame, and it fills one of its sides
    assert drawing["width"] <= frame["width"] + 1 and drawing["height"] <= frame["height"] + 1
    assert drawing["width"] > frame["width"] * 0.9 or drawing["height"] > frame["height"] * 0.9
    screenshot(page, "graph-500-fitted")

    end = node(page, "end")
    small = end.bounding_box()["width"]  # type: ignore[index]
    page.get_by_role("button", name="1:1").click()
    assert end.bounding_box()["width"] == pytest.approx(180, abs=1)  # type: ignore[index]
    first = node(page, "part_00.step_00")
    before = first.bounding_box()
    assert before
    page.mouse.move(frame["x"] + 600, frame["y"] + 200)
    page.mouse.down()
    page.mouse.move(frame["x"] + 450, frame["y"] + 120, steps=5)
    page.mouse.up()
    after = first.bounding_box()
    assert after and (after["x"] - before["x"], after["y"] - before["y"]) == pytest.approx((-150, -80), abs=2)
    assert "/graph" in page.url  # a drag that ends on a task does not open it
    page.get_by_role("button", name="Fit").click()
    assert end.bounding_box()["width"] == pytest.approx(small, rel=0.01)  # type: ignore[index]

    node(page, "part_03.step_10").hover()
    assert node(page, "part_03.step_09").evaluate("(el) => getComputedStyle(el).opacity") == "1"
    assert node(page, "part_04.step_10").evaluate("(el) => getComputedStyle(el).opacity") == "0.28"


def test_on_a_phone_only_the_grid_and_the_graph_overflow_sideways(views_page: Page) -> None:
    page = views_page
    run_id = finished_run(page)
    page.set_viewport_size({"width": 390, "height": 844})
    # main's content (the site header is base.html's, checked by the tests of every page); what
    # scrolls inside a scrolling box (the grid, the graph, a table in the side panel) does not count
    overflow = "() => ((main) => main.scrollWidth - main.clientWidth)(document.querySelector('main'))"
    page.goto(graph_url(run_id))
    assert page.evaluate(overflow) <= 0
    screenshot(page, "graph-phone")
    page.goto(f"/dags/{DAG_ID}/grid")
    page.locator('#grid a.cell[data-task-id="boom"]').last.click()
    expect(page.locator("#side-log")).to_contain_text("boom on purpose")
    assert page.evaluate(overflow) <= 0
    screenshot(page, "grid-phone-side-panel")


def test_the_side_panel_says_why_a_task_of_a_paused_dag_is_not_running(views_page: Page) -> None:
    page = views_page
    page.goto("/")
    expect(page.locator('#dags tr[data-dag-id="browser_big"]')).to_have_count(1, timeout=RUN_TIMEOUT)
    page.goto("/dags/browser_big/trigger")  # paused: the run stays queued, its tasks wait
    page.get_by_role("button", name="Trigger", exact=True).click()
    expect(page).to_have_url(re.compile(r"/dags/browser_big/runs/manual__"))
    page.goto("/dags/browser_big/grid")
    expect(page.locator("#grid tbody tr")).to_have_count(522 + 26)
    page.locator('#grid a.cell[data-task-id="part_07.step_03"]').click()
    why = page.locator("#side-panel #why")
    expect(why).to_contain_text("Why it is not running")
    expect(why).to_contain_text("The DAG is paused")
    expect(page.locator("#side-log")).to_have_text("No log for this try.")
    SCREENSHOTS.mkdir(exist_ok=True)  # the panel alone: the whole page is 548 rows long
    page.locator("#side-panel").screenshot(path=str(SCREENSHOTS / "grid-side-panel-why.png"))


def test_the_grid_shows_a_run_triggered_elsewhere_keeping_the_selection_the_panel_and_folds(
    views_page: Page,
) -> None:
    page = views_page
    finished_run(page)
    page.goto(f"/dags/{DAG_ID}/grid")
    columns = page.locator("#grid thead th.run-col")
    before = columns.count()
    page.get_by_role("button", name="Collapse group work").click()
    chosen = page.locator('#grid a.cell[data-task-id="start"]').last
    run_id = chosen.get_attribute("data-run-id")
    chosen.click()
    expect(page.locator("#side-log")).to_contain_text("browser_views start says hello")
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads

    other = page.context.new_page()
    other.goto(f"/dags/{DAG_ID}/trigger")
    other.get_by_role("button", name="Trigger", exact=True).click()
    expect(other).to_have_url(re.compile(rf"/dags/{DAG_ID}/runs/manual__"))
    other.close()

    expect(columns).to_have_count(before + 1, timeout=12_000)
    assert page.evaluate("() => window.sameDocument === true"), "the grid reloaded the page"
    selected = page.locator("#grid a.cell.selected")
    expect(selected).to_have_count(1)
    expect(selected).to_have_attribute("data-task-id", "start")
    expect(selected).to_have_attribute("data-run-id", run_id or "")
    expect(page.locator("#side-panel")).to_be_visible()
    expect(page.locator("#side-log")).to_contain_text("browser_views start says hello")
    expect(page.locator('#grid tr[data-row="work.square"]')).to_be_hidden()
    expect(page.get_by_role("button", name="Expand group work")).to_be_visible()
    # the new run's bar follows it to its end (boom fails on purpose), still without a reload
    bar = columns.last.locator(".run-bar")
    expect(bar).to_have_attribute("data-state", re.compile("^(success|failed)$"), timeout=RUN_TIMEOUT)
    expect(page.locator('#grid a.cell[data-task-id="boom"]').last).to_have_attribute("data-state", "failed")
    expect(selected).to_have_attribute("data-run-id", run_id or "")
    page.keyboard.press("ArrowRight")  # the keyboard still moves from the kept selection
    assert page.evaluate("() => document.activeElement.dataset.runId") != run_id
    assert page.evaluate("() => window.sameDocument === true")
    screenshot(page, "grid-live-refreshed")
