"""The order saga fails to ship: its run page shows the compensation undoing the order, in order,
readable in both themes; each compensation's tries and log are a click away; resuming asks first."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import RUN_TIMEOUT, screenshot
from tests.browser.pages import contrast, unpause

expect = pytest.importorskip("playwright.sync_api").expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

DAG = "example_order_saga"

#: Each state badge and the colour it sits on.
_BADGES = """() => Array.from(document.querySelectorAll(".state"))
  .filter((el) => el.offsetParent !== null && el.textContent.trim())
  .map((el) => [el.textContent.trim(), getComputedStyle(el).color, getComputedStyle(el).backgroundColor])"""


def assert_badges_readable(page: Page, where: str) -> None:
    seen = page.evaluate(_BADGES)
    names = {name for name, _ink, _bg in seen}
    assert "compensated" in names, f"{where}: no compensation badge among {names}"
    low = [(name, ink, bg, round(contrast(ink, bg), 2)) for name, ink, bg in seen if contrast(ink, bg) < 4.5]
    assert not low, f"{where}: badges below 4.5:1 contrast: {low}"


def test_a_failed_order_is_compensated_and_shown_step_by_step(admin_page: Page) -> None:
    page = admin_page
    unpause(page, DAG)
    page.goto(f"/dags/{DAG}/trigger")
    page.get_by_label("Conf (JSON object, merged over the params)").fill('{"fail_shipping": true}')
    page.get_by_role("button", name="Trigger", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/dags/{DAG}/runs/manual__"))

    expect(page.locator("#run-compensation")).to_have_text("compensated", timeout=RUN_TIMEOUT)
    expect(page.locator("#run-state")).to_have_text("failed")
    rows = page.locator("#compensations tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="charge_card")).to_contain_text("success")
    expect(rows.filter(has_text="reserve_stock")).to_contain_text("success")
    timeline = page.locator("#compensation-timeline li")
    expect(timeline).to_have_count(2)
    expect(timeline.nth(0)).to_contain_text("charge_card")  # the last step is undone first
    expect(timeline.nth(1)).to_contain_text("reserve_stock")

    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.reload()
        assert_badges_readable(page, f"run page, {scheme}")
        screenshot(page, f"run-compensated-{scheme}")
    page.emulate_media(color_scheme="light")

    rows.filter(has_text="charge_card").get_by_role("link", name="charge_card").click()
    expect(page.locator("#compensation-state")).to_have_text("success")
    expect(page.locator("#why")).to_contain_text("never runs again")
    expect(page.locator("#compensation-tries tbody tr")).to_have_count(1)
    expect(page.locator("#compensation-log")).to_contain_text("refunded payment")
    screenshot(page, "compensation-charge-card")

    page.get_by_role("link", name="Graph", exact=True).click()
    badge = page.locator('g.comp-badge[data-compensation="success"]')
    expect(badge).to_have_count(2)
    screenshot(page, "graph-compensated")


def test_an_order_that_shipped_is_compensated_by_hand_once_confirmed(admin_page: Page) -> None:
    page = admin_page
    unpause(page, DAG)
    page.goto(f"/dags/{DAG}/trigger")
    page.get_by_role("button", name="Trigger", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/dags/{DAG}/runs/manual__"))
    expect(page.locator("#run-state")).to_have_text("success", timeout=RUN_TIMEOUT)
    expect(page.locator("#run-compensation")).to_have_count(0)

    page.get_by_role("button", name="Compensate run").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Compensate run manual__"))).to_be_visible()
    expect(page.get_by_text("Undone, last task first: charge_card, reserve_stock.")).to_be_visible()
    page.get_by_role("button", name="Compensate", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("is under way")
    expect(page.locator("#run-compensation")).to_have_text("compensated", timeout=RUN_TIMEOUT)
    expect(page.locator("#run-state")).to_have_text("success")
    expect(page.locator("#compensations tbody tr")).to_have_count(2)
