"""Browser tests: a real ``dagflow standalone`` driven through Debian's Chromium by Playwright.

* ``dagflow_server`` (session): ``dagflow standalone`` as a subprocess in its own process group, on a
  free port, with its own ``DAGFLOW_HOME`` and a DAGs folder holding the repository's ``dags/`` plus
  ``dag_files/``. Ready once the web UI answers and every DAG is in the store; killed (the whole
  group: scheduler, workers and web server) at the end. It is parametrized over the backends of
  ``tests/backends.py``: a SQLite file always, and a fresh PostgreSQL database (created for the
  session, dropped at its end) when ``DAGFLOW_TEST_DATABASE_URL`` names a PostgreSQL server, as CI
  sets it. Every browser test then runs once on each store: pytest groups a session fixture's
  parameters, so one server runs at a time (and under pytest-xdist every browser test runs on the
  same process: see ``pytest_collection_modifyitems``).
* ``browser`` (session): Chromium from ``/usr/bin/chromium``, with the flags this machine needs.
  Playwright's own browser download does not work here, so Chromium comes from Debian (``make test``
  installs it); without it these tests are skipped.
* ``page`` (per test): a page in a fresh browser context (no cookies). On failure a screenshot and
  the end of the daemon's log are printed to help debugging.
* ``log_in(page, username, password)``: logs in through the login form, as a person would.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.backends import POSTGRES_ENV, backend_names

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

HERE = Path(__file__).parent
REPO = HERE.parent.parent
CHROMIUM = Path("/usr/bin/chromium")
#: Without the background-networking flags Chromium keeps trying to reach Google's hosts, and this
#: machine's closed network refuses those connections many at a time.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN = "admin"
#: Where the tests save what they saw, for a person to look at (ignored by git).
SCREENSHOTS = HERE / "screenshots"
#: The DAGs the tests use: the server is ready once all of them are in the store.
DAG_IDS = ("example_branching", "example_etl", "browser_flaky")
#: The file that dag_files/browser_flaky.py waits for, in $DAGFLOW_HOME.
FLAG_NAME = "browser_flaky.flag"
STARTUP_TIMEOUT = 60.0
#: How long a page waits for a run to get somewhere: generous, since CI's machine may be busy.
RUN_TIMEOUT = 60_000


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is missing: `make setup` installs the test extras"
    return None


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's, which reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the browser tests, with the reason, on a machine without Chromium or Playwright.

    Under pytest-xdist they all go to one process (one xdist group), so the session's server and
    browser are started once, not once by every process.
    """
    reason = _missing()
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("browser"))
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=reason))
            elif item.get_closest_marker("looks") and _store_of(item) not in (None, "sqlite"):
                item.add_marker(pytest.mark.skip(reason=LOOKS_ONCE))


#: Tests marked ``looks`` check only how pages look (colours, contrast, layout, themes), which does
#: not depend on the store the pages read: they run on SQLite only, while the browser tests of what
#: pages show and do run on every store.
LOOKS_ONCE = "how a page looks does not depend on the store: checked once, on SQLite"


def _store_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get("dagflow_server")


@dataclass(frozen=True)
class Server:
    url: str
    home: Path
    admin_password: str
    log: Path
    #: The store's URL, for tests that change what the pages show the way the scheduler would.
    database_url: str

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dags_folder(target: Path) -> None:
    """The repository's example DAGs plus this folder's ``dag_files/``."""
    shutil.copytree(REPO / "dags", target, ignore=shutil.ignore_patterns("__pycache__"))
    for source in (HERE / "dag_files").glob("*.py"):
        shutil.copy(source, target / source.name)


