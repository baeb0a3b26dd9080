"""Two revisions of dagflow, measured in alternating rounds on the same machine: the new one against a base.

This machine's speed moves by up to 1.8x from day to day (and minute to minute), so a figure from
one run says nothing against a figure from another. This script measures both revisions in the
same run, one round of each in turn (base, new, base, new, ...), and reports the ratio new/base of
each metric with its spread over the pairs of adjacent rounds.

* The base (``BASE_REV``) and, with ``--rev``, the revision under test are checked out in scratch
  worktrees (``git worktree add --detach``), removed at the end. Without ``--rev`` the revision
  under test is the working tree this script is run from, uncommitted changes included.
* Each side runs with this venv's interpreter and ``PYTHONPATH=<its checkout>`` first when its
  ``pyproject.toml`` dependencies are those installed here; otherwise it gets a venv of its own
  (``pip install <checkout>``, which needs the package index). Before measuring, the script checks
  that ``python -c 'import dagflow'`` and the ``dagflow`` console script the daemons are started
  with (read from ``PYTHONVERBOSE``'s import trace) import that side's own ``dagflow``; if the
  console script does not, ``python -m dagflow`` is tried, and failing that the script stops.
* Both sides are driven by the same bench code, this checkout's (``bench_scheduler.run_latency``
  and ``run_throughput``, with ``scheduler_deploy``'s throwaway deployments), and only through
  processes: ``dagflow db migrate``, ``dags reserialize``, ``dags trigger`` and a ``dagflow
  scheduler`` daemon. What the bench reads from the store (run and task-instance times, the
  scheduler's job row) is read with plain SQL, never with the models of either revision.
* One round of a side is one fresh deployment and daemon per scenario and store, with the
  scenario's own warm-up run, then one measured run of each DAG: latency, a 50-task chain (median
  task-to-task gap); throughput, a 1,000-way fan-out and a 1,000-way mapped task (tasks/s, and the
  CPU time per task of the scheduler process and of its workers, from ``/proc/PID/stat``).
* ``--interleave`` (throughput only): one deployment and daemon per side for the whole comparison,
  both up at once; each round runs the fan-out on base and then at once on new, then the mapped
  task the same way. A pair is seconds apart instead of a minute or more: on a day when this
  machine's speed swings within minutes (the same revision at 111 and 418 tasks/s in adjacent
  rounds), rounds a minute apart compare a fast minute with a slow one. The side not measured
  idles meanwhile.

It prints, per metric, each side's median over its rounds (and range), the ratio of the medians,
the range of the per-pair ratios, and whether the change is within noise: it is when the pair
ratios fall on both sides of 1, or when the ratio is within the larger of the two sides' own
spread (max/min over its rounds); with one round there is no estimate of noise. The headline is
the CPU per no-op task, scheduler + workers, SQLite, 1,000-way fan-out, with the target of a third
less than the base. The same, as markdown with the command line and both revisions' hashes, for
``bench/RESULTS.md``: printed, and written to ``--markdown FILE`` if given.

Files: every round's deployment (``DAGFLOW_HOME``, DAGs, logs, SQLite file) stays under ``--root``
(default: a temporary folder deleted only at the end), and PostgreSQL databases are dropped only at
the end. On this VM's ext4 without a journal, new files cost far more for a minute or more after a
mass deletion (see RESULTS.md, "Scheduler daemon"): deleting a round's files before the next one
would slow that one. For the same reason, do not start this right after a test run or another
bench run deleted its files.

Usage:
  .venv/bin/python bench/compare.py BASE_REV [--rev REV] [--rounds 3] [--only latency,throughput]
      [--store sqlite,postgres] [--postgres ADMIN_URL] [--root DIR] [--markdown FILE] [--interleave]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.metadata
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from _common import DAGFLOW, REPO, clean_environment, command_line, machine, markdown_table
from bench_scheduler import (
    STORE_NAMES,
    load_average,
    run_latency,
    run_throughput,
    throughput_daemon,
    throughput_run,
)
from packaging.requirements import Requirement
from scheduler_deploy import DEFAULT_POSTGRES, Deployment, deployment
from sqlalchemy import text

SCENARIOS = ("latency", "throughput")
#: The headline: CPU per no-op task, scheduler + workers, SQLite, 1,000-way fan-out; the team's
#: target is a third less than the base.
HEADLINE = ("throughput", "sqlite", "bench_fanout_1000", "cpu_total")
TARGET_RATIO = 2 / 3


def git(*args: str, cwd: Path = REPO) -> str:
    done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"git {' '.join(args)} failed:\n{done.stderr.strip()}")
    return done.stdout.strip()


# -- the store, read with plain SQL -----------------------------------------------------------------

TIMES = {"queued_at", "start_date", "end_date", "first", "last"}


def _utc(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite gives the text SQLAlchemy wrote, naive UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SqlDeployment(Deployment):
    """A deployment whose store is read with plain SQL (no ``dagflow.store`` models of any revision),
    and whose PostgreSQL database is dropped at the end of the whole comparison, not of the round."""

    kept: list[Deployment] = []

    def _rows(self, query: str, **params: Any) -> list[SimpleNamespace]:
        with self.engine.connect() as conn:
            rows = conn.execute(text(query), params).mappings().all()
        return [SimpleNamespace(**{k: _utc(v) if k in TIMES else v for k, v in r.items()}) for r in rows]

    def run_row(self, dag_id: str, run_id: str) -> Any:
        rows = self._rows(
            "SELECT state, queued_at, start_date, end_date FROM dag_run"
            " WHERE dag_id = :dag_id AND run_id = :run_id",
            dag_id=dag_id,
            run_id=run_id,
        )
        return rows[0] if rows else None

    def task_rows(self, dag_id: str, run_id: str) -> list[Any]:
        return self._rows(
            "SELECT task_id, map_index, state, try_number, queued_at, start_date, end_date, pid"
            " FROM task_instance WHERE dag_id = :dag_id AND run_id = :run_id",
            dag_id=dag_id,
            run_id=run_id,
        )

    def count_dags(self) -> int:
        return int(self._rows("SELECT count(*) AS n FROM dag")[0].n)

    def parse_times(self) -> tuple[datetime, datetime]:
        row = self._rows('SELECT min(last_parsed_at) AS "first", max(last_parsed_at) AS "last" FROM dag')[0]
        return row.first, row.last

    def scheduler_job(self, pid: int) -> Any:
        rows = self._rows("SELECT id FROM job WHERE pid = :pid AND state = 'running'", pid=pid)
        return rows[0].id if rows else None

    def close(self) -> None:
        self.engine.dispose()
        if self.database:
            SqlDeployment.kept.append(self)

    @classmethod
    def drop_kept(cls) -> None:
        for deploy in cls.kept:
            Deployment.close(deploy)
        cls.kept.clear()


# -- the two sides ----------------------------------------------------------------------------------


@dataclass
class Side:
    name: str
    #: What the side measures, as printed: hash, subject, where it comes from.
    label: str
    commit: str
    #: The checkout whose ``dagflow/`` this side runs.
    source: Path
    python: str = sys.executable
    command: tuple[str, ...] = (DAGFLOW,)
    #: Put into the deployments' environment (``PYTHONPATH``), or removed from it when None.
    pythonpath: str | None = None
    #: Where its ``dagflow`` package must be imported from.
    package: Path = field(default_factory=Path)
    imported: str = ""

    def environment(self) -> dict[str, str]:
        env = clean_environment()
        env.pop("PYTHONPATH", None)
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
        return env


def _dependencies(requirements: Sequence[str]) -> set[str]:
    """The requirements, normalised (installed metadata lists a requirement's specifiers sorted)."""
    return {str(Requirement(r)).lower() for r in requirements if "extra ==" not in r}


def same_dependencies(source: Path) -> bool:
    """Whether the checkout's ``pyproject.toml`` asks for the dependencies this venv installed."""
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    installed = importlib.metadata.requires("dagflow") or []
    return _dependencies(project.get("dependencies", [])) == _dependencies(installed)


def make_side(name: str, rev: str | None, root: Path, worktrees: list[Path]) -> Side:
    """The side's checkout (a scratch worktree of ``rev``, or this working tree) and environment."""
    if rev is None:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--", "dagflow", "webui", "pyproject.toml")
        note = " + uncommitted changes" if dirty else ""
        source = REPO
        where = f"the working tree {REPO}{note}"
    else:
        commit = git("rev-parse", "--verify", f"{rev}^{{commit}}")
        source = root / f"src-{name}"
        git("worktree", "add", "--detach", str(source), commit)
        worktrees.append(source)
        where = f"`{rev}`, checked out in {source}"
    subject = git("log", "-1", "--format=%s", commit)
    subject = subject if len(subject) <= 60 else subject[:57].rstrip() + "..."
    label = f"`{commit}` {subject} ({where})"
    side = Side(name, label, commit, source)
    if same_dependencies(source):
        side.pythonpath, side.package = str(source), source / "dagflow"
    else:
        venv = root / f"venv-{name}"
        print(
            f"{name}: pyproject.toml dependencies differ from this venv's: building {venv}", file=sys.stderr
        )
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", str(source)], check=True)
        side.python, side.command, side.package = str(venv / "bin/python"), (str(venv / "bin/dagflow"),), venv
    return side


def _output(command: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)


def verify(side: Side, cwd: Path) -> None:
    """Check that the interpreter and the command the daemons run import this side's ``dagflow``;
    fall back from the console script to ``python -m dagflow``; stop if neither does."""
    env = side.environment()
    done = _output([side.python, "-c", "import dagflow; print(dagflow.__file__)"], env, cwd)
    found = Path(done.stdout.strip() or "?").resolve()
    if done.returncode or not found.is_relative_to(side.package.resolve()):
        raise SystemExit(
            f"{side.name}: `python -c 'import dagflow'` imports {found}, not {side.package}:\n{done.stderr}"
        )
    tried = []
    for command in (side.command, (side.python, "-m", "dagflow")):
        done = _output([*command, "--version"], {**env, "PYTHONVERBOSE": "1"}, cwd)
        match = re.search(r"(/\S*/dagflow/__init__\.py)\b", done.stderr)
        imported = Path(match.group(1)).resolve() if match else None
        tried.append(
            f"  {' '.join(command)}: {imported or 'no dagflow import seen'} (exit {done.returncode})"
        )
        if done.returncode == 0 and imported and imported.is_relative_to(side.package.resolve()):
            side.command, side.imported = tuple(command), str(imported)
            return
    raise SystemExit(f"{side.name}: no command imports dagflow from {side.package}:\n" + "\n".join(tried))


def compile_bytecode(side: Side, cwd: Path) -> None:
    """Compile the side's package beforehand, so that neither side's first round compiles it."""
    target = side.source / "dagflow" if side.pythonpath else side.package
    _output([side.python, "-m", "compileall", "-q", str(target)], side.environment(), cwd)


@contextlib.contextmanager
def side_deployment(
    side: Side, store: str, root: Path, *, admin_url: str = DEFAULT_POSTGRES, paused_at_creation: bool = False
) -> Iterator[Deployment]:
    """``scheduler_deploy.deployment``, run with this side's ``dagflow`` and read with plain SQL."""
    with deployment(
        store, root, admin_url=admin_url, paused_at_creation=paused_at_creation, kind=SqlDeployment
    ) as deploy:
        deploy.command = side.command
        deploy.env.pop("PYTHONPATH", None)
        if side.pythonpath:
            deploy.env["PYTHONPATH"] = side.pythonpath
        yield deploy


# -- rounds -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    scenario: str
    store: str
    dag: str
    key: str
    label: str
    lower_is_better: bool
    fmt: str


def metrics_of(scenario: str, store: str, figures: Any) -> dict[Metric, float]:
    """The compared figures of one round of a scenario (what ``run_latency``/``run_throughput`` return)."""
    if scenario == "latency":
        (r,) = figures
        return {
            Metric(
                scenario, store, "bench_chain_50", "gap_median", "median task-to-task gap ms", True, "{:.2f}"
            ): r["gap_median"],
            Metric(
                scenario, store, "bench_chain_50", "chain", "chain, trigger to success s", True, "{:.3f}"
            ): r["chain"],
        }
    found = {}
    for dag_id, (r,) in figures.items():
        cpu = r["scheduler_cpu"] + r["worker_cpu"]
        for key, label, lower, fmt, value in (
            ("cpu_total", "CPU ms per task, scheduler + workers", True, "{:.3f}", cpu),
            ("scheduler_cpu", "CPU ms per task, scheduler", True, "{:.3f}", r["scheduler_cpu"]),
            ("worker_cpu", "CPU ms per task, workers", True, "{:.3f}", r["worker_cpu"]),
            ("rate", "tasks/s, trigger to success", False, "{:.0f}", r["rate"]),
        ):
            found[Metric(scenario, store, dag_id, key, label, lower, fmt)] = value
    return found


def one_round(side: Side, scenario: str, store: str, folder: Path, postgres: str) -> dict[Metric, float]:
    args = argparse.Namespace(postgres=postgres, rounds=1, profile=None)
    runner = run_latency if scenario == "latency" else run_throughput
    figures = runner(args, store, folder, open_deployment=functools.partial(side_deployment, side))
    return metrics_of(scenario, store, figures)


def run_rounds(
    args: argparse.Namespace, sides: Sequence[Side], root: Path
) -> dict[Metric, dict[str, list[float]]]:
    """``--rounds`` rounds; in each, for every store and scenario, base then new, one after the other."""
    results: dict[Metric, dict[str, list[float]]] = {}
    for number in range(1, args.rounds + 1):
        for store in args.store:
            for scenario in args.only:
                for side in sides:
                    folder = root / f"round{number}-{scenario}-{store}-{side.name}"
                    found = one_round(side, scenario, store, folder, args.postgres)
                    for metric, value in found.items():
                        results.setdefault(metric, {s.name: [] for s in sides})[side.name].append(value)
                    shown = ", ".join(
                        f"{m.dag} {m.key} {m.fmt.format(v)}" for m, v in found.items() if m.key != "chain"
                    )
                    print(f"  round {number} {side.name:4} {scenario} {store}: {shown}", file=sys.stderr)
    return results


def run_interleaved(
    args: argparse.Namespace, sides: Sequence[Side], root: Path
) -> dict[Metric, dict[str, list[float]]]:
    """``--interleave`` (throughput only): both sides' daemons up at once, each on a deployment and
    store of its own; each round runs each DAG on base, then at once on new. A pair is then seconds
    apart instead of a minute or more, which matters on a machine whose speed moves within minutes.
    The side not measured idles meanwhile (its heartbeat, once a second)."""
    results: dict[Metric, dict[str, list[float]]] = {}
    for store in args.store:
        with contextlib.ExitStack() as stack:
            running = {}
            for side in sides:
                folder = root / f"interleaved-throughput-{store}-{side.name}"
                deploy = stack.enter_context(side_deployment(side, store, folder, admin_url=args.postgres))
                name = f"scheduler-{store}-{side.name}"
                dag_ids, meter = stack.enter_context(throughput_daemon(deploy, name=name))
                running[side.name] = (deploy, meter)
            for number in range(1, args.rounds + 1):
                for dag_id in dag_ids:
                    for side in sides:
                        deploy, meter = running[side.name]
                        figures = throughput_run(deploy, meter, dag_id, f"round_{number}")
                        found = metrics_of("throughput", store, {dag_id: [figures]})
                        for metric, value in found.items():
                            results.setdefault(metric, {s.name: [] for s in sides})[side.name].append(value)
                        shown = ", ".join(f"{m.key} {m.fmt.format(v)}" for m, v in found.items())
                        print(f"  round {number} {side.name:4} {dag_id} {store}: {shown}", file=sys.stderr)
    return results


# -- the report -------------------------------------------------------------------------------------


@dataclass
class Comparison:
    metric: Metric
    base: list[float]
    new: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.new) / statistics.median(self.base)

    @property
    def pairs(self) -> list[float]:
        return [n / b for b, n in zip(self.base, self.new, strict=True)]

    def noise(self) -> float:
        """The larger of the two sides' own spread, max/min - 1 over its rounds."""
        return max(max(v) / min(v) - 1 for v in (self.base, self.new))

    def verdict(self) -> str:
        if len(self.base) < 2:
            return "one round: noise unknown"
        ratio, pairs = self.ratio, self.pairs
        if min(pairs) <= 1 <= max(pairs) or abs(ratio - 1) <= self.noise():
            return "within noise"
        better = (ratio < 1) == self.metric.lower_is_better
        return f"**{'better' if better else 'worse'}** (outside noise)"


