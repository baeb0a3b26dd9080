"""An admin adds a Variable and a Connection in the pages; a viewer sees them with the secrets masked
and no form to change them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import log_in

expect = pytest.importorskip("playwright.sync_api").expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

VIEWER, PASSWORD = "vic", "a viewer's long password"
TOKEN, DB_PASSWORD = "tok-abcdef-4242", "pg-s3cret-99"


def test_an_admin_adds_secrets_that_a_viewer_sees_masked(admin_page: Page) -> None:
    page = admin_page
    page.get_by_role("link", name="Variables", exact=True).click()
    page.get_by_label("Key").fill("service_token")
    page.get_by_label("Value").fill(TOKEN)
    page.get_by_role("button", name="Save Variable").click()
    expect(page.get_by_role("status")).to_have_text("Variable service_token saved.")
    expect(page.locator("table.list")).to_contain_text(TOKEN)  # an admin sees secrets

    page.get_by_role("link", name="Connections", exact=True).click()
    page.get_by_label("Connection id").fill("warehouse")
    page.get_by_label("Connection type").fill("postgres")
    page.get_by_label("Host").fill("db.internal")
    page.get_by_label("Password").fill(DB_PASSWORD)
    page.get_by_role("button", name="Save connection").click()
    expect(page.get_by_role("status")).to_have_text("Connection warehouse saved.")
    expect(page.locator("table.list")).to_contain_text("db.internal")
    expect(page.locator("table.list")).not_to_contain_text(DB_PASSWORD)

    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_label("User name").fill(VIEWER)
    page.get_by_label("Role").select_option("viewer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Add user").click()
    page.get_by_role("button", name="Log out").click()

    log_in(page, VIEWER, PASSWORD)
    page.get_by_role("link", name="Variables", exact=True).click()
    expect(page.locator("table.list")).to_contain_text("service_token")
    expect(page.locator("table.list")).to_contain_text("***")
    expect(page.locator("table.list")).not_to_contain_text(TOKEN)
    expect(page.get_by_role("button", name="Save Variable")).to_have_count(0)
    page.get_by_role("link", name="Connections", exact=True).click()
    expect(page.locator("table.list")).to_contain_text("db.internal")
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)


def test_on_a_phone_the_pages_do_not_overflow_sideways(admin_page: Page) -> None:
    page = admin_page
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    for path in ("/variables", "/connections"):
        page.goto(path)
        assert page.evaluate(overflow) <= 0, path
