"""The scheduler daemon's performance: latency, throughput, scale, memory and new DAG files.

Every measure runs against a throwaway deployment (``bench/scheduler_deploy.py``): a temporary
``DAGFLOW_HOME`` and DAGs folder, and a store that is a SQLite file or a PostgreSQL database created
for it on ``--postgres`` and dropped afterwards. Defaults throughout: parallelism 32,
max_active_tasks 16 per DAG, one worker process per core.

* ``latency``: ``dagflow scheduler`` runs as a process; once it is up (job recorded, workers and DAG
  processor spawned) a 50-task chain of no-op ``@task`` s is run once to warm up, then ``--rounds``
  times, each triggered with ``dagflow dags trigger``. From the store's recorded times: the gap
  between each task's ``end_date`` and its downstream's ``start_date`` (49 gaps), each task's own
  run (``start_date`` to ``end_date``), and the whole chain from the trigger (the run's
  ``queued_at``) to success (its ``end_date``).
* ``throughput``: the same with a 1,000-way fan-out (a no-op root, then 1,000 no-op tasks after
  it) and a no-op task mapped over ``range(1000)``: task instances that succeeded per second, from
  the trigger to the run's success, and from the first task's start to the last one's end; and the
  CPU time the scheduler and the workers used per task (``/proc/PID/stat``).
* ``scale``: the scheduler runs in this process (``Scheduler.start``, then ``run_once`` and ``wait``
  in a loop, as ``Scheduler.run`` does; the DAG processor is not started, the DAGs being recorded
  beforehand with ``dagflow dags reserialize``), with its ``LocalExecutor`` worker processes.
  Each ``run_once`` is timed (wall clock, and CPU time of the loop's thread), and the tasks
  finished in each pass counted from the executor's events. Cases at two sizes: 100 and 200 DAGs
  of 10 tasks each with a run going at once; a layered DAG of 5,000 and 10,000 tasks (layers of
  500, each task after two of the layer before) run whole; a chain of 5,000 and 10,000 tasks,
  its first ``--chain-tasks`` tasks. Linear growth shows as a flat cost per task completed.
* ``memory``: 1,000 DAG files of 20 tasks (``bench/dag_files.py``), paused at creation, parsed by
  the daemon's own DAG processor (no reserialize). Once every file is parsed: the resident memory
  of the scheduler, its DAG processor and its workers, and how long the parse took.
* ``newfile``: with that daemon running, a new DAG file (``@once``, start date in the past,
  ``is_paused_upon_creation=False``) is saved (written aside, then renamed in) into its DAGs
  folder; from the save to its DAG row, its first run, and that run's first task start.

A note on the filesystem: every attempt creates a log folder and a log file. On an ext4 filesystem
without a journal (as on our VMs), the kernel passes over inodes freed in the last minute when it
allocates new ones, so for a minute after many files were deleted (a test run, the end of a bench
run) each new file or folder costs up to a millisecond of CPU instead of tens of microseconds, and
the figures drop by a fifth. Measure at least a minute after such a deletion; ``--root`` keeps this
run's files so that it does not slow the next one.

Usage:
  .venv/bin/python bench/bench_scheduler.py [--only latency,throughput,scale,memory,newfile]
      [--store sqlite,postgres] [--rounds 3] [--postgres ADMIN_URL] [--profile DIR] [--root DIR]

``--profile DIR`` runs the daemon under cProfile (``python -m cProfile -o DIR/scheduler-*.prof -m
dagflow scheduler``) and makes its workers profile themselves (``DIR/child-PID.prof``, through a
``sitecustomize`` on their ``PYTHONPATH``), then prints the top functions of each.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import header, markdown_table
from dag_files import (
    new_file_source,
    write_bag,
    write_chain,
    write_fanout,
    write_layered,
    write_long_chain,
    write_mapped_only,
    write_small,
)
from scheduler_deploy import DEFAULT_POSTGRES, Daemon, Deployment, cpu_seconds, deployment, rss_mb, wait_for
from sqlalchemy import func, select

from dagflow import actions
from dagflow.config import Settings
from dagflow.core.states import RunState
from dagflow.executors.base import EventKind, ExecutorEvent
from dagflow.executors.local import LocalExecutor
from dagflow.executors.worker import WorkerSettings
from dagflow.scheduler.job import Scheduler, SchedulerOptions
from dagflow.store.engine import Database
from dagflow.store.models import DagRunRow

#: ``deployment`` or a stand-in (``bench/compare.py`` runs the same scenarios on another revision).
OpenDeployment = Callable[..., contextlib.AbstractContextManager[Deployment]]

SCENARIOS = ("latency", "throughput", "scale", "memory", "newfile")
STORE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def median_round(rounds: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """The round whose ``key`` is the median (the lower middle one of an even number)."""
    ordered = sorted(rounds, key=lambda r: r[key])
    return ordered[(len(ordered) - 1) // 2]


def spread(rounds: Sequence[dict[str, Any]], key: str, fmt: str = "{:.1f}") -> str:
    values = [r[key] for r in rounds]
    return f"{fmt.format(min(values))}-{fmt.format(max(values))}"


def load_average() -> str:
    return " / ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- latency ----------------------------------------------------------------------------------------


def chain_figures(run: Any, tasks: list[Any]) -> dict[str, Any]:
    """Gaps and durations of one run of a chain whose task ids sort in chain order."""
    tasks = sorted(tasks, key=lambda t: t.task_id)
    if any(t.state != "success" or t.try_number != 1 for t in tasks):
        raise SystemExit("a chain task did not succeed on its first try")
    gaps = [seconds(b.start_date, a.end_date) * 1000 for a, b in itertools.pairwise(tasks)]
    own = [seconds(t.end_date, t.start_date) * 1000 for t in tasks]
    return {
        "tasks": len(tasks),
        "gap_median": statistics.median(gaps),
        "gap_p90": statistics.quantiles(gaps, n=10)[-1],
        "gap_max": max(gaps),
        "own_median": statistics.median(own),
        "first_start": seconds(tasks[0].start_date, run.queued_at) * 1000,
        "chain": seconds(run.end_date, run.queued_at),
        "end_to_success": seconds(run.end_date, tasks[-1].end_date) * 1000,
    }


def run_latency(
    args: argparse.Namespace, store: str, root: Path, open_deployment: OpenDeployment = deployment
) -> list[dict[str, Any]]:
    with open_deployment(store, root, admin_url=args.postgres) as deploy:
        dag_id = write_chain(deploy.dags, 50)
        deploy.setup()
        daemon = Daemon(deploy, profile_dir=_profile_dir(args, f"latency-{store}"), name=f"scheduler-{store}")
        try:
            daemon.wait_ready()
            deploy.trigger(dag_id, "warmup")
            deploy.wait_run(dag_id, "warmup")
            rounds = []
            for number in range(1, args.rounds + 1):
                time.sleep(1.0)
                deploy.trigger(dag_id, f"round_{number}")
                run = deploy.wait_run(dag_id, f"round_{number}")
                rounds.append(chain_figures(run, deploy.task_rows(dag_id, f"round_{number}")))
        finally:
            daemon.stop()
    return rounds


def report_latency(results: dict[str, list[dict[str, Any]]]) -> None:
    print("\n### Task-to-task latency: a chain of 50 no-op tasks\n")
    rows = []
    for store, rounds in results.items():
        r = median_round(rounds, "gap_median")
        rows.append(
            [
                STORE_NAMES[store],
                f"{r['gap_median']:.1f}",
                spread(rounds, "gap_median"),
                f"{r['gap_p90']:.1f} / {r['gap_max']:.1f}",
                f"{r['own_median']:.2f}",
                f"{r['first_start']:.0f}",
                f"{r['end_to_success']:.0f}",
                f"{r['chain']:.2f}",
                spread(rounds, "chain", "{:.2f}"),
                "yes" if r["gap_median"] < 20 and r["chain"] < 2 else "**no**",
            ]
        )
    headers = [
        "store",
        "median gap ms",
        "range ms",
        "p90 / max gap ms",
        "task's own run ms",
        "trigger to first start ms",
        "last end to run success ms",
        "chain s (trigger to success)",
        "range s",
        "< 20 ms and < 2 s?",
    ]
    print(markdown_table(headers, rows))
    print("\nAirflow 3.3.2 (LocalExecutor, PostgreSQL): median gap 1,060 ms, own run 220 ms, chain ~60 s.")


# -- throughput -------------------------------------------------------------------------------------


@dataclass
class CpuMeter:
    """CPU time used by the daemon and by its workers (all its children but the DAG processor)."""

    daemon: Daemon
    start: dict[int, float] = field(default_factory=dict)

    def begin(self) -> None:
        self.start = self._now()

    def _now(self) -> dict[int, float]:
        return {pid: cpu_seconds(pid) for pid in [self.daemon.pid, *self.daemon.children()]}

    def used(self) -> tuple[float, float]:
        """(scheduler seconds, workers' seconds) since :meth:`begin`."""
        now = self._now()
        children = self.daemon.children()
        workers = children[:-1]  # the DAG processor is spawned after the workers: the youngest child
        scheduler = now[self.daemon.pid] - self.start.get(self.daemon.pid, 0.0)
        return scheduler, sum(now[p] - self.start.get(p, 0.0) for p in workers if p in now)


def throughput_figures(run: Any, tasks: list[Any], cpu: tuple[float, float]) -> dict[str, Any]:
    done = [t for t in tasks if t.state == "success"]
    if len(done) != len(tasks):
        raise SystemExit(f"{len(tasks) - len(done)} task instances did not succeed")
    first = min(t.start_date for t in done)
    last = max(t.end_date for t in done)
    end_to_end = seconds(run.end_date, run.queued_at)
    return {
        "tasks": len(done),
        "seconds": end_to_end,
        "rate": len(done) / end_to_end,
        "steady_rate": len(done) / seconds(last, first),
        "first_start": seconds(first, run.queued_at) * 1000,
        "scheduler_cpu": cpu[0] * 1000 / len(done),
        "worker_cpu": cpu[1] * 1000 / len(done),
    }


def run_throughput(
    args: argparse.Namespace, store: str, root: Path, open_deployment: OpenDeployment = deployment
) -> dict[str, list[dict[str, Any]]]:
    with open_deployment(store, root, admin_url=args.postgres) as deploy:
        profile_dir = _profile_dir(args, f"throughput-{store}")
        with throughput_daemon(deploy, profile_dir=profile_dir, name=f"scheduler-{store}") as (
            dag_ids,
            meter,
        ):
            results: dict[str, list[dict[str, Any]]] = {dag_id: [] for dag_id in dag_ids}
            for number in range(1, args.rounds + 1):
                for dag_id in dag_ids:
                    results[dag_id].append(throughput_run(deploy, meter, dag_id, f"round_{number}"))
    return results


@contextlib.contextmanager
def throughput_daemon(
    deploy: Deployment, *, profile_dir: Path | None = None, name: str = "scheduler"
) -> Iterator[tuple[list[str], CpuMeter]]:
    """The throughput DAGs written and recorded in ``deploy``, its daemon up and each DAG run once
    to warm up: their ids, and a meter of the daemon's CPU. The daemon stops at the end."""
    dag_ids = [write_fanout(deploy.dags, 1000), write_mapped_only(deploy.dags, 1000)]
    deploy.setup()
    daemon = Daemon(deploy, profile_dir=profile_dir, name=name)
    try:
        daemon.wait_ready()
        for dag_id in dag_ids:
            deploy.trigger(dag_id, "warmup")
            deploy.wait_run(dag_id, "warmup")
        yield dag_ids, CpuMeter(daemon)
    finally:
        daemon.stop()


def throughput_run(deploy: Deployment, meter: CpuMeter, dag_id: str, run_id: str) -> dict[str, Any]:
    """One measured run of ``dag_id``, a second after the last one ended."""
    time.sleep(1.0)
    meter.begin()
    deploy.trigger(dag_id, run_id)
    run = deploy.wait_run(dag_id, run_id)
    return throughput_figures(run, deploy.task_rows(dag_id, run_id), meter.used())


def report_throughput(results: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    print("\n### Throughput: 1,000 no-op tasks, default configuration\n")
    rows = []
    for store, by_dag in results.items():
        for dag_id, rounds in by_dag.items():
            r = median_round(rounds, "rate")
            rows.append(
                [
                    STORE_NAMES[store],
                    dag_id,
                    r["tasks"],
                    f"{r['seconds']:.2f}",
                    f"**{r['rate']:.0f}**",
                    spread(rounds, "rate", "{:.0f}"),
                    f"{r['steady_rate']:.0f}",
                    f"{r['first_start']:.0f}",
                    f"{r['scheduler_cpu']:.2f} / {r['worker_cpu']:.2f}",
                    ("yes" if r["rate"] >= 500 else "**no**") if store == "sqlite" else "",
                ]
            )
    headers = [
        "store",
        "DAG",
        "tasks",
        "trigger to success s",
        "tasks/s end to end",
        "range",
        "tasks/s first start to last end",
        "trigger to first start ms",
        "CPU ms per task: scheduler / workers",
        ">= 500/s (SQLite)?",
    ]
    print(markdown_table(headers, rows))
    print(
        "\nAirflow 3.3.2 (LocalExecutor, PostgreSQL): 4.4 tasks/s (200-way fan-out), 4.5/s (500-way mapped)."
    )


# -- scale (in process) -----------------------------------------------------------------------------


class CountingExecutor(LocalExecutor):
    """The local executor, counting the attempts that finished in each pass (one ``events()`` per pass)."""

    finished = 0

    def events(self) -> list[ExecutorEvent]:
        events = super().events()
        self.finished += sum(1 for e in events if e.kind is EventKind.FINISHED)
        return events


@dataclass(frozen=True)
class ScaleCase:
    label: str
    size: str
    dag_ids: tuple[str, ...]
    #: Stop after this many tasks finished (None: when the runs are done).
    limit: int | None = None


WARMUP_DAG = "bench_chain_3"


@dataclass
class Pass:
    wall: float
    cpu: float
    finished: int


def _scheduler(deploy: Deployment) -> tuple[Scheduler, CountingExecutor]:
    settings = Settings.load(environ=deploy.env)
    worker_settings = WorkerSettings(
        database_url=settings.database_url,
        log_folder=str(settings.log_folder),
        heartbeat_interval=settings.getfloat("scheduler", "heartbeat_sec") * 2,
        import_timeout=settings.getfloat("core", "dagbag_import_timeout"),
    )
    executor = CountingExecutor(worker_settings)
    options = SchedulerOptions.from_settings(settings)
    options.run_processor = False
    return Scheduler(settings, executor, options=options, db=Database(settings.database_url)), executor


def _trigger_all(scheduler: Scheduler, dag_ids: Sequence[str], run_id: str) -> None:
    with scheduler.db.session(write=True) as session:
        for dag_id in dag_ids:
            actions.trigger_dag(session, dag_id, run_id=run_id)


def _active(scheduler: Scheduler, run_id: str) -> int:
    query = (
        select(func.count())
        .select_from(DagRunRow)
        .where(DagRunRow.run_id == run_id, DagRunRow.state.in_(("queued", "running")))
    )
    with scheduler.db.session() as session:
        return int(session.scalar(query) or 0)


def _timed_passes(
    scheduler: Scheduler, executor: CountingExecutor, done: Callable[[], bool], timeout: float = 900.0
) -> list[Pass]:
    passes: list[Pass] = []
    deadline = time.monotonic() + timeout
    while not done():
        before = executor.finished
        wall, cpu = time.perf_counter(), time.thread_time()
        scheduler.run_once()
        passes.append(Pass(time.perf_counter() - wall, time.thread_time() - cpu, executor.finished - before))
        if time.monotonic() > deadline:
            raise SystemExit("scale case did not finish in time")
        scheduler.wait()
    return passes


def run_scale_case(deploy: Deployment, case: ScaleCase, run_id: str) -> dict[str, Any]:
    scheduler, executor = _scheduler(deploy)
    scheduler.start()
    try:
        _trigger_all(scheduler, [WARMUP_DAG], f"warmup_{run_id}")
        _timed_passes(scheduler, executor, lambda: not _active(scheduler, f"warmup_{run_id}"))
        executor.finished = 0
        _trigger_all(scheduler, case.dag_ids, run_id)
        limit = case.limit
        started = time.perf_counter()
        if limit is None:
            passes = _timed_passes(scheduler, executor, lambda: not _active(scheduler, run_id))
        else:
            passes = _timed_passes(scheduler, executor, lambda: executor.finished >= limit)
        wall = time.perf_counter() - started
    finally:
        scheduler.shutdown()
        scheduler.db.dispose()
    if limit is not None:
        with scheduler.db.session(write=True) as session:
            for dag_id in case.dag_ids:
                actions.set_run_state(session, dag_id, run_id, RunState.FAILED)
        scheduler.db.dispose()
    return scale_figures(case, passes, wall)


def scale_figures(case: ScaleCase, passes: list[Pass], wall: float) -> dict[str, Any]:
    tasks = sum(p.finished for p in passes)
    working = [p for p in passes if p.finished]
    total, cpu = sum(p.wall for p in passes), sum(p.cpu for p in passes)
    return {
        "label": case.label,
        "size": case.size,
        "tasks": tasks,
        "passes": len(passes),
        "pass_median": statistics.median(p.wall for p in working) * 1000,
        "pass_p90": statistics.quantiles([p.wall for p in working], n=10)[-1] * 1000,
        "pass_max": max(p.wall for p in passes) * 1000,
        "per_pass_tasks": tasks / max(1, len(working)),
        "loop_seconds": total,
        "ms_per_task": total * 1000 / tasks,
        "cpu_ms_per_task": cpu * 1000 / tasks,
        "wall": wall,
        "rate": tasks / wall,
    }


def scale_cases(deploy: Deployment, chain_tasks: int) -> list[ScaleCase]:
    write_chain(deploy.dags, 3)  # the warm-up before each case
    small = tuple(write_small(deploy.dags, i) for i in range(200))
    cases = [
        ScaleCase("DAGs of 10 tasks, one run each, all at once", "100", small[:100]),
        ScaleCase("DAGs of 10 tasks, one run each, all at once", "200", small),
    ]
    for layers in (10, 20):
        dag_id = write_layered(deploy.dags, layers, 500)
        cases.append(ScaleCase("layered DAG (layers of 500), whole run", f"{layers * 500:,}", (dag_id,)))
    for n in (5000, 10000):
        dag_id = write_long_chain(deploy.dags, n)
        label = f"chain, its first {chain_tasks} tasks"
        cases.append(ScaleCase(label, f"{n:,}", (dag_id,), limit=chain_tasks))
    return cases


def run_scale(args: argparse.Namespace, store: str, root: Path) -> list[dict[str, Any]]:
    with deployment(store, root, admin_url=args.postgres) as deploy:
        cases = scale_cases(deploy, args.chain_tasks)
        deploy.setup()
        deploy.engine.dispose()
        results = []
        for number in range(1, args.rounds + 1):
            for index, case in enumerate(cases):
                figures = run_scale_case(deploy, case, f"round_{number}_case_{index}")
                figures["round"] = number
                results.append(figures)
                print(
                    f"  scale {store} round {number}: {case.label} {case.size}: "
                    f"{figures['ms_per_task']:.2f} ms/task",
                    file=sys.stderr,
                )
    return results


def report_scale(results: dict[str, list[dict[str, Any]]]) -> None:
    print("\n### Scale: time per scheduler pass (`run_once`), in process, at two sizes\n")
    headers = [
        "store",
        "case",
        "size",
        "tasks done",
        "passes",
        "median / p90 / max pass ms",
        "tasks per working pass",
        "loop ms per task (range)",
        "loop CPU ms per task",
        "tasks/s",
        "per-task cost vs the smaller size",
    ]
    rows = []
    for store, figures in results.items():
        smaller: dict[str, float] = {}
        for label in dict.fromkeys(f["label"] for f in figures):
            for size in dict.fromkeys(f["size"] for f in figures if f["label"] == label):
                rounds = [f for f in figures if f["label"] == label and f["size"] == size]
                r = median_round(rounds, "ms_per_task")
                ratio = f"x{r['ms_per_task'] / smaller[label]:.2f}" if label in smaller else "(base)"
                smaller.setdefault(label, r["ms_per_task"])
                rows.append(
                    [
                        STORE_NAMES[store],
                        label,
                        size,
                        r["tasks"],
                        r["passes"],
                        f"{r['pass_median']:.1f} / {r['pass_p90']:.1f} / {r['pass_max']:.0f}",
                        f"{r['per_pass_tasks']:.1f}",
                        f"{r['ms_per_task']:.2f} ({spread(rounds, 'ms_per_task', '{:.2f}')})",
                        f"{r['cpu_ms_per_task']:.2f}",
                        f"{r['rate']:.0f}",
                        ratio,
                    ]
                )
    print(markdown_table(headers, rows))


# -- memory and new DAG files -----------------------------------------------------------------------

BAG_FILES = 1000


def _all_parsed_since(deploy: Deployment, since: float, count: int) -> bool:
    if deploy.count_dags() < count:
        return False
    first, _ = deploy.parse_times()
    return first is not None and first.timestamp() >= since


def memory_figures(deploy: Deployment, daemon: Daemon) -> dict[str, Any]:
    first, last = deploy.parse_times()
    children = daemon.children()
    return {
        "scheduler_mb": rss_mb(daemon.pid),
        "processor_mb": rss_mb(children[-1]),
        "worker_mb": max(rss_mb(p) for p in children[:-1]),
        "parse_span": seconds(last, first),
        "start_to_parsed": last.timestamp() - daemon.started_at,
    }


def new_file_figures(deploy: Deployment, number: int) -> dict[str, Any]:
    dag_id = f"bench_new_{number}"
    staging = deploy.root / f"{dag_id}.py.tmp"
    staging.write_text(new_file_source(dag_id))
    saved = time.time()
    os.replace(staging, deploy.dags / f"{dag_id}.py")
    run_id = wait_for(lambda: _first_run_id(deploy, dag_id), timeout=120, what=f"a run of {dag_id}")
    run = deploy.wait_run(dag_id, run_id)
    tasks = deploy.task_rows(dag_id, run_id)
    parsed, _ = _dag_parsed(deploy, dag_id)
    first_start = min(t.start_date for t in tasks)
    return {
        "parsed": parsed.timestamp() - saved,
        "run_created": run.queued_at.timestamp() - saved,
        "first_start": first_start.timestamp() - saved,
        "run_done": run.end_date.timestamp() - saved,
    }


def _first_run_id(deploy: Deployment, dag_id: str) -> str | None:
    with deploy.engine.connect() as conn:
        return conn.scalar(select(DagRunRow.run_id).where(DagRunRow.dag_id == dag_id))


def _dag_parsed(deploy: Deployment, dag_id: str) -> tuple[datetime, bool]:
    from dagflow.store.models import DagRow

    with deploy.engine.connect() as conn:
        row = conn.execute(
            select(DagRow.last_parsed_at, DagRow.is_paused).where(DagRow.dag_id == dag_id)
        ).one()
    return row[0], row[1]


def run_memory(args: argparse.Namespace, store: str, root: Path, wanted: set[str]) -> dict[str, list[Any]]:
    """Both measures on one daemon per round: memory once all files are parsed, then a new file."""
    results: dict[str, list[Any]] = {"memory": [], "newfile": []}
    with deployment(store, root, admin_url=args.postgres, paused_at_creation=True) as deploy:
        write_bag(deploy.dags, BAG_FILES)
        deploy.cli("db", "migrate")
        for number in range(1, args.rounds + 1):
            daemon = Daemon(
                deploy,
                profile_dir=_profile_dir(args, f"memory-{store}-{number}"),
                name=f"scheduler-{store}-{number}",
            )
            try:
                expected = BAG_FILES + number - 1
                wait_for(
                    lambda: _all_parsed_since(deploy, daemon.started_at, expected),  # noqa: B023
                    timeout=300,
                    every=0.2,
                    what="the DAG files to be parsed",
                )
                time.sleep(3.0)  # the scheduler reads the DAGs the processor reported
                results["memory"].append(memory_figures(deploy, daemon))
                if "newfile" in wanted:
                    results["newfile"].append(new_file_figures(deploy, number))
            finally:
                daemon.stop()
    return results


def report_memory(results: dict[str, list[dict[str, Any]]]) -> None:
    print(f"\n### Memory with {BAG_FILES:,} DAG files of 20 tasks (paused), once all are parsed\n")
    headers = [
        "store",
        "scheduler RSS MB",
        "DAG processor RSS MB",
        "largest worker RSS MB",
        "scheduler range MB",
        "parse: first to last file s",
        "daemon start to last file parsed s",
    ]
    rows = []
    for store, rounds in results.items():
        r = median_round(rounds, "scheduler_mb")
        rows.append(
            [
                STORE_NAMES[store],
                f"{r['scheduler_mb']:.0f}",
                f"{r['processor_mb']:.0f}",
                f"{r['worker_mb']:.0f}",
                spread(rounds, "scheduler_mb", "{:.0f}"),
                f"{r['parse_span']:.1f} ({spread(rounds, 'parse_span')})",
                f"{r['start_to_parsed']:.1f}",
            ]
        )
    print(markdown_table(headers, rows))
    print("\nAirflow 3.3's dag-processor: 16 s for 100 files of 20 tasks on this kind of machine.")


def report_newfile(results: dict[str, list[dict[str, Any]]]) -> None:
    print(f"\n### A new DAG file saved into the DAGs folder of a running daemon ({BAG_FILES:,} files)\n")
    headers = [
        "store",
        "save to parsed s",
        "save to first run s",
        "save to first task start s",
        "range s",
        "save to run success s",
    ]
    rows = []
    for store, rounds in results.items():
        r = median_round(rounds, "first_start")
        rows.append(
            [
                STORE_NAMES[store],
                f"{r['parsed']:.2f}",
                f"{r['run_created']:.2f}",
                f"**{r['first_start']:.2f}**",
                spread(rounds, "first_start", "{:.2f}"),
                f"{r['run_done']:.2f}",
            ]
        )
    print(markdown_table(headers, rows))


# -- profiles and the main program ------------------------------------------------------------------


def _profile_dir(args: argparse.Namespace, name: str) -> Path | None:
    return Path(args.profile) / name if args.profile else None


def print_profiles(folder: Path, top: int = 25) -> None:
    for path in sorted(folder.rglob("*.prof")):
        print(f"\n#### {path.relative_to(folder)} (top {top} by own time, then dagflow by cumulative)\n\n```")
        stats = pstats.Stats(str(path), stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats("dagflow", top)
        print("```")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help="comma-separated: " + ", ".join(SCENARIOS)
    )
    parser.add_argument("--store", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="a PostgreSQL server's admin URL")
    parser.add_argument("--chain-tasks", type=int, default=500, help="tasks of the long chains to run")
    parser.add_argument("--profile", help="write cProfile output of the daemon and its workers here")
    parser.add_argument(
        "--root",
        help="build the deployments in this new folder and leave them there (default: a temporary "
        "folder, deleted at the end), for a look afterwards, or so that no later run is measured "
        "right after this one deleted its files (see the note on the filesystem above)",
    )
    args = parser.parse_args()
    args.only = [s for s in args.only.split(",") if s]
    args.store = [s for s in args.store.split(",") if s]
    unknown = set(args.only) - set(SCENARIOS) | set(args.store) - set(STORE_NAMES)
    if unknown:
        parser.error(f"unknown: {', '.join(sorted(unknown))}")
    return args


def bench_root(stack: contextlib.ExitStack, root: str | None) -> str:
    """``root``, made now and kept; else a temporary folder, deleted when ``stack`` closes."""
    if root:
        Path(root).mkdir(parents=True)
        return root
    return stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_scheduler_"))


def main() -> None:
    args = parse_args()
    print(header() + f"Load average at the start: {load_average()}\n")
    collected: dict[str, dict[str, Any]] = {name: {} for name in SCENARIOS}
    with contextlib.ExitStack() as stack:
        tmp = bench_root(stack, args.root)
        for store in args.store:
            for name in ("latency", "throughput", "scale"):
                if name in args.only:
                    runner = {"latency": run_latency, "throughput": run_throughput, "scale": run_scale}[name]
                    collected[name][store] = runner(args, store, Path(tmp) / f"{name}-{store}")
            if {"memory", "newfile"} & set(args.only):
                both = run_memory(args, store, Path(tmp) / f"memory-{store}", set(args.only))
                for name in ("memory", "newfile"):
                    if name in args.only:
                        collected[name][store] = both[name]
    reports = {
        "latency": report_latency,
        "throughput": report_throughput,
        "scale": report_scale,
        "memory": report_memory,
        "newfile": report_newfile,
    }
    for name in SCENARIOS:
        if collected[name]:
            reports[name](collected[name])
    print(f"\nLoad average at the end: {load_average()}; rounds: {args.rounds}, the median round shown.")
    if args.profile:
        print_profiles(Path(args.profile))


if __name__ == "__main__":
    main()
