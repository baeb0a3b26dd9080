"""Crash tests: a real ``scheduler.py`` daemon, real worker processes, real signals.

The ``crash`` fixture gives a test a :class:`CrashHarness` on its own ``DAGFLOW_HOME``, DAGs folder
and metadata store (``database_url``, so every test runs on each configured backend). It writes DAG
files whose tasks journal their start and end, registers and triggers them in-process, starts and
stops ``python scheduler.py`` as a subprocess, and waits for conditions by polling the store.

Every daemon starts in a session of its own (``start_new_session=True``), so its workers, its DAG
processor and any worker orphaned by a ``kill -9`` of the scheduler share its process group; at
the end of the test, passed or failed, every group started is SIGKILLed, stopped processes too.

A test that asks for the ``crash_executor`` fixture runs three times: on the local executor (the
daemon's own worker processes), and on Celery with Redis and with RabbitMQ: the daemon runs with
``[core] executor = celery`` and the harness starts one ``dagflow celery worker`` beside it (its
own ``DAGFLOW_HOME``, the test's DAGs and log folders), which outlives the daemons it serves, as a
worker on another machine would. ``crash.worker_pids()`` and ``crash.lost_error`` tell a test what
differs: which processes run attempts, and what a try whose process died is recorded with.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from dagflow import actions
from dagflow.scheduler.processor import DagFileProcessor, ProcessorSettings
from dagflow.store.engine import Database
from dagflow.store.models import DagRunRow, JobRow, TaskInstanceRow, TaskInstanceTryRow
from tests.backends import POSTGRES_ENV, many_processes_slot
from tests.scheduler.processes.celery_workers import CeleryWorkers, broker_url

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

#: Settings every crash test runs with: short heartbeats, so kills are noticed in a few seconds.
BASE_SETTINGS = {
    "DAGFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    "DAGFLOW__SCHEDULER__HEARTBEAT_SEC": "0.5",
    "DAGFLOW__SCHEDULER__TASK_HEARTBEAT_TIMEOUT": "4",
    "DAGFLOW__SCHEDULER__PARSE_INTERVAL": "1",
}

#: Prepended to every DAG file: ``@tracked`` tasks append ``start``/``end`` lines to the journal
#: (O_APPEND, one write per line, so lines of concurrent processes never interleave).
DAG_HEADER = '''\
import ctypes
import functools
import os
import time
from datetime import datetime, timedelta

from dagflow import DAG, get_current_context, task

JOURNAL = {journal!r}


def note(kind):
    ti = get_current_context()["ti"]
    label = ti.task_id if ti.map_index < 0 else f"{{ti.task_id}}[{{ti.map_index}}]"
    line = f"{{kind}} {{label}} {{ti.try_number}} {{os.getpid()}} {{time.time():.6f}}\\n"
    fd = os.open(JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return ti.try_number


def tracked(body):
    """Journal the try's start, and its end when it returns or raises (not when its process dies)."""
    @functools.wraps(body)
    def wrapper(*args, **kwargs):
        note("start")
        try:
            return body(*args, **kwargs)
        finally:
            note("end")
    return wrapper


def try_number():
    return get_current_context()["ti"].try_number


def nap(seconds):
    """Sleep in small steps, so a signal handler gets to run promptly."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)

'''


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _live_processes() -> Iterator[tuple[int, list[str]]]:
    """``(pid, fields of /proc/PID/stat after the command name)`` of every live process (no psutil
    needed); a process that ends meanwhile is passed over."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in ("Z", "X"):
            yield int(entry), fields


