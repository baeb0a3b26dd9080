"""What the ``airflow`` import layer adds to loading 100 DAG files of 20 tasks (target: under 5 %).

Three folders of the same 100 generated DAG files (``bench/dag_files.py``), measured in one run,
interleaved, each load in a fresh process with the bytecode cached (warm), ``perf_counter`` around
``DagBag(folder)`` only:

* base: the files import ``dagflow``, the layer off (``airflow_compat=False``);
* layer on: the same files, the layer on (its finder installed on ``sys.meta_path``);
* airflow imports: the files import ``airflow.sdk`` and ``airflow.providers.standard...`` instead,
  served by the layer.

Usage: .venv/bin/python bench/bench_airflow_compat.py [--reps 15] [--files 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import clean_environment, header, markdown_table, median_ms
from dag_files import HEADER, write_bag

TARGET = 0.05
AIRFLOW_HEADER = """\
from datetime import datetime, timedelta

from airflow.sdk import DAG, TaskGroup, chain, task
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import PythonOperator
"""


def child(folder: str, compat: bool) -> None:
    """Runs in the measured process: load the folder, print the timing as JSON."""
    start = time.perf_counter()
    from dagflow.dagbag import DagBag

    imported, cpu_start = time.perf_counter(), time.process_time()
    bag = DagBag(folder, airflow_compat=compat)
    loaded, cpu = time.perf_counter(), time.process_time() - cpu_start
    print(
        json.dumps(
            {
                "import_s": imported - start,
                "dagbag_s": loaded - imported,
                "cpu_s": cpu,
                "dags": len(bag.dags),
                "errors": [e.summary() for e in bag.import_errors.values()][:3],
            }
        )
    )


def measure(folder: Path, compat: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(folder)] + (["--compat"] if compat else [])
    done = subprocess.run(command, capture_output=True, text=True, env=clean_environment(), check=True)
    report = json.loads(done.stdout)
    if report["errors"]:
        raise SystemExit(f"{folder}: files failed to import: {report['errors']}")
    return dict(report)


def make_folders(root: Path, files: int) -> dict[str, tuple[Path, bool]]:
    plain, ported = root / "dagflow_imports", root / "airflow_imports"
    write_bag(plain, files)
    write_bag(ported, files)
    for path in ported.glob("*.py"):
        text = path.read_text()
        assert text.startswith(HEADER)
        path.write_text(AIRFLOW_HEADER + text[len(HEADER) :])
    return {"base (layer off)": (plain, False), "layer on": (plain, True), "airflow imports": (ported, True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="fresh processes per measure (median)")
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--compat", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.compat)
        return
    with tempfile.TemporaryDirectory(prefix="dagflow_bench_compat_") as tmp:
        cases = make_folders(Path(tmp), args.files)
        for folder, compat in cases.values():
            measure(folder, compat)  # writes the bytecode cache
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
        for _ in range(args.reps):  # interleaved, so a change in the machine's load hits all alike
            for name, (folder, compat) in cases.items():
                samples[name].append(measure(folder, compat))
    print(header())
    print(
        f"{args.files} DAG files of 20 tasks, warm; median of {args.reps} fresh processes each, interleaved\n"
    )
    print(markdown_table(_HEADERS, _rows(samples)))


_HEADERS = [
    "`DagBag(folder)`",
    "CPU ms (median)",
    "vs base",
    "< 5 %?",
    "wall ms (median)",
    "vs base",
    "wall min-max ms",
]


def _rows(samples: dict[str, list[dict[str, float]]]) -> list[list[object]]:
    """One row per case: CPU time of the loading process (what the layer's work adds, whatever the
    rest of the machine does) and wall time, each against the base measured in the same run."""
    base = samples["base (layer off)"]
    base_cpu = statistics.median(r["cpu_s"] for r in base)
    base_wall = statistics.median(r["dagbag_s"] for r in base)
    rows: list[list[object]] = []
    for name, runs in samples.items():
        cpu = statistics.median(r["cpu_s"] for r in runs)
        walls = [r["dagbag_s"] for r in runs]
        added = cpu / base_cpu - 1
        verdict = "" if runs is base else ("yes" if added < TARGET else "**no**")
        rows.append(
            [
                name,
                f"{cpu * 1000:.1f}",
                f"{added * 100:+.1f} %",
                verdict,
                f"{median_ms(walls):.1f}",
                f"{(statistics.median(walls) / base_wall - 1) * 100:+.1f} %",
                f"{min(walls) * 1000:.0f}-{max(walls) * 1000:.0f}",
            ]
        )
    return rows


if __name__ == "__main__":
    main()
