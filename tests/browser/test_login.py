"""Logging in through the login form."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import ADMIN, Server

expect = pytest.importorskip("playwright.sync_api").expect

if TYPE_CHECKING:
    from playwright.sync_api import Page


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_dags_list(
    page: Page, dagflow_server: Server
) -> None:
    page.goto("/dags/example_etl/grid")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("User name").fill(ADMIN)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("status")).to_have_text("Wrong user name or password.")

    page.get_by_label("Password").fill(dagflow_server.admin_password)
    page.get_by_role("button", name="Log in").click()
    # Back to the page first asked for, logged in.
    expect(page).to_have_url(re.compile(r"/dags/example_etl/grid$"))
    expect(page.locator("header.top .who")).to_have_text(f"{ADMIN} (admin)")

    page.get_by_role("link", name="DAGs", exact=True).click()
    for dag_id in ("example_etl", "example_branching", "browser_flaky"):
        expect(page.locator(f'#dags tr[data-dag-id="{dag_id}"]')).to_be_visible()


def test_logging_out_leads_back_to_the_login_form(admin_page: Page) -> None:
    admin_page.get_by_role("button", name="Log out").click()
    expect(admin_page).to_have_url(re.compile(r"/login$"))
    admin_page.goto("/")
    expect(admin_page).to_have_url(re.compile(r"/login"))