def group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid``."""
    return [pid for pid, fields in _live_processes() if int(fields[2]) == pgid]


def spawned_children(pid: int) -> list[int]:
    """The processes ``pid`` started with multiprocessing (its workers and DAG processor): the
    children of its forkserver, the one child of ``pid`` that runs ``multiprocessing.forkserver``."""
    found = []
    for server in children(pid):
        try:
            with open(f"/proc/{server}/cmdline", "rb") as cmdline:
                if b"multiprocessing.forkserver" in cmdline.read():
                    found.extend(children(server))
        except OSError:
            continue
    return found


def children(pid: int) -> list[int]:
    """Live children of ``pid``."""
    return [child for child, fields in _live_processes() if int(fields[1]) == pid]


def worker_pids(pid: int) -> list[int]:
    """The live worker processes of scheduler ``pid``, once they are up.

    Told apart from the DAG processor, its other spawned child, by their heartbeat thread: a worker
    has two threads, the processor one.
    """
    found = []
    for child in spawned_children(pid):
        try:
            with open(f"/proc/{child}/status") as status:
                threads = next(int(line.split()[1]) for line in status if line.startswith("Threads:"))
        except (OSError, StopIteration, ValueError):
            continue
        if threads >= 2:
            found.append(child)
    return found


@dataclass
class Daemon:
    """One ``python scheduler.py`` process, leader of its own process group."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """``kill -9`` the scheduler alone: its workers live on, orphaned."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, timeout: float) -> int:
        """SIGTERM the scheduler; return its exit code (``TimeoutExpired`` if it did not exit in time)."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill_group(self) -> None:
        """SIGKILL everything in the scheduler's process group (workers, orphans, stopped ones too)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def members(self) -> list[int]:
        return group_members(self.pid)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class JournalLine:
    kind: str  # start, end, or killed (written by the test when it SIGKILLs a worker)
    label: str
    try_number: int
    pid: int
    at: float


