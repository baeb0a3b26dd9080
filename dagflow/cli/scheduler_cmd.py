"""``dagflow scheduler`` and ``dagflow standalone``: run the daemon."""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
from multiprocessing.process import BaseProcess
from pathlib import Path

import click

from dagflow.cli.common import fail, load_settings, open_database
from dagflow.cli.supervise import bind_listener, serve_supervised
from dagflow.config import Settings
from dagflow.exceptions import DagflowConfigError, DagflowError
from dagflow.executors import executor_name
from dagflow.utils.net import hostname


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="[%(asctime)s] {%(name)s} %(levelname)s - %(message)s",
    )
    if not verbose:  # each start migrates: alembic's account of its plugins is noise then
        logging.getLogger("alembic").setLevel(logging.WARNING)


def run_scheduler(*, migrate: bool, workers: int | None, until_idle: bool, num_passes: int | None) -> None:
    from dagflow.executors import make_executor
    from dagflow.scheduler.job import Scheduler

    settings = load_settings()
    check_executor(settings)
    # no ping before each checkout, as when the scheduler opens its own store (Scheduler.__init__)
    database = open_database(settings, migrate=migrate, pool_pre_ping=False)
    executor = make_executor(settings, workers=workers)
    scheduler = Scheduler(settings, executor, db=database)
    click.echo(
        f"dagflow scheduler: DAGs from {settings.dags_folder}, "
        f"store {database.engine.url.render_as_string()}, {executor_name(settings)} executor "
        f"({executor.capacity()})",
        err=True,
    )
    try:
        scheduler.run(max_passes=num_passes, until_idle=until_idle)
    except DagflowConfigError as exc:
        fail(str(exc))


def check_executor(settings: Settings) -> None:
    """Exit with the one-line reason if ``[core] executor`` names no executor, or ``[core]
    hostname_callable`` no function (before starting anything)."""
    try:
        executor_name(settings)
        hostname(settings)
    except DagflowError as exc:
        fail(str(exc))


@click.command("scheduler")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes of the local executor (default: [worker] processes, or one per core).",
)
@click.option("--exit-when-idle", is_flag=True, help="Stop once no run is queued or running.")
@click.option("--num-passes", type=click.IntRange(min=1), hidden=True)
@click.option("--verbose", "-v", is_flag=True)
def scheduler(workers: int | None, exit_when_idle: bool, num_passes: int | None, verbose: bool) -> None:
    """Run the scheduler daemon with its executor, [core] executor (stop with SIGTERM or Ctrl-C)."""
    _logging(verbose)
    run_scheduler(migrate=False, workers=workers, until_idle=exit_when_idle, num_passes=num_passes)


@click.command("webserver")
@click.option("--host", help="Default: [webserver] host (127.0.0.1).")
@click.option("--port", "-p", type=click.IntRange(1, 65535), help="Default: [webserver] port (8080).")
def webserver(host: str | None, port: int | None) -> None:
    """Serve the web UI and the JSON API."""
    from webui.server import serve

    settings = load_settings()
    host = host or settings.get("webserver", "host")
    port = port or settings.getint("webserver", "port")
    listener = _bind(host, port)
    open_database(settings)
    from webui.cookies import cookie_secure, describe

    click.echo(f"dagflow web UI on http://{host}:{port}/ ({describe(cookie_secure(settings))})", err=True)
    serve(sockets=[listener])


def _bind(host: str, port: int) -> socket.socket:
    """The web server's socket, bound now; a taken port is a one-line error (exit 2)."""
    try:
        return bind_listener(host, port)
    except DagflowError as exc:
        fail(str(exc))


def _standalone_admin(settings: Settings) -> None:
    """On the first start, create an admin with a generated password and say how to log in."""
    from dagflow.core.clock import utcnow
    from dagflow.store.engine import Database
    from dagflow.store.users import create_user, generate_password, has_users

    url = f"http://{settings.get('webserver', 'host')}:{settings.getint('webserver', 'port')}/"
    secret_file = Path(settings.home) / "standalone_admin_password.txt"
    database = Database(settings.database_url)
    with database.session(write=True) as session:
        if not has_users(session):
            password = generate_password()
            create_user(session, "admin", password, "admin", now=utcnow())
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(password + "\n")
            click.echo(
                f"\ndagflow is starting: open {url} and log in as 'admin' with password {password}\n"
                f"(also saved in {secret_file})\n",
                err=True,
            )
        else:
            where = f"in {secret_file}" if secret_file.exists() else "with 'dagflow users create'"
            click.echo(
                f"\ndagflow is starting: open {url} (the standalone admin's password is {where})\n", err=True
            )
    database.dispose()


@click.command("standalone")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (default: one per core).")
@click.option("--verbose", "-v", is_flag=True)
def standalone(workers: int | None, verbose: bool) -> None:
    """Everything under one process: migrate the store, then the scheduler, its workers and the web UI.

    The web server's port is bound first: if it is taken, nothing starts. The children end with
    this process however it ends (Ctrl-C, SIGTERM, or ``kill -9``), and if the web server dies, the
    scheduler stops and the command exits with 1.
    """
    _logging(verbose)
    settings = load_settings()
    check_executor(settings)
    listener = _bind(settings.get("webserver", "host"), settings.getint("webserver", "port"))
    open_database(settings, migrate=True)
    _standalone_admin(settings)
    web = multiprocessing.get_context("spawn").Process(
        target=serve_supervised, args=(listener, os.getpid()), name="dagflow-webserver", daemon=True
    )
    web.start()
    listener.close()  # the web server holds it now
    watch = _ChildWatch(web)
    try:
        run_scheduler(migrate=False, workers=workers, until_idle=False, num_passes=None)
    finally:
        watch.done.set()
        web.terminate()
        web.join(5)
    if watch.died.is_set():
        fail(f"the web server exited with code {web.exitcode}; the scheduler was stopped", code=1)


class _ChildWatch:
    """Stops the scheduler of this process (as SIGTERM does) if ``child`` ends before ``done``."""

    def __init__(self, child: BaseProcess):
        self.child = child
        self.done = threading.Event()
        self.died = threading.Event()
        threading.Thread(target=self._watch, name="dagflow-watch-webserver", daemon=True).start()

    def _watch(self) -> None:
        multiprocessing.connection.wait([self.child.sentinel])
        if not self.done.is_set():
            self.died.set()
            os.kill(os.getpid(), signal.SIGTERM)
