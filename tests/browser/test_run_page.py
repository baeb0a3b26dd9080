"""A run's page follows the run by itself: as the run goes from queued to running to success, its state
badge (text and colour, in either theme), its start and end dates and its duration change in place,
without a reload. Any console error fails the test."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

import pytest

from tests.browser.conftest import Server, screenshot
from tests.browser.pages import contrast

expect = pytest.importorskip("playwright.sync_api").expect

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page, Route

Theme = Literal["light", "dark"]
#: Paused (as every DAG of the browser server starts) and triggered by no other browser test: its
#: runs stay queued until this test moves them.
DAG = "example_retries"
#: Each theme's badge colours (dagflow.css, dagflow-ui.css), as Chromium computes them.
BADGE_BACKGROUND: dict[Theme, dict[str, str]] = {
    "light": {
        "queued": "rgb(156, 163, 175)",
        "running": "rgb(101, 163, 13)",
        "success": "rgb(21, 128, 61)",
    },
    "dark": {
        "queued": "rgb(148, 163, 184)",
        "running": "rgb(163, 230, 53)",
        "success": "rgb(34, 197, 94)",
    },
}
#: How long the page may take to show a change: it polls every 2 seconds; a busy machine is slower.
FOLLOW_TIMEOUT = 15_000
_BADGE_COLOURS = "(el) => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]"


def move_run(server: Server, run_id: str, state: str) -> None:
    """Change the run's state in the store, as the scheduler does (its dates follow the state)."""
    from dagflow.core.clock import utcnow
    from dagflow.core.states import RunState
    from dagflow.store.engine import Database
    from dagflow.store.runs import get_run, set_run_state

    database = Database(server.database_url)
    try:
        with database.session(write=True) as session:
            run = get_run(session, DAG, run_id)
            assert run is not None, f"no run {run_id} of {DAG} in the store"
            set_run_state(session, run, RunState(state), utcnow())
    finally:
        database.dispose()


def fact(page: Page, name: str) -> str:
    """The text of the run's fact called ``name`` (Started, Ended, Duration)."""
    return page.locator("dl.facts dt", has_text=re.compile(rf"^{name}$")).locator("+ dd").inner_text()


def expect_badge(page: Page, theme: Theme, state: str) -> None:
    """The run's badge reads ``state`` on that state's colour, its text readable (WCAG AA)."""
    badge = page.locator("#run-state")
    expect(badge).to_have_text(state, timeout=FOLLOW_TIMEOUT)
    background = BADGE_BACKGROUND[theme][state]
    expect(badge).to_have_css("background-color", background, timeout=FOLLOW_TIMEOUT)
    _background, ink = badge.evaluate(_BADGE_COLOURS)
    ratio = contrast(background, str(ink))
    assert ratio >= 4.5, f"{theme}: {state} badge's ink {ink} on {background} has contrast {ratio:.2f}"


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_run_state_badge_and_dates_follow_the_run_without_a_reload(
    admin_page: Page, dagflow_server: Server, theme: Theme
) -> None:
    page = admin_page
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.emulate_media(color_scheme=theme)  # (no theme chosen: the page follows the system's)
    page.goto(f"/dags/{DAG}/trigger")
    page.get_by_role("button", name="Trigger", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/dags/{DAG}/runs/manual__"))
    expect(page.locator("html")).to_have_attribute("data-theme", theme)
    run_id = page.locator("h2 code").first.inner_text()
    expect_badge(page, theme, "queued")
    assert fact(page, "Started") == fact(page, "Ended") == fact(page, "Duration") == ""
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads

    move_run(dagflow_server, run_id, "running")
    expect_badge(page, theme, "running")
    expect(page.locator("dl.facts dt:text-is('Started') + dd time")).to_have_text(re.compile(r"UTC$"))
    assert fact(page, "Ended") == fact(page, "Duration") == ""
    screenshot(page, f"run-live-running-{theme}")

    move_run(dagflow_server, run_id, "success")
    expect_badge(page, theme, "success")
    expect(page.locator("dl.facts dt:text-is('Ended') + dd time")).to_have_text(re.compile(r"UTC$"))
    expect(page.locator("dl.facts dt:text-is('Duration') + dd")).to_have_text(re.compile(r"\d (ms|s|min)$"))
    assert page.evaluate("() => window.sameDocument === true"), "the run page reloaded to follow the run"
    screenshot(page, f"run-live-success-{theme}")
    assert not errors, f"console errors: {errors}"


def test_a_run_that_starts_while_its_page_loads_is_shown_running(
    admin_page: Page, dagflow_server: Server
) -> None:
    """The scheduler may start a run between the rendering of its page and the page's first question
    about itself (a trigger wakes it at once): the page still shows the run running."""
    page = admin_page
    started: list[str] = []

    def start_the_run_first(route: Route) -> None:
        if not route.request.is_navigation_request() and not started:
            run_id = unquote(urlsplit(route.request.url).path).split("/runs/", 1)[1]
            move_run(dagflow_server, run_id, "running")
            started.append(route.request.method)
        route.continue_()

    page.route(re.compile(rf"/dags/{DAG}/runs/manual__"), start_the_run_first)
    page.goto(f"/dags/{DAG}/trigger")
    page.get_by_role("button", name="Trigger", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/dags/{DAG}/runs/manual__"))
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads
    expect_badge(page, "light", "running")
    assert started, "the page never asked for itself again"
    assert page.evaluate("() => window.sameDocument === true"), "the run page reloaded to follow the run"
