"""``dagflow celery worker`` and ``dagflow celery status``: the Celery side of ``[core] executor``."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import click

from dagflow.cli.common import fail, load_settings, open_database
from dagflow.cli.output import emit, json_alias, output_option
from dagflow.config import Settings
from dagflow.exceptions import DagflowError

if TYPE_CHECKING:
    from dagflow.remote.logserver import LogServer


@click.group("celery")
def celery() -> None:
    """Run a Celery worker, or see what the workers run."""


@celery.command("worker")
@click.option(
    "--queues", "-q", help="Comma-separated queues to take work from (default: [operators] default_queue)."
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1),
    help="Pool processes (default: [celery] worker_concurrency).",
)
@click.option("--hostname", "-H", help="This worker's name (default: dagflow@<host name>).")
@click.option("--verbose", "-v", is_flag=True)
def worker(queues: str | None, concurrency: int | None, hostname: str | None, verbose: bool) -> None:
    """Start a Celery worker that runs attempts, and its log server (stop with SIGTERM or Ctrl-C)."""
    from dagflow.executors.celery_worker import WorkerJob, advertised_host, pool_settings, worker_app
    from dagflow.remote.celery_app import CelerySettings
    from dagflow.utils.net import hostname as this_host

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="[%(asctime)s] {%(name)s} %(levelname)s - %(message)s",
    )
    settings = load_settings()
    try:
        celery_settings = CelerySettings.from_settings(settings)
        size = concurrency or settings.getint("celery", "worker_concurrency")
        this_host(settings)
    except DagflowError as exc:
        fail(str(exc))
    open_database(settings).dispose()  # the store must be reachable and at the current schema
    name = hostname or f"dagflow@{advertised_host(settings)}"
    server = _start_log_server(settings)
    log_url = f"http://{advertised_host(settings)}:{server.port}" if server is not None else None
    app = worker_app(settings, pool_settings(settings, hostname=name, log_url=log_url))
    wanted = queues or celery_settings.default_queue
    click.echo(
        f"dagflow celery worker {name}: queues {wanted}, {size} process(es), broker "
        f"{_safe_url(celery_settings.broker_url)}, logs served at {log_url or '(not served)'}",
        err=True,
    )
    argv = [
        "worker",
        f"--queues={wanted}",
        f"--concurrency={size}",
        f"--hostname={name}",
        f"--loglevel={'DEBUG' if verbose else 'INFO'}",
        "--without-gossip",
        "--without-mingle",
        "--prefetch-multiplier=1",
    ]
    job = WorkerJob(settings, name=name, queues=sorted(wanted.split(",")))
    job.start()
    try:
        app.worker_main(argv)
    finally:
        job.stop()
        if server is not None:
            server.stop()


def _start_log_server(settings: Settings) -> LogServer | None:
    """The worker's log server on ``[logging] worker_log_server_port``, or None (with a warning) when
    no ``[webserver] secret_key`` is set to check requests with."""
    from dagflow.remote.logserver import LogServer

    secret = str(settings.get("webserver", "secret_key") or "")
    if not secret:
        click.echo(
            "warning: [webserver] secret_key is not set: this worker's logs are not served to other "
            "machines (set the same secret key on every machine)",
            err=True,
        )
        return None
    port = settings.getint("logging", "worker_log_server_port")
    try:
        return LogServer(settings.log_folder, secret, port=port).start()
    except OSError as exc:
        fail(
            f"the worker log server cannot listen on port {port}: {exc}; set [logging] worker_log_server_port"
        )


def _safe_url(url: str) -> str:
    """The broker URL without its password."""
    from kombu.utils.url import maybe_sanitize_url

    return str(maybe_sanitize_url(url))


@celery.command("status")
@click.option("--timeout", type=float, default=1.0, show_default=True, help="Seconds to wait for answers.")
@output_option
@json_alias
def status(timeout: float, output: str) -> None:
    """List the live Celery workers: their queues, pool size and the attempts they run (one a line in
    a table; json and yaml give each attempt's dag, run, task, map index, try and Celery task id)."""
    from dagflow.remote.celery_app import CelerySettings, make_app
    from dagflow.remote.inspect import workers_status

    settings = load_settings()
    try:
        app = make_app(CelerySettings.from_settings(settings))
        workers = workers_status(app, timeout=timeout)
    except DagflowError as exc:
        fail(str(exc))
    emit(
        [w.to_json() for w in workers],
        output,
        ["name", "queues", "concurrency", "running"],
        show={"running": lambda w: "\n".join(a["label"] for a in w["running"]) or "idle"},
    )
