"""How long a ``@task.virtualenv`` task takes to start once its virtual environment is cached.

A one-task DAG whose function (run in the virtual environment) returns the wall-clock time at which
it began. Its first run builds the environment (timed, reported apart); each later run reuses it.
Per run, two figures: *start*, from the try's start to the first line of the function in the
environment (finding the cached environment, writing the arguments and the script, starting its
interpreter), and *try*, the whole try until its result is back as XCom. Target: start < 1 s.

Usage: .venv/bin/python bench/bench_virtualenv.py [--reps 10] [--requirements REQ ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from _common import header, markdown_table, median_ms

from dagflow import DAG, task
from dagflow.core.states import RunState

LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)


def make_dag(cache: Path, requirements: list[str]) -> DAG:
    with DAG("bench_virtualenv", start_date=LOGICAL_DATE, schedule=None) as dag:

        @task.virtualenv(venv_cache_path=str(cache), requirements=requirements, system_site_packages=False)
        def began() -> float:
            import time

            return time.time()

        began()
    return dag


def one_run(dag: DAG) -> tuple[float, float]:
    """(start, try) seconds of one run."""
    with open(os.devnull, "w") as devnull:
        result = dag.test(logical_date=LOGICAL_DATE, log_stream=devnull)
    if result.state is not RunState.SUCCESS:
        raise SystemExit("the @task.virtualenv run did not succeed")
    ti = result.get("began")
    assert ti.start_date is not None and ti.end_date is not None
    began = datetime.fromtimestamp(result.xcom("began"), UTC)
    return (began - ti.start_date).total_seconds(), (ti.end_date - ti.start_date).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--requirements", nargs="*", default=[])
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-venvs") as scratch:
        dag = make_dag(Path(scratch), options.requirements)
        first_start, first_try = one_run(dag)
        runs = [one_run(dag) for _ in range(options.reps)]
    starts, tries = [r[0] for r in runs], [r[1] for r in runs]
    print(header())
    print(f"Requirements: {options.requirements or 'none'}; Python {sys.version.split()[0]}\n")
    print(
        markdown_table(
            ["run", "start ms (median)", "start ms (slowest)", "try ms (median)", "start < 1 s?"],
            [
                [
                    "first (builds the environment)",
                    f"{first_start * 1000:.0f}",
                    "",
                    f"{first_try * 1000:.0f}",
                    "",
                ],
                [
                    f"cached, {options.reps} runs",
                    f"{median_ms(starts):.0f}",
                    f"{max(starts) * 1000:.0f}",
                    f"{median_ms(tries):.0f}",
                    "yes" if max(starts) < 1 else "no",
                ],
            ],
        )
    )


if __name__ == "__main__":
    main()
