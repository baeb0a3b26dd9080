"""The operators every DAG author reaches for first, and the rest of Airflow's standard provider."""

import importlib
from typing import TYPE_CHECKING, Any

from dagflow.operators.bash import BashOperator
from dagflow.operators.branch import BaseBranchOperator
from dagflow.operators.datetime import BranchDateTimeOperator
from dagflow.operators.empty import EmptyOperator
from dagflow.operators.latest_only import LatestOnlyOperator
from dagflow.operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator
from dagflow.operators.smooth import SmoothOperator
from dagflow.operators.weekday import BranchDayOfWeekOperator

if TYPE_CHECKING:
    from dagflow.operators.python_virtualenv import (
        BranchExternalPythonOperator,
        BranchPythonVirtualenvOperator,
        ExternalPythonOperator,
        PythonVirtualenvOperator,
    )
    from dagflow.operators.trigger_dagrun import TriggerDagRunOperator

#: Imported when first asked for: most DAG files use neither, and importing dagflow stays quick.
_LAZY = {
    "BranchExternalPythonOperator": "dagflow.operators.python_virtualenv",
    "BranchPythonVirtualenvOperator": "dagflow.operators.python_virtualenv",
    "ExternalPythonOperator": "dagflow.operators.python_virtualenv",
    "PythonVirtualenvOperator": "dagflow.operators.python_virtualenv",
    "TriggerDagRunOperator": "dagflow.operators.trigger_dagrun",
}

__all__ = [
    "BaseBranchOperator",
    "BashOperator",
    "BranchDateTimeOperator",
    "BranchDayOfWeekOperator",
    "BranchExternalPythonOperator",
    "BranchPythonOperator",
    "BranchPythonVirtualenvOperator",
    "EmptyOperator",
    "ExternalPythonOperator",
    "LatestOnlyOperator",
    "PythonOperator",
    "PythonVirtualenvOperator",
    "ShortCircuitOperator",
    "SmoothOperator",
    "TriggerDagRunOperator",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
