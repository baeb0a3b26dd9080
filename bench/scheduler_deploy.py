"""A throwaway dagflow deployment for the scheduler benchmarks.

A ``DAGFLOW_HOME`` and a DAGs folder in a temporary folder, and a metadata store: a SQLite file in
that home, or a PostgreSQL database created for the deployment on the given server and dropped when
it is closed. The ``dagflow`` CLI runs against it with the environment a user would set
(``DAGFLOW_HOME``, ``DAGFLOW__DATABASE__URL``, ``DAGFLOW__CORE__DAGS_FOLDER``,
``DAGFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION``); :class:`Daemon` runs ``dagflow scheduler`` as a
process of its own; the benchmark reads the store through one small engine of its own, with
cheap queries, and never through the CLI (whose start-up would compete for the CPUs).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import DAGFLOW, clean_environment
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from dagflow.store.models import DagRow, DagRunRow, JobRow, TaskInstanceRow

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
TI = TaskInstanceRow

#: Written into ``--profile DIR``: makes every ``multiprocessing`` child (the workers, forked from
#: the forkserver, whose command line is ``-c ...``: see ``dagflow.utils.processes``) profile itself
#: from its fork and dump its cProfile when it exits normally (the DAG processor is terminated, so it
#: writes none). A forked child leaves through ``os._exit``: no ``atexit``; multiprocessing's own
#: finalizers run instead.
SITECUSTOMIZE = """\
import os, sys
if os.environ.get("BENCH_PROFILE_DIR") and sys.argv[:1] == ["-c"]:
    import cProfile
    from multiprocessing import util

    class _Profiled:
        pass

    def _start(_):
        profile = cProfile.Profile()
        profile.enable()

        def dump():
            profile.disable()
            profile.dump_stats(os.path.join(os.environ["BENCH_PROFILE_DIR"], f"child-{os.getpid()}.prof"))

        util.Finalize(None, dump, exitpriority=100)

    _FORKS = _Profiled()
    util.register_after_fork(_FORKS, _start)
