"""Where a try's log is read from, wherever the try ran.

In order: the file on this machine (the path the worker recorded, or the one this machine's log
folder gives: the local executor, a shared log folder); the copy in ``[logging]
remote_base_log_folder`` (a shared folder ephemeral workers copy their finished logs to); the log
server of the worker that ran it (its address is recorded with the try), which serves the log while
the try runs and after.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dagflow.config import Settings
from dagflow.core.keys import TIKey
from dagflow.exceptions import LogUnavailable
from dagflow.remote import logserver
from dagflow.runtime.tasklog import attempt_log_path


@dataclass(frozen=True)
class TryLog:
    """One try's log and the places it may be read from (see the module docstring)."""

    local: Path
    relative: str
    remote_folder: Path | None = None
    log_url: str | None = None
    secret_key: str = ""

    @classmethod
    def locate(
        cls, settings: Settings, key: TIKey, try_number: int, *, stored_path: str | None, log_url: str | None
    ) -> TryLog:
        relative = attempt_log_path("", *key, try_number).as_posix()
        # a path a worker on another machine recorded (it has a log server) means nothing here
        local = Path(stored_path) if stored_path and not log_url else settings.log_folder / relative
        remote = str(settings.get("logging", "remote_base_log_folder") or "")
        return cls(
            local=local,
            relative=relative,
            remote_folder=Path(remote) if remote else None,
            log_url=log_url,
            secret_key=str(settings.get("webserver", "secret_key") or ""),
        )

    def _file(self) -> Path | None:
        if self.local.is_file():
            return self.local
        if self.remote_folder is not None and (self.remote_folder / self.relative).is_file():
            return self.remote_folder / self.relative
        return None

    def exists(self) -> bool:
        """Whether there is a log to show: a file here, or a log server that has the log."""
        if self._file() is not None:
            return True
        if not self.log_url or not self.secret_key:
            return False
        try:
            logserver.fetch(self.log_url, self.relative, self.secret_key, offset=0, length=0)
        except LogUnavailable:
            return False
        return True

    def read(self, offset: int, limit: int) -> tuple[bytes, int]:
        """At most ``limit`` bytes from ``offset``, and the offset they start at (the end, for an
        offset past it); ``LogUnavailable`` if the log is only on a log server that cannot give it."""
        path = self._file()
        if path is not None:
            with open(path, "rb") as handle:
                start = min(offset, os.fstat(handle.fileno()).st_size)
                handle.seek(start)
                return handle.read(limit), start
        if not self.log_url:
            return b"", offset
        if not self.secret_key:
            raise LogUnavailable(
                f"the log is on the worker's log server {self.log_url}: set [webserver] secret_key "
                "(the one the workers have) to read it"
            )
        data = logserver.fetch(self.log_url, self.relative, self.secret_key, offset=offset, length=limit)
        return data, offset
