"""How long Chromium takes to make the big pages interactive: a 500-task run's graph, a 100 x 50 grid.

The store is the web UI benchmark's (``bench/webui_store.py``: 1,000 DAGs, 200,000 task instances),
in SQLite in a temporary folder, or with ``--postgres ADMIN_URL`` in a database of its own on that
server (dropped at the end). The app (``create_app``) is served by waitress in a thread of this
process on 127.0.0.1; Debian's Chromium (``/usr/bin/chromium``, the flags of
``tests/browser/conftest.py``), driven by Playwright, logs in through the login form and loads each
page ``--loads`` times after one untimed load, in one tab at 1440x900 (so the static files are in
its cache, as for a person coming back). Each load is read from the Performance API's navigation
entry: ``responseEnd`` (the HTML received), ``domContentLoadedEventEnd``, ``loadEventEnd`` (all
scripts, deferred ones included, have run: the page is interactive), and a mark of our own set in the
first frame after the load event (``requestAnimationFrame`` then ``setTimeout``: the page is drawn),
in ms from the start of the navigation; the medians are printed.

Usage:
  .venv/bin/python bench/bench_browser.py [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
      [--loads 7]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import webui_store as store
from _common import machine, markdown_table
from bench_webui import PASSWORD, postgres_store, seed, sqlite_store

from dagflow.config import Settings
from dagflow.store.engine import Database
from webui import create_app

CHROMIUM = "/usr/bin/chromium"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "browser"))
from conftest import CHROMIUM_ARGS  # noqa: E402

TARGET_MS = 1000.0
FIELDS = ("responseEnd", "domContentLoadedEventEnd", "loadEventEnd", "painted")
#: A mark in the first frame after the load event: every script ran and the browser drew the page.
PAINTED = """
window.addEventListener("load", () => requestAnimationFrame(() => setTimeout(() => {
  performance.mark("bench-painted");
})));
"""


def targets(plans: list[store.DagPlan]) -> list[tuple[str, str]]:
    graph = next(p for p in plans if p.dag_id == store.GRAPH_DAG)
    run_id = store.run_row(graph, 0)["run_id"]
    return [
        ("graph of a 500-task run", f"/dags/{store.GRAPH_DAG}/graph?{urlencode({'run_id': run_id})}"),
        ("grid, 100 runs x 50 tasks", f"/dags/{store.GRID_DAG}/grid?runs=100"),
    ]


def serve(database: Database, home: Path) -> tuple[Any, str]:
    from waitress.server import create_server

    os.environ["DAGFLOW_HOME"] = str(home)
    app = create_app(
        Settings.load(), database=database, SESSION_COOKIE_SECURE=False, REMEMBER_COOKIE_SECURE=False
    )
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}"


def measure(url: str, pages: list[tuple[str, str]], loads: int) -> dict[str, dict[str, list[float]]]:
    from playwright.sync_api import sync_playwright

    found: dict[str, dict[str, list[float]]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.add_init_script(PAINTED)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{url}/login")
        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_selector("header.top .who")
        for name, path in pages:
            samples: dict[str, list[float]] = {f: [] for f in FIELDS}
            for number in range(loads + 1):
                page.goto(url + path, wait_until="load")
                entry = page.evaluate(
                    """() => new Promise((done) => {
                         const read = () => {
                           const mark = performance.getEntriesByName("bench-painted")[0];
                           if (!mark) { setTimeout(read, 5); return; }
                           const n = performance.getEntriesByType("navigation")[0];
                           done({responseEnd: n.responseEnd,
                                 domContentLoadedEventEnd: n.domContentLoadedEventEnd,
                                 loadEventEnd: n.loadEventEnd, painted: mark.startTime});
                         };
                         read();
                       })"""
                )
                if number:  # the first load is untimed
                    for f in FIELDS:
                        samples[f].append(float(entry[f]))
            found[name] = samples
            print(
                f"  {name}: loadEventEnd median {statistics.median(samples['loadEventEnd']):.0f} ms",
                flush=True,
            )
        browser.close()
    if errors:
        raise SystemExit(f"console errors: {errors}")
    return found


def report(backend: str, found: dict[str, dict[str, list[float]]], counts: dict[str, int]) -> str:
    rows = []
    for name, samples in found.items():
        medians = [statistics.median(samples[f]) for f in FIELDS]
        worst = max(samples["loadEventEnd"])
        verdict = "yes" if max(medians) < TARGET_MS else "**no**"
        rows.append([name, *(f"{m:.0f}" for m in medians), f"{worst:.0f}", verdict])
    headers = [
        "page",
        "HTML received ms",
        "DOMContentLoaded end ms",
        "load end ms",
        "first frame after load ms",
        "load end, slowest",
        "< 1 s?",
    ]
    table = markdown_table(headers, rows)
    sized = ", ".join(f"{n:,} {t}" for t, n in counts.items())
    return f"#### Chromium, {backend}\n\nStore: {sized}.\n\n{table}\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="PostgreSQL instead of SQLite")
    parser.add_argument("--loads", type=int, default=7, help="timed loads of each page")
    args = parser.parse_args(argv)
    logging.getLogger("waitress.queue").setLevel(
        logging.ERROR
    )  # "Task queue depth is 2": the page's own polls
    load = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench_browser_") as tmp:
        folder = Path(tmp)
        templates = store.load_templates(folder / "templates")
        opener = postgres_store(args.postgres) if args.postgres else sqlite_store(folder)
        with opener as url:
            database = Database(url)
            try:
                history, _seconds = seed(database, templates)
                server, base = serve(database, folder / "home")
                try:
                    found = measure(base, targets(history.dags), args.loads)
                finally:
                    with contextlib.suppress(Exception):
                        server.close()
            finally:
                database.dispose()
    shown = " ".join([".venv/bin/python bench/bench_browser.py", *sys.argv[1:]])
    print(f"\nCommand: `{shown}`  \nMachine: {machine()}, load average at the start {load}  ")
    print(f"Measured: {args.loads} loads of each page after 1 untimed; medians.\n")
    print(report("PostgreSQL" if args.postgres else "SQLite", found, history.counts))


if __name__ == "__main__":
    main()
