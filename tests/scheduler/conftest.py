"""The scheduler daemon end to end: real worker processes, a real metadata store (SQLite and PostgreSQL).

The ``orchestrator`` fixture is a small deployment in a temporary ``DAGFLOW_HOME``, for one test;
``deployment()`` builds the same for a scenario that several tests of a module check (a module
fixture: worker processes take a while to start, so scenarios share them where they can):

* ``write(name, source)`` puts a DAG file in its DAGs folder; ``record_dags()`` parses the folder
  once into the store (what the DAG processor does), so most tests run without the processor;
* ``trigger``, ``unpause``, ``pause`` act on the store the way the CLI and the web UI do;
* ``run_until_idle()`` runs ``Scheduler.run(until_idle=True)``; ``running()`` keeps one scheduler
  (and its worker processes) up across several ``until(condition)`` phases in this thread;
  ``in_thread()`` runs one in a background thread while the test acts. Each runs the attempts with
  the ``inline`` executor (in this process: fast), or in worker processes, which a test about
  processes asks for (worker deaths, kills, limits, parallel attempts, signals) with ``executor=``
  its ``process_executor`` fixture: ``local`` (the scheduler's worker pool), and ``celery-redis`` and
  ``celery-rabbitmq`` (real ``dagflow celery worker`` processes on that broker, started by the
  deployment when its scheduler first needs them: see :meth:`Orchestrator.celery_workers`).
  ``DAGFLOW_TEST_EXECUTOR=local`` runs every test on worker processes;
* ``runs``, ``task_instances``, ``states``, ``tries``, ``xcoms``, ``log`` read back what happened.

Every wait is bounded by a generous deadline that fails the test with the states at that moment,
never by a tight upper bound: the assertions are about orderings and lower bounds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dagflow import actions
from dagflow.config import Settings
from dagflow.executors import make_executor
from dagflow.executors.base import Executor
from dagflow.executors.inline import InlineExecutor
from dagflow.executors.local import LocalExecutor
from dagflow.executors.worker import WorkerSettings
from dagflow.runtime.tasklog import attempt_log_path
from dagflow.runtime.xcom import decode
from dagflow.scheduler.job import Scheduler, SchedulerOptions
from dagflow.scheduler.processor import DagFileProcessor, ProcessorSettings
from dagflow.store.engine import Database
from dagflow.store.models import DagRunRow, ImportErrorRow, TaskInstanceRow, TaskInstanceTryRow, XComRow
from dagflow.store.notify import wake_now
from dagflow.store.runs import ACTIVE_RUN_STATES as ACTIVE
from tests.backends import POSTGRES_ENV, SqliteBackend, fresh_database
from tests.conftest import DagsFolder
from tests.scheduler.processes.celery_workers import CeleryWorkers, broker_url

#: How long any wait may take before the test fails (a hang, not a slow machine).
DEADLINE = 60.0
TI = TaskInstanceRow
TRY = TaskInstanceTryRow


def label(task_id: str, map_index: int) -> str:
    """``task_id``, or ``task_id[i]`` for map index ``i`` (as ``dag.test()`` reports them)."""
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def at(value: datetime | None) -> datetime:
    """A timestamp the test expects to be recorded by now."""
    assert value is not None, "expected a recorded time, found none"
    return value


def span(row: Any) -> tuple[datetime, datetime]:
    """A run's or a try's ``(start_date, end_date)``, both expected to be recorded."""
    return at(row.start_date), at(row.end_date)


def max_concurrent(intervals: list[tuple[datetime, datetime]]) -> int:
    """The largest number of ``(start, end)`` intervals that overlap at one moment."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = current = 0
    for _, step in events:  # at equal times an end (-1) sorts before a start (+1)
        current += step
        most = max(most, current)
    return most


