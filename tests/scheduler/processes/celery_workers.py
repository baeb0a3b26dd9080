"""Real ``dagflow celery worker`` processes for tests, each with its own ``DAGFLOW_HOME`` and its own
copy of the DAG files (as on another machine), on this machine's Redis or RabbitMQ.

Each deployment gets queues of its own (a random prefix), so tests running at the same time on the
same broker (pytest-xdist runs them side by side) never take each other's messages.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BROKERS = {
    "redis": "redis://127.0.0.1:6379/13",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}
SECRET_KEY = "test-secret-key-shared-by-every-machine"


def reachable(url: str) -> bool:
    """Whether the broker's port takes connections."""
    port = 6379 if url.startswith("redis") else 5672
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def broker_url(name: str) -> str:
    """The broker's URL; the test is skipped (outside CI) when it is not running here."""
    url = BROKERS[name]
    if not reachable(url):
        if os.environ.get("DAGFLOW_TEST_REQUIRE_BROKERS"):  # set by .ci/run, which starts them
            pytest.fail(f"{name} is not running on 127.0.0.1 (.ci/run starts it)")
        pytest.skip(f"{name} is not running on 127.0.0.1")
    return url


@dataclass
class CeleryWorker:
    """One running ``dagflow celery worker``."""

    name: str
    home: Path
    process: subprocess.Popen[bytes]
    stderr: Path
    concurrency: int

    def output(self) -> str:
        return self.stderr.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9 of the worker and its pool processes, as a machine that dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class CeleryWorkers:
    """Starts workers for one deployment: same store and broker, homes and DAG copies of their own
    (or, with ``shared_dags``, the deployment's own DAGs folder, as workers on the scheduler's machine
    see it: files written while they run reach them)."""

    root: Path
    database_url: str
    broker: str
    dags_folder: Path
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:8]}")
    workers: list[CeleryWorker] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    shared_dags: bool = False

    def queue(self, name: str = "default") -> str:
        """The broker's name of a test queue (prefixed: see the module docstring)."""
        return f"{self.prefix}-{name}"

    def env(self) -> dict[str, str]:
        """The settings a scheduler of this deployment needs, as ``DAGFLOW__`` variables."""
        return {
            "DAGFLOW__CORE__EXECUTOR": "celery",
            "DAGFLOW__CELERY__BROKER_URL": self.broker,
            "DAGFLOW__OPERATORS__DEFAULT_QUEUE": self.queue(),
            "DAGFLOW__WEBSERVER__SECRET_KEY": SECRET_KEY,
        }

    def start(self, name: str, *, queues: list[str] | None = None, concurrency: int = 2) -> CeleryWorker:
        home = self.root / name
        home.mkdir(parents=True)
        dags = self.dags_folder if self.shared_dags else home / "dags"
        if not self.shared_dags:
            shutil.copytree(self.dags_folder, dags)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAGFLOW")}
        env.update(self.env())
        env.update(
            DAGFLOW_HOME=str(home),
            DAGFLOW__DATABASE__URL=self.database_url,
            DAGFLOW__CORE__DAGS_FOLDER=str(dags),
            DAGFLOW__LOGGING__WORKER_LOG_SERVER_PORT="0",
            DAGFLOW__LOGGING__WORKER_LOG_SERVER_HOST="127.0.0.1",
            DAGFLOW__SCHEDULER__HEARTBEAT_SEC="0.25",
        )
        env.update(self.extra_env)
        stderr = home / "worker.err"
        wanted = ",".join(self.queue(q) for q in (queues or ["default"]))
        command = [sys.executable, "-m", "dagflow", "celery", "worker", "-q", wanted, "-c", str(concurrency)]
        with open(stderr, "wb") as sink:
            process = subprocess.Popen(
                [*command, "-H", f"{name}@{self.prefix}"],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = CeleryWorker(f"{name}@{self.prefix}", home, process, stderr, concurrency)
        self.workers.append(worker)
        return worker

    def wait_ready(self, *workers: CeleryWorker, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for worker in workers:
            while " ready." not in worker.output():
                assert worker.process.poll() is None, f"worker {worker.name} exited:\n{worker.output()}"
                assert time.monotonic() < deadline, f"worker {worker.name} not ready:\n{worker.output()}"
                time.sleep(0.1)

    def running(self) -> list[CeleryWorker]:
        return [w for w in self.workers if w.process.poll() is None]

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()


@contextlib.contextmanager
def celery_workers(root: Path, database_url: str, broker: str, dags_folder: Path) -> Iterator[CeleryWorkers]:
    workers = CeleryWorkers(root, database_url, broker, dags_folder)
    try:
        yield workers
    finally:
        workers.stop_all()