def _side_cell(fmt: str, values: list[float]) -> str:
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def comparison_table(comparisons: Sequence[Comparison]) -> str:
    headers = [
        "store",
        "DAG",
        "metric",
        "base: median (range)",
        "new: median (range)",
        "new/base",
        "pair ratios min-max",
        "noise (own spread)",
        "verdict",
    ]
    rows = []
    for c in comparisons:
        m = c.metric
        bold = "**" if (m.scenario, m.store, m.dag, m.key) == HEADLINE else ""
        rows.append(
            [
                STORE_NAMES[m.store],
                m.dag,
                f"{bold}{m.label}{bold}",
                _side_cell(m.fmt, c.base),
                _side_cell(m.fmt, c.new),
                f"{bold}{c.ratio:.3f}{bold}",
                f"{min(c.pairs):.3f}-{max(c.pairs):.3f}",
                f"{c.noise():.1%}" if len(c.base) > 1 else "",
                c.verdict(),
            ]
        )
    return markdown_table(headers, rows)


def headline(comparisons: Sequence[Comparison]) -> str:
    found = [
        c for c in comparisons if (c.metric.scenario, c.metric.store, c.metric.dag, c.metric.key) == HEADLINE
    ]
    if not found:
        return "CPU per no-op task (SQLite, 1,000-way fan-out): not measured (needs throughput on sqlite)."
    c = found[0]
    base, new = statistics.median(c.base), statistics.median(c.new)
    if c.ratio <= TARGET_RATIO and max(c.pairs) <= TARGET_RATIO:
        target = "**met** (the median ratio and every pair)"
    elif c.ratio <= TARGET_RATIO:
        target = "met by the median ratio, not by every pair"
    else:
        target = "**not met**"
    return (
        f"**CPU per no-op task, scheduler + workers, SQLite, 1,000-way fan-out**: base {base:.3f} ms, "
        f"new {new:.3f} ms; new/base **{c.ratio:.3f}** (pairs {min(c.pairs):.3f}-{max(c.pairs):.3f}), "
        f"{c.ratio - 1:+.1%}; {c.verdict()}. Target, a third less (new/base <= {TARGET_RATIO:.3f}): {target}."
    )