class SchedulerDriver:
    """A started scheduler, driven pass by pass from the test's thread."""

    def __init__(self, orchestrator: Orchestrator, scheduler: Scheduler):
        self.orchestrator = orchestrator
        self.scheduler = scheduler
        self.passes = 0

    def until(
        self,
        condition: Callable[[], bool] | None = None,
        *,
        timeout: float = DEADLINE,
        outside: bool = False,
    ) -> None:
        """Run passes until ``condition()`` holds (default: no run is queued or running, no attempt out).

        The condition is checked after each pass, and passes happen when the scheduler wakes up by
        itself. For a condition that something else brings about without waking it (the DAG
        processor recording an import error), pass ``outside=True``: the scheduler is then woken
        every tenth of a second while this waits.
        """
        check = condition or self.idle
        deadline = time.monotonic() + timeout
        with self._ticking(outside):
            while True:
                self.scheduler.run_once()
                self.passes += 1
                if check():
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"condition not reached within {timeout:g}s; runs: {self.orchestrator.describe()}"
                    )
                self.scheduler.wait()

    @contextlib.contextmanager
    def _ticking(self, enabled: bool) -> Iterator[None]:
        done = threading.Event()

        def tick() -> None:
            while not done.wait(0.1):
                wake_now(self.orchestrator.db.url)

        ticker = threading.Thread(target=tick, daemon=True)
        if enabled:
            ticker.start()
        try:
            yield
        finally:
            done.set()
            if enabled:
                ticker.join()

    def idle(self) -> bool:
        return not self.orchestrator.active_runs() and not self.scheduler.state.in_flight

    def polls(self, count: int = 3) -> None:
        """Run ``count`` more passes, each one poll interval after the last, so each looks at the store."""
        for _ in range(count):
            time.sleep(self.scheduler.options.poll_interval)
            self.scheduler.run_once()
            self.passes += 1


class BackgroundScheduler(threading.Thread):
    """A scheduler looping in a thread (signal handlers can only be set in the main thread, so this
    runs the loop of :meth:`Scheduler.run` without them); ``stop()`` ends it and wakes it up."""

    def __init__(self, scheduler: Scheduler, home: Path):
        super().__init__(daemon=True, name="test-scheduler")
        self.scheduler = scheduler
        self.home = home
        self.started = threading.Event()
        self.passes = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.scheduler.start()
            try:
                while not self.scheduler.stopping:
                    self.scheduler.run_once()
                    self.passes += 1
                    self.started.set()
                    self.scheduler.wait()
            finally:
                self.scheduler.shutdown()
        except BaseException as exc:  # reported to the test by stop()
            self.error = exc
        finally:
            self.started.set()

    def wait_until_asleep(self, quiet: float = 0.1) -> None:
        """Return once no pass has run for ``quiet`` seconds: the loop is waiting for something."""
        deadline = time.monotonic() + DEADLINE
        passes, since = self.passes, time.monotonic()
        while time.monotonic() - since < quiet:
            assert time.monotonic() < deadline, "the scheduler never went to sleep"
            time.sleep(0.02)
            if self.passes != passes:
                passes, since = self.passes, time.monotonic()

    def stop(self) -> None:
        self.scheduler.stop()
        self.join(DEADLINE)
        assert not self.is_alive(), "the scheduler thread did not stop"
        if self.error is not None:
            raise self.error


