"""dagflow's errors, one hierarchy.

A DAG author raises :class:`SkipTask` or :class:`FailTask` from a task (Airflow's
``AirflowSkipException`` / ``AirflowFailException``); everything else here is raised by dagflow with a
message that names the DAG file, DAG, task or field at fault and what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any


class DagflowError(Exception):
    """Base class of every error dagflow raises on purpose."""


# -- raised by task code ------------------------------------------------------------------------


class SkipTask(DagflowError):
    """Raise inside a task to end it as ``skipped``."""


class FailTask(DagflowError):
    """Raise inside a task to end it as ``failed`` at once, without using its remaining retries."""


class TaskTimeout(DagflowError):
    """A try ran longer than its ``execution_timeout``; the failure is retryable."""


class TaskTerminated(BaseException):
    """The try was stopped from outside (shutdown, or its task instance was changed by a user)."""


class TaskLost(DagflowError):
    """A try ended without its task code ending it: its worker died or stopped heartbeating, or no
    worker took it from its queue. The ``exception`` its callbacks see; the message says why."""


class DownstreamTasksSkipped(DagflowError):
    """Raised by branching operators: the try succeeded and these downstream task ids are skipped.

    With ``map_index``, only that map index of each is (a branch inside an expanded task group
    decides for its own index of the group's tasks), and ``result``, the try's return value, is
    pushed as usual: Airflow skips such a task instance later, so the branch returns normally.
    """

    def __init__(self, task_ids: Sequence[str], map_index: int | None = None, result: Any = None):
        where = f" at map index {map_index}" if map_index is not None else ""
        super().__init__(f"skipping downstream tasks {list(task_ids)}{where}")
        self.task_ids = list(task_ids)
        self.map_index = map_index
        self.result = result


class RescheduleTask(DagflowError):
    """Raised by a sensor in reschedule mode: free the worker and try again at ``reschedule_at``."""

    def __init__(self, reschedule_at: datetime):
        super().__init__(f"reschedule at {reschedule_at.isoformat()}")
        self.reschedule_at = reschedule_at


class SensorTimeout(FailTask):
    """A sensor waited longer than its ``timeout``: the task fails without using its retries
    (Airflow's ``AirflowSensorTimeout``), or is skipped with ``soft_fail=True``."""


class ExternalTaskFailed(DagflowError):
    """What an ExternalTaskSensor waits for reached one of its ``failed_states``."""


# -- raised while DAG files are defined or loaded ----------------------------------------------


class DagDefinitionError(DagflowError, ValueError):
    """A DAG file declares something dagflow cannot run (bad argument, cycle, duplicate id...)."""


class DuplicateTaskIdError(DagDefinitionError):
    """Two tasks in one DAG have the same task id."""


class DagCycleError(DagDefinitionError):
    """The dependencies of a DAG form a cycle."""


class ParamValidationError(DagflowError):
    """A DAG param's value does not satisfy its schema."""


class ScheduleError(DagDefinitionError):
    """A ``schedule=`` value (cron string, preset, timedelta) cannot be understood."""


class UnsupportedAirflowImport(DagflowError, ImportError):
    """A DAG file imports an Airflow name that dagflow does not provide (see ``dagflow.compat``)."""


class UnsupportedAirflowModule(UnsupportedAirflowImport, ModuleNotFoundError):
    """A DAG file imports an Airflow module that dagflow does not provide."""


class DagNotFound(DagflowError):
    """No DAG with that id was found."""


class TaskNotFound(DagflowError):
    """No task with that id was found in the DAG."""


# -- raised while a task runs ------------------------------------------------------------------


class XComNotFound(DagflowError):
    """A task's argument refers to an XCom that its upstream never pushed."""

    def __init__(self, dag_id: str, task_id: str, key: str):
        super().__init__(
            f"XCom {key!r} of task {task_id!r} in DAG {dag_id!r} was not found: the upstream did not "
            f"push it (did you mean multiple_outputs=True on {task_id!r}?)"
        )
        self.dag_id, self.task_id, self.key = dag_id, task_id, key


class XComValueError(DagflowError):
    """A task pushed an XCom value that cannot be stored (not JSON) or cannot be mapped over."""


class TemplateRenderError(DagflowError):
    """A templated field of a task could not be rendered."""


class DagflowConfigError(DagflowError):
    """A setting in dagflow.cfg or the environment is invalid."""


class LogUnavailable(DagflowError):
    """A try's log could not be read from the worker that holds it (its log server is down or refused)."""


class BrokerUnavailable(DagflowError):
    """The Celery broker could not be reached."""


# -- Variables and Connections -----------------------------------------------------------------


class VariableNotFound(DagflowError, KeyError):
    """``Variable.get`` of a key that no secrets backend has, and no default was given (Airflow raises
    ``KeyError``: this is one, so ``except KeyError`` in ported code still catches it)."""

    def __init__(self, key: str):
        super().__init__(
            f"Variable {key!r} does not exist: set it with `dagflow variables set {key} VALUE`, "
            f"the environment variable DAGFLOW_VAR_{key.upper()}, or pass default_var"
        )
        self.key = key

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ConnectionNotFound(DagflowError):
    """No secrets backend defines that connection id (Airflow's ``AirflowNotFoundException``)."""

    def __init__(self, conn_id: str):
        super().__init__(
            f"The conn_id {conn_id!r} isn't defined: add it with `dagflow connections add {conn_id} "
            f"--conn-uri URI` or the environment variable DAGFLOW_CONN_{conn_id.upper()}"
        )
        self.conn_id = conn_id


class InvalidConnection(DagflowError, ValueError):
    """A connection URI or JSON definition that cannot be understood."""


class FernetKeyError(DagflowConfigError):
    """``[core] fernet_key`` is not a valid key, or is not the key a stored secret was encrypted with."""
