"""How long ``DagBag`` takes to load a folder of 100 DAG files of 20 tasks each.

Every measure runs in a fresh process. Inside it, the time of ``DagBag(folder)`` alone is taken
(``perf_counter`` around the constructor), and separately the time to import ``dagflow.dagbag``.

* cold: the DAG folder's ``__pycache__`` is deleted before each run, so every file is compiled;
* warm: the same folder loaded again in a new process, with the bytecode cached by an earlier run.

The interpreter's own start-up, and start-up plus ``import dagflow.dagbag``, are timed as wall
clock around a subprocess.

Usage: .venv/bin/python bench/bench_dagbag.py [--reps 7] [--files 100] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import clean_environment, header, markdown_table, median_ms, time_command
from dag_files import write_bag

TARGET_SECONDS = 0.3
AIRFLOW_SECONDS = 1.17


def child(folder: str) -> None:
    """Runs in the measured process: import dagflow, load the folder, print the timings as JSON."""
    start = time.perf_counter()
    from dagflow.dagbag import DagBag

    imported = time.perf_counter()
    bag = DagBag(folder)
    loaded = time.perf_counter()
    tasks = sum(len(dag.task_dict) for dag in bag.dags.values())
    report = {
        "import_s": imported - start,
        "dagbag_s": loaded - imported,
        "dags": len(bag.dags),
        "tasks": tasks,
        "errors": len(bag.import_errors),
    }
    print(json.dumps(report))


def run_child(folder: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, env=clean_environment(), check=True)
    report = json.loads(done.stdout)
    if report["errors"]:
        raise SystemExit(f"{report['errors']} generated DAG file(s) failed to import")
    return report


def cold(folder: Path, reps: int) -> list[dict[str, float]]:
    reports = []
    for _ in range(reps):
        shutil.rmtree(folder / "__pycache__", ignore_errors=True)
        reports.append(run_child(folder))
    return reports


def warm(folder: Path, reps: int) -> list[dict[str, float]]:
    run_child(folder)  # writes the bytecode cache
    if not any((folder / "__pycache__").glob("*.pyc")):
        raise SystemExit("no bytecode was cached: the warm figures would be cold ones")
    return [run_child(folder) for _ in range(reps)]


def startup_rows(reps: int) -> list[list[object]]:
    bare = [time_command([sys.executable, "-c", "pass"]) for _ in range(reps)]
    imports = [time_command([sys.executable, "-c", "import dagflow.dagbag"]) for _ in range(reps)]
    return [
        ["interpreter start-up (`python -c pass`), wall", f"{median_ms(bare):.0f}", spread(bare), ""],
        ["start-up + `import dagflow.dagbag`, wall", f"{median_ms(imports):.0f}", spread(imports), ""],
    ]


def load_rows(folder: Path, reps: int) -> tuple[list[list[object]], dict[str, float]]:
    cold_runs, warm_runs = cold(folder, reps), warm(folder, reps)
    rows = []
    for name, runs in (("cold (no `__pycache__`)", cold_runs), ("warm (bytecode cached)", warm_runs)):
        samples = [r["dagbag_s"] for r in runs]
        verdict = "yes" if median_ms(samples) < TARGET_SECONDS * 1000 else "**no**"
        rows.append([f"`DagBag(folder)`, {name}", f"{median_ms(samples):.0f}", spread(samples), verdict])
    imports = [r["import_s"] for r in warm_runs]
    rows.append(
        ["`import dagflow.dagbag`, inside the process", f"{median_ms(imports):.0f}", spread(imports), ""]
    )
    return rows, warm_runs[0]


def spread(samples: list[float]) -> str:
    return f"{min(samples) * 1000:.0f}-{max(samples) * 1000:.0f}"


def profile(folder: Path, top: int = 30) -> None:
    """cProfile of a warm DagBag load in this process (cumulative and own time)."""
    from dagflow.dagbag import DagBag

    profiler = cProfile.Profile()
    profiler.runcall(DagBag, folder)
    for order in ("cumulative", "tottime"):
        print(f"\n### cProfile of DagBag({folder.name}), by {order} (top {top})\n\n```")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats(order).print_stats(top)
        print("```")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="runs per measure (median)")
    parser.add_argument("--files", type=int, default=100, help="DAG files to generate")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of a warm load")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory(prefix="dagflow_bench_dagbag_") as tmp:
        folder = Path(tmp) / "dags"
        write_bag(folder, args.files)
        rows, sample = load_rows(folder, args.reps)
        rows.extend(startup_rows(args.reps))
        print(header())
        print(f"{sample['dags']} DAGs, {sample['tasks']} tasks; median of {args.reps} fresh processes each\n")
        headers = ["measure", "median ms", "min-max ms", f"< {TARGET_SECONDS * 1000:.0f} ms?"]
        print(markdown_table(headers, rows))
        print(f"\nAirflow 3.3's DagBag on the same kind of folder: {AIRFLOW_SECONDS * 1000:.0f} ms.")
        if args.profile:
            profile(folder)


if __name__ == "__main__":
    main()
