"""The operators every DAG author reaches for first, and the rest of Airflow's standard provider."""

from dagflow.operators.bash import BashOperator
from dagflow.operators.branch import BaseBranchOperator
from dagflow.operators.datetime import BranchDateTimeOperator
from dagflow.operators.empty import EmptyOperator
from dagflow.operators.latest_only import LatestOnlyOperator
from dagflow.operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator
from dagflow.operators.python_virtualenv import (
    BranchExternalPythonOperator,
    BranchPythonVirtualenvOperator,
    ExternalPythonOperator,
    PythonVirtualenvOperator,
)
from dagflow.operators.smooth import SmoothOperator
from dagflow.operators.trigger_dagrun import TriggerDagRunOperator
from dagflow.operators.weekday import BranchDayOfWeekOperator

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
