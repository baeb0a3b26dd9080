"""The pictures, dark mode, timestamps and doc pages as a person sees them, in light and dark, wide and
narrow: every badge readable (WCAG AA), no console error, nothing wider than a phone's screen."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import ADMIN, RUN_TIMEOUT, Server, log_in, screenshot
from tests.browser.pages import contrast, unpause

expect = pytest.importorskip("playwright.sync_api").expect

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

WIDE: ViewportSize = {"width": 1440, "height": 900}
NARROW: ViewportSize = {"width": 390, "height": 844}

DAG = "example_etl"

#: Every text that sits on a colour of its own: state badges, the page's text, muted text, tabs.
#: The text a page's readability check reads, unless the page has text of its own kind (Swagger UI's).
PAGE_TEXT = (
    ".state, main p, main .muted, .tabs a, main td, main dd, header.top .prefs button, .gantt-label, "
    ".gantt-ticks span, .markdown li, .markdown code"
)
SWAGGER_TEXT = (
    ".swagger-ui .info .title, .swagger-ui .info p, .swagger-ui .opblock-tag, "
    ".swagger-ui .opblock-summary-path, .swagger-ui .opblock-summary-description"
)
_TEXT_COLOURS = """(selector) => {
  // the colour the text is drawn on: translucent backgrounds composited over what lies beneath them
  const opaque = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const m = getComputedStyle(node).backgroundColor.match(/[0-9.]+/g);
      if (!m || m.length < 3) { continue; }
      const alpha = m.length > 3 ? Number(m[3]) : 1;
      if (alpha === 0) { continue; }
      layers.push([Number(m[0]), Number(m[1]), Number(m[2]), alpha]);
      if (alpha === 1) { break; }
    }
    let rgb = [255, 255, 255];
    for (const [r, g, b, a] of layers.reverse()) {
      rgb = [r * a + rgb[0] * (1 - a), g * a + rgb[1] * (1 - a), b * a + rgb[2] * (1 - a)];
    }
    return "rgb(" + rgb.map(Math.round).join(", ") + ")";
  };
  const picked = document.querySelectorAll(selector);
  return Array.from(picked).filter((el) => el.offsetParent !== null && el.textContent.trim())
    .map((el) => [el.className + " " + el.textContent.trim().slice(0, 30),
                  getComputedStyle(el).color, opaque(el)]);
}"""

#: Elements sticking out past the right edge of the window, outside the containers meant to scroll
#: (the grid, the graph, tables and code boxes scroll sideways on their own).
_OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => el.closest(".chart-scroll, #grid, #graph, table.list, pre, .code-hl");
  return Array.from(document.querySelectorAll("body *"))
    .filter((el) => el.getBoundingClientRect().right > width + 1 && !scrolls(el))
    .map((el) => el.tagName + "#" + el.id + " " + el.textContent.trim().slice(0, 30));
}"""


def assert_readable(page: Page, where: str, selector: str = PAGE_TEXT) -> None:
    """Every picked text reaches WCAG AA contrast (4.5:1) on the background it is drawn on.

    A CSS filter on an ancestor (Swagger UI inverted in dark mode) changes the colours but keeps
    their contrast, so the colours are read before it.
    """
    seen = page.evaluate(_TEXT_COLOURS, selector)
    assert seen, f"{where}: no text found"
    low = [(name, ink, bg, round(contrast(ink, bg), 2)) for name, ink, bg in seen if contrast(ink, bg) < 4.5]
    assert not low, f"{where}: text below 4.5:1 contrast: {low}"


def assert_fits(page: Page, where: str) -> None:
    assert page.evaluate(_OVERFLOWING) == [], where
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), (
        where
    )


