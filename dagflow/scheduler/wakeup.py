"""Waking the scheduler from another process (a trigger from the CLI or the web UI).

The scheduler listens on a Unix datagram socket in ``DAGFLOW_HOME``; anyone who just committed
something the scheduler should act on sends it one byte. If no scheduler listens, nothing happens:
it will see the change on its next pass anyway.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

SOCKET_NAME = "scheduler.sock"


def socket_path(home: Path) -> Path:
    return home / SOCKET_NAME


class WakeupListener:
    """The scheduler's end: a socket to wait on, drained after each wake-up."""

    def __init__(self, home: Path):
        self.path = socket_path(home)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self) -> int:
        count = 0
        while True:
            try:
                self.sock.recv(64)
            except (BlockingIOError, OSError):
                return count
            count += 1

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def wake_scheduler(home: Path) -> bool:
    """Tell a scheduler listening in ``home`` to look at the store now; True if one was there."""
    path = socket_path(home)
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(b"!", str(path))
        except OSError:
            return False
    return True
