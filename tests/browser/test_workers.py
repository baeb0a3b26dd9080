"""The Workers page of a deployment on the Celery executor, with a real ``dagflow celery worker``: the
worker's name, its queues and the attempt it runs now, readable (WCAG AA) in light and dark, with no
console error."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.backends import backend_names
from tests.browser.conftest import ADMIN, RUN_TIMEOUT, Server, _database, _serve, log_in, screenshot
from tests.browser.pages import unpause
from tests.browser.test_pictures import assert_readable, watch_console
from tests.scheduler.processes.celery_workers import CeleryWorker, broker_url, celery_workers

expect = pytest.importorskip("playwright.sync_api").expect

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

DAG = "browser_hold"
#: A task that runs until the test lets it go (a file appears), so the page can be looked at meanwhile.
HOLD = """
import time
from datetime import datetime
from pathlib import Path

from dagflow import DAG, task

with DAG("browser_hold", schedule=None, start_date=datetime(2024, 1, 1), tags=["browser-test"]):

    @task
    def hold():
        release = Path({release!r})
        deadline = time.monotonic() + 120
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    hold()
"""
#: The text of the Workers page, and what it sits on.
WORKERS_TEXT = "main h1, main th, main td, main td a, header.top a"


class CeleryDeployment:
    def __init__(self, server: Server, worker: CeleryWorker, queue: str, release: Path):
        self.server, self.worker, self.queue, self.release = server, worker, queue, release


def open_workers_page(page: Page, shows: Callable[[], bool]) -> None:
    """Open the Workers page until it ``shows`` what is expected: the page asks the workers through the
    broker as it loads, and a worker that is slow to answer (a busy machine) is missing from it, or
    has not started the attempt yet."""
    deadline = time.monotonic() + RUN_TIMEOUT / 1000
    while True:
        page.goto("/workers")
        if shows():
            return
        assert time.monotonic() < deadline, f"the Workers page never showed it: {page.inner_text('main')}"
        time.sleep(0.5)


@pytest.fixture(scope="module", params=backend_names())
def deployment(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[CeleryDeployment]:
    url = broker_url("redis")
    root = tmp_path_factory.mktemp(f"workers-{request.param}")
    (root / "home").mkdir()
    (root / "machines").mkdir()
    release = root / "release"
    with (
        _database(request.param, root / "home") as database_url,
        celery_workers(root / "machines", database_url, url, root / "dags") as workers,
    ):
        hold = {"browser_hold.py": HOLD.format(release=str(release))}
        serving = _serve(root, database_url, workers.env(), hold)
        server = next(serving)  # (the DAGs folder the worker copies is written by now)
        try:
            worker = workers.start("browser", queues=["default", "reports"])
            workers.wait_ready(worker)
            yield CeleryDeployment(server, worker, workers.queue(), release)
        finally:
            release.touch()
            serving.close()


@pytest.fixture
def celery_page(browser: Browser, deployment: CeleryDeployment) -> Iterator[Page]:
    context = browser.new_context(base_url=deployment.server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, ADMIN, deployment.server.admin_password)
    yield page
    context.close()


def test_the_workers_page_shows_the_celery_worker_its_queues_and_what_it_runs(
    celery_page: Page, deployment: CeleryDeployment
) -> None:
    page, worker = celery_page, deployment.worker
    errors = watch_console(page)
    unpause(page, DAG)
    page.goto(f"/dags/{DAG}/trigger")
    page.get_by_role("button", name="Trigger", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/dags/{DAG}/runs/manual__"))
    run_id = page.locator("h2 code").first.inner_text()
    hold = page.locator('#task-instances tr[data-key="hold|-1"] .state')  # (followed live by the page)
    expect(hold).to_have_text("running", timeout=RUN_TIMEOUT)

    row = page.locator("table.list tbody tr").filter(has_text=worker.name)
    attempt = f"{DAG}.hold {run_id} try 1"
    open_workers_page(page, lambda: row.count() > 0 and attempt in row.inner_text())
    cells = row.locator("td")
    expect(cells.nth(0)).to_have_text(worker.name)
    expect(cells.nth(1)).to_have_text(
        f"{deployment.queue}, {deployment.queue.removesuffix('default')}reports"
    )
    expect(cells.nth(2)).to_have_text("2")
    expect(cells.nth(3).get_by_role("link", name=attempt)).to_be_visible()

    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        open_workers_page(page, lambda: row.count() > 0 and attempt in row.inner_text())
        assert page.evaluate("document.documentElement.dataset.theme") == scheme
        assert_readable(page, f"workers page, {scheme}", WORKERS_TEXT)
        screenshot(page, f"workers-celery-{scheme}")
    page.emulate_media(color_scheme="light")

    cells.nth(3).get_by_role("link", name=attempt).click()
    expect(page.locator("main")).to_contain_text("running")
    deployment.release.touch()
    page.goto(f"/dags/{DAG}/runs/{run_id}")
    expect(page.locator("#run-state")).to_have_text("success", timeout=RUN_TIMEOUT)
    open_workers_page(page, lambda: row.count() > 0 and row.locator("td").nth(3).inner_text() == "idle")
    assert not errors, f"console errors: {errors}"