def report(
    args: argparse.Namespace,
    sides: Sequence[Side],
    results: dict[Metric, dict[str, list[float]]],
    context: str,
) -> str:
    comparisons = [Comparison(m, v["base"], v["new"]) for m, v in results.items()]
    comparisons.sort(key=lambda c: (c.metric.scenario, c.metric.store, c.metric.dag))
    lines = [context]
    lines += [f"{s.name}: {s.label}; runs `{' '.join(s.command)}` importing {s.imported}  " for s in sides]
    alternation = (
        "rounds, both daemons up at once, each DAG run on base then at once on new"
        if args.interleave
        else "alternating rounds (base, new, ...)"
    )
    lines.append(
        f"{args.rounds} {alternation}; each side's median over its rounds and "
        "range; pair ratios: new/base of adjacent rounds.\n"
    )
    lines.append(comparison_table(comparisons))
    lines.append("\n" + headline(comparisons))
    return "\n".join(lines)


# -- the main program -------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", metavar="BASE_REV", help="the base revision (anything `git rev-parse` takes)")
    parser.add_argument("--rev", help="the revision under test (default: this working tree, as it is)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each side (default 3)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated: latency, throughput")
    parser.add_argument("--store", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="a PostgreSQL server's admin URL")
    parser.add_argument(
        "--root", help="keep every round's files in this new folder (default: a temporary one)"
    )
    parser.add_argument("--markdown", help="also write the report, as markdown, to this file")
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="throughput only: both sides' daemons up at once, each run of base followed by new's",
    )
    args = parser.parse_args()
    args.only = [s for s in args.only.split(",") if s]
    args.store = [s for s in args.store.split(",") if s]
    unknown = set(args.only) - set(SCENARIOS) | set(args.store) - set(STORE_NAMES)
    if args.interleave and args.only != ["throughput"]:
        parser.error("--interleave measures throughput only: add --only throughput")
    if unknown or args.rounds < 1:
        parser.error(f"unknown: {', '.join(sorted(unknown))}" if unknown else "--rounds must be at least 1")
    return args


