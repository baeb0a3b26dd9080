"""``python my_dag.py`` with ``import airflow``, where dagflow is installed and Apache Airflow is not.

``dagflow-airflow.pth``, which dagflow installs into site-packages, calls :func:`install` at every
interpreter start. That has to stay cheap and must never break the start, so this module is outside
the ``dagflow`` package and imports nothing of it: it only puts :class:`AirflowOnFirstImport` last on
``sys.meta_path``. The first time a program imports ``airflow`` and no installed package answered,
the finder reads ``[core] airflow_compat`` and, when it is on, hands over to ``dagflow.compat`` (whose
own check leaves a real Airflow alone). If dagflow cannot be set up there (a broken ``dagflow.cfg``,
say), it warns and steps aside: the import then fails as it would without dagflow.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

#: The attribute by which ``dagflow.compat.disable()`` finds this finder (to take it away with its own).
MARKER = "__dagflow_compat__"


class AirflowOnFirstImport:
    """A meta-path finder that decides, on the first ``airflow`` import only, whether dagflow serves it."""

    __dagflow_compat__ = True

    def __init__(self) -> None:
        self.decided = False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> Any:
        if self.decided or (fullname != "airflow" and not fullname.startswith("airflow.")):
            return None
        self.decided = True
        try:
            finder = _dagflow_finder()
        except Exception as exc:
            import warnings

            why = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"dagflow cannot serve `import {fullname}` ({why})", RuntimeWarning, stacklevel=2)
            return None
        # the layer's finder answers from here on: a name or module dagflow lacks fails with its message
        return None if finder is None else finder.find_spec(fullname, path, target)


def _dagflow_finder() -> Any:
    """dagflow's ``airflow`` finder, put on ``sys.meta_path``, if the setting has the layer on."""
    from dagflow import compat
    from dagflow.config import Settings

    if not Settings.load().getbool("core", "airflow_compat") or not compat.apply(True):
        return None
    return next(finder for finder in sys.meta_path if isinstance(finder, compat.AirflowFinder))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once. Runs at interpreter start: it never raises."""
    with contextlib.suppress(Exception):
        if not any(getattr(finder, MARKER, False) for finder in sys.meta_path):
            sys.meta_path.append(AirflowOnFirstImport())
