"""``dagflow scheduler`` and ``dagflow standalone``: run the daemon."""

from __future__ import annotations

import logging
import sys

import click

from dagflow.cli.common import load_settings, open_database


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="[%(asctime)s] {%(name)s} %(levelname)s - %(message)s",
    )


def run_scheduler(*, migrate: bool, workers: int | None, until_idle: bool, num_passes: int | None) -> None:
    from dagflow.execution.worker import WorkerSettings
    from dagflow.executors.local import LocalExecutor
    from dagflow.scheduler.job import Scheduler

    settings = load_settings()
    database = open_database(settings, migrate=migrate)
    worker_settings = WorkerSettings(
        database_url=settings.database_url,
        log_folder=str(settings.log_folder),
        heartbeat_interval=settings.getfloat("scheduler", "heartbeat_sec") * 2,
        import_timeout=settings.getfloat("core", "dagbag_import_timeout"),
    )
    memory = settings.get("worker", "max_memory_mb")
    executor = LocalExecutor(
        worker_settings,
        workers=workers or settings.getint("worker", "processes") or None,
        memory_limit_mb=float(memory) if memory else None,
    )
    scheduler = Scheduler(settings, executor, db=database)
    click.echo(
        f"dagflow scheduler: DAGs from {settings.dags_folder}, "
        f"store {database.engine.url.render_as_string()}, {executor.size} worker process(es)",
        err=True,
    )
    scheduler.run(max_passes=num_passes, until_idle=until_idle)


@click.command("scheduler")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes (default: [worker] processes, or one per core).",
)
@click.option("--exit-when-idle", is_flag=True, help="Stop once no run is queued or running.")
@click.option("--num-passes", type=click.IntRange(min=1), hidden=True)
@click.option("--verbose", "-v", is_flag=True)
def scheduler(workers: int | None, exit_when_idle: bool, num_passes: int | None, verbose: bool) -> None:
    """Run the scheduler daemon with its local worker pool (stop with SIGTERM or Ctrl-C)."""
    _logging(verbose)
    run_scheduler(migrate=False, workers=workers, until_idle=exit_when_idle, num_passes=num_passes)


@click.command("standalone")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (default: one per core).")
@click.option("--verbose", "-v", is_flag=True)
def standalone(workers: int | None, verbose: bool) -> None:
    """Everything in one process group: migrate the store, then run the scheduler and its workers."""
    _logging(verbose)
    run_scheduler(migrate=True, workers=workers, until_idle=False, num_passes=None)
