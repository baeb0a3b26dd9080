"""One scheduler per SQLite database: a lock on a file beside it, held while the scheduler lives.

SQLite has one writer at a time and no row locks, so two schedulers on one SQLite file would queue
the same work; several schedulers need PostgreSQL, where they share the work with row locks. The
lock is a POSIX record lock (``lockf``): the kernel drops it when its process ends, even by
``kill -9``, and the worker processes a scheduler starts do not inherit it. Holding it also proves
every other scheduler recorded on the file is gone, so their queued work is handed out at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from dagflow.exceptions import DagflowConfigError


class SoleSchedulerLock:
    """The lock of one SQLite file (see the module docstring)."""

    def __init__(self, database_file: Path):
        self.database_file = database_file
        self.path = database_file.with_name(database_file.name + ".scheduler.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise the one-line reason another scheduler holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DagflowConfigError(
                f"another scheduler (pid {holder}) is running on the SQLite database "
                f"{self.database_file}: SQLite allows one scheduler; run several "
                "on PostgreSQL ([database] url = postgresql+psycopg://...)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing drops the lock
            self._fd = None
