"""How long the web UI takes to render its pages on a store with 1,000 DAGs and 200,000 task instances.

The store (``bench/webui_store.py``) is a SQLite file in a temporary folder, and with ``--postgres
ADMIN_URL`` also a PostgreSQL database of its own, created on that server and dropped at the end.
It is migrated with ``dagflow.store.migrate.migrate`` and filled with bulk inserts. An admin logs
in through the login form of ``create_app``'s test client; then each page is requested ``--warmup``
times untimed and ``--requests`` times timed (``perf_counter`` around ``client.get``: routing, login
check, queries and Jinja, the whole server side, without a network). The SQL statements of each
request are counted with a ``before_cursor_execute`` listener on the app's engine.

Then every DAG's history is made ``--scale`` times longer (older runs only, so the pages show the
same things) and everything is measured again: the statements must be the same, and the times
should be too. Each size is measured ``--rounds`` times; the report shows the quietest round (the
lowest sum of medians) and the range of each median over the rounds.

Usage:
  .venv/bin/python bench/bench_webui.py [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
      [--scale 4] [--rounds 3] [--requests 20] [--write]
  .venv/bin/python bench/bench_webui.py --profile grid      # cProfile of one page, base size, SQLite
  .venv/bin/python bench/bench_webui.py --explain           # the query plan of every page statement
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import webui_store as store
from _common import REPO, machine, markdown_table
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

import webui
from dagflow.config import Settings
from dagflow.core.clock import utcnow
from dagflow.store.engine import Database
from dagflow.store.migrate import migrate
from dagflow.store.users import create_user
from webui import create_app

TARGET_MS = 200.0
PASSWORD = "benchmark password"
BEGIN, END = "<!-- bench_webui:begin -->", "<!-- bench_webui:end -->"


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    required: bool  # one of the three pages the issue sets a target for


def pages(plans: list[store.DagPlan]) -> list[Page]:
    """The measured pages, on the DAGs and runs ``plans`` describes."""
    grid = next(p for p in plans if p.dag_id == store.GRID_DAG)
    graph = next(p for p in plans if p.dag_id == store.GRAPH_DAG)
    newest_grid, newest_graph = store.run_row(grid, 0), store.run_row(graph, 0)
    waiting = _instance_in(grid, 0, "none")
    failed_age = next(age for age in range(1, grid.runs) if store.run_state(grid, age) == "failed")
    failed = _instance_in(grid, failed_age, "failed")
    return [
        Page("DAGs (first page of 1,000)", "/", True),
        Page("grid, 100 runs x 50 tasks", f"/dags/{store.GRID_DAG}/grid?runs=100", True),
        Page("graph, 500 tasks", f"/dags/{store.GRAPH_DAG}/graph", True),
        Page("run, 54 task instances", f"/dags/{store.GRID_DAG}/runs/{newest_grid['run_id']}", False),
        Page("run, 500 task instances", f"/dags/{store.GRAPH_DAG}/runs/{newest_graph['run_id']}", False),
        Page("task instance, waiting (why)", waiting, False),
        Page("task instance, failed, 2 tries", failed, False),
        Page("Gantt, 500 task instances", f"/dags/{store.GRAPH_DAG}/gantt", False),
        Page(
            "calendar, a year",
            f"/dags/{store.GRID_DAG}/calendar?year={store.run_row(grid, 0)['run_after'].year}",
            False,
        ),
        Page("durations, 100 runs x 50 tasks", f"/dags/{store.GRID_DAG}/durations?runs=100", False),
    ]


def _instance_in(plan: store.DagPlan, age: int, state: str) -> str:
    run = store.run_row(plan, age)
    states = store.instance_states(plan, run, age)
    task_id, map_index, _operator = plan.template.instances[states.index(state)]
    query = urlencode({"run_id": run["run_id"], "map_index": map_index})
    return f"/dags/{plan.dag_id}/tasks/{task_id}?{query}"


# -- stores --------------------------------------------------------------------------------------


@contextmanager
def sqlite_store(folder: Path) -> Iterator[str]:
    yield f"sqlite:///{folder / 'dagflow.db'}"


@contextmanager
def postgres_store(admin_url: str) -> Iterator[str]:
    """A database of its own on the server of ``admin_url``, dropped afterwards."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"dagflow_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(database: Database, templates: dict[str, store.Template]) -> tuple[store.History, float]:
    start = time.perf_counter()
    migrate(database)
    history = store.History(store.plan_dags(templates))
    with database.transaction(write=True) as connection:
        history.seed(connection, utcnow())
    with database.session(write=True) as session:
        create_user(session, "admin", PASSWORD, "admin", now=utcnow())
    analyze(database)
    return history, time.perf_counter() - start


