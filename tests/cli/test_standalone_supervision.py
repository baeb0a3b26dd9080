"""``dagflow standalone`` supervises its children, seen from outside as a person would: real processes,
real signals, the real port.

Whatever ends it (SIGKILL included), its web server and the scheduler's workers end within seconds
and the port is free again; a taken port is one line and exit code 2 before anything starts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagflow.store.engine import Database
from dagflow.store.reads import latest_scheduler_job

STARTUP_LIMIT = 60.0
GONE_LIMIT = 5.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _parents() -> dict[int, int]:
    """Every live (not zombie) process and its parent, from /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[0] != "Z":
            found[int(entry)] = int(fields[1])
    return found


def descendants(root: int) -> set[int]:
    parents = _parents()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    return pids & set(_parents())


def wait_for(condition, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def environment(dagflow_home: Path, tmp_path: Path) -> dict[str, str]:
    dags = tmp_path / "dags"
    dags.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGFLOW__")}
    env.update(
        DAGFLOW_HOME=str(dagflow_home),
        DAGFLOW__CORE__DAGS_FOLDER=str(dags),
        DAGFLOW__WEBSERVER__PORT=str(free_port()),
    )
    if "DAGFLOW__DATABASE__URL" in os.environ:
        env["DAGFLOW__DATABASE__URL"] = os.environ["DAGFLOW__DATABASE__URL"]
    return env


def dagflow(*args: str) -> list[str]:
    return [sys.executable, "-m", "dagflow", *args]


def _hangup_as_from_a_terminal() -> None:
    """SIGHUP's default action (the process ends), whatever this test run inherited: under ``nohup``
    it is ignored, and a ``dagflow standalone`` started that way rightly stays up on a SIGHUP."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


@pytest.fixture
def standalone(environment: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A running ``dagflow standalone`` with two workers, once its web server answers."""
    port = int(environment["DAGFLOW__WEBSERVER__PORT"])
    process = subprocess.Popen(
        dagflow("standalone", "--workers", "2"),
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_hangup_as_from_a_terminal,
    )
    children: set[int] = set()
    try:
        assert wait_for(lambda: answers(port) or process.poll() is not None, STARTUP_LIMIT)
        assert process.poll() is None, process.communicate()[1]
        # the scheduler's workers and DAG processor, the web server
        assert wait_for(lambda: len(descendants(process.pid)) >= 4, STARTUP_LIMIT)
        children = descendants(process.pid)
        yield process, port
    finally:  # whatever the test left running, even when the supervision under test failed
        for pid in [process.pid, *alive(children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(10)


@pytest.mark.parametrize(
    "signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name
)
def test_ending_standalone_by_any_signal_ends_its_children_and_frees_the_port(standalone, signum):
    process, port = standalone
    children = descendants(process.pid)

    os.kill(process.pid, signum)

    assert wait_for(lambda: not alive(children), GONE_LIMIT), f"left running: {alive(children)}"
    assert wait_for(lambda: port_is_free(port), GONE_LIMIT)
    assert process.wait(GONE_LIMIT) != 0 or signum in (signal.SIGTERM, signal.SIGINT)


def test_standalone_stops_the_scheduler_when_its_web_server_dies(standalone):
    process, port = standalone
    children = descendants(process.pid)
    web = [pid for pid in children if port in _listening_ports(pid)]
    assert len(web) == 1

    os.kill(web[0], signal.SIGKILL)

    assert process.wait(30) == 1
    stderr = process.stderr.read() if process.stderr else ""
    assert "Error: the web server exited with code -9; the scheduler was stopped" in stderr.splitlines()
    assert wait_for(lambda: not alive(children), GONE_LIMIT)


def _listening_ports(pid: int) -> set[int]:
    """The TCP ports a process has a listening socket on (from /proc)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rpartition(":")[2], 16))
    return ports


@pytest.mark.parametrize("command", ["standalone", "webserver"])
def test_a_taken_port_is_one_line_naming_the_port_and_the_setting_and_nothing_starts(
    environment, database_url, command
):
    environment["DAGFLOW__DATABASE__URL"] = database_url
    port = int(environment["DAGFLOW__WEBSERVER__PORT"])
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        done = subprocess.run(dagflow(command), env=environment, capture_output=True, text=True, timeout=60)

    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"Error: port {port} on 127.0.0.1 is already in use: stop what holds it, or choose another port "
        "with [webserver] port in dagflow.cfg or DAGFLOW__WEBSERVER__PORT"
    ]
    database = Database(database_url)
    try:
        with database.session() as session:
            assert latest_scheduler_job(session) is None
    finally:
        database.dispose()
    assert not (Path(environment["DAGFLOW_HOME"]) / "standalone_admin_password.txt").exists()
