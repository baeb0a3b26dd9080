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

import sys

# Nothing more at interpreter start: these are for the type checker, which reads TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

#: The attribute by which ``dagflow.compat.disable()`` finds this finder (to take it away with its own).
MARKER = "__dagflow_compat__"


class AirflowOnFirstImport:
    """A meta-path finder that decides, on the first ``airflow`` import only, whether dagflow serves it."""

    __dagflow_compat__ = True

    def __init__(self) -> None:
        self.decided = False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if self.decided or (fullname != "airflow" and not fullname.startswith("airflow.")):
            return None
        self.decided = True
        return _hand_over(fullname, path, target)


def _hand_over(fullname: str, path: Sequence[str] | None, target: ModuleType | None) -> ModuleSpec | None:
    """The spec dagflow's ``airflow`` finder gives, once put on ``sys.meta_path``, if the setting has
    the layer on; None (with a warning) if dagflow cannot be set up."""
    try:
        from dagflow import compat
        from dagflow.config import Settings

        on = Settings.load().getbool("core", "airflow_compat") and compat.apply(True)
    except Exception as exc:
        import warnings

        why = f"{type(exc).__name__}: {exc}"
        warnings.warn(f"dagflow cannot serve `import {fullname}` ({why})", RuntimeWarning, stacklevel=3)
        return None
    if not on:
        return None
    # from here on the layer's finder answers: a name or module dagflow lacks fails with its message
    finder = next(finder for finder in sys.meta_path if isinstance(finder, compat.AirflowFinder))
    return finder.find_spec(fullname, path, target)


def install() -> None:
    """Put the finder on ``sys.meta_path`` once. Runs at interpreter start: it never raises."""
    try:  # (not contextlib.suppress: contextlib is not loaded yet at interpreter start)
        if not any(getattr(finder, MARKER, False) for finder in sys.meta_path):
            sys.meta_path.append(AirflowOnFirstImport())
    except Exception:
        pass
