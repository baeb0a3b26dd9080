"""``deploy/``: the processes its Procfile describes, started as on separate machines (each with its own
``DAGFLOW_HOME`` and copy of the DAG files, sharing only the settings of ``dagflow.env.example``: the
store, the broker and the secret key), run a DAG to success; the systemd units start the same commands."""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backends import POSTGRES_ENV
from tests.scheduler.processes.celery_workers import broker_url

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
QUICK = """
from datetime import datetime

from dagflow import DAG, task

with DAG("deployed", schedule=None, start_date=datetime(2024, 1, 1)):

    @task
    def hello():
        return "hello from a worker"

    @task
    def shout(word):
        return word.upper()

    shout(hello())
"""


def procfile() -> dict[str, list[str]]:
    processes = {}
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            processes[name.strip()] = command.split()
    return processes


def shared_settings() -> dict[str, str]:
    """The variables ``dagflow.env.example`` tells every machine to set."""
    found = {}
    for line in (DEPLOY / "dagflow.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, value = line.split("=", 1)
            found[name] = value
    return found


def test_the_systemd_units_start_the_procfile_commands_with_the_shared_settings():
    units = {
        "scheduler": "dagflow-scheduler.service",
        "worker": "dagflow-celery-worker.service",
        "webserver": "dagflow-webserver.service",
    }
    for name, command in procfile().items():
        unit = configparser.ConfigParser(interpolation=None, strict=False)
        unit.read(DEPLOY / "systemd" / units[name])
        executable, *args = unit["Service"]["ExecStart"].split()
        assert (Path(executable).name, args) == (command[0], command[1:]), name
        assert unit["Service"]["EnvironmentFile"] == "/etc/dagflow/dagflow.env"
        assert unit["Service"]["Restart"] == "always"
    assert set(shared_settings()) == {
        "DAGFLOW__DATABASE__URL",
        "DAGFLOW__CORE__EXECUTOR",
        "DAGFLOW__CELERY__BROKER_URL",
        "DAGFLOW__WEBSERVER__SECRET_KEY",
        "DAGFLOW__CORE__DAGS_FOLDER",
        "DAGFLOW_HOME",
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def machines(root: Path, settings: dict[str, str]) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Each Procfile process on a "machine" of its own: a home and a DAGs copy, the shared settings."""
    started: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in procfile().items():
            home = root / name
            shutil.copytree(root / "dags", home / "dags")
            env = {k: v for k, v in os.environ.items() if not k.startswith("DAGFLOW")}
            env.update(settings, DAGFLOW_HOME=str(home), DAGFLOW__CORE__DAGS_FOLDER=str(home / "dags"))
            with open(home / "output.log", "wb") as log:
                started[name] = subprocess.Popen(
                    [sys.executable, "-m", "dagflow", *command[1:]],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        yield started
    finally:
        for process in started.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in started.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _until(condition: Callable[[], Any], what: str, root: Path, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            found = condition()
            if found:
                return found
        time.sleep(0.2)
    outputs = "\n".join(f"--- {p.parent.name}\n{p.read_text()[-2000:]}" for p in root.glob("*/output.log"))
    raise AssertionError(f"{what} did not happen within {timeout:g}s\n{outputs}")


def test_the_procfile_processes_on_separate_machines_run_a_dag(database_url: str, tmp_path: Path):
    if database_url.startswith("sqlite") and os.environ.get(POSTGRES_ENV):
        pytest.skip("run on PostgreSQL, as deployed")
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "deployed.py").write_text(QUICK)
    port = _free_port()
    settings = {
        "DAGFLOW__DATABASE__URL": database_url,
        "DAGFLOW__CORE__EXECUTOR": "celery",
        "DAGFLOW__CELERY__BROKER_URL": broker_url("redis"),
        "DAGFLOW__WEBSERVER__SECRET_KEY": "deploy-test-secret",
        "DAGFLOW__OPERATORS__DEFAULT_QUEUE": f"deploy-{uuid.uuid4().hex[:8]}",
        "DAGFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "DAGFLOW__WEBSERVER__PORT": str(port),
        "DAGFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
    }
    api = f"http://127.0.0.1:{port}/api/v1"
    with machines(tmp_path, settings) as started:
        cli_env = {k: v for k, v in os.environ.items() if not k.startswith("DAGFLOW")}
        cli_env.update(
            settings, DAGFLOW_HOME=str(tmp_path / "cli"), DAGFLOW__CORE__DAGS_FOLDER=str(tmp_path / "dags")
        )

        def dagflow(*args: str) -> str:
            done = subprocess.run(
                [sys.executable, "-m", "dagflow", *args],
                env=cli_env,
                capture_output=True,
                text=True,
                check=True,
            )
            return done.stdout

        # (refused until the scheduler's DAG processor has recorded the DAG)
        run_id = _until(lambda: dagflow("dags", "trigger", "deployed").strip(), "a trigger", tmp_path)
        _until(
            lambda: json.loads(dagflow("runs", "show", "deployed", run_id, "--json"))["state"] == "success",
            "the run succeeding",
            tmp_path,
        )
        health = _until(
            lambda: json.load(urllib.request.urlopen(f"{api}/health", timeout=2)), "the web server", tmp_path
        )
        assert health["scheduler"]["status"] == "healthy"
        log = dagflow("tasks", "logs", "deployed", run_id, "shout")  # from the worker's log server
        assert "ended success" in log
        assert all(process.poll() is None for process in started.values())
