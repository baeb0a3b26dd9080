"""Finding and loading the plugins folder, and what the loaded plugins register.

Every ``.py`` file under the folder is imported under its own file name (as Airflow does, so a DAG
file's ``from my_timetables import X`` finds the very class the plugin registered). A file that fails
to import becomes a one-line error naming the file and line, kept in :attr:`PluginSet.errors` and
shown like a DAG file's import error; the other plugins still load. The set loaded for a folder is
cached per process until a file in it changes.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dagflow.core.schedule import class_path
from dagflow.plugins import DagflowPlugin


@dataclass(frozen=True)
class PluginError:
    """Why a plugin file could not be loaded."""

    filename: str
    line: int | None
    message: str
    traceback: str

    def summary(self) -> str:
        where = f"{self.filename}:{self.line}" if self.line else self.filename
        return f"{where}: {self.message}"


@dataclass
class PluginSet:
    """What the plugins of one folder register."""

    folder: Path | None = None
    plugins: list[type[DagflowPlugin]] = field(default_factory=list)
    #: by class path (``module.Class``), as stored DAGs name them
    timetables: dict[str, type[Any]] = field(default_factory=dict)
    #: by class path and by class name
    priority_weight_strategies: dict[str, type[Any]] = field(default_factory=dict)
    #: plugin name -> namespace of its macros (``macros.<plugin name>.<function>``)
    macros: dict[str, SimpleNamespace] = field(default_factory=dict)
    operator_extra_links: list[Any] = field(default_factory=list)
    global_operator_extra_links: list[Any] = field(default_factory=list)
    errors: dict[str, PluginError] = field(default_factory=dict)

    def add(self, plugin: type[DagflowPlugin]) -> None:
        self.plugins.append(plugin)
        for cls in plugin.timetables:
            self.timetables[class_path(cls)] = cls
        for cls in plugin.priority_weight_strategies:
            self.priority_weight_strategies[class_path(cls)] = cls
            self.priority_weight_strategies[cls.__name__] = cls
        if plugin.macros:
            self.macros[plugin.name] = SimpleNamespace(**{_macro_name(m): m for m in plugin.macros})
        self.operator_extra_links.extend(plugin.operator_extra_links)
        self.global_operator_extra_links.extend(plugin.global_operator_extra_links)


def _macro_name(macro: Any) -> str:
    return str(getattr(macro, "__name__", type(macro).__name__))


def plugin_files(folder: Path) -> list[Path]:
    """The plugin modules of ``folder``: every ``.py`` file, skipping hidden folders and caches."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*.py")
        if not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(folder).parts)
    )


def load_plugins(folder: Path) -> PluginSet:
    """Import every plugin file of ``folder`` and collect what its plugin classes register."""
    found = PluginSet(folder=folder)
    files = plugin_files(folder)
    if not files:
        return found
    entry = str(folder)
    if entry not in sys.path:
        sys.path.append(entry)
    for path in files:
        try:
            module = _import(path)
            for plugin in _plugins_of(module, path):
                plugin.on_load()
                found.add(plugin)
        except Exception as exc:
            found.errors[str(path)] = _error(path, exc)
    return found


def _import(path: Path) -> Any:
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__file__", None) == str(path):
        return existing  # imported already (by a DAG file or an earlier load): keep its classes
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _plugins_of(module: Any, path: Path) -> list[type[DagflowPlugin]]:
    plugins = []
    for value in vars(module).values():
        if not (inspect.isclass(value) and issubclass(value, DagflowPlugin)) or value is DagflowPlugin:
            continue
        if value.__module__ != module.__name__:
            continue  # imported from elsewhere: loaded with its own file
        if not value.name:
            raise ValueError(f"plugin class {value.__name__} has no `name`; set name = '...'")
        plugins.append(value)
    return plugins


def _error(path: Path, exc: BaseException) -> PluginError:
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == str(path):
            line = frame.lineno
    if isinstance(exc, SyntaxError) and exc.lineno:
        line = exc.lineno
    text = str(exc).splitlines()[0] if str(exc) else ""
    message = f"plugin failed to import: {type(exc).__name__}: {text}".rstrip(": ")
    return PluginError(str(path), line, message, "".join(traceback.format_exception(exc)))


_cache: dict[str, tuple[tuple[tuple[str, int], ...], PluginSet]] = {}


def _fingerprint(folder: Path) -> tuple[tuple[str, int], ...]:
    return tuple((str(p), p.stat().st_mtime_ns) for p in plugin_files(folder))


def plugins_in(folder: Path) -> PluginSet:
    """The plugins of ``folder``, loaded once per process and again after a file changes."""
    folder = folder.expanduser().resolve()
    key = str(folder)
    stamp = _fingerprint(folder)
    cached = _cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    loaded = load_plugins(folder)
    _cache[key] = (stamp, loaded)
    return loaded


#: How old the plugins a try's macros and links come from may be (:func:`current_plugins`'s
#: ``max_age``): a worker asks for every try it runs, and reading the settings and the plugins folder
#: again costs more than a no-op task.
TRY_MAX_AGE = 1.0

_current: dict[tuple[str | None, str | None], tuple[float, PluginSet]] = {}


def current_plugins(*, max_age: float = 0.0) -> PluginSet:
    """The plugins of the configured ``[core] plugins_folder``, as they are now, or as they were read
    at most ``max_age`` seconds ago in this process (for the same ``DAGFLOW_HOME`` and
    ``DAGFLOW__CORE__PLUGINS_FOLDER``)."""
    from dagflow.config import Settings

    key = (os.environ.get("DAGFLOW_HOME"), os.environ.get("DAGFLOW__CORE__PLUGINS_FOLDER"))
    remembered = _current.get(key)
    if remembered is not None and time.monotonic() - remembered[0] < max_age:
        return remembered[1]
    plugins = plugins_in(Settings.load().plugins_folder)
    if len(_current) > 64:
        _current.clear()
    _current[key] = (time.monotonic(), plugins)
    return plugins
