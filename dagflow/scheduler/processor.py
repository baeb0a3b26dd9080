"""The DAG processor: parses DAG files when they change and records them in the store.

It runs in a process of its own, so a slow or broken DAG file never holds up the scheduler's loop,
and it tells the scheduler which DAGs changed. A file that breaks after it once loaded keeps its last
good DAGs scheduled, with the import error shown beside them.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagflow.core.clock import utcnow
from dagflow.dagbag import DagBag, ImportErrorInfo, list_dag_files
from dagflow.plugins.manager import current_plugins, plugin_files
from dagflow.store.dags import forget_files, sync_file
from dagflow.store.engine import Database
from dagflow.utils import processes


@dataclass(frozen=True)
class ProcessorSettings:
    database_url: str
    dags_folder: str
    import_timeout: float = 30.0
    parse_interval: float = 1.0
    paused_at_creation: bool = True
    cron_data_intervals: bool = False
    airflow_compat: bool = True


class DagFileProcessor:
    """Parses the files of one DAGs folder that changed since the last scan."""

    def __init__(self, settings: ProcessorSettings, db: Database | None = None):
        self.settings = settings
        self.folder = Path(settings.dags_folder).expanduser().resolve()
        self.db = db or Database(settings.database_url)
        self.mtimes: dict[str, tuple[int, int]] = {}
        self._scanned = False

    def scan(self) -> list[str]:
        """Parse new and changed files, forget removed ones; return the ids of DAGs that changed."""
        current: dict[str, tuple[int, int]] = {}
        for path in list_dag_files(self.folder):
            with contextlib.suppress(OSError):
                stat = path.stat()  # nanosecond time and size: a quick edit within a coarse tick still shows
                current[str(path)] = (stat.st_mtime_ns, stat.st_size)
        plugins = self._plugin_files()
        current.update(plugins)
        changed_files = [f for f, mtime in current.items() if self.mtimes.get(f) != mtime]
        removed = set(self.mtimes) - set(current)
        changed: list[str] = []
        if changed_files:
            self._forget_helper_modules()
        if any(f in plugins for f in changed_files):
            self._record_plugin_errors(plugins)
        for filename in changed_files:
            if filename not in plugins:
                changed.extend(self.process(filename))
        if removed or not self._scanned:
            with self.db.session(write=True) as session:
                changed.extend(forget_files(session, current))
        self.mtimes = current
        self._scanned = True
        return changed

    def _plugin_files(self) -> dict[str, tuple[int, int]]:
        """The plugin files, watched like DAG files: a broken plugin shows as an import error."""
        found = {}
        for path in plugin_files(self.settings_plugins_folder()):
            with contextlib.suppress(OSError):
                stat = path.stat()
                found[str(path)] = (stat.st_mtime_ns, stat.st_size)
        return found

    def settings_plugins_folder(self) -> Path:
        from dagflow.config import Settings

        return Settings.load().plugins_folder

    def _record_plugin_errors(self, files: dict[str, tuple[int, int]]) -> None:
        """One import error per plugin file that fails to import; none for the others."""
        errors = current_plugins().errors
        with self.db.session(write=True) as session:
            for filename in files:
                error = errors.get(filename)
                info = (
                    ImportErrorInfo(error.filename, error.line, error.message, error.traceback)
                    if error
                    else None
                )
                sync_file(session, filename, [], info, None, now=utcnow(), paused_at_creation=True)

    def process(self, filename: str) -> list[str]:
        bag = DagBag(
            filename,
            import_timeout=self.settings.import_timeout,
            sys_path_root=self.folder,
            cron_data_intervals=self.settings.cron_data_intervals,
            airflow_compat=self.settings.airflow_compat,
        )
        try:
            source: str | None = Path(filename).read_text(encoding="utf-8", errors="replace")
        except OSError:
            source = None
        with self.db.session(write=True) as session:
            return sync_file(
                session,
                filename,
                list(bag.dags.values()),
                bag.import_errors.get(filename),
                source,
                now=utcnow(),
                paused_at_creation=self.settings.paused_at_creation,
            )

    def _forget_helper_modules(self) -> None:
        """Drop modules imported from the DAGs folder, so an edited helper module is read again."""
        root = str(self.folder)
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None) or ""
            if path.startswith(root):
                sys.modules.pop(name, None)


def processor_main(settings: ProcessorSettings, conn: Any) -> None:
    """The processor process: scan, report changes to the scheduler, sleep, repeat.

    A Ctrl-C reaches the whole process group: the processor leaves it to the scheduler, which stops
    it (SIGTERM) as it shuts down, instead of dying with a traceback of its own.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    processor = DagFileProcessor(settings)
    first = True
    while True:  # until the scheduler is gone (it stops the processor itself as it shuts down)
        started = time.monotonic()
        try:
            changed = processor.scan()
        except Exception as exc:  # a store hiccup: report it and try again next interval
            print(f"dag processor: scan failed: {exc}", file=sys.stderr)
            changed = []
        if changed or first:
            try:
                conn.send(changed)
            except OSError:
                return
            first = False
        pause = max(0.05, settings.parse_interval - (time.monotonic() - started))
        if not processes.parent_alive(wait=pause):
            return
