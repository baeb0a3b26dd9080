"""What compensation costs: nothing for runs that succeed, and little for a failed run undone.

* ``fanout``: ``dagflow scheduler`` as a process; a no-op root then 1,000 no-op tasks after it,
  once plain and once with ``compensate=`` on every task; the two DAGs triggered in alternation,
  a warm-up run each, then ``--rounds`` rounds; tasks that succeeded per second from the trigger to
  the run's success.
* ``chain``: the same daemon; 50 no-op tasks in a line, each with a no-op compensation, and a
  51st that fails. From the run's end (``failed``) to the end of the last compensation (the first
  task's), read from the store; and the span of the 50 compensation tries themselves.

Usage::

  .venv/bin/python bench/bench_compensation.py [--store sqlite,postgres] [--rounds 5] [--root DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, markdown_table
from bench_scheduler import CpuMeter
from scheduler_deploy import DEFAULT_POSTGRES, Daemon, Deployment, deployment, wait_for
from sqlalchemy import select

from dagflow.store.models import CompensationInstanceRow, DagRunRow

HEADER = """\
from datetime import datetime

from dagflow import DAG, task


@task
def noop():
    return None


def undo():
    return None


def fail():
    raise RuntimeError("the last step fails")
"""

FANOUT = """
with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    noop.override(task_id="root"{extra})() >> [
        noop.override(task_id=f"t{{i:05d}}"{extra})() for i in range({n})
    ]
"""

CHAIN = """
from dagflow.operators import PythonOperator

with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    steps = [noop.override(task_id=f"s{{i:03d}}", compensate=undo)() for i in range({n})]
    for up, down in zip(steps, steps[1:]):
        up >> down
    steps[-1] >> PythonOperator(task_id="last", python_callable=fail)
"""


def seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def write_dags(folder: Path) -> dict[str, str]:
    dags = {
        "plain": ("bench_saga_fanout_plain", FANOUT, ""),
        "compensated": ("bench_saga_fanout_compensated", FANOUT, ", compensate=undo"),
        "chain": ("bench_saga_chain_50", CHAIN, ""),
    }
    for dag_id, template, extra in dags.values():
        body = template.format(dag_id=dag_id, n=50 if template is CHAIN else 1000, extra=extra)
        (folder / f"{dag_id}.py").write_text(HEADER + body)
    return {name: dag_id for name, (dag_id, _t, _e) in dags.items()}


def fanout_rate(
    deploy: Deployment, dag_id: str, run_id: str, meter: CpuMeter | None = None
) -> dict[str, float]:
    """Tasks per second from the trigger to the run's success, and CPU ms per task (scheduler, workers)."""
    if meter is not None:
        meter.begin()
    deploy.trigger(dag_id, run_id)
    run = deploy.wait_run(dag_id, run_id)
    tasks = deploy.task_rows(dag_id, run_id)
    assert all(t.state == "success" for t in tasks), f"{dag_id} {run_id}: not every task succeeded"
    scheduler, workers = meter.used() if meter is not None else (0.0, 0.0)
    return {
        "rate": len(tasks) / seconds(run.end_date, run.queued_at),
        "scheduler_cpu": scheduler * 1000 / len(tasks),
        "worker_cpu": workers * 1000 / len(tasks),
    }


def in_process_ms(folder: Path, dag_id: str, repeats: int) -> float:
    """Median ``dag.test()`` wall time of the DAG, in this process (task logs discarded)."""
    from dagflow.dagbag import DagBag

    dag = DagBag(folder / f"{dag_id}.py").get_dag(dag_id)
    samples = []
    for _ in range(repeats):
        with open(os.devnull, "w") as sink:
            start = time.perf_counter()
            dag.test(log_stream=sink)
            samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def chain_figures(deploy: Deployment, dag_id: str, run_id: str) -> dict[str, float]:
    deploy.trigger(dag_id, run_id)

    def done() -> Any:
        query = select(DagRunRow.state, DagRunRow.end_date, DagRunRow.compensation_state).where(
            DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id
        )
        with deploy.engine.connect() as conn:
            row = conn.execute(query).first()
        return (
            row
            if row is not None and row.compensation_state in ("compensated", "compensation_failed")
            else None
        )

    run = wait_for(done, timeout=120, what=f"{dag_id} {run_id} compensated")
    if (run.state, run.compensation_state) != ("failed", "compensated"):
        raise SystemExit(f"{dag_id} {run_id}: {run.state} / {run.compensation_state}")
    C = CompensationInstanceRow
    query = select(C.start_date, C.end_date, C.state).where(C.dag_id == dag_id, C.run_id == run_id)
    with deploy.engine.connect() as conn:
        rows = list(conn.execute(query))
    assert len(rows) == 50 and all(r.state == "success" for r in rows), rows
    first, last = min(r.start_date for r in rows), max(r.end_date for r in rows)
    return {
        "total": seconds(last, run.end_date),
        "first_start": seconds(first, run.end_date) * 1000,
        "span": seconds(last, first),
    }


