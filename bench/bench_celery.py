"""The Celery executor's performance: PostgreSQL + Redis, one scheduler and two Celery workers.

A throwaway deployment (``bench/scheduler_deploy.py``) on a PostgreSQL database created for it:
``dagflow scheduler`` runs with ``[core] executor = celery`` as a process of its own, and two
``dagflow celery worker`` processes (``--concurrency`` pool processes each, 2 by default) each run
with a ``DAGFLOW_HOME`` and a copy of the DAG files of their own, as on other machines. The broker is
this machine's Redis (database 14, queues named for this run).

* ``latency``: a 50-task chain of no-op ``@task`` s, run once to warm up, then ``--rounds`` times:
  the gap between each task's ``end_date`` and its downstream's ``start_date`` (49 gaps), as
  ``bench_scheduler.py`` measures it for the local executor.
* ``throughput``: a no-op root then 1,000 no-op tasks after it: task instances that succeeded per
  second from the trigger to the run's success (``end to end``), and from the first start to the
  last end.

Usage:
  .venv/bin/python bench/bench_celery.py [--only latency,throughput] [--rounds 3]
      [--postgres ADMIN_URL] [--broker redis://127.0.0.1:6379/14] [--concurrency 2] [--parallelism 32]
      [--root DIR]

Each run's files are kept, in a folder of their own under ``--root`` (see ``main``).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import header, markdown_table
from bench_scheduler import chain_figures, median_round, spread, throughput_figures
from dag_files import write_chain, write_fanout
from scheduler_deploy import DEFAULT_POSTGRES, Daemon, Deployment, deployment, wait_for


def start_workers(deploy: Deployment, args: argparse.Namespace) -> list[subprocess.Popen[bytes]]:
    """Two ``dagflow celery worker`` processes, each with a home and a DAGs copy of its own."""
    workers = []
    for name in ("one", "two"):
        home = deploy.root / f"worker_{name}"
        shutil.copytree(deploy.dags, home / "dags")
        env = dict(deploy.env)
        env.update(
            DAGFLOW_HOME=str(home),
            DAGFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
            DAGFLOW__LOGGING__WORKER_LOG_SERVER_PORT="0",
        )
        command = [*deploy.command, "celery", "worker", "-c", str(args.concurrency), "-H", f"{name}@bench"]
        with open(deploy.root / f"worker_{name}.log", "wb") as log:
            workers.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
    for name in ("one", "two"):
        log_path = deploy.root / f"worker_{name}.log"
        wait_for(
            lambda p=log_path: " ready." in p.read_text(errors="replace"), timeout=60, what=f"worker {name}"
        )
    return workers


@contextlib.contextmanager
def celery_deployment(
    args: argparse.Namespace, root: Path, write: Any
) -> Iterator[tuple[Deployment, list[str]]]:
    with deployment("postgres", root, admin_url=args.postgres) as deploy:
        deploy.env.update(
            DAGFLOW__CORE__EXECUTOR="celery",
            DAGFLOW__CORE__PARALLELISM=str(args.parallelism),
            DAGFLOW__CELERY__BROKER_URL=args.broker,
            DAGFLOW__OPERATORS__DEFAULT_QUEUE=f"bench-{uuid.uuid4().hex[:8]}",
            DAGFLOW__WEBSERVER__SECRET_KEY="bench-secret",
        )
        dag_ids = write(deploy.dags)
        deploy.setup()
        daemon = Daemon(deploy, name="scheduler")
        workers = start_workers(deploy, args)
        try:
            daemon.wait_ready(workers=0)
            yield deploy, dag_ids
        finally:
            daemon.stop()
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(60)


def run_latency(args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    with celery_deployment(args, root, lambda dags: [write_chain(dags, 50)]) as (deploy, (dag_id,)):
        deploy.trigger(dag_id, "warmup")
        deploy.wait_run(dag_id, "warmup")
        rounds = []
        for number in range(1, args.rounds + 1):
            time.sleep(1.0)
            deploy.trigger(dag_id, f"round_{number}")
            run = deploy.wait_run(dag_id, f"round_{number}")
            rounds.append(chain_figures(run, deploy.task_rows(dag_id, f"round_{number}")))
    return rounds


def run_throughput(args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    with celery_deployment(args, root, lambda dags: [write_fanout(dags, 1000)]) as (deploy, (dag_id,)):
        deploy.trigger(dag_id, "warmup")
        deploy.wait_run(dag_id, "warmup")
        rounds = []
        for number in range(1, args.rounds + 1):
            time.sleep(1.0)
            deploy.trigger(dag_id, f"round_{number}")
            run = deploy.wait_run(dag_id, f"round_{number}")
            rounds.append(throughput_figures(run, deploy.task_rows(dag_id, f"round_{number}"), (0.0, 0.0)))
    return rounds


def report(latency: list[dict[str, Any]], throughput: list[dict[str, Any]], args: argparse.Namespace) -> None:
    setup = (
        f"PostgreSQL + Redis, one scheduler (parallelism {args.parallelism}) and two Celery workers of "
        f"{args.concurrency} processes, each with its own DAGFLOW_HOME"
    )
    if latency:
        r = median_round(latency, "gap_median")
        print(f"\n### Celery: task-to-task latency, a chain of 50 no-op tasks ({setup})\n")
        rows = [
            [
                f"**{r['gap_median']:.1f}**",
                spread(latency, "gap_median"),
                f"{r['gap_p90']:.1f} / {r['gap_max']:.1f}",
                f"{r['own_median']:.2f}",
                f"{r['first_start']:.0f}",
                f"{r['chain']:.2f}",
                "yes" if r["gap_median"] < 30 else "**no**",
            ]
        ]
        headers = [
            "median gap ms",
            "range ms",
            "p90 / max gap ms",
            "task's own run ms",
            "trigger to first start ms",
            "chain s",
            "< 30 ms?",
        ]
        print(markdown_table(headers, rows))
    if throughput:
        r = median_round(throughput, "rate")
        print(f"\n### Celery: throughput, a 1,000-way fan-out of no-op tasks ({setup})\n")
        rows = [
            [
                r["tasks"],
                f"{r['seconds']:.2f}",
                f"**{r['rate']:.0f}**",
                spread(throughput, "rate", "{:.0f}"),
                f"{r['steady_rate']:.0f}",
                f"{r['first_start']:.0f}",
                "yes" if r["rate"] >= 300 else "**no**",
            ]
        ]
        headers = [
            "tasks",
            "trigger to success s",
            "tasks/s end to end",
            "range",
            "tasks/s first start to last end",
            "trigger to first start ms",
            ">= 300/s?",
        ]
        print(markdown_table(headers, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", default="latency,throughput")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--parallelism", type=int, default=32)
    parser.add_argument("--root", type=Path, help="where to keep each run's files (default: the temp folder)")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    print(header())
    # The files are kept (each round's logs, DAGs and homes): deleting thousands makes each new file
    # and folder cost up to a millisecond of CPU for a minute or more on this VM's ext4 without a
    # journal (see RESULTS.md, "Scheduler daemon"), and a worker creates a folder and a file per try.
    parent = args.root or Path(tempfile.gettempdir()) / "dagflow-bench-celery"
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="run-", dir=parent))
    print(f"files in {tmp} (kept)")
    latency = run_latency(args, tmp / "latency") if "latency" in wanted else []
    throughput = run_throughput(args, tmp / "throughput") if "throughput" in wanted else []
    report(latency, throughput, args)


if __name__ == "__main__":
    main()
