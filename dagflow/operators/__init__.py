"""The operators every DAG author reaches for first."""

from dagflow.operators.bash import BashOperator
from dagflow.operators.branch import BaseBranchOperator
from dagflow.operators.empty import EmptyOperator
from dagflow.operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator

__all__ = [
    "BaseBranchOperator",
    "BashOperator",
    "BranchPythonOperator",
    "EmptyOperator",
    "PythonOperator",
    "ShortCircuitOperator",
]