@dataclass
class CrashHarness:
    """Everything a crash test drives: DAG files, the store, the daemon, the journal."""

    tmp_path: Path
    dags_folder: Path
    database_url: str
    env: dict[str, str]
    store: Database
    journal: Path
    daemons: list[Daemon] = field(default_factory=list)
    #: ``local``, ``celery-redis`` or ``celery-rabbitmq`` (see the module docstring).
    executor: str = "local"
    celery: CeleryWorkers | None = None

    # -- DAGs and runs ----------------------------------------------------------------------------

    def write_dag(self, name: str, body: str) -> Path:
        """A DAG file: :data:`DAG_HEADER` (journal helpers) followed by ``body`` (dedented)."""
        target = self.dags_folder / name
        header = DAG_HEADER.format(journal=str(self.journal))
        target.write_text(header + textwrap.dedent(body).lstrip("\n"))
        return target

    def register(self) -> None:
        """Parse the DAGs folder into the store now, unpaused (what ``dagflow dags reserialize`` does)."""
        settings = ProcessorSettings(
            database_url=self.database_url, dags_folder=str(self.dags_folder), paused_at_creation=False
        )
        DagFileProcessor(settings, db=self.store).scan()

    def trigger(self, dag_id: str, run_id: str = "crash") -> str:
        with self.store.session(write=True) as session:
            actions.trigger_dag(session, dag_id, run_id=run_id, owner="test")
        return run_id

    # -- the daemon -------------------------------------------------------------------------------

    def start(self, workers: int = 2, **settings: str) -> Daemon:
        """Start ``python scheduler.py --workers N`` with the test's settings (plus ``settings``).

        On Celery the daemon sends its attempts to the test's Celery worker, started with ``N``
        processes and the same settings the first time a daemon starts (see the module docstring).
        """
        env = {**self.env, **settings}
        if self.executor != "local":
            env.update(self._celery_worker(env, concurrency=workers).env())
        log_path = self.tmp_path / f"scheduler-{len(self.daemons)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "scheduler.py"), "--workers", str(workers)],
                env=env,
                cwd=self.tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        daemon = Daemon(process, log_path)
        self.daemons.append(daemon)
        return daemon

    def _celery_worker(self, env: dict[str, str], *, concurrency: int) -> CeleryWorkers:
        if self.celery is None:
            broker = broker_url(self.executor.removeprefix("celery-"))
            self.celery = CeleryWorkers(
                self.tmp_path / "celery", self.database_url, broker, self.dags_folder, shared_dags=True
            )
            self.celery.extra_env.update({k: v for k, v in env.items() if k.startswith("DAGFLOW__")})
            logs = str(Path(env["DAGFLOW_HOME"]) / "logs")
            self.celery.extra_env["DAGFLOW__LOGGING__BASE_LOG_FOLDER"] = logs
            self.celery.wait_ready(self.celery.start("worker", concurrency=concurrency))
        return self.celery

    def worker_pids(self, daemon: Daemon) -> list[int]:
        """The processes that run attempts: ``daemon``'s workers, or the Celery worker's pool processes."""
        if self.celery is None:
            return worker_pids(daemon.pid)
        return [pid for worker in self.celery.running() for pid in children(worker.process.pid)]

    def check_ran_on_its_executor(self, dag_id: str, run_id: str = "crash") -> None:
        """Every try of the run ran where the executor runs attempts: in the Celery worker (its name
        is the tries' hostname), or on this machine."""
        expected = {w.name for w in self.celery.workers} if self.celery else {socket.gethostname()}
        hosts = {row.hostname for rows in self.tries(dag_id, run_id).values() for row in rows}
        assert hosts and hosts <= expected, f"tries ran on {hosts}, expected {expected}"

    @property
    def lost_error(self) -> str:
        """What the error of a try whose process died says: the local executor sees its worker die
        (and names the signal); on Celery the scheduler finds its heartbeat stopped."""
        return "SIGKILL" if self.executor == "local" else "heartbeat stopped"

    def cleanup(self) -> None:
        """Kill every process this test started, whatever state it is in."""
        if self.celery is not None:
            for worker in self.celery.workers:
                worker.kill()
        for daemon in self.daemons:
            daemon.kill_group()
        for pid in self._recorded_pids():
            self._kill_if_ours(pid)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(d.members() for d in self.daemons):
            time.sleep(0.05)

    def _recorded_pids(self) -> set[int]:
        """Worker pids the store and the journal know of (a second net under the process groups)."""
        pids: set[int] = set()
        with contextlib.suppress(Exception), self.store.session() as session:
            pids |= {p for p in session.scalars(select(TaskInstanceRow.pid)) if p}
            pids |= {p for p in session.scalars(select(TaskInstanceTryRow.pid)) if p}
        with contextlib.suppress(OSError):
            pids |= {line.pid for line in self.journal_lines()}
        return pids

    def _kill_if_ours(self, pid: int) -> None:
        """SIGKILL ``pid`` only if it is in one of this test's process groups (never a reused pid)."""
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            return
        if any(group == d.pid for d in self.daemons) and pid != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    # -- workers ----------------------------------------------------------------------------------

    def kill_worker(self, pid: int, label: str, try_number: int) -> None:
        """SIGKILL a worker, and journal when, since the task cannot say so itself."""
        os.kill(pid, signal.SIGKILL)
        self.append_journal(JournalLine("killed", label, try_number, pid, time.time()))

    def freeze_worker(self, pid: int, dag_id: str, task_id: str, run_id: str = "crash") -> None:
        """SIGSTOP a worker, at a moment it holds no lock on the store.

        A worker stopped inside its heartbeat's transaction would hold SQLite's write lock (or the
        task instance's row lock on PostgreSQL) until it dies, and stall every writer: such a
        moment is skipped (woken, and stopped again a little later).
        """
        for _ in range(50):
            os.kill(pid, signal.SIGSTOP)
            if self._task_instance_writable(dag_id, run_id, task_id):
                return
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.05)
        pytest.fail(f"worker {pid} always held a lock on the store when stopped")

    def _task_instance_writable(self, dag_id: str, run_id: str, task_id: str) -> bool:
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite":
            probe = sqlite3.connect(str(url.database), timeout=0.2, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                return True
            except sqlite3.OperationalError:
                return False
            finally:
                probe.close()
        lock = text(
            "SELECT 1 FROM task_instance WHERE dag_id = :d AND run_id = :r AND task_id = :t FOR UPDATE NOWAIT"
        )
        with self.store.engine.connect() as connection:
            try:
                connection.execute(lock, {"d": dag_id, "r": run_id, "t": task_id})
                return True
            except OperationalError:
                return False
            finally:
                connection.rollback()

    def append_journal(self, line: JournalLine) -> None:
        text = f"{line.kind} {line.label} {line.try_number} {line.pid} {line.at:.6f}\n"
        fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

    # -- reading the store ------------------------------------------------------------------------

    def task_instances(self, dag_id: str, run_id: str = "crash") -> dict[str, TaskInstanceRow]:
        """The run's task instances by label (``task`` or ``task[2]``), detached from the session."""
        with self.store.session() as session:
            rows = session.scalars(
                select(TaskInstanceRow).where(
                    TaskInstanceRow.dag_id == dag_id, TaskInstanceRow.run_id == run_id
                )
            ).all()
            session.expunge_all()
        return {label_of(r.task_id, r.map_index): r for r in rows}

    def states(self, dag_id: str, run_id: str = "crash") -> dict[str, str]:
        return {label: row.state for label, row in self.task_instances(dag_id, run_id).items()}

    def tries(self, dag_id: str, run_id: str = "crash") -> dict[str, list[TaskInstanceTryRow]]:
        """The try history by label, each list in try order."""
        with self.store.session() as session:
            rows = session.scalars(
                select(TaskInstanceTryRow)
                .where(TaskInstanceTryRow.dag_id == dag_id, TaskInstanceTryRow.run_id == run_id)
                .order_by(TaskInstanceTryRow.try_number)
            ).all()
            session.expunge_all()
        found: dict[str, list[TaskInstanceTryRow]] = {}
        for row in rows:
            found.setdefault(label_of(row.task_id, row.map_index), []).append(row)
        return found

    def run_state(self, dag_id: str, run_id: str = "crash") -> str | None:
        with self.store.session() as session:
            return session.scalar(
                select(DagRunRow.state).where(DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id)
            )

    def jobs(self) -> list[JobRow]:
        with self.store.session() as session:
            rows = session.scalars(select(JobRow).order_by(JobRow.id)).all()
            session.expunge_all()
        return list(rows)

    def journal_lines(self) -> list[JournalLine]:
        if not self.journal.exists():
            return []
        lines = []
        for entry in self.journal.read_text().splitlines():
            kind, label, try_number, pid, at = entry.split()
            lines.append(JournalLine(kind, label, int(try_number), int(pid), float(at)))
        return lines

    # -- waiting ----------------------------------------------------------------------------------

    def wait_for(self, what: str, condition: Callable[[], T | None], timeout: float) -> T:
        """Poll ``condition`` until it returns something truthy; fail with the daemon's log if it never does.

        ``timeout`` is a guard against hanging, never a claim about speed: keep it generous.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:g}s waiting for {what}\n{self.report()}")
            time.sleep(0.1)

    def wait_for_run(self, dag_id: str, run_id: str = "crash", timeout: float = 60) -> str:
        """Wait until the run is finished; return its state."""
        return self.wait_for(
            f"run {dag_id} {run_id} to finish",
            lambda: state if (state := self.run_state(dag_id, run_id)) in ("success", "failed") else None,
            timeout,
        )

    def report(self) -> str:
        """What a failure message shows: task instance states and the daemons' last log lines."""
        parts = []
        with contextlib.suppress(Exception), self.store.session() as session:
            for row in session.scalars(select(TaskInstanceRow)):
                parts.append(
                    f"  {row.dag_id}.{label_of(row.task_id, row.map_index)} {row.state} "
                    f"try={row.try_number}/{row.max_tries} pid={row.pid} error={row.error!r}"
                )
        for n, daemon in enumerate(self.daemons):
            parts.append(f"--- scheduler {n} (pid {daemon.pid}) log tail:\n{daemon.log_tail()}")
        return "\n".join(parts)


def label_of(task_id: str, map_index: int) -> str:
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


@pytest.fixture(params=["local", "redis", "rabbitmq"])
def crash_executor(request: pytest.FixtureRequest, database_url: str) -> str:
    """The executor of a crash test that runs on each (see the module docstring). Celery runs on one
    store: PostgreSQL when the tests have it, SQLite otherwise."""
    if request.param == "local":
        return "local"
    broker_url(request.param)  # skipped, or failed in CI, when the broker is not running
    if database_url.startswith("sqlite") and os.environ.get(POSTGRES_ENV):
        pytest.skip("Celery runs are tested on PostgreSQL")
    return f"celery-{request.param}"


@pytest.fixture
def crash(
    tmp_path: Path,
    database_url: str,
    dagflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[CrashHarness]:
    """A :class:`CrashHarness` on this test's store; every process it started is killed afterwards.
    Its executor is the test's ``crash_executor`` if it asks for one, else ``local``."""
    folder = tmp_path / "dags"
    folder.mkdir()
    monkeypatch.setattr(sys, "path", list(sys.path))
    env = {
        **os.environ,
        **BASE_SETTINGS,
        "DAGFLOW_HOME": str(dagflow_home),
        "DAGFLOW__DATABASE__URL": database_url,
        "DAGFLOW__CORE__DAGS_FOLDER": str(folder),
        "PYTHONUNBUFFERED": "1",
    }
    store = Database(database_url)
    harness = CrashHarness(
        tmp_path=tmp_path,
        dags_folder=folder,
        database_url=database_url,
        env=env,
        store=store,
        journal=tmp_path / "journal.txt",
    )
    if "crash_executor" in request.fixturenames:
        harness.executor = request.getfixturevalue("crash_executor")
    with many_processes_slot(database_url):  # until every process it started is gone
        try:
            yield harness
        finally:
            harness.cleanup()
            store.dispose()
            for name, module in list(sys.modules.items()):  # DAG modules register() imported here
                location = getattr(module, "__file__", None) or ""
                if location.startswith(str(folder)):
                    del sys.modules[name]


def attempts_by_label(lines: list[JournalLine]) -> dict[str, list[dict[str, Any]]]:
    """Each task instance's attempts from the journal: one per (try, pid), with start, end and kill times."""
    found: dict[tuple[str, int, int], dict[str, Any]] = {}
    for line in lines:
        entry = found.setdefault(
            (line.label, line.try_number, line.pid),
            {
                "try": line.try_number,
                "pid": line.pid,
                "start": None,
                "end": None,
                "killed": None,
                "starts": 0,
            },
        )
        if line.kind == "start":
            entry["start"] = line.at
            entry["starts"] += 1
        else:
            entry[line.kind] = line.at
    result: dict[str, list[dict[str, Any]]] = {}
    for (label, _try, _pid), entry in found.items():
        result.setdefault(label, []).append(entry)
    for entries in result.values():
        entries.sort(key=lambda e: e["start"] if e["start"] is not None else float("inf"))
    return result


def check_no_overlap(crash: CrashHarness, dag_id: str, run_id: str = "crash") -> None:
    """No task instance ran in two processes at once, and no try of it ran twice.

    Each attempt's interval runs from its journalled start to its journalled end; an attempt whose
    process died (no end) ends at the test's ``killed`` line, else at the end its try history
    records (written only after the scheduler saw the process die or declared it gone).
    """
    history = crash.tries(dag_id, run_id)
    for label, attempts in attempts_by_label(crash.journal_lines()).items():
        tries = [a["try"] for a in attempts]
        assert len(tries) == len(set(tries)), f"{label}: a try ran more than once: {attempts}"
        assert all(a["starts"] == 1 for a in attempts), f"{label}: a try started twice: {attempts}"
        recorded = {row.try_number: row for row in history.get(label, [])}
        previous_end: float | None = None
        for attempt in attempts:
            if previous_end is not None:
                assert attempt["start"] >= previous_end, f"{label}: attempts overlap: {attempts}"
            end = attempt["end"] or attempt["killed"]
            recorded_end = recorded[attempt["try"]].end_date if attempt["try"] in recorded else None
            if end is None and recorded_end is not None:
                end = recorded_end.timestamp()
            assert end is not None, f"{label}: try {attempt['try']} has no known end: {attempts}"
            previous_end = end


def check_try_history(crash: CrashHarness, dag_id: str, run_id: str = "crash") -> None:
    """Every try a task instance counted is in its history exactly once: tries 1..try_number."""
    history = crash.tries(dag_id, run_id)
    for label, ti in crash.task_instances(dag_id, run_id).items():
        numbers = [row.try_number for row in history.get(label, [])]
        if ti.operator == "EmptyOperator" or ti.state in ("skipped", "upstream_failed", "removed"):
            continue
        assert numbers == list(range(1, ti.try_number + 1)), f"{label}: try history {numbers}, {ti.state}"
