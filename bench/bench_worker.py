"""CPU per no-op attempt of the local executor's worker, without the scheduler.

A SQLite store in a temporary folder gets the 1,000-way fan-out DAG (``bench/dag_files.py``) and one
run of it; its 1,000 no-op task instances are queued with tokens, as the scheduler queues them, and
handed all at once to a ``LocalExecutor`` with ``--workers`` worker processes (after a warm-up of
the same kind on another run, so each worker has imported the DAG). Reported per attempt: the CPU
time of the workers (``/proc/PID/stat``) and of this process (the executor's feeder thread and its
reading of events), and the wall time. ``--profile DIR`` has the workers profile themselves with
cProfile (``DIR/child-PID.prof``) and prints their top functions. ``--in-process`` runs a worker's loop
in this process instead, without pipes or executor: each outcome is recorded with the next claim
(where the dagflow measured can), and the CPU of the loop is reported (with ``--profile``: profiled
by CPU time, ``DIR/in-process-N.prof``).

Usage:
  .venv/bin/python bench/bench_worker.py [--tasks 1000] [--workers 1] [--rounds 3] [--profile DIR]
      [--in-process]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import header
from dag_files import write_fanout
from scheduler_deploy import SITECUSTOMIZE, cpu_seconds, postgres_database
from sqlalchemy import update

from dagflow import actions
from dagflow.core.keys import TIKey
from dagflow.core.states import TaskState
from dagflow.executors.base import EventKind, Workload
from dagflow.executors.local import LocalExecutor
from dagflow.executors.worker import Worker, WorkerSettings
from dagflow.runtime.tasklog import TASK_LOGGER
from dagflow.scheduler.processor import DagFileProcessor, ProcessorSettings
from dagflow.store.engine import Database
from dagflow.store.migrate import migrate
from dagflow.store.models import TaskInstanceRow
from dagflow.store.planner import analyze_new_tables

TI = TaskInstanceRow


def queue_run(db: Database, dag_id: str, fileloc: str, run_id: str, tasks: int) -> list[Workload]:
    """Trigger a run and queue its ``tasks`` fan-out task instances (not its root) with fresh tokens."""
    with db.session(write=True) as session:
        actions.trigger_dag(session, dag_id, run_id=run_id, owner="bench")
    keys = [TIKey(dag_id, run_id, f"t{i:05d}") for i in range(tasks)]
    workloads = [Workload(key, 1, uuid.uuid4().hex, fileloc) for key in keys]
    with db.session(write=True) as session:
        for workload in workloads:
            session.execute(
                update(TI)
                .where(TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == workload.key.task_id)
                .values(state=TaskState.QUEUED.value, try_number=1, attempt_token=workload.token)
            )
    if db.url.startswith("postgresql"):  # as a scheduler does for a new database (store/planner.py)
        with db.engine.connect() as connection:
            analyze_new_tables(connection.execution_options(isolation_level="AUTOCOMMIT"))
    return workloads


def drain(executor: LocalExecutor, count: int) -> None:
    finished = 0
    deadline = time.monotonic() + 600
    while finished < count:
        events = executor.events()
        bad = [e for e in events if e.kind is not EventKind.FINISHED or e.state != TaskState.SUCCESS]
        if bad:
            raise SystemExit(f"unexpected events: {bad[:3]}")
        finished += len(events)
        if time.monotonic() > deadline:
            raise SystemExit(f"only {finished} of {count} attempts finished")
        if finished < count:
            executor.wait(1.0)


def run_in_process(worker: Worker, workloads: list[Workload], *, each: bool = False) -> None:
    """What a worker process does with workloads handed over back to back, without the pipes: each
    outcome recorded with the next claim when the worker can (``finish``), else (or if ``each``, as a
    Celery pool process does) one by one (``run``)."""
    if each or not hasattr(worker, "finish"):  # a dagflow before outcomes and claims shared a transaction
        for workload in workloads:
            worker.run(workload)
        return
    started = worker.start(workloads[0])
    for upcoming in [*workloads[1:], None]:
        ended = worker.attempt(started)
        event, started = worker.finish(ended, upcoming)
        if event.state != TaskState.SUCCESS:
            raise SystemExit(f"unexpected event: {event}")


def in_process(args: argparse.Namespace, db: Database, dag_id: str, fileloc: str, root: Path) -> None:
    worker = Worker(WorkerSettings(db.url, str(root / "logs"), heartbeat_interval=2.0))
    logging.getLogger(TASK_LOGGER).setLevel(logging.INFO)  # as in a worker process
    run_in_process(worker, queue_run(db, dag_id, fileloc, "warmup", min(args.tasks, 100)))
    rows = []
    for number in range(1, args.rounds + 1):
        workloads = queue_run(db, dag_id, fileloc, f"round_{number}", args.tasks)
        profile = cProfile.Profile(time.process_time) if args.profile else None
        server = server_pid(worker)
        before = (time.process_time(), time.perf_counter(), cpu_seconds(server) if server else 0.0)
        if profile is not None:
            profile.enable()
        run_in_process(worker, workloads, each=args.each)
        if profile is not None:
            profile.disable()
            profile.dump_stats(str(args.profile / f"in-process-{number}.prof"))
        cpu = (time.process_time() - before[0]) * 1000 / len(workloads)
        wall = (time.perf_counter() - before[1]) * 1000 / len(workloads)
        # (the server process of the worker's kept connection, if it is the same one at the end)
        served = 0.0
        if server and server == server_pid(worker):
            served = (cpu_seconds(server) - before[2]) * 1000 / len(workloads)
        rows.append((cpu, served, wall))
        print(
            f"round {number}: worker {cpu:.3f} ms CPU, its PostgreSQL server process {served:.3f} ms, "
            f"wall {wall:.3f} ms"
        )
    medians = [statistics.median(column) for column in zip(*rows, strict=True)]
    print(
        f"median per attempt: worker in process {medians[0]:.3f} ms CPU, its PostgreSQL server process "
        f"{medians[1]:.3f} ms CPU, wall {medians[2]:.3f} ms"
    )
    worker.close()


def server_pid(worker: Worker) -> int | None:
    """The PostgreSQL server process of the connection the worker keeps (None on SQLite, or before
    its first transaction)."""
    connection = getattr(worker, "_connection", None)
    if connection is None or connection.dialect.name != "postgresql":
        return None
    return int(connection.connection.driver_connection.info.backend_pid)


def workers_cpu(executor: LocalExecutor) -> float:
    return sum(cpu_seconds(slot.pid) for slot in executor._slots)


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path)
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        help="keep the store in a new database on this PostgreSQL server (dropped at the end), not SQLite",
    )
    parser.add_argument(
        "--each",
        action="store_true",
        help="with --in-process: claim each attempt in a transaction of its own (as a Celery pool process)",
    )
    parser.add_argument(
        "--root", type=Path, help="where to keep the store and logs (default: the temp folder)"
    )
    parser.add_argument(
        "--in-process", action="store_true", help="run the worker's loop in this process, without pipes"
    )
    args = parser.parse_args()
    print(header())
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    if args.profile is not None and not args.in_process:
        site = args.profile / "site"
        site.mkdir(parents=True, exist_ok=True)
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
        os.environ["BENCH_PROFILE_DIR"] = str(args.profile)
        os.environ["PYTHONPATH"] = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    # The files are kept: deleting thousands makes each new file cost up to a millisecond of CPU for
    # the next minute on ext4 without a journal (see bench_scheduler.py), which would swamp the figures.
    parent = args.root or Path(tempfile.gettempdir()) / "dagflow-bench-worker"
    parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="run-", dir=parent))
    print(f"files in {root} (kept)")
    (root / "dags").mkdir()
    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{root / 'dagflow.db'}"
        if args.postgres:
            url = stack.enter_context(postgres_database(args.postgres))
        measure(args, Database(url), root)


def measure(args: argparse.Namespace, db: Database, root: Path) -> None:
    migrate(db)
    dag_id = write_fanout(root / "dags", args.tasks)
    processor = ProcessorSettings(db.url, str(root / "dags"), paused_at_creation=False)
    DagFileProcessor(processor, db=db).scan()
    fileloc = str(root / "dags" / f"{dag_id}.py")
    if args.in_process:
        in_process(args, db, dag_id, fileloc, root)
        db.dispose()
        return
    settings = WorkerSettings(db.url, str(root / "logs"), heartbeat_interval=2.0)
    executor = LocalExecutor(settings, workers=args.workers)
    try:
        warmup = queue_run(db, dag_id, fileloc, "warmup", min(args.tasks, 100))
        executor.submit(warmup)
        drain(executor, len(warmup))
        rows = []
        for number in range(1, args.rounds + 1):
            workloads = queue_run(db, dag_id, fileloc, f"round_{number}", args.tasks)
            before = (workers_cpu(executor), time.process_time(), time.perf_counter())
            executor.submit(workloads)
            drain(executor, len(workloads))
            worker = (workers_cpu(executor) - before[0]) * 1000 / len(workloads)
            here = (time.process_time() - before[1]) * 1000 / len(workloads)
            wall = (time.perf_counter() - before[2]) * 1000 / len(workloads)
            rows.append((worker, here, wall))
            print(f"round {number}: worker {worker:.3f} ms CPU, executor {here:.3f} ms, wall {wall:.3f}")
        medians = [statistics.median(column) for column in zip(*rows, strict=True)]
        print(
            f"median per attempt: worker {medians[0]:.3f} ms CPU, executor {medians[1]:.3f} ms CPU, "
            f"wall {medians[2]:.3f} ms ({args.tasks} tasks, {args.workers} worker(s))"
        )
    finally:
        executor.close()
        db.dispose()
    if args.profile is not None:
        for path in sorted(args.profile.glob("child-*.prof")):
            print(f"\n{path.name}")
            pstats.Stats(str(path)).sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    sys.exit(main())