"""


def wait_for(condition: Callable[[], Any], *, timeout: float, every: float = 0.05, what: str = "") -> Any:
    """Poll ``condition()`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:g}s waiting for {what or condition}")
        time.sleep(every)


@dataclass
class Deployment:
    root: Path
    store: str
    url: str
    env: dict[str, str]
    engine: Engine
    admin_url: str | None = None
    database: str | None = None
    #: How ``dagflow`` is started for this deployment (the CLI and the daemon): by default the
    #: console script beside the benchmark's interpreter; ``bench/compare.py`` sets its own.
    command: tuple[str, ...] = (DAGFLOW,)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def dags(self) -> Path:
        return self.root / "dags"

    def cli(self, *args: str) -> str:
        """Run ``dagflow ARGS`` against this deployment; its output, or exit on failure."""
        done = subprocess.run(
            [*self.command, *args], env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise SystemExit(f"dagflow {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
        return done.stdout.strip()

    def setup(self) -> None:
        """Migrate the store and record the DAGs folder in it, as a user would before starting."""
        self.cli("db", "migrate")
        self.cli("dags", "reserialize")

    # -- reading the store ------------------------------------------------------------------------

    def run_row(self, dag_id: str, run_id: str) -> Any:
        query = select(DagRunRow.state, DagRunRow.queued_at, DagRunRow.start_date, DagRunRow.end_date).where(
            DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first()

    def task_rows(self, dag_id: str, run_id: str) -> list[Any]:
        query = select(
            TI.task_id,
            TI.map_index,
            TI.state,
            TI.try_number,
            TI.queued_at,
            TI.start_date,
            TI.end_date,
            TI.pid,
        ).where(TI.dag_id == dag_id, TI.run_id == run_id)
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def count_dags(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(DagRow)) or 0)

    def parse_times(self) -> tuple[datetime, datetime]:
        with self.engine.connect() as conn:
            row = conn.execute(select(func.min(DagRow.last_parsed_at), func.max(DagRow.last_parsed_at))).one()
        return row[0], row[1]

    def scheduler_job(self, pid: int) -> Any:
        query = select(JobRow.id).where(JobRow.pid == pid, JobRow.state == "running")
        with self.engine.connect() as conn:
            return conn.scalar(query)

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 600.0) -> Any:
        """Poll the run's row (every 50 ms) until it has ended."""

        def ended() -> Any:
            row = self.run_row(dag_id, run_id)
            return row if row is not None and row.state in ("success", "failed") else None

        row = wait_for(ended, timeout=timeout, what=f"run {dag_id} {run_id} to end")
        if row.state != "success":
            raise SystemExit(f"run {dag_id} {run_id} ended {row.state}")
        return row

    def trigger(self, dag_id: str, run_id: str) -> None:
        """``dagflow dags trigger`` (it commits the queued run, then wakes the scheduler)."""
        self.cli("dags", "trigger", dag_id, "--run-id", run_id)

    def close(self) -> None:
        self.engine.dispose()
        if self.admin_url and self.database:
            drop_postgres_database(self.admin_url, self.database)


def new_postgres_database(admin_url: str) -> tuple[str, str]:
    """A new, empty database on the server of ``admin_url``: its name and its URL."""
    database = f"dagflow_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return database, make_url(admin_url).set(database=database).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, database: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def postgres_database(admin_url: str = DEFAULT_POSTGRES) -> Iterator[str]:
    """The URL of a new database on the server of ``admin_url``, dropped afterwards."""
    database, url = new_postgres_database(admin_url)
    try:
        yield url
    finally:
        drop_postgres_database(admin_url, database)


@contextmanager
def deployment(
    store: str,
    root: Path,
    *,
    admin_url: str = DEFAULT_POSTGRES,
    paused_at_creation: bool = False,
    kind: type[Deployment] = Deployment,
) -> Iterator[Deployment]:
    """A deployment in ``root`` on ``store`` (``sqlite`` or ``postgres``), torn down afterwards.

    ``kind``: the class built (``bench/compare.py`` passes one that reads the store with plain SQL).
    """
    (root / "home").mkdir(parents=True)
    (root / "dags").mkdir()
    database = None
    if store == "postgres":
        database, url = new_postgres_database(admin_url)
    else:
        url = f"sqlite:///{root / 'home' / 'dagflow.db'}"
    env = clean_environment()
    env.update(
        DAGFLOW_HOME=str(root / "home"),
        DAGFLOW__DATABASE__URL=url,
        DAGFLOW__CORE__DAGS_FOLDER=str(root / "dags"),
        DAGFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=str(paused_at_creation),
    )
    # one connection kept for the bench's reads: its polls (every 50 ms while a run goes) on a new
    # connection each cost the server a backend's start, 9 ms of CPU a poll here, a tenth of the
    # two cores taken from what is measured
    engine = create_engine(url, pool_size=1, max_overflow=4)
    found = kind(root, store, url, env, engine, admin_url if database else None, database)
    try:
        yield found
    finally:
        found.close()


# -- the daemon as a process ------------------------------------------------------------------


class Daemon:
    """``dagflow scheduler`` (under cProfile with ``profile_dir``), its log in the deployment's root."""

    def __init__(self, deploy: Deployment, *, profile_dir: Path | None = None, name: str = "scheduler"):
        self.deploy = deploy
        env = dict(deploy.env)
        command = [*deploy.command, "scheduler"]
        if profile_dir is not None:
            profile_dir.mkdir(parents=True, exist_ok=True)
            site = profile_dir / "site"
            site.mkdir(exist_ok=True)
            (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH", "")]))
            env["BENCH_PROFILE_DIR"] = str(profile_dir)
            output = str(profile_dir / f"{name}.prof")
            command = [sys.executable, "-m", "cProfile", "-o", output, "-m", "dagflow", "scheduler"]
        self.log_path = deploy.root / f"{name}.log"
        self.started_at = time.time()
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.pid = self.process.pid

    def children(self) -> list[int]:
        """The daemon's worker and DAG-processor processes, oldest first (not the resource tracker):
        spawned by it (``spawn_main``), or forked by its forkserver (``dagflow.utils.processes``)."""
        found = []
        for child in _children(self.pid):
            command = _cmdline(child)
            if "spawn_main" in command:
                found.append(child)
            elif "multiprocessing.forkserver" in command:
                found.extend(_children(child))
        return sorted(set(found))

    def wait_ready(self, workers: int = 2, timeout: float = 60.0) -> None:
        """Until the daemon has recorded its job, spawned its workers and DAG processor, and the
        workers have imported what they run with (a second at most; then the scheduler idles)."""

        def ready() -> bool:
            if self.process.poll() is not None:
                raise SystemExit(f"the scheduler exited {self.process.returncode}: see {self.log_path}")
            return bool(self.deploy.scheduler_job(self.pid)) and len(self.children()) >= workers + 1

        wait_for(ready, timeout=timeout, every=0.1, what="the scheduler to start")
        time.sleep(2.0)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from ``/proc/PID/statm``."""
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * PAGE_KB / 1024


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
