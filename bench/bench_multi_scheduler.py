"""Throughput with 1, 2 and 3 scheduler daemons on one PostgreSQL, with the local or the Celery executor.

For each number of schedulers: a fresh deployment (PostgreSQL database, DAGs folder), that many
``dagflow scheduler`` daemons, each with a ``DAGFLOW_HOME`` of its own (as on separate machines; here
they share the 2 cores), then, once every one of them is up (its job recorded, its DAG processor and
workers started), ``--runs`` runs of the 1,000-way fan-out (a no-op root, then 1,000 no-op tasks)
triggered, so that the schedulers' own start-up (imports, first parse of the DAGs) is outside the
span measured. (Until 2026-12-07 the runs were triggered first and the schedulers started after, so
the second and third scheduler started up on the two cores while the first one worked.)
``--executor local``: each scheduler runs ``--workers`` worker processes of its own, so more
schedulers also bring more workers.
``--machines``: each scheduler calls itself a machine of its own (``[core] hostname_callable``,
``bench/machine_name.py``), so that they share the runs as schedulers on separate machines do; here
they still share two cores.
``--executor celery``: the schedulers share the same two ``dagflow celery worker`` processes
(``--concurrency`` pool processes each, on this machine's Redis, as ``bench_celery.py`` starts
them), so only the schedulers change in number. Measured from the store once every run
has succeeded: tasks per second from the first task's start to the last one's end, and what shows
whether anything ran twice: tries recorded against task instances, and the highest try number.

Usage:
  .venv/bin/python bench/bench_multi_scheduler.py [--schedulers 1,2,3] [--runs 2] [--workers 2]
      [--rounds 1] [--postgres ADMIN_URL] [--executor local|celery] [--concurrency 2]
      [--broker redis://127.0.0.1:6379/14] [--machines]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import uuid
from pathlib import Path
from typing import Any

from _common import command_line, machine, markdown_table
from bench_celery import start_workers
from dag_files import write_fanout
from scheduler_deploy import DEFAULT_POSTGRES, Daemon, Deployment, cpu_seconds, deployment
from sqlalchemy import text

FANOUT = 1000
BENCH = Path(__file__).resolve().parent


def measure(deploy: Deployment, dag_id: str, runs: int) -> dict[str, Any]:
    with deploy.engine.connect() as conn:
        span = conn.execute(
            text("SELECT min(start_date), max(end_date), count(*) FROM task_instance WHERE dag_id = :d"),
            {"d": dag_id},
        ).one()
        tries = conn.execute(text("SELECT count(*), max(try_number) FROM task_instance_try")).one()
        jobs = conn.execute(text("SELECT count(*) FROM job WHERE job_type = 'scheduler'")).scalar()
        by_host = conn.execute(
            text("SELECT count(DISTINCT hostname || ':' || pid) FROM task_instance_try")
        ).scalar()
        queued_by = conn.execute(
            text(
                "SELECT count(*) FROM task_instance WHERE dag_id = :d"
                " GROUP BY queued_by_job_id ORDER BY count(*) DESC"
            ),
            {"d": dag_id},
        ).scalars()
    start, end, tasks = span
    return {
        "tasks": tasks,
        "tasks_per_s": tasks / (end - start).total_seconds(),
        "tries": tries[0],
        "max_try": tries[1],
        "schedulers": jobs,
        "worker_processes": by_host,
        "queued_by": list(queued_by),
    }


def run_case(args: argparse.Namespace, schedulers: int, root: Path) -> dict[str, Any]:
    with deployment("postgres", root, admin_url=args.postgres) as deploy:
        dag_id = write_fanout(deploy.dags, FANOUT)
        if args.executor == "celery":
            deploy.env.update(
                DAGFLOW__CORE__EXECUTOR="celery",
                DAGFLOW__CELERY__BROKER_URL=args.broker,
                DAGFLOW__OPERATORS__DEFAULT_QUEUE=f"bench-{uuid.uuid4().hex[:8]}",
                DAGFLOW__WEBSERVER__SECRET_KEY="bench-secret",
            )
        deploy.setup()
        run_ids = [f"bench_{n}" for n in range(args.runs)]
        daemons = []
        workers = start_workers(deploy, args) if args.executor == "celery" else []
        try:
            for n in range(schedulers):
                home = root / f"home-{n}"
                home.mkdir()
                env = {
                    **deploy.env,
                    "DAGFLOW_HOME": str(home),
                    "DAGFLOW__WORKER__PROCESSES": str(args.workers),
                }
                if args.machines:  # each a machine of its own: they share the runs
                    path = os.pathsep.join(filter(None, [env.get("PYTHONPATH", ""), str(BENCH)]))
                    env.update(
                        PYTHONPATH=path,
                        BENCH_MACHINE=f"machine-{n}",
                        DAGFLOW__CORE__HOSTNAME_CALLABLE="machine_name:name",
                    )
                daemons.append(Daemon(dataclasses.replace(deploy, env=env), name=f"scheduler-{n}"))
            for daemon in daemons:  # none of their start-ups in the span measured
                daemon.wait_ready(workers=args.workers if args.executor == "local" else 0)
            for run_id in run_ids:
                deploy.trigger(dag_id, run_id)
            for run_id in run_ids:
                deploy.wait_run(dag_id, run_id, timeout=900)
            cpu = [round(cpu_seconds(daemon.process.pid), 2) for daemon in daemons]
        finally:
            for daemon in daemons:
                daemon.stop()
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(60)
        figures = measure(deploy, dag_id, args.runs)
    figures["scheduler_cpu_s"] = cpu
    figures["tasks_expected"] = args.runs * (FANOUT + 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schedulers", default="1,2,3")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="worker processes per scheduler")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--executor", choices=["local", "celery"], default="local")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per Celery worker")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14")
    parser.add_argument(
        "--machines",
        action="store_true",
        help="each scheduler calls itself a machine of its own ([core] hostname_callable), so that "
        "they share the runs as schedulers on separate machines do",
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.schedulers.split(",")]
    results: dict[int, list[dict[str, Any]]] = {n: [] for n in counts}
    with tempfile.TemporaryDirectory(prefix="bench_multi_") as folder:
        for round_number in range(args.rounds):
            for n in counts:
                figures = run_case(args, n, Path(folder) / f"r{round_number}-s{n}")
                print(f"round {round_number + 1}, {n} scheduler(s): {figures}", flush=True)
                results[n].append(figures)
    rows = []
    for n in counts:
        rounds = results[n]
        rate = statistics.median(r["tasks_per_s"] for r in rounds)
        rows.append(
            [
                str(n),
                f"{rate:.0f}",
                f"{min(r['tasks_per_s'] for r in rounds):.0f}-{max(r['tasks_per_s'] for r in rounds):.0f}",
                f"{sum(r['tasks'] for r in rounds)} / {sum(r['tasks_expected'] for r in rounds)}",
                f"{sum(r['tries'] for r in rounds)}",
                str(max(r["max_try"] for r in rounds)),
            ]
        )
    workers = (
        f"two Celery workers of {args.concurrency} processes shared by the schedulers"
        if args.executor == "celery"
        else f"{args.workers} local worker processes per scheduler"
    )
    print(f"\n`{command_line()}`\n\n{machine()}\n\nExecutor: {args.executor} ({workers}).\n")
    print(
        markdown_table(
            ["schedulers", "tasks/s (median)", "range", "task instances / expected", "tries", "highest try"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
