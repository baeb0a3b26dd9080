"""How much ``dagflow dags test`` costs per no-op task: a 50-task chain and a 500-way mapped task.

Two measures per DAG:

* in-process: ``dag.test()`` alone, on a DAG freshly loaded (not timed) for each repetition, task
  logs written to /dev/null; reported as the median and as milliseconds per task instance;
* the whole command: ``dagflow dags test DAG_ID --dags-folder DIR`` in a subprocess (interpreter
  start, imports, loading the one DAG file, the run, the report), output discarded.

With ``--scaling``, longer chains and a wider mapped task are also run in-process, to show how
the per-task cost grows with the size of the DAG.

Usage: .venv/bin/python bench/bench_runner.py [--reps 7] [--cli-reps 5] [--scaling] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from _common import DAGFLOW, header, markdown_table, median_ms, time_command
from dag_files import write_chain, write_mapped

from dagflow import DAG
from dagflow.core.states import RunState
from dagflow.dagbag import DagBag

LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)
#: What Airflow 3.3's dag.test() took for the same shapes, on this kind of machine (median, seconds).
AIRFLOW_SECONDS = {"chain": 8.4, "mapped": 91.6}
TARGET_MS_PER_TASK = 2.0


def load_dag(folder: Path, dag_id: str) -> DAG:
    bag = DagBag(folder)
    if bag.import_errors:
        raise SystemExit(f"generated DAG failed to import: {list(bag.import_errors.values())}")
    return bag.get_dag(dag_id)


def run_once(folder: Path, dag_id: str, devnull: TextIO) -> tuple[float, int]:
    """Seconds one ``dag.test()`` took on a freshly loaded DAG, and how many task instances it ran."""
    dag = load_dag(folder, dag_id)
    start = time.perf_counter()
    result = dag.test(logical_date=LOGICAL_DATE, log_stream=devnull)
    seconds = time.perf_counter() - start
    if result.state is not RunState.SUCCESS:
        raise SystemExit(f"{dag_id}: the run did not succeed")
    return seconds, len(result.task_instances)


def in_process(folder: Path, dag_id: str, reps: int) -> tuple[float, int]:
    """Median milliseconds of ``dag.test()`` and the number of task instances."""
    with open(os.devnull, "w") as devnull:
        samples = [run_once(folder, dag_id, devnull) for _ in range(reps)]
    return median_ms([s for s, _ in samples]), samples[0][1]


def whole_command(folder: Path, dag_id: str, reps: int) -> float:
    command = [DAGFLOW, "dags", "test", dag_id, "--dags-folder", str(folder), "--logical-date", "2024-01-01"]
    return median_ms([time_command(command) for _ in range(reps)])


def profile(folder: Path, dag_id: str, top: int = 25) -> None:
    dag = load_dag(folder, dag_id)
    profiler = cProfile.Profile()
    with open(os.devnull, "w") as devnull:
        profiler.runcall(dag.test, logical_date=LOGICAL_DATE, log_stream=devnull)
    print(f"\n### cProfile of dag.test() for {dag_id} (top {top} by own time)\n\n```")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)
    print("```")


WRITERS = {"chain": write_chain, "mapped": write_mapped}
SCALING = (("chain", 100), ("chain", 200), ("chain", 500), ("mapped", 2000))


def generate(root: Path, shape: str, n: int) -> tuple[Path, str]:
    """The DAG in a folder of its own, so the command loads only that file."""
    folder = root / f"{shape}_{n}"
    folder.mkdir()
    return folder, WRITERS[shape](folder, n)


def scaling(root: Path, reps: int) -> list[list[object]]:
    rows = []
    for shape, n in SCALING:
        run_ms, instances = in_process(*generate(root, shape, n), reps)
        rows.append([f"{shape} of {n}", instances, f"{run_ms:.1f}", f"{run_ms / instances:.3f}"])
    return rows


def measure(shapes: dict[str, tuple[Path, str]], reps: int, cli_reps: int) -> list[list[object]]:
    rows = []
    for shape, (folder, dag_id) in shapes.items():
        run_ms, instances = in_process(folder, dag_id, reps)
        per_task = run_ms / instances
        airflow_ms = AIRFLOW_SECONDS[shape] * 1000
        rows.append(
            [
                dag_id,
                instances,
                f"{run_ms:.1f}",
                f"{per_task:.3f}",
                "yes" if per_task < TARGET_MS_PER_TASK else "**no**",
                f"{whole_command(folder, dag_id, cli_reps):.0f}",
                f"{airflow_ms:.0f} ({airflow_ms / instances:.0f}/task)",
                f"{airflow_ms / run_ms:.0f}x",
            ]
        )
    return rows


HEADERS = [
    "DAG",
    "task instances",
    "dag.test() median ms",
    "ms per task",
    f"< {TARGET_MS_PER_TASK:g} ms?",
    "`dagflow dags test` wall ms",
    "Airflow 3.3 dag.test() ms",
    "speed-up (in-process)",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="in-process repetitions (median)")
    parser.add_argument("--cli-reps", type=int, default=5, help="subprocess repetitions (median)")
    parser.add_argument("--scaling", action="store_true", help="also run bigger DAGs in-process")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of each run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dagflow_bench_runner_") as tmp:
        shapes = {shape: generate(Path(tmp), shape, n) for shape, n in (("chain", 50), ("mapped", 500))}
        rows = measure(shapes, args.reps, args.cli_reps)
        baseline = median_ms([time_command([DAGFLOW, "--version"]) for _ in range(args.cli_reps)])
        print(header())
        print(markdown_table(HEADERS, rows))
        print(f"\n`dagflow --version` (interpreter + CLI start, no DAG loaded): {baseline:.0f} ms wall.")
        print(f"In-process: median of {args.reps}; whole command: median of {args.cli_reps}.")
        if args.scaling:
            print("\nIn-process only, as the DAG grows:\n")
            headers = ["DAG", "task instances", "dag.test() median ms", "ms per task"]
            print(markdown_table(headers, scaling(Path(tmp), args.reps)))
        if args.profile:
            for folder, dag_id in shapes.values():
                profile(folder, dag_id)


if __name__ == "__main__":
    main()