def make_root(stack: contextlib.ExitStack, root: str | None) -> Path:
    """``--root``, made now and kept; else a temporary folder, deleted when ``stack`` closes."""
    if root:
        Path(root).mkdir(parents=True)
        return Path(root).resolve()
    folder = Path(tempfile.mkdtemp(prefix="bench_compare_"))
    stack.callback(shutil.rmtree, folder, ignore_errors=True)
    return folder


def remove_worktrees(worktrees: list[Path]) -> None:
    for path in worktrees:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)], check=False)
    subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=False)


def main() -> None:
    args = parse_args()
    command = command_line()
    markdown = Path(args.markdown).resolve() if args.markdown else None
    worktrees: list[Path] = []
    with contextlib.ExitStack() as stack:
        root = make_root(stack, args.root)
        stack.callback(remove_worktrees, worktrees)
        stack.callback(SqlDeployment.drop_kept)
        sides = [make_side("base", args.base, root, worktrees), make_side("new", args.rev, root, worktrees)]
        os.chdir(root)  # no dagflow/ in the current folder of any process started from here
        for side in sides:
            verify(side, root)
            compile_bytecode(side, root)
        if sides[0].imported == sides[1].imported:
            raise SystemExit(f"both sides import the same dagflow: {sides[0].imported}")
        start = load_average()
        print(f"Files under {root}; rounds start, load average {start}", file=sys.stderr)
        results = (run_interleaved if args.interleave else run_rounds)(args, sides, root)
        context = (
            f"Command: `{command}`  \nMachine: {machine()}  \n"
            f"Load average at the start: {start}, at the end: {load_average()}  "
        )
        text_report = report(args, sides, results, context)
    print("\n" + text_report)
    if markdown:
        markdown.write_text(text_report + "\n")


if __name__ == "__main__":
    main()