def bench_store(args: argparse.Namespace, store: str, root: Path) -> dict[str, list[Any]]:
    results: dict[str, list[Any]] = {"plain": [], "compensated": [], "chain": []}
    with deployment(store, root, admin_url=args.postgres) as deploy:
        dags = write_dags(deploy.dags)
        results["in_process"] = [
            in_process_ms(deploy.dags, dags[name], args.rounds * 2 + 1) for name in ("plain", "compensated")
        ]
        deploy.setup()
        daemon = Daemon(deploy, name=f"scheduler-{store}")
        try:
            daemon.wait_ready()
            for name in ("plain", "compensated"):
                fanout_rate(deploy, dags[name], "warmup")
            chain_figures(deploy, dags["chain"], "warmup")
            meter = CpuMeter(daemon)
            for number in range(1, args.rounds + 1):
                order = ("plain", "compensated") if number % 2 else ("compensated", "plain")
                for name in order:
                    time.sleep(1.0)
                    results[name].append(fanout_rate(deploy, dags[name], f"round_{number}", meter))
                time.sleep(1.0)
                results["chain"].append(chain_figures(deploy, dags["chain"], f"round_{number}"))
        finally:
            daemon.stop()
    return results


def _median(values: list[dict[str, float]], key: str) -> float:
    return statistics.median(v[key] for v in values)


def report(store: str, results: dict[str, list[Any]]) -> None:
    plain, compensated = results["plain"], results["compensated"]
    print(f"\n### {store}: 1,000-way fan-out (median of {len(plain)} rounds; the order alternates)\n")
    rows = []
    for label, found, in_process in (
        ("without compensate=", plain, results["in_process"][0]),
        ("compensate= on every task", compensated, results["in_process"][1]),
    ):
        rows.append(
            [
                label,
                f"**{_median(found, 'rate'):.0f}**",
                ", ".join(f"{r['rate']:.0f}" for r in found),
                f"{_median(found, 'scheduler_cpu'):.2f} / {_median(found, 'worker_cpu'):.2f}",
                f"{in_process:.0f}",
            ]
        )
    headers = ["DAG", "tasks/s", "rounds", "CPU ms per task: scheduler / workers", "dag.test() ms"]
    print(markdown_table(headers, rows))
    chain = results["chain"]
    total = statistics.median(c["total"] for c in chain)
    print(f"\n### {store}: a failed 50-task chain, every task compensated (median of {len(chain)})\n")
    rows = [
        [
            f"{statistics.median(c['first_start'] for c in chain):.0f}",
            f"{statistics.median(c['span'] for c in chain):.2f}",
            f"**{total:.2f}**",
            ", ".join(f"{c['total']:.2f}" for c in chain),
            "yes" if total < 1.0 else "no",
        ]
    ]
    headers = [
        "run failed to first compensation ms",
        "50 compensations s",
        "run failed to all compensated s",
        "rounds s",
        "< 1 s?",
    ]
    print(markdown_table(headers, rows))
    print(f"\nLoad average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", default="sqlite", help="sqlite, postgres, or both (comma-separated)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--root", help="keep the deployments here (default: a temporary folder)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    print(header())
    with contextlib.ExitStack() as stack:
        base = Path(args.root) if args.root else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        for store in args.store.split(","):
            report(store, bench_store(args, store, base / f"compensation-{store}"))


if __name__ == "__main__":
    main()
