"""Finding and loading DAG files: every ``.py`` under a folder, each file isolated from the others.

A file that fails to import (syntax error, exception, missing module, timeout) or defines an invalid
DAG (cycle, duplicate task id, bad trigger rule, bad schedule...) becomes an *import error* with its
file, line, message and traceback; every other file still loads. The DAGs folder is put on
``sys.path`` (and left there, as tasks may import helper modules when they run), so a DAG file can
import a helper module that sits beside it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

# networkx checks every DAG for cycles; importing it here puts its one-time cost at start-up rather
# than inside the first load.
import networkx  # noqa: F401

from dagflow import compat
from dagflow.exceptions import DagDefinitionError, DagNotFound, TaskTerminated
from dagflow.models import context_stack
from dagflow.models.dag import DAG
from dagflow.timeout import time_limit

IGNORE_FILE = ".dagflowignore"


@dataclass(frozen=True)
class ImportErrorInfo:
    """Why a DAG file could not be loaded."""

    filename: str
    line: int | None
    message: str
    traceback: str

    def summary(self) -> str:
        where = f"{self.filename}:{self.line}" if self.line else self.filename
        return f"{where}: {self.message}"


class ParsingContext(NamedTuple):
    """Which DAG and task a parse is for, when it is for one only (Airflow's ``get_parsing_context``)."""

    dag_id: str | None
    task_id: str | None


def get_parsing_context() -> ParsingContext:
    """Always a full parse: dagflow keeps one parse of a file for every DAG and task in it (the
    worker reuses it for the next task of another DAG of the file), so a file that generates DAGs
    must build them all; Airflow's documented reading of ``None`` is exactly that."""
    return ParsingContext(dag_id=None, task_id=None)


class _ImportTimeout(Exception):
    pass


class DagBag:
    """The DAGs of a folder (or of one file), and the import errors of the files that failed."""

    def __init__(
        self,
        dag_folder: str | os.PathLike[str],
        *,
        import_timeout: float = 30.0,
        sys_path_root: str | os.PathLike[str] | None = None,
        cron_data_intervals: bool = False,
        airflow_compat: bool = True,
    ):
        self.dag_folder = Path(dag_folder).expanduser().resolve()
        self.import_timeout = import_timeout
        #: Cron schedules cover the interval ending when they run ([scheduler] create_cron_data_intervals).
        self.cron_data_intervals = cron_data_intervals
        #: The folder put on sys.path while loading (the DAGs folder, also when loading one file of it).
        self.sys_path_root = Path(sys_path_root).resolve() if sys_path_root else None
        self.dags: dict[str, DAG] = {}
        self.plugin_errors: dict[str, Any] = {}
        self._custom_timetables: dict[str, type[Any]] = {}
        self.import_errors: dict[str, ImportErrorInfo] = {}
        self.file_dags: dict[str, list[str]] = {}
        self.load_seconds = 0.0
        #: DAG files may ``import airflow...`` ([core] airflow_compat); see dagflow.compat.
        self.airflow_compat = compat.apply(airflow_compat)
        self.collect()

    def collect(self) -> None:
        start = time.perf_counter()
        folder = self.sys_path_root or (
            self.dag_folder if self.dag_folder.is_dir() else self.dag_folder.parent
        )
        from dagflow.plugins.manager import current_plugins

        plugins = current_plugins()  # before the DAG files: they may import the plugins' modules
        #: Plugin files that failed to import, shown like import errors.
        self.plugin_errors = dict(plugins.errors)
        self._custom_timetables = plugins.timetables
        with _on_sys_path(folder), context_stack.parsing(cron_data_intervals=self.cron_data_intervals):
            for path in list_dag_files(self.dag_folder):
                self.process_file(path)
        self.load_seconds = time.perf_counter() - start

    def process_file(self, path: Path) -> list[DAG]:
        """Load one file; return its DAGs, or record its import error and return nothing."""
        filename = str(path)
        self.file_dags[filename] = []
        self.import_errors.pop(filename, None)
        context_stack.collect_registered()
        try:
            module = self._import(path)
        except BaseException as exc:
            # (a try stopped while its worker parses: not the file's error, and not to be kept)
            if isinstance(exc, (KeyboardInterrupt, TaskTerminated)):
                raise
            self.import_errors[filename] = _import_error(filename, exc, self.import_timeout)
            return []
        finally:
            registered = context_stack.collect_registered()
        found = _dags_of(module, registered)
        return [dag for dag in found if self._bag(filename, dag)]

    def _import(self, path: Path) -> Any:
        digest = hashlib.sha1(str(path).encode(), usedforsecurity=False).hexdigest()[:12]
        name = f"dagflow_dagfile_{digest}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            with time_limit(self.import_timeout, _ImportTimeout):
                spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module

    def _bag(self, filename: str, dag: DAG) -> bool:
        dag.fileloc = filename
        try:
            dag.validate()
            _check_timetable(dag, self._custom_timetables)
            other = self.dags.get(dag.dag_id)
            if other is not None and other.fileloc != filename:
                raise DagDefinitionError(f"DAG id {dag.dag_id!r} is already defined in {other.fileloc}")
        except Exception as exc:
            self.import_errors[filename] = _import_error(
                filename, exc, self.import_timeout, default_line=dag.definition_line
            )
            return False
        self.dags[dag.dag_id] = dag
        self.file_dags[filename].append(dag.dag_id)
        return True

    def get_dag(self, dag_id: str) -> DAG:
        dag = self.dags.get(dag_id)
        if dag is None:
            known = ", ".join(sorted(self.dags)) or "none"
            raise DagNotFound(f"DAG {dag_id!r} not found in {self.dag_folder} (DAGs found: {known})")
        return dag

    @property
    def dag_ids(self) -> list[str]:
        return sorted(self.dags)


def _check_timetable(dag: DAG, registered: dict[str, type[Any]]) -> None:
    """A timetable of a class no plugin registers could not be rebuilt by the scheduler: refuse it."""
    from dagflow.core.schedule import class_path, is_builtin

    if is_builtin(dag.timetable):
        return
    path = class_path(type(dag.timetable))
    if registered.get(path) is not type(dag.timetable):
        raise DagDefinitionError(
            f"DAG {dag.dag_id!r}: timetable class {path!r} is not registered by a plugin; "
            "put it in a plugin's `timetables` list in the plugins folder"
        )


def _dags_of(module: Any, registered: list[DAG]) -> list[DAG]:
    found: dict[int, DAG] = {id(dag): dag for dag in registered}
    if module is not None:
        for value in list(vars(module).values()):
            if isinstance(value, DAG):
                found.setdefault(id(value), value)
    return list(found.values())


def _import_error(
    filename: str, exc: BaseException, timeout: float, default_line: int | None = None
) -> ImportErrorInfo:
    if isinstance(exc, _ImportTimeout):
        message = f"importing the file took longer than {timeout:g}s (make module-level code cheaper)"
    else:
        message = f"{type(exc).__name__}: {exc}"
    return ImportErrorInfo(
        filename=filename,
        line=_error_line(filename, exc) or default_line,
        message=message,
        traceback=_user_traceback(filename, exc),
    )


def _error_line(filename: str, exc: BaseException) -> int | None:
    if isinstance(exc, SyntaxError) and exc.filename and os.path.samefile(exc.filename, filename):
        return exc.lineno
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == filename:
            line = lineno
    return line


def _user_traceback(filename: str, exc: BaseException) -> str:
    """The traceback from the DAG file's first frame on: dagflow's import machinery is left out, and
    so is the ``airflow`` import layer's (its error already names the file, line and name)."""
    frames = traceback.extract_tb(exc.__traceback__)
    start = next((i for i, f in enumerate(frames) if f.filename == filename), len(frames))
    lines = traceback.format_exception_only(exc)
    shown = [f for f in frames[start:] if not f.filename.startswith(compat.LAYER_DIR)]
    # An error found after the import (a cycle...) has no frame in the file: then no empty header.
    if shown:
        lines = ["Traceback (most recent call last):\n", *traceback.format_list(shown), *lines]
    return "".join(lines)


def _ignore_specs(directory: Path) -> Any:
    ignore = directory / IGNORE_FILE
    if not ignore.is_file():
        return None
    import pathspec

    lines = [line for line in ignore.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return pathspec.GitIgnoreSpec.from_lines(lines)


def list_dag_files(folder: Path) -> list[Path]:
    """Every ``.py`` file under ``folder`` (or ``folder`` itself if it is a file), minus ignored ones.

    A ``.dagflowignore`` file holds gitignore-style patterns; it applies to its own directory and
    everything below, with paths relative to that directory.
    """
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        return []
    found: list[Path] = []
    _walk(folder, [], found)
    return sorted(found)


def _walk(directory: Path, specs: list[tuple[Path, Any]], found: list[Path]) -> None:
    own = _ignore_specs(directory)
    if own is not None:
        specs = [*specs, (directory, own)]
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        path = Path(entry.path)
        if entry.name.startswith(".") or entry.name == "__pycache__" or _ignored(path, entry.is_dir(), specs):
            continue
        if entry.is_dir():
            _walk(path, specs, found)
        elif entry.name.endswith(".py"):
            found.append(path)


def _ignored(path: Path, is_dir: bool, specs: list[tuple[Path, Any]]) -> bool:
    for base, spec in specs:
        relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(relative):
            return True
    return False


@contextmanager
def _on_sys_path(folder: Path) -> Iterator[None]:
    entry = str(folder)
    if entry not in sys.path:
        # Appended, not prepended: a DAG file named like a standard module (logging.py) must not
        # shadow it, in this process or in the worker processes that inherit sys.path.
        sys.path.append(entry)
    yield
