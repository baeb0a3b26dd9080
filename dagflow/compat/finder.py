"""The ``airflow`` modules a DAG file imports, made on demand from the table of ``dagflow.compat.table``.

A meta-path finder answers for ``airflow`` and its submodules only. Each module it makes is empty
until a name is asked of it: the module's ``__getattr__`` looks the name up in the table, imports
the dagflow module that holds it, and keeps the object in the module so the next lookup is a plain
attribute read. Nothing is imported that the DAG file does not ask for, which keeps parsing cheap.

A name or module without a row, or whose dagflow target does not exist, raises
:class:`~dagflow.exceptions.UnsupportedAirflowImport` naming the name, the file and the line of the
import, instead of Python's ``cannot import name`` or ``No module named 'airflow'``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import linecache
import os
import sys
from collections.abc import Sequence
from types import FrameType, ModuleType
from typing import Any

from dagflow.compat import table
from dagflow.exceptions import UnsupportedAirflowImport, UnsupportedAirflowModule

MARKER = "__dagflow_compat__"
_HERE = os.path.dirname(os.path.abspath(__file__))
_HINT = "remove or replace it (`dagflow port FILE` lists every line that cannot work)"


def _caller() -> str:
    """``file:line`` of the code doing the import (the first frame outside the import machinery),
    with the statement's text when the file can be read."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith("<frozen") and os.path.dirname(os.path.abspath(filename)) != _HERE:
            text = linecache.getline(filename, frame.f_lineno).strip()
            return f"{filename}:{frame.f_lineno}" + (f" ({text})" if text else "")
        frame = frame.f_back
    return "<unknown>"


def unsupported_name(module: str, name: str, missing: str | None = None) -> UnsupportedAirflowImport:
    why = f" (its dagflow target {missing} does not exist)" if missing else ""
    return UnsupportedAirflowImport(
        f"{_caller()}: {name!r} from {module} is not supported by dagflow{why}; {_HINT}", name=module
    )


def unsupported_module(module: str) -> UnsupportedAirflowModule:
    return UnsupportedAirflowModule(
        f"{_caller()}: module {module} is not supported by dagflow (it has no such module); {_HINT}",
        name=module,
    )


def load_target(target: table.Target) -> Any:
    """The dagflow object or module ``target`` names; LookupError when it does not exist (yet)."""
    try:
        module = importlib.import_module(target.module)
    except ModuleNotFoundError as exc:
        # Only a missing target counts as "not there yet": a broken dagflow module must show itself.
        if exc.name and (target.module == exc.name or target.module.startswith(exc.name + ".")):
            raise LookupError(str(target)) from None
        raise
    if target.attr is None:
        return module
    try:
        return getattr(module, target.attr)
    except AttributeError:
        raise LookupError(str(target)) from None


def _resolve(module: ModuleType, name: str) -> Any:
    """``module.name`` for an ``airflow`` module: from the table, then kept in the module."""
    modname = module.__name__
    if name == "__all__":
        return _available_names(modname)
    if name.startswith("_"):  # private and dunder names: what tools probe for, never an Airflow name
        raise AttributeError(f"module {modname!r} has no attribute {name!r}")
    target = table.target_of(modname, name)
    if target is None:
        if table.is_known_module(f"{modname}.{name}"):
            return importlib.import_module(f"{modname}.{name}")
        raise unsupported_name(modname, name)
    try:
        value = load_target(target)
    except LookupError:
        raise unsupported_name(modname, name, missing=str(target)) from None
    setattr(module, name, value)
    return value


def _available_names(modname: str) -> list[str]:
    """The names ``from module import *`` brings: those whose dagflow target exists."""
    names = []
    for name in table.names_of(modname):
        target = table.target_of(modname, name)
        try:
            if target is not None:
                load_target(target)
        except LookupError:
            continue
        names.append(name)
    return names


class AirflowLoader(importlib.abc.Loader):
    """Makes an empty ``airflow`` module whose names resolve through the table on first use."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        setattr(module, MARKER, True)
        if module.__name__ == "airflow":
            module.__version__ = table.AIRFLOW_VERSION  # type: ignore[attr-defined]
        module.__getattr__ = lambda name: _resolve(module, name)  # type: ignore[method-assign]
        module.__dir__ = lambda: sorted({*vars(module), *table.names_of(module.__name__)})  # type: ignore[method-assign]


class AirflowFinder(importlib.abc.MetaPathFinder):
    """Answers imports of ``airflow`` and ``airflow.*`` from the table, and nothing else.

    It stands last on ``sys.meta_path``, after the finders of installed packages, and steps aside
    if an ``airflow`` that is not its own is already imported.
    """

    def __init__(self) -> None:
        self.loader = AirflowLoader()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "airflow" and not fullname.startswith("airflow."):
            return None
        top = sys.modules.get("airflow")
        if top is not None and not getattr(top, MARKER, False):
            return None
        if not table.is_known_module(fullname):
            raise unsupported_module(fullname)
        # Every layer module is a package (as most of Airflow's are), so an import of a submodule the
        # table lacks, like ``airflow.decorators.base``, comes here and gets the one-line error rather
        # than Python's "'airflow.decorators' is not a package".
        return importlib.machinery.ModuleSpec(fullname, self.loader, is_package=True)
