"""Airflow DAG files, unchanged: the ``airflow`` import layer and what ``dagflow port`` shares with it.

When the real Apache Airflow is not importable, :func:`apply` puts a finder on ``sys.meta_path``
that serves ``import airflow...`` from the table in :mod:`dagflow.compat.table` (see
:mod:`dagflow.compat.finder`). ``[core] airflow_compat = False`` takes it away again. In a process
where Airflow itself is installed nothing changes: its own modules are the ones DAG files get.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys

from dagflow.compat.finder import MARKER, AirflowFinder

#: Where the layer's code lives (its frames are left out of the tracebacks users see).
LAYER_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

_real_airflow: bool | None = None


def real_airflow_importable() -> bool:
    """Whether an installed ``airflow`` package exists (looked up once per process)."""
    global _real_airflow
    if _real_airflow is None:
        loaded = sys.modules.get("airflow")
        if loaded is not None:
            _real_airflow = not getattr(loaded, MARKER, False)
        else:
            _real_airflow = importlib.machinery.PathFinder.find_spec("airflow") is not None
    return _real_airflow


def installed() -> bool:
    return any(isinstance(finder, AirflowFinder) for finder in sys.meta_path)


def apply(enabled: bool) -> bool:
    """Turn the layer on or off for this process; returns whether it is on.

    It stays on once on (tasks import ``airflow`` names when they run, not only at parse time), and
    is never turned on where the real Airflow is importable.
    """
    if not enabled:
        disable()
        return False
    if real_airflow_importable():
        return False
    if not installed():
        sys.meta_path.append(AirflowFinder())
    return True


def disable() -> None:
    """Remove the finder (and the one ``dagflow-airflow.pth`` puts there at interpreter start, see
    ``_dagflow_airflow``) and forget the ``airflow`` modules it made."""
    sys.meta_path[:] = [
        finder
        for finder in sys.meta_path
        if not isinstance(finder, AirflowFinder) and not getattr(finder, MARKER, False)
    ]
    for name in [n for n, m in sys.modules.items() if n == "airflow" or n.startswith("airflow.")]:
        if getattr(sys.modules[name], MARKER, False):
            del sys.modules[name]