def watch_console(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def run_example_etl(page: Page) -> str:
    unpause(page, DAG)
    page.goto(f"/dags/{DAG}/trigger")
    page.get_by_role("button", name="Trigger", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/dags/{DAG}/runs/manual__"))
    expect(page.locator("#run-state")).to_have_text("success", timeout=RUN_TIMEOUT)
    run_id = page.locator("h2 code").first.inner_text()
    # paused again, as the other tests expect it (and so the scheduler starts nothing more of it)
    page.goto("/")
    page.get_by_role("button", name=f"Pause {DAG}", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(f"DAG {DAG} is now paused.")
    return run_id


@pytest.mark.looks
def test_every_picture_and_page_reads_well_in_light_and_dark_wide_and_narrow(admin_page: Page) -> None:
    page = admin_page
    errors = watch_console(page)
    run_id = run_example_etl(page)
    pages = {
        "dags": "/",
        "gantt": f"/dags/{DAG}/gantt",
        "calendar": f"/dags/{DAG}/calendar",
        "durations": f"/dags/{DAG}/durations",
        "details": f"/dags/{DAG}/details",
        "task": f"/dags/{DAG}/tasks/extract?run_id=" + run_id,
        "run": f"/dags/{DAG}/runs/" + run_id,
        "runs": "/runs",
        "code": f"/dags/{DAG}/code",
        "grid": f"/dags/{DAG}/grid",
        "graph": f"/dags/{DAG}/graph",
        "pools": "/pools",
        "trigger": f"/dags/{DAG}/trigger",
        "log": f"/dags/{DAG}/tasks/extract/logs?run_id=" + run_id,
        "import-errors": "/import-errors",
        "users": "/users",
    }
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for size_name, size in (("1440x900", WIDE), ("390x844", NARROW)):
            page.set_viewport_size(size)
            for name, path in pages.items():
                page.goto(path.replace("+", "%2B"))
                where = f"{name} {scheme} {size_name}"
                if name == "import-errors":  # dag_files/browser_broken.py, with its traceback
                    expect(page.locator("main")).to_contain_text("browser_broken fails to import on purpose")
                assert page.evaluate("document.documentElement.dataset.theme") == scheme, where
                assert_readable(page, where)
                if size is NARROW:
                    assert_fits(page, where)
                screenshot(page, f"pictures-{name}-{scheme}-{size_name}")
    assert errors == []


@pytest.mark.looks
def test_the_login_page_and_the_api_docs_read_well_in_light_and_dark_wide_and_narrow(
    browser: Browser, dagflow_server: Server
) -> None:
    """The pages outside the site's frame: the login form (no session yet) and Swagger UI's page."""
    for scheme in ("light", "dark"):
        for size_name, size in (("1440x900", WIDE), ("390x844", NARROW)):
            context = browser.new_context(base_url=dagflow_server.url, viewport=size, color_scheme=scheme)
            try:
                page = context.new_page()
                errors = watch_console(page)
                page.goto("/login")
                where = f"login {scheme} {size_name}"
                assert_readable(page, where)
                if size is NARROW:
                    assert_fits(page, where)
                screenshot(page, f"pictures-login-{scheme}-{size_name}")
                log_in(page, ADMIN, dagflow_server.admin_password)
                page.goto("/api/docs")
                expect(page.locator(".swagger-ui .info")).to_be_visible()
                where = f"api-docs {scheme} {size_name}"
                assert_readable(page, where, SWAGGER_TEXT)
                drawn = page.locator("#swagger-ui").evaluate("(el) => getComputedStyle(el).filter")
                assert ("invert" in drawn) == (scheme == "dark"), (where, drawn)
                if size is NARROW:
                    assert_fits(page, where)
                screenshot(page, f"pictures-api-docs-{scheme}-{size_name}")
                assert errors == [], where
            finally:
                context.close()


def test_the_gantt_calendar_and_durations_show_the_finished_run(admin_page: Page) -> None:
    page = admin_page
    run_id = run_example_etl(page)
    page.goto(f"/dags/{DAG}/runs/" + run_id.replace("+", "%2B"))
    page.locator("h2").get_by_role("link", name="Gantt").click()
    expect(page.get_by_label("Run")).to_have_value(run_id)
    expect(page.locator("#gantt .gantt-row")).to_have_count(
        5
    )  # extract, clean, revenue_by_country, load, summarize
    ran = page.locator("#gantt rect.bar.ran")
    expect(ran.first).to_have_attribute("data-state", "success")
    fill = ran.first.evaluate("(el) => getComputedStyle(el).fill")
    assert fill == "rgb(21, 128, 61)", fill  # the success colour, not black
    # at least 2 of the chart's units wide, as drawn: the chart scales to its container (a page a
    # scrollbar narrows draws it a little smaller than its units)
    scale = page.locator("#gantt svg").evaluate(
        "(svg) => svg.getBoundingClientRect().width / svg.viewBox.baseVal.width"
    )
    assert ran.first.evaluate("(el) => el.getBoundingClientRect().width") >= 2 * scale - 0.01

    page.get_by_role("link", name="Calendar", exact=True).click()
    today = page.locator('#calendar rect.day[data-state="success"]')
    expect(today).to_have_count(1)
    assert re.search(r": \d+ success$", today.locator("title").text_content() or "")
    page.set_viewport_size(NARROW)  # the year is wider than a phone: it opens on its latest run's day
    page.reload()
    box = today.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= NARROW["width"], box
    page.set_viewport_size(WIDE)

    page.get_by_role("link", name="Durations", exact=True).click()
    latest = page.locator("#run-durations rect.bar").last
    expect(latest).to_have_attribute("data-state", "success")
    assert run_id in (latest.locator("title").text_content() or "")
    expect(page.locator("#task-durations tr[data-task-id=extract]")).to_be_visible()


@pytest.mark.looks
def test_the_theme_and_time_zone_toggles_are_remembered(admin_page: Page) -> None:
    page = admin_page
    page.emulate_media(color_scheme="light")
    page.goto(f"/dags/{DAG}/details")
    background = "() => getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    page.get_by_role("button", name="Use the dark theme").click()
    dark = page.evaluate(background)
    assert contrast(light, dark) > 5, (light, dark)
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"

    page.goto(f"/dags/{DAG}/durations")
    page.get_by_role("button", name=re.compile("^Times in UTC")).click()
    expect(page.get_by_role("button", name=re.compile("^Times in this browser's zone"))).to_be_visible()
    page.reload()
    expect(page.get_by_role("button", name=re.compile("^Times in this browser's zone"))).to_be_visible()


def test_times_show_in_the_browsers_zone_when_asked(browser: Browser, dagflow_server: Server) -> None:
    context = browser.new_context(base_url=dagflow_server.url, timezone_id="Asia/Kolkata")
    try:
        page = context.new_page()
        log_in(page, ADMIN, dagflow_server.admin_password)
        page.goto(f"/dags/{DAG}/details")
        start_date = page.locator("dl.facts time").first  # example_etl starts on 2024-01-01, midnight UTC
        expect(start_date).to_have_text("2024-01-01 00:00:00 UTC")
        page.get_by_role("button", name=re.compile("^Times in UTC")).click()
        expect(start_date).to_have_text("2024-01-01 05:30:00 GMT+5:30")
        page.reload()  # remembered
        expect(start_date).to_have_text("2024-01-01 05:30:00 GMT+5:30")
    finally:
        context.close()


def test_doc_md_shows_as_formatted_text_and_the_schedule_as_written(admin_page: Page) -> None:
    page = admin_page
    page.goto(f"/dags/{DAG}/details")
    doc = page.locator("#dag-doc")
    expect(doc).to_be_visible()
    assert doc.locator("p, h1, h2, ul").count() > 0
    expect(page.locator("#dag-schedule")).to_have_text("@daily")


def test_the_dag_list_shows_a_new_run_by_itself_without_reloading(admin_page: Page) -> None:
    page = admin_page
    page.goto("/")
    dots = page.locator('#dags tr[data-dag-id="example_branching"] a.dot')
    before = dots.count()
    page.evaluate("window.stillTheSamePage = true")
    other = page.context.new_page()
    other.goto("/dags/example_branching/trigger")
    other.get_by_role("button", name="Trigger", exact=True).click()
    expect(other).to_have_url(re.compile(r"/dags/example_branching/runs/manual__"))
    other.close()
    expect(dots).to_have_count(before + 1, timeout=15_000)
    assert page.evaluate("window.stillTheSamePage") is True


#: The dark theme's page background (--bg in dagflow-dark.css) and the light one's (dagflow.css).
DARK_BG, LIGHT_BG = "rgb(15, 23, 42)", "rgb(246, 247, 249)"
_BODY_COLOURS = (
    "() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]"
)


@pytest.mark.looks
def test_with_javascript_off_the_pages_follow_a_dark_system_and_read_well(
    browser: Browser, dagflow_server: Server
) -> None:
    """The dark theme needs no script: a browser that runs none, on a system set to dark, gets the
    same dark colours as one that runs it, every text readable, and no preference buttons that
    could do nothing."""
    with_js = browser.new_context(base_url=dagflow_server.url, color_scheme="dark")
    without_js = browser.new_context(
        base_url=dagflow_server.url, color_scheme="dark", java_script_enabled=False
    )
    try:
        scripted, plain = with_js.new_page(), without_js.new_page()
        plain.goto("/login")
        assert plain.evaluate(_BODY_COLOURS)[0] == DARK_BG
        assert_readable(plain, "login without JavaScript")
        for page in (scripted, plain):
            log_in(page, ADMIN, dagflow_server.admin_password)
        for name, path in {
            "dags": "/",
            "details": f"/dags/{DAG}/details",
            "runs": "/runs",
            "pools": "/pools",
        }.items():
            scripted.goto(path)
            plain.goto(path)
            where = f"{name} dark without JavaScript"
            assert plain.evaluate("document.documentElement.dataset.theme") is None, where  # no script ran
            background, ink = plain.evaluate(_BODY_COLOURS)
            assert (background, ink) == tuple(scripted.evaluate(_BODY_COLOURS)), where
            assert background == DARK_BG and contrast(ink, background) >= 7, (where, ink, background)
            assert_readable(plain, where)
            expect(plain.get_by_role("button", name="Theme")).to_be_hidden()
            screenshot(plain, f"no-javascript-{name}-dark")
    finally:
        with_js.close()
        without_js.close()


@pytest.mark.looks
def test_a_chosen_light_theme_stays_light_on_a_dark_system(admin_page: Page) -> None:
    page = admin_page
    page.emulate_media(color_scheme="dark")
    page.goto(f"/dags/{DAG}/details")
    assert page.evaluate(_BODY_COLOURS)[0] == DARK_BG
    page.get_by_role("button", name="Use the light theme").click()
    assert page.evaluate(_BODY_COLOURS)[0] == LIGHT_BG
    page.reload()
    assert page.evaluate(_BODY_COLOURS)[0] == LIGHT_BG
    assert_readable(page, "details, light chosen on a dark system")
