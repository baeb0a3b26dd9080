"""The processes the executor and the scheduler start on this machine (``dagflow.utils.processes``):
forked from a forkserver that imported dagflow once, each with its parent's environment as it is
when the process starts, and each noticing when its parent ends."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dagflow.utils import processes


def _report(conn) -> None:
    conn.send((os.environ.get("DAGFLOW_TEST_MARK"), os.getcwd(), processes.parent_alive()))


def _started_child_reports(conn) -> tuple[str | None, str, bool]:
    reader, writer = conn
    child = processes.process(_report, (writer,), name="dagflow-test-child", daemon=True)
    child.start()
    try:
        assert reader.poll(30), "the child did not report"
        return reader.recv()
    finally:
        child.join(10)


def test_a_child_takes_its_parents_environment_and_folder_as_they_are_when_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = processes.CONTEXT.Pipe(duplex=False)
    monkeypatch.setenv("DAGFLOW_TEST_MARK", "first")
    monkeypatch.chdir(tmp_path)
    assert _started_child_reports(pipe) == ("first", str(tmp_path), True)
    # the forkserver started with the first child: the second is forked from it, and still takes
    # what its parent has now, not what the forkserver was started with
    monkeypatch.setenv("DAGFLOW_TEST_MARK", "second")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert _started_child_reports(pipe) == ("second", str(tmp_path / "elsewhere"), True)
    monkeypatch.delenv("DAGFLOW_TEST_MARK")
    assert _started_child_reports(pipe)[0] is None


PARENT = """
import sys, time
from dagflow.utils import processes


def child(path):
    while processes.parent_alive():
        time.sleep(0.05)
    with open(path, "w") as out:
        out.write("parent gone")


if __name__ == "__main__":
    process = processes.process(child, (sys.argv[1],), name="orphan", daemon=False)
    process.start()
    print(process.pid, flush=True)
    time.sleep(600)
"""


def test_a_child_notices_that_its_parent_was_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    marker = tmp_path / "marker.txt"
    parent = subprocess.Popen(
        [sys.executable, str(script), str(marker)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,  # its forkserver and the child share its process group
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        time.sleep(0.3)
        assert not marker.exists()  # its parent lives: it waits
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 20
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.read_text() == "parent gone"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(child):
            time.sleep(0.05)
        assert not _alive(child)
    finally:  # whatever is left of the group if the test failed
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(10)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, not reaped yet, has no command line left)."""
    try:
        return bool(Path(f"/proc/{pid}/cmdline").read_bytes())
    except OSError:
        return False