def _environment(home: Path, dags: Path, port: int, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGFLOW")}
    env.update(
        DAGFLOW_HOME=str(home),
        DAGFLOW__DATABASE__URL=database_url,
        DAGFLOW__CORE__DAGS_FOLDER=str(dags),
        DAGFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
        DAGFLOW__WEBSERVER__HOST="127.0.0.1",
        DAGFLOW__WEBSERVER__PORT=str(port),
    )
    return env


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "login", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stored_dags(database_url: str) -> set[str]:
    from sqlalchemy import select

    from dagflow.store.engine import Database
    from dagflow.store.models import DagRow

    database = Database(database_url)
    try:
        with database.session() as session:
            return set(session.scalars(select(DagRow.dag_id).where(DagRow.is_active.is_(True))))
    except Exception:  # the store may not be migrated yet
        return set()
    finally:
        database.dispose()


def _wait_until_ready(process: subprocess.Popen[bytes], server: Server, database_url: str) -> None:
    """The web UI answers, the admin's password is written and every DAG file's DAG is stored."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    missing = set(DAG_IDS)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagflow standalone exited ({process.returncode}):\n{server.log_tail()}")
        if _answers(server.url) and (server.home / "standalone_admin_password.txt").exists():
            missing = set(DAG_IDS) - _stored_dags(database_url)
            if not missing:
                return
        time.sleep(0.3)
    pytest.fail(
        f"dagflow standalone not ready in {STARTUP_TIMEOUT}s (DAGs missing: {sorted(missing)}):\n"
        f"{server.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole group (scheduler, workers, web server), SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever of the group is left, workers included
    process.wait()


@contextlib.contextmanager
def _database(backend: str, home: Path) -> Iterator[str]:
    """The URL of an empty store for one server: a SQLite file, or a PostgreSQL database of its own."""
    if backend == "sqlite":
        yield f"sqlite:///{home / 'dagflow.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(os.environ[POSTGRES_ENV])
    name = f"dagflow_browser_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _one_xdist_process() -> None:
    """Fail if another process of this pytest-xdist run started browser servers before this one: the
    browser tests must share one process (``--dist loadgroup``, see ``pytest_collection_modifyitems``),
    and a pytest-xdist that stops grouping them does so silently (every process then starts its own
    servers and browser, and the PostgreSQL ones hold their connections to the end of the run)."""
    run, worker = os.environ.get("PYTEST_XDIST_TESTRUNUID"), os.environ.get("PYTEST_XDIST_WORKER", "")
    if not run:
        return
    claim = Path(tempfile.gettempdir()) / f"dagflow-test-browser-{run}"
    mine = claim.with_name(f"{claim.name}-{worker}")
    mine.write_text(worker)
    with contextlib.suppress(FileExistsError):  # (a link is made whole, or not at all)
        os.link(mine, claim)
    mine.unlink()
    owner = claim.read_text()
    if owner != worker:
        pytest.fail(
            f"browser tests run on xdist process {worker} and {owner}: pytest-xdist is not grouping "
            "them (--dist loadgroup); check the pytest and pytest-xdist versions in pyproject.toml"
        )


@pytest.fixture(scope="session", params=backend_names())
def dagflow_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Server]:
    _one_xdist_process()
    root = tmp_path_factory.mktemp(f"browser-{request.param}")
    (root / "home").mkdir()
    with _database(request.param, root / "home") as database_url:
        yield from _serve(root, database_url)


def _serve(
    root: Path,
    database_url: str,
    extra_env: dict[str, str] | None = None,
    extra_dags: dict[str, str] | None = None,
) -> Generator[Server, None, None]:
    """``dagflow standalone`` on ``root``: ``extra_env`` added to its environment (another executor),
    ``extra_dags`` (file name: source) added to its DAGs folder."""
    home, dags = root / "home", root / "dags"
    _dags_folder(dags)
    for name, source in (extra_dags or {}).items():
        (dags / name).write_text(source)
    port = _free_port()
    log = root / "standalone.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagflow")), "standalone"],
            env={**_environment(home, dags, port, database_url), **(extra_env or {})},
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        server = Server(f"http://127.0.0.1:{port}/", home, "", log, database_url)
        _wait_until_ready(process, server, database_url)
        password = (home / "standalone_admin_password.txt").read_text().strip()
        yield Server(server.url, home, password, log, database_url)
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # launch() gives Chromium a new, empty --user-data-dir of its own, removed on close.
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


@pytest.fixture
def page(
    browser: Browser, dagflow_server: Server, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Page]:
    context = browser.new_context(base_url=dagflow_server.url)
    context.set_default_timeout(15_000)
    the_page = context.new_page()
    yield the_page
    if request.node.stash.get(FAILED, False):
        shot = tmp_path / "failure.png"
        with contextlib.suppress(Exception):  # a crashed page has no screenshot; the log still helps
            the_page.screenshot(path=str(shot), full_page=True)
        print(f"page {the_page.url}, screenshot {shot}\n--- dagflow standalone log ---")
        print(dagflow_server.log_tail())
    context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as ``screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, username: str, password: str) -> None:
    """Open the site, get sent to the login form, fill it in and land on the DAGs list."""
    from playwright.sync_api import expect

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("header.top .who")).to_contain_text(username)


@pytest.fixture
def admin_page(page: Page, dagflow_server: Server) -> Page:
    """A page logged in as the standalone admin, on the DAGs list."""
    log_in(page, ADMIN, dagflow_server.admin_password)
    return page