@dataclass
class Orchestrator:
    """A dagflow deployment for one test (see the module docstring)."""

    dags: DagsFolder
    database_url: str
    db: Database
    home: Path
    monkeypatch: pytest.MonkeyPatch
    worker_heartbeat: float = 0.5
    #: The executor a scheduler gets unless the test asks for another: ``inline`` or ``local``.
    executor: str = "inline"
    #: The Celery workers started for an executor ``celery-<broker>``, stopped by :meth:`close`.
    celery: CeleryWorkers | None = None

    def close(self) -> None:
        """Stop the Celery workers this deployment started, if any."""
        if self.celery is not None:
            self.celery.stop_all()

    # -- set-up -----------------------------------------------------------------------------------

    def setenv(self, **values: str) -> None:
        """Set ``DAGFLOW__SECTION__KEY`` variables, e.g. ``setenv(CORE__DAGBAG_IMPORT_TIMEOUT="1")``."""
        for key, value in values.items():
            self.monkeypatch.setenv(f"DAGFLOW__{key}", value)

    def settings(self) -> Settings:
        return Settings.load()

    def write(self, name: str, source: str, **values: Any) -> Path:
        """Write a DAG file; ``{name}`` placeholders in ``source`` are filled from ``values``."""
        if values:
            source = source.format(**values)
        return self.dags.write(name, source)

    def record_dags(self, *, paused: bool | None = False) -> list[str]:
        """Parse the DAGs folder into the store, as the DAG processor does; return the DAG ids recorded.

        New DAGs are recorded unpaused, or paused, or with ``paused=None`` as the settings say
        (``[core] dags_are_paused_at_creation``); a file that fails to import fails the test.
        """
        if paused is None:
            paused = self.settings().getbool("core", "dags_are_paused_at_creation")
        processor = DagFileProcessor(
            ProcessorSettings(self.database_url, str(self.dags.path), paused_at_creation=paused), db=self.db
        )
        recorded = processor.scan()
        errors = self.import_errors()
        assert not errors, f"DAG files failed to import: {errors}"
        return recorded

    def import_errors(self) -> dict[str, str]:
        """The import errors recorded, by file name (without the folder)."""
        with self.db.session() as session:
            return {Path(e.filename).name: e.message for e in session.scalars(select(ImportErrorRow))}

    # The actions below wake a listening scheduler once committed, as the CLI and the web UI do.

    def unpause(self, *dag_ids: str) -> None:
        with self.db.session(write=True) as session:
            for dag_id in dag_ids:
                actions.set_paused(session, dag_id, False, owner="test")

    def pause(self, *dag_ids: str) -> None:
        with self.db.session(write=True) as session:
            for dag_id in dag_ids:
                actions.set_paused(session, dag_id, True, owner="test")

    def trigger(self, dag_id: str, **kwargs: Any) -> str:
        """Trigger a manual run (queued, as ``dagflow dags trigger`` does); return its run id."""
        with self.db.session(write=True) as session:
            run_id = actions.trigger_dag(session, dag_id, owner="test", **kwargs).run_id
        return run_id

    # -- running the scheduler ----------------------------------------------------------------------

    def make_executor(self, executor: str | None = None, *, workers: int | None = 2) -> Executor:
        """``inline`` (the default, see :attr:`executor`), ``local`` with ``workers`` processes (None:
        the pool the settings give, as deployed), ``celery-<broker>`` with a Celery worker of
        ``workers`` processes, or ``celery`` (as the settings say: broker, queues; the test starts
        the workers)."""
        name = executor or self.executor
        if name.startswith("celery-"):
            self.celery_workers(name.removeprefix("celery-"), concurrency=workers or 2)
            return make_executor(self.settings())
        settings = self.settings()
        worker_settings = WorkerSettings(
            database_url=self.database_url,
            log_folder=str(settings.log_folder),
            heartbeat_interval=self.worker_heartbeat,
            import_timeout=settings.getfloat("core", "dagbag_import_timeout"),
            max_map_length=settings.getint("core", "max_map_length"),
        )
        if name == "inline":
            return InlineExecutor(worker_settings)
        if name == "celery" or workers is None:  # (celery: the test starts the workers, celery_workers.py)
            return make_executor(settings)
        return LocalExecutor(worker_settings, workers=workers)

    def celery_workers(self, broker: str, *, concurrency: int) -> CeleryWorkers:
        """One running ``dagflow celery worker`` of ``concurrency`` processes on ``broker``, and this
        deployment's settings pointing its schedulers at it.

        The worker is on this machine: it reads the deployment's DAGs folder (files written later reach
        it), writes to its log folder (``log()`` reads attempts' logs there) and has its settings; only
        its ``DAGFLOW_HOME`` is its own. Started once, and again only for another ``concurrency``.
        """
        if self.celery is None:
            self.celery = CeleryWorkers(
                self.home / "celery", self.database_url, broker_url(broker), self.dags.path, shared_dags=True
            )
            self.setenv(**{k.removeprefix("DAGFLOW__"): v for k, v in self.celery.env().items()})
        running = self.celery.running()
        if not running or running[0].concurrency != concurrency:
            self.celery.stop_all()
            self.celery.extra_env.update(
                {k: v for k, v in os.environ.items() if k.startswith("DAGFLOW__")},
                DAGFLOW__LOGGING__BASE_LOG_FOLDER=str(self.settings().log_folder),
            )
            worker = self.celery.start(f"worker-{len(self.celery.workers)}", concurrency=concurrency)
            self.celery.wait_ready(worker)
        return self.celery

    def scheduler(
        self, options: SchedulerOptions | None = None, *, workers: int | None = 2, executor: str | None = None
    ) -> Scheduler:
        return Scheduler(
            self.settings(),
            self.make_executor(executor, workers=workers),
            options=options or SchedulerOptions(run_processor=False),
            db=self.db,
        )

    def run_until_idle(
        self,
        options: SchedulerOptions | None = None,
        *,
        workers: int | None = 2,
        executor: str | None = None,
        timeout: float = DEADLINE,
    ) -> Scheduler:
        """``Scheduler.run(until_idle=True)``, stopped (and the test failed) if it runs past ``timeout``.

        ``run`` installs the scheduler's SIGTERM and SIGINT handlers; pytest's are put back after it.
        """
        scheduler = self.scheduler(options, workers=workers, executor=executor)
        handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
        watchdog = threading.Timer(timeout, scheduler.stop)
        watchdog.start()
        try:
            scheduler.run(until_idle=True)
        finally:
            watchdog.cancel()
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        assert not self.active_runs(), f"the scheduler did not finish within {timeout:g}s: {self.describe()}"
        return scheduler

    @contextlib.contextmanager
    def running(
        self, options: SchedulerOptions | None = None, *, workers: int = 2, executor: str | None = None
    ) -> Iterator[SchedulerDriver]:
        """A started scheduler with its workers, driven from this thread, shut down at the end."""
        scheduler = self.scheduler(options, workers=workers, executor=executor)
        scheduler.start()
        try:
            yield SchedulerDriver(self, scheduler)
        finally:
            scheduler.shutdown()

    @contextlib.contextmanager
    def in_thread(
        self, options: SchedulerOptions | None = None, *, workers: int = 2, executor: str | None = None
    ) -> Iterator[BackgroundScheduler]:
        """A scheduler looping in a background thread while the test acts; stopped at the end."""
        scheduler = self.scheduler(options, workers=workers, executor=executor)
        background = BackgroundScheduler(scheduler, self.home)
        background.start()
        assert background.started.wait(DEADLINE), "the scheduler thread did not start"
        try:
            yield background
        finally:
            background.stop()

    def wait_for(
        self, condition: Callable[[], bool], *, timeout: float = DEADLINE, every: float = 0.05
    ) -> None:
        """Poll ``condition`` (while a background scheduler works) until it holds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not reached within {timeout:g}s; runs: {self.describe()}")
            time.sleep(every)

    # -- reading back ---------------------------------------------------------------------------------

    def active_runs(self) -> int:
        with self.db.session() as session:
            query = select(func.count()).select_from(DagRunRow).where(DagRunRow.state.in_(ACTIVE))
            return int(session.scalar(query) or 0)

    def runs(self, dag_id: str | None = None) -> list[DagRunRow]:
        """Runs (of one DAG), oldest logical date first."""
        query = select(DagRunRow).order_by(DagRunRow.logical_date, DagRunRow.id)
        if dag_id is not None:
            query = query.where(DagRunRow.dag_id == dag_id)
        with self.db.session() as session:
            return list(session.scalars(query))

    def run(self, dag_id: str, run_id: str | None = None) -> DagRunRow:
        """One run: the one with ``run_id``, or the DAG's only run."""
        found = [r for r in self.runs(dag_id) if run_id is None or r.run_id == run_id]
        assert len(found) == 1, f"expected one run of {dag_id} ({run_id}), found {[r.run_id for r in found]}"
        return found[0]

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, TaskInstanceRow]:
        """The run's task instances by label."""
        query = select(TI).where(TI.dag_id == dag_id, TI.run_id == run_id)
        with self.db.session() as session:
            return {label(ti.task_id, ti.map_index): ti for ti in session.scalars(query)}

    def states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return {name: ti.state for name, ti in self.task_instances(dag_id, run_id).items()}

    def tries(
        self, dag_id: str, run_id: str | None = None, task_id: str | None = None
    ) -> list[TaskInstanceTryRow]:
        """Try-history rows, in the order they started."""
        query = select(TRY).where(TRY.dag_id == dag_id).order_by(TRY.start_date, TRY.id)
        if run_id is not None:
            query = query.where(TRY.run_id == run_id)
        if task_id is not None:
            query = query.where(TRY.task_id == task_id)
        with self.db.session() as session:
            return list(session.scalars(query))

    def xcoms(self, dag_id: str, run_id: str) -> dict[tuple[str, str], Any]:
        """Every XCom of the run, by ``(task instance label, key)``."""
        query = select(XComRow).where(XComRow.dag_id == dag_id, XComRow.run_id == run_id)
        with self.db.session() as session:
            return {(label(x.task_id, x.map_index), x.key): decode(x.value) for x in session.scalars(query)}

    def check_ran_on(self, executor: str, dag_id: str) -> None:
        """Every try of ``dag_id`` ran where ``executor`` runs attempts: in this deployment's Celery
        worker for ``celery-<broker>`` (its name is the tries' hostname), else on this machine."""
        expected = {socket.gethostname()}
        if executor.startswith("celery-"):
            assert self.celery is not None, f"{executor}: no Celery worker was started"
            expected = {w.name for w in self.celery.workers}
        hosts = {row.hostname for row in self.tries(dag_id)}
        assert hosts and hosts <= expected, f"tries ran on {hosts}, expected {expected}"

    def log_path(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> Path:
        return attempt_log_path(self.home / "logs", dag_id, run_id, task_id, map_index, try_number)

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
        return self.log_path(dag_id, run_id, task_id, try_number, map_index).read_text()

    def describe(self) -> str:
        """Every run and its task instance states, for failure messages."""
        lines = []
        for run in self.runs():
            lines.append(f"{run.dag_id} {run.run_id} {run.state} {self.states(run.dag_id, run.run_id)}")
        return "\n  ".join(["", *lines])


@contextlib.contextmanager
def deployment(store_backend: Any, root: Path) -> Iterator[Orchestrator]:
    """A deployment in ``root`` (home, DAGs folder, a fresh store on ``store_backend``), for scenarios
    shared by the tests of a module: the environment is set while the block runs, then restored."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        home, folder = root / "home", (root / "dags").resolve()
        home.mkdir()
        folder.mkdir()
        for name in list(os.environ):
            if name.startswith("DAGFLOW__"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("DAGFLOW_HOME", str(home))
        monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(folder))
        monkeypatch.setattr(sys, "path", list(sys.path))
        for url in fresh_database(store_backend, root):
            monkeypatch.setenv("DAGFLOW__DATABASE__URL", url)
            db = Database(url)
            orchestrator = Orchestrator(
                DagsFolder(folder), url, db, home, monkeypatch, executor=default_executor()
            )
            try:
                yield orchestrator
            finally:
                orchestrator.close()
                db.dispose()
        for name, module in list(sys.modules.items()):  # modules of the DAG files loaded here
            location = getattr(module, "__file__", None) or ""
            if location.startswith(str(folder)):
                del sys.modules[name]


@pytest.fixture
def orchestrator(
    dags_folder: DagsFolder,
    database_url: str,
    database: Database,
    dagflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Orchestrator]:
    """A deployment with an empty DAGs folder and a fresh store, for one test (see :class:`Orchestrator`)."""
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder.path))
    orchestrator = Orchestrator(
        dags_folder, database_url, database, dagflow_home, monkeypatch, executor=default_executor()
    )
    yield orchestrator
    orchestrator.close()


#: The executors a test about worker processes runs on (see ``process_executor``).
PROCESS_EXECUTORS = ["local", "redis", "rabbitmq"]


@pytest.fixture(scope="module", params=PROCESS_EXECUTORS)
def process_executor(request: pytest.FixtureRequest, store_backend: object) -> str:
    """The executor a test about worker processes passes as ``executor=``: ``local``, then Celery on
    Redis and on RabbitMQ (``celery-redis``, ``celery-rabbitmq``: see :meth:`Orchestrator.make_executor`).

    Celery runs on one store: PostgreSQL, the store of deployments whose workers are on other
    machines, when the tests have one; SQLite otherwise (its workers are on this machine).
    """
    if request.param == "local":
        return "local"
    broker_url(request.param)  # skipped, or failed in CI, when the broker is not running
    if isinstance(store_backend, SqliteBackend) and os.environ.get(POSTGRES_ENV):
        pytest.skip("Celery runs are tested on PostgreSQL")
    return f"celery-{request.param}"


def default_executor() -> str:
    """``inline``, unless ``DAGFLOW_TEST_EXECUTOR=local`` asks for worker processes everywhere."""
    return os.environ.get("DAGFLOW_TEST_EXECUTOR", "inline")
