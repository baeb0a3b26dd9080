"""dagflow: a DAG-based pipeline orchestrator in the Airflow style.

DAG files import what they need from here, with the names Airflow users know::

    from dagflow import DAG, task, TaskGroup, TriggerRule, chain
"""

from dagflow.context import get_current_context
from dagflow.core.trigger_rules import TriggerRule
from dagflow.decorators import dag, setup, task, task_group, teardown
from dagflow.models.baseoperator import BaseOperator
from dagflow.models.chain import chain, chain_linear, cross_downstream
from dagflow.models.dag import DAG
from dagflow.models.edges import Label
from dagflow.models.param import Param
from dagflow.models.taskgroup import TaskGroup
from dagflow.models.xcom_arg import XComArg

__version__ = "0.1.0"

__all__ = [
    "DAG",
    "BaseOperator",
    "Label",
    "Param",
    "TaskGroup",
    "TriggerRule",
    "XComArg",
    "chain",
    "chain_linear",
    "cross_downstream",
    "dag",
    "get_current_context",
    "setup",
    "task",
    "task_group",
    "teardown",
]