def grow(database: Database, history: store.History, scale: int) -> float:
    start = time.perf_counter()
    with database.transaction(write=True) as connection:
        history.extend(connection, scale)
    analyze(database)
    return time.perf_counter() - start


def analyze(database: Database) -> None:
    """PostgreSQL: refresh the planner's statistics after a bulk load, as autovacuum soon would.

    SQLite is left as dagflow leaves it (no ``ANALYZE``, so no sqlite_stat1 table).
    """
    if not database.is_sqlite:
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))


# -- measuring -----------------------------------------------------------------------------------


IN_LIST = re.compile(r"IN \((?:[^()]|\([^()]*\))*\)")


@dataclass
class Statements:
    """Every statement the engine sends while attached."""

    seen: list[tuple[str, Any]] = field(default_factory=list)

    def attach(self, database: Database) -> None:
        event.listen(database.engine, "before_cursor_execute", self._before)

    def detach(self, database: Database) -> None:
        event.remove(database.engine, "before_cursor_execute", self._before)

    def _before(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        self.seen.append((statement, parameters))

    def reset(self) -> None:
        self.seen = []

    def shape(self) -> tuple[str, ...]:
        """The statements, with IN lists cut short (their length follows the rows a page shows)."""
        return tuple(IN_LIST.sub("IN (...)", statement) for statement, _parameters in self.seen)


@dataclass
class Measure:
    page: Page
    samples: list[float]
    statements: tuple[str, ...]
    size: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p90(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))] * 1000


def logged_in_client(database: Database, home: Path) -> Any:
    os.environ["DAGFLOW_HOME"] = str(home)
    app = create_app(
        Settings.load(), database=database, SESSION_COOKIE_SECURE=False, REMEMBER_COOKIE_SECURE=False
    )
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the login page"
    response = client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": found.group(1)}
    )
    if response.status_code != 302:
        raise SystemExit(f"login failed: {response.status_code}")
    return client


def measure(client: Any, statements: Statements, page: Page, requests: int, warmup: int) -> Measure:
    for _ in range(warmup):
        _get(client, page)
    samples, shapes = [], set()
    for _ in range(requests):
        statements.reset()
        start = time.perf_counter()
        size = _get(client, page)
        samples.append(time.perf_counter() - start)
        shapes.add(statements.shape())
    if len(shapes) != 1:
        raise SystemExit(f"{page.path}: the statements changed between requests: {sorted(map(len, shapes))}")
    return Measure(page, samples, shapes.pop(), size)


def _get(client: Any, page: Page) -> int:
    response = client.get(page.path)
    if response.status_code != 200:
        raise SystemExit(
            f"{page.path} answered {response.status_code}: {response.get_data(as_text=True)[:500]}"
        )
    return len(response.get_data())


@dataclass
class Round:
    measures: list[Measure]
    load: tuple[float, float]  # 1-minute load average before and after

    @property
    def total(self) -> float:
        return sum(m.median for m in self.measures)


def rounds(client: Any, statements: Statements, todo: list[Page], args: argparse.Namespace) -> list[Round]:
    done = []
    for number in range(args.rounds):
        before = os.getloadavg()[0]
        found = [measure(client, statements, page, args.requests, args.warmup) for page in todo]
        done.append(Round(found, (before, os.getloadavg()[0])))
        print(f"  round {number + 1}: sum of medians {done[-1].total:.1f} ms, load {before:.2f}", flush=True)
    return done


