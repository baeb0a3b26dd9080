"""``dagflow jobs check``: is a scheduler (or a worker) alive, as Airflow's command of that name; it lists
every live one found with its last heartbeat."""

from __future__ import annotations

import click

from dagflow.cli.common import fail, load_settings, open_database
from dagflow.exceptions import DagflowError


@click.group()
def jobs() -> None:
    """The long-lived processes (schedulers, workers) and their heartbeats."""


@jobs.command("check")
@click.option(
    "--job-type",
    help="SchedulerJob (or scheduler), or CeleryWorker/WorkerJob (or worker: Celery workers and the "
    "local executor's worker processes).",
)
@click.option("--hostname", help="Only jobs on this host.")
@click.option("--local", is_flag=True, help="Only jobs on this host (its hostname).")
@click.option(
    "--limit", type=int, default=1, show_default=True, help="Look at this many jobs at most (0: all)."
)
@click.option("--allow-multiple", is_flag=True, help="Succeed when several alive jobs are found.")
def jobs_check(
    job_type: str | None, hostname: str | None, local: bool, limit: int, allow_multiple: bool
) -> None:
    """Exit 0 if an alive job is found (heartbeat younger than [scheduler]
    scheduler_health_check_threshold), 1 otherwise. A health check for a container or a supervisor.

    Prints each alive job found, one a line, with its last heartbeat: schedulers, Celery workers (each
    records its own heartbeat), and the local executor's worker processes, which their scheduler
    reports alive in its own heartbeat (they carry its heartbeat and its job id)."""
    from dagflow.core.clock import utcnow
    from dagflow.store import jobs as job_store
    from dagflow.utils.net import hostname as this_host

    if allow_multiple and limit == 1:  # (0: every job)
        fail("to use --allow-multiple, set --limit to a value greater than 1")
    if hostname and local:
        fail("--hostname and --local cannot be used together")
    settings = load_settings()
    try:
        here = this_host(settings) if local else hostname
    except DagflowError as exc:
        fail(str(exc))
    threshold = settings.getfloat("scheduler", "scheduler_health_check_threshold")
    with open_database(settings).session() as session:
        found = job_store.running_jobs(
            session,
            job_type=job_store.stored_job_type(job_type) if job_type else None,
            hostname=here,
            limit=limit,
        )
    alive = job_store.alive(found, now=utcnow(), threshold=threshold)
    if not alive:
        fail("No alive jobs found.", code=1)
    if len(alive) > 1 and not allow_multiple:
        fail(f"Found {len(alive)} alive jobs. Expected only one.", code=1)
    click.echo("Found one alive job." if len(alive) == 1 else f"Found {len(alive)} alive jobs.")
    now = utcnow()
    for job in alive:
        click.echo(job.describe(now))
