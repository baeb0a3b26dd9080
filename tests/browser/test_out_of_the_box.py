"""Out of the box, in Chromium: a login from another address over plain HTTP works by default; with
``cookie_secure = true`` the CSRF failure page says why and names the setting; Swagger UI at /api/docs
loads from the package with no console error and calls the API.

The login tests serve the app with waitress on this machine's own (non-loopback) address: Chromium
treats 127.0.0.1 as a secure origin and would send a Secure cookie there, hiding the failure a person
on another machine meets.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

import pytest

from tests.browser.conftest import Server, screenshot

expect = pytest.importorskip("playwright.sync_api").expect

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

PASSWORD = "correct horse battery"


def own_address() -> str | None:
    """This machine's address on its network (not loopback), or None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))  # no packet is sent: this only picks the route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def watch_console(page: Page) -> list[str]:
    """Console errors, page errors and failed requests of ``page``, as they happen."""
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # (a request the page itself cancelled, as a navigation cancels a live region's fetch, is no failure)
    page.on(
        "requestfailed",
        lambda r: None if r.failure == "net::ERR_ABORTED" else problems.append(f"request failed: {r.url}"),
    )
    page.on("response", lambda r: problems.append(f"{r.status} on {r.url}") if r.status >= 400 else None)
    return problems


@pytest.fixture
def serve_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str | None], str]]:
    """``serve_app(cookie_secure)``: the web UI on this machine's address, with a user ``ann``; its URL."""
    from waitress.server import create_server

    from dagflow.config import Settings
    from dagflow.core.clock import utcnow
    from dagflow.store.migrate import open_current
    from dagflow.store.users import create_user
    from webui import create_app

    address = own_address()
    if address is None:
        pytest.skip("this machine has no network address but loopback")
    url = f"sqlite:///{tmp_path / 'dagflow.db'}"
    database = open_current(url, upgrade=True)
    with database.session(write=True) as session:
        create_user(session, "ann", PASSWORD, "viewer", now=utcnow())
    servers = []

    def serve(cookie_secure: str | None) -> str:
        for name in list(os.environ):
            if name.startswith("DAGFLOW"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("DAGFLOW_HOME", str(tmp_path))
        monkeypatch.setenv("DAGFLOW__DATABASE__URL", url)
        if cookie_secure is not None:
            monkeypatch.setenv("DAGFLOW__WEBSERVER__COOKIE_SECURE", cookie_secure)
        server = create_server(create_app(Settings.load(), database=database), host=address, port=0)
        threading.Thread(target=server.run, daemon=True).start()
        servers.append(server)
        return f"http://{address}:{server.effective_port}"

    yield serve
    for server in servers:
        with contextlib.suppress(Exception):
            server.close()
    database.dispose()


def log_in_as_ann(page: Page, url: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("User name").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_by_default_a_login_from_another_address_over_plain_http_works(
    browser: Browser, serve_app: Callable[[str | None], str]
) -> None:
    url = serve_app(None)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    problems = watch_console(page)

    log_in_as_ann(page, url)

    expect(page.locator("header.top .who")).to_have_text("ann (viewer)")
    assert problems == []
    context.close()


def test_with_secure_cookies_over_http_the_csrf_page_names_the_cause_and_the_setting(
    browser: Browser, serve_app: Callable[[str | None], str]
) -> None:
    url = serve_app("true")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()

    log_in_as_ann(page, url)

    expect(page.locator("#csrf-title")).to_have_text("The form could not be accepted")
    reason = page.locator("#csrf-reason")
    expect(reason).to_contain_text("sends it back only over HTTPS, and this page came over plain HTTP")
    expect(reason).to_contain_text("[webserver] cookie_secure")
    expect(reason).to_contain_text("DAGFLOW__WEBSERVER__COOKIE_SECURE=auto")
    assert reason.evaluate("e => getComputedStyle(e).color") != reason.evaluate(
        "e => getComputedStyle(document.body).backgroundColor"
    )
    screenshot(page, "csrf-failure-secure-cookie-over-http-1440x900")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "csrf-failure-secure-cookie-over-http-390x844")
    context.close()


def test_swagger_ui_loads_from_the_package_and_calls_the_api(
    admin_page: Page, dagflow_server: Server
) -> None:
    page = admin_page
    page.set_viewport_size({"width": 1440, "height": 900})
    problems = watch_console(page)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))

    page.goto("/api/docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("dagflow API")
    health = page.locator("#operations-default-get_health")
    expect(health).to_be_visible()
    expect(page.get_by_text("Trigger a run (op)")).to_be_visible()
    screenshot(page, "api-docs-1440x900")

    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    expect(health.locator(".live-responses-table tbody .response-col_status").first).to_have_text(
        re.compile("200")
    )
    expect(health.locator(".live-responses-table")).to_contain_text("metadatabase")
    screenshot(page, "api-docs-health-executed-1440x900")

    assert problems == []
    origin = dagflow_server.url.rstrip("/")
    assert [r for r in requests if not r.startswith(origin) and not r.startswith("data:")] == []


def test_why_a_task_of_a_paused_dag_is_not_running_says_the_pause_and_nothing_else(admin_page: Page) -> None:
    page = admin_page
    page.set_viewport_size({"width": 1440, "height": 900})
    problems = watch_console(page)
    page.goto("/dags/example_task_groups/trigger")  # example DAGs start paused; no other test uses this one
    page.locator("#trigger").click()
    expect(page).to_have_url(re.compile(r"/dags/example_task_groups/runs/"))
    run_id = quote(unquote(page.url.split("/runs/", 1)[1]), safe="")

    page.goto(f"/dags/example_task_groups/tasks/done?run_id={run_id}")

    why = page.locator("#why")
    expect(why.locator("strong")).to_have_text("Why it is not running:")
    expect(why.locator("li")).to_have_text(
        ["The DAG is paused: no task instance of it starts until it is unpaused."]
    )
    screenshot(page, "why-not-running-paused-1440x900")
    assert problems == []