# -- one backend ---------------------------------------------------------------------------------


@dataclass
class BackendResult:
    backend: str
    sizes: list[tuple[dict[str, int], list[Round]]]
    seconds: list[float]


def run_backend(
    name: str, url: str, templates: dict[str, store.Template], args: argparse.Namespace, home: Path
) -> BackendResult:
    database = Database(url)
    try:
        print(f"{name}: seeding...", flush=True)
        history, seeded = seed(database, templates)
        todo = pages(history.dags)
        result = BackendResult(name, [], [seeded])
        for size in (1, args.scale):
            if size != 1:
                print(f"{name}: growing the history {size} times...", flush=True)
                result.seconds.append(grow(database, history, size))
            print(f"{name}: {history.counts}", flush=True)
            statements = Statements()
            statements.attach(database)
            client = logged_in_client(database, home)
            if args.explain:
                explain(database, client, statements, todo)
            result.sizes.append((dict(history.counts), rounds(client, statements, todo, args)))
            statements.detach(database)
        return result
    finally:
        database.dispose()


def explain(database: Database, client: Any, statements: Statements, todo: list[Page]) -> None:
    """Print each page's statements with their query plans."""
    prefix = "EXPLAIN QUERY PLAN " if database.is_sqlite else "EXPLAIN (ANALYZE, COSTS OFF) "
    for page in todo:
        _get(client, page)
        statements.reset()
        _get(client, page)
        captured = list(statements.seen)
        print(f"\n### {page.name}: {page.path} ({len(captured)} statements)")
        with database.engine.connect() as connection:
            for statement, parameters in captured:
                flat = " ".join(statement.split())
                print("\n" + (flat if len(flat) < 500 else f"{flat[:300]} ... {flat[-150:]}"))
                if statement.lstrip().upper().startswith("SELECT"):
                    plan = connection.exec_driver_sql(prefix + statement, parameters).all()
                    for line in plan:
                        print("    " + " | ".join(str(v) for v in line))
        statements.reset()


def profile(url: str, templates: dict[str, store.Template], which: str, home: Path, requests: int) -> None:
    database = Database(url)
    history, _seconds = seed(database, templates)
    page = next(p for p in pages(history.dags) if which in p.name)
    client = logged_in_client(database, home)
    for _ in range(3):
        _get(client, page)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        _get(client, page)
    profiler.disable()
    print(f"cProfile of {requests} requests of {page.path}")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    database.dispose()


# -- the report ----------------------------------------------------------------------------------


def revision() -> str:
    """The commit of the checkout whose ``webui`` and ``dagflow`` ran, and whether they had changes."""
    checkout = Path(webui.__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True)
        return done.stdout.rstrip()

    files = sorted({line[3:] for line in git("status", "--porcelain", "--", "dagflow", "webui").splitlines()})
    commit = f"`{git('rev-parse', 'HEAD')}` ({checkout})"
    if not files:
        return f"{commit}, no uncommitted changes in dagflow/ or webui/"
    listed = ", ".join(files)
    return f"{commit} plus uncommitted changes in {len(files)} files of dagflow/ and webui/: {listed}"


def command() -> str:
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(REPO) if script.is_relative_to(REPO) else script
    return " ".join([".venv/bin/python", str(shown), *sys.argv[1:]])


def quietest(found: list[Round]) -> Round:
    return min(found, key=lambda r: r.total)


