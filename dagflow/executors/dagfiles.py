"""A worker checks its DAG file against the DAG version of the run before it runs a try.

A worker runs the code in its own copy of the DAG file (a shared volume, a git checkout). The run
was started on a stored DAG version; the file may since have been edited, which the DAG processor
records as a later version: the try runs with the file's code, as Airflow 3 runs a DAG bundle's
latest code while the scheduler decides on the run's version. A file whose source matches neither
the run's version nor a later one (a stale or diverging copy on this machine) is refused: the try
fails with the reason in its log instead of running other code.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from dagflow.core.keys import TIKey
from dagflow.exceptions import DagflowError
from dagflow.store import Database
from dagflow.store import versions as version_store


class DagFileMismatch(DagflowError):
    """The DAG file on this machine is not the one the run's DAG version was parsed from."""


class DagFileCheck:
    """The check (see the module docstring), with what it read kept between tries."""

    def __init__(self, db: Database):
        self.db = db
        self._digests: dict[str, tuple[tuple[int, int], str]] = {}
        self._accepted: dict[int, set[str]] = {}

    def check(self, fileloc: str, key: TIKey, version_id: int | None) -> None:
        """Raise :class:`DagFileMismatch` if ``fileloc`` may not run a try of a run on ``version_id``."""
        if version_id is None:  # a run recorded before versions were kept
            return
        digest = self._digest(fileloc)
        accepted = self._accepted.get(version_id)
        if accepted is None or digest not in accepted:  # a later version may have been recorded since
            with self.db.session() as session:
                accepted = version_store.accepted_source_hashes(session, key.dag_id, version_id)
            if len(self._accepted) > 256:
                self._accepted.clear()
            self._accepted[version_id] = accepted
        if accepted and digest not in accepted:
            raise DagFileMismatch(self._explain(fileloc, key, version_id))

    def _digest(self, fileloc: str) -> str:
        stat = os.stat(fileloc)
        mark = (stat.st_mtime_ns, stat.st_size)
        cached = self._digests.get(fileloc)
        if cached is None or cached[0] != mark:
            source = Path(fileloc).read_text(encoding="utf-8", errors="replace")
            cached = (mark, version_store.source_digest(source))
            self._digests[fileloc] = cached
        return cached[1]

    def _explain(self, fileloc: str, key: TIKey, version_id: int) -> str:
        with self.db.session() as session:
            version = version_store.version_of_run(session, key.dag_id, key.run_id)
        number = version.version_number if version is not None else version_id
        return (
            f"DAG file {fileloc} on {socket.gethostname()} does not match version {number} of DAG "
            f"{key.dag_id!r} that run {key.run_id!r} started with, nor a later version: refusing to run "
            "other code. Update the DAG files on this machine (shared volume or git checkout) to the "
            "ones the scheduler parses."
        )
