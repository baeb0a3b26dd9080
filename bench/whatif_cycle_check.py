"""What-if: how fast would ``DagBag`` load the 100-file folder if cycles were found without networkx?

An experiment for the package, not a benchmark of it: in its own processes only, it replaces
``DAG.check_cycle`` (a networkx ``find_cycle`` on a ``DiGraph`` built per DAG, and the networkx
import the first time) with Kahn's algorithm over ``downstream_task_ids``, and loads the same
folder as ``bench_dagbag.py`` both ways. Runs alternate between the two, so that a busy machine
slows both alike.

Usage: .venv/bin/python bench/whatif_cycle_check.py [--reps 7]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from _common import clean_environment, header, markdown_table, median_ms
from dag_files import write_bag

if TYPE_CHECKING:
    from dagflow.models.dag import DAG

MODES = ("networkx (as shipped)", "Kahn's algorithm")


def check_cycle_without_networkx(dag: DAG) -> None:
    from dagflow.exceptions import DagCycleError

    waiting = {task_id: len(task.upstream_task_ids) for task_id, task in dag.task_dict.items()}
    ready = [task_id for task_id, count in waiting.items() if count == 0]
    seen = 0
    while ready:
        seen += 1
        for down in dag.task_dict[ready.pop()].downstream_task_ids:
            waiting[down] -= 1
            if waiting[down] == 0:
                ready.append(down)
    if seen != len(waiting):
        raise DagCycleError(f"DAG {dag.dag_id!r} has a cycle")


def child(mode: int, folder: str) -> None:
    from dagflow.dagbag import DagBag
    from dagflow.models.dag import DAG

    if mode == 1:
        DAG.check_cycle = check_cycle_without_networkx
    start = time.perf_counter()
    bag = DagBag(folder)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "errors": len(bag.import_errors)}))


def run_child(mode: int, folder: Path) -> float:
    command = [sys.executable, __file__, "--child", str(mode), str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, env=clean_environment(), check=True)
    report = json.loads(done.stdout)
    if report["errors"]:
        raise SystemExit("generated DAG files failed to import")
    return report["seconds"]


def measure(folder: Path, reps: int) -> dict[tuple[int, bool], list[float]]:
    samples: dict[tuple[int, bool], list[float]] = {(m, c): [] for m in (0, 1) for c in (False, True)}
    for _ in range(reps):
        for mode in (0, 1):
            samples[(mode, False)].append(run_child(mode, folder))
            shutil.rmtree(folder / "__pycache__", ignore_errors=True)
            samples[(mode, True)].append(run_child(mode, folder))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1])
        return
    with tempfile.TemporaryDirectory(prefix="dagflow_whatif_") as tmp:
        folder = Path(tmp) / "dags"
        write_bag(folder, 100)
        run_child(0, folder)  # the first warm run needs a bytecode cache
        samples = measure(folder, args.reps)
    rows = [
        [MODES[mode], "cold" if cold else "warm", f"{median_ms(values):.0f}"]
        for (mode, cold), values in sorted(samples.items(), key=lambda item: (item[0][1], item[0][0]))
    ]
    print(header())
    print(markdown_table(["cycle check", "load", "DagBag median ms"], rows))


if __name__ == "__main__":
    main()