def backend_report(result: BackendResult, scale: int) -> str:
    (small_counts, small), (large_counts, large) = result.sizes
    quiet_small, quiet_large = quietest(small), quietest(large)
    rows = []
    for k, (a, b) in enumerate(zip(quiet_small.measures, quiet_large.measures, strict=True)):
        spread = [r.measures[k].median for r in small + large]
        verdict = ("yes" if max(a.median, b.median) < TARGET_MS else "**no**") if a.page.required else ""
        same = "same" if a.statements == b.statements else "**differ**"
        rows.append(
            [
                f"{a.page.name}",
                f"{len(a.statements)} / {len(b.statements)} ({same})",
                f"{a.median:.1f}",
                f"{a.p90:.1f}",
                f"{b.median:.1f}",
                f"{b.p90:.1f}",
                f"{min(spread):.1f}-{max(spread):.1f}",
                f"{a.size // 1024} / {b.size // 1024}",
                verdict,
            ]
        )
    headers = [
        "page",
        f"SQL statements 1x / {scale}x",
        "1x median ms",
        "1x p90 ms",
        f"{scale}x median ms",
        f"{scale}x p90 ms",
        "medians, all rounds",
        f"HTML KiB 1x / {scale}x",
        "< 200 ms?",
    ]
    loads = ", ".join(f"{r.load[0]:.1f}-{r.load[1]:.1f}" for r in small + large)
    return "\n".join(
        [
            f"### {result.backend}",
            "",
            f"Store at 1x: {_counts(small_counts)}; at {scale}x: {_counts(large_counts)}. "
            f"Seeding took {result.seconds[0]:.0f} s, growing {result.seconds[1]:.0f} s.",
            "",
            markdown_table(headers, rows),
            "",
            f"Quietest rounds: {small.index(quiet_small) + 1} of {len(small)} (1x) and "
            f"{large.index(quiet_large) + 1} of {len(large)} ({scale}x). 1-minute load average at the "
            f"start-end of each round (1x rounds, then {scale}x): {loads}.",
        ]
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {table}" for table, n in counts.items())


def report(results: list[BackendResult], args: argparse.Namespace) -> str:
    parts = [
        f"Command: `{command()}`  ",
        f"Machine: {machine()}, load average at the start {args.load_at_start}  ",
        f"dagflow revision: {revision()}  ",
        f"Measured: {args.requests} requests per page after {args.warmup} untimed, {args.rounds} rounds per "
        f"size; the tables show the quietest round.",
        "",
    ]
    for result in results:
        parts.extend([backend_report(result, args.scale), ""])
    return "\n".join(parts)


def write_results(generated: str) -> None:
    """Put ``generated`` into the "Web UI" section of bench/RESULTS.md, leaving other sections alone."""
    path = REPO / "bench" / "RESULTS.md"
    current = path.read_text()
    block = f"{BEGIN}\n{generated.rstrip()}\n{END}"
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        updated = head + block + rest.split(END, 1)[1]
    else:
        updated = current.rstrip("\n") + f"\n\n## Web UI\n\n{block}\n"
    path.write_text(updated)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="also measure on this PostgreSQL server")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--scale", type=int, default=4, help="how many times longer the history gets")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the tables into bench/RESULTS.md")
    parser.add_argument("--explain", action="store_true", help="print every page statement's query plan")
    parser.add_argument("--profile", metavar="PAGE", help="cProfile one page (a word of its name) on SQLite")
    args = parser.parse_args(argv)
    args.load_at_start = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench_webui_") as tmp:
        folder = Path(tmp)
        templates = store.load_templates(folder / "templates")
        if args.profile:
            with sqlite_store(folder) as url:
                profile(url, templates, args.profile, folder / "home", args.requests)
            return
        backends: list[tuple[str, Callable[[], Any]]] = []
        if not args.no_sqlite:
            backends.append(("SQLite", lambda: sqlite_store(folder)))
        if args.postgres:
            backends.append(("PostgreSQL", lambda: postgres_store(args.postgres)))
        results = []
        for name, opener in backends:
            with opener() as url:
                results.append(run_backend(name, url, templates, args, folder / "home"))
    generated = report(results, args)
    print("\n" + generated)
    if args.write:
        write_results(generated)
        print("written to bench/RESULTS.md")


if __name__ == "__main__":
    main()
