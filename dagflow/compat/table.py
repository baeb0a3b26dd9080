"""Where each Airflow name lives in dagflow: the one table the import layer and ``dagflow port`` share.

``AIRFLOW_NAMES`` maps an Airflow module path to the names a DAG file may import from it, each to
``"dagflow.module:name"`` (an object) or ``"dagflow.module"`` (a whole module, for
``from airflow.utils import timezone``). A row may point at a dagflow module that does not exist yet:
the name then fails to import with the same "not supported" error as a name that has no row, so
adding a feature to dagflow only needs its row here to be right.

Airflow 3 keeps accepting the Airflow 2 paths (``airflow.operators.python``...) with a deprecation
warning, so they are here too, pointing at the same dagflow objects.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import NamedTuple

Row = dict[str, str]

#: ``airflow.__version__`` as the layer serves it: the Airflow 3 API (with the Airflow 2 paths Airflow 3
#: still accepts), so code that probes the version takes its Airflow 3 branch; the local label says
#: who answers (``packaging.version.Version`` reads it as 3.0.0, and ``.local`` as ``dagflow``).
AIRFLOW_VERSION = "3.0.0+dagflow"


class Target(NamedTuple):
    """A dagflow object (``attr`` set) or module (``attr`` None) an Airflow name stands for."""

    module: str
    attr: str | None

    @classmethod
    def parse(cls, spec: str) -> Target:
        module, _, attr = spec.partition(":")
        return cls(module, attr or None)

    def __str__(self) -> str:
        return f"{self.module}:{self.attr}" if self.attr else self.module


# -- groups of names several Airflow modules export ------------------------------------------------

_EXCEPTIONS: Row = {
    "AirflowException": "dagflow.exceptions:DagflowError",
    "AirflowSkipException": "dagflow.exceptions:SkipTask",
    "AirflowFailException": "dagflow.exceptions:FailTask",
    "AirflowSensorTimeout": "dagflow.exceptions:SensorTimeout",
    "AirflowTaskTimeout": "dagflow.exceptions:TaskTimeout",
    "AirflowTaskTerminated": "dagflow.exceptions:TaskTerminated",
    "AirflowRescheduleException": "dagflow.exceptions:RescheduleTask",
    "DuplicateTaskIdFound": "dagflow.exceptions:DuplicateTaskIdError",
    "AirflowDagCycleException": "dagflow.exceptions:DagCycleError",
    "ParamValidationError": "dagflow.exceptions:ParamValidationError",
    "DagNotFound": "dagflow.exceptions:DagNotFound",
    "TaskNotFound": "dagflow.exceptions:TaskNotFound",
    "XComNotFound": "dagflow.exceptions:XComNotFound",
    "AirflowNotFoundException": "dagflow.exceptions:ConnectionNotFound",
    "AirflowConfigException": "dagflow.exceptions:DagflowConfigError",
}

_STANDARD_OPERATORS: dict[str, Row] = {
    "python": {
        "PythonOperator": "dagflow.operators.python:PythonOperator",
        "BranchPythonOperator": "dagflow.operators.python:BranchPythonOperator",
        "ShortCircuitOperator": "dagflow.operators.python:ShortCircuitOperator",
        "PythonVirtualenvOperator": "dagflow.operators.python_virtualenv:PythonVirtualenvOperator",
        "BranchPythonVirtualenvOperator": (
            "dagflow.operators.python_virtualenv:BranchPythonVirtualenvOperator"
        ),
        "ExternalPythonOperator": "dagflow.operators.python_virtualenv:ExternalPythonOperator",
        "BranchExternalPythonOperator": "dagflow.operators.python_virtualenv:BranchExternalPythonOperator",
        "get_current_context": "dagflow.context:get_current_context",
    },
    "bash": {"BashOperator": "dagflow.operators.bash:BashOperator"},
    "empty": {"EmptyOperator": "dagflow.operators.empty:EmptyOperator"},
    "branch": {"BaseBranchOperator": "dagflow.operators.branch:BaseBranchOperator"},
    "latest_only": {"LatestOnlyOperator": "dagflow.operators.latest_only:LatestOnlyOperator"},
    "trigger_dagrun": {"TriggerDagRunOperator": "dagflow.operators.trigger_dagrun:TriggerDagRunOperator"},
    "datetime": {"BranchDateTimeOperator": "dagflow.operators.datetime:BranchDateTimeOperator"},
    "weekday": {"BranchDayOfWeekOperator": "dagflow.operators.weekday:BranchDayOfWeekOperator"},
    "smooth": {"SmoothOperator": "dagflow.operators.smooth:SmoothOperator"},
}

_STANDARD_SENSORS: dict[str, Row] = {
    "base": {
        "BaseSensorOperator": "dagflow.sensors.base:BaseSensorOperator",
        "PokeReturnValue": "dagflow.sensors.base:PokeReturnValue",
    },
    "python": {"PythonSensor": "dagflow.sensors.python:PythonSensor"},
    "filesystem": {"FileSensor": "dagflow.sensors.filesystem:FileSensor"},
    "time_delta": {
        "TimeDeltaSensor": "dagflow.sensors.time_delta:TimeDeltaSensor",
        "TimeDeltaSensorAsync": "dagflow.sensors.time_delta:TimeDeltaSensorAsync",
        "WaitSensor": "dagflow.sensors.time_delta:WaitSensor",
    },
    "external_task": {
        "ExternalTaskSensor": "dagflow.sensors.external_task:ExternalTaskSensor",
        "ExternalTaskMarker": "dagflow.sensors.external_task:ExternalTaskMarker",
    },
    "bash": {"BashSensor": "dagflow.sensors.bash:BashSensor"},
    "date_time": {
        "DateTimeSensor": "dagflow.sensors.date_time:DateTimeSensor",
        "DateTimeSensorAsync": "dagflow.sensors.date_time:DateTimeSensorAsync",
    },
    "time": {
        "TimeSensor": "dagflow.sensors.time:TimeSensor",
        "TimeSensorAsync": "dagflow.sensors.time:TimeSensorAsync",
    },
    "time_sensor": {  # the Airflow 2 module name
        "TimeSensor": "dagflow.sensors.time:TimeSensor",
        "TimeSensorAsync": "dagflow.sensors.time:TimeSensorAsync",
    },
    "weekday": {"DayOfWeekSensor": "dagflow.sensors.weekday:DayOfWeekSensor"},
}

_TIMETABLES: dict[str, Row] = {
    "base": {
        "Timetable": "dagflow.timetables:Timetable",
        "DagRunInfo": "dagflow.timetables:DagRunInfo",
        "DataInterval": "dagflow.timetables:DataInterval",
        "TimeRestriction": "dagflow.timetables:TimeRestriction",
    },
    "trigger": {
        "CronTriggerTimetable": "dagflow.timetables:CronTriggerTimetable",
        "DeltaTriggerTimetable": "dagflow.timetables:DeltaTriggerTimetable",
        "MultipleCronTriggerTimetable": "dagflow.timetables:MultipleCronTriggerTimetable",
    },
    "interval": {
        "CronDataIntervalTimetable": "dagflow.timetables:CronDataIntervalTimetable",
        "DeltaDataIntervalTimetable": "dagflow.timetables:DeltaDataIntervalTimetable",
    },
    "events": {"EventsTimetable": "dagflow.timetables:EventsTimetable"},
    "simple": {
        "NullTimetable": "dagflow.timetables:NullTimetable",
        "OnceTimetable": "dagflow.timetables:OnceTimetable",
        "ContinuousTimetable": "dagflow.timetables:ContinuousTimetable",
    },
}

_SDK: Row = {
    "DAG": "dagflow:DAG",
    "dag": "dagflow:dag",
    "task": "dagflow:task",
    "task_group": "dagflow:task_group",
    "TaskGroup": "dagflow:TaskGroup",
    "setup": "dagflow:setup",
    "teardown": "dagflow:teardown",
    "chain": "dagflow:chain",
    "chain_linear": "dagflow:chain_linear",
    "cross_downstream": "dagflow:cross_downstream",
    "BaseOperator": "dagflow:BaseOperator",
    "Param": "dagflow:Param",
    "ParamsDict": "dagflow.models.param:ParamsDict",
    "XComArg": "dagflow:XComArg",
    "TriggerRule": "dagflow:TriggerRule",
    "get_current_context": "dagflow:get_current_context",
    "get_parsing_context": "dagflow.dagbag:get_parsing_context",
    "literal": "dagflow.templating:literal",
    "Context": "dagflow.context:Context",
    "BaseSensorOperator": "dagflow.sensors.base:BaseSensorOperator",
    "PokeReturnValue": "dagflow.sensors.base:PokeReturnValue",
    "Label": "dagflow.models.edges:Label",
    "EdgeModifier": "dagflow.models.edges:EdgeModifier",
    "TaskInstanceState": "dagflow.core.states:TaskState",
    "DagRunState": "dagflow.core.states:RunState",
    "Variable": "dagflow.models.variable:Variable",
    "Connection": "dagflow.models.connection:Connection",
    "BaseHook": "dagflow.hooks.base:BaseHook",
    "WeekDay": "dagflow.utils.weekday:WeekDay",
    "BaseOperatorLink": "dagflow.models.links:BaseOperatorLink",
    "timezone": "dagflow.utils.timezone",
    **{
        name: f"dagflow.models.retry_policy:{name}"
        for name in (
            "RetryPolicy",
            "ExceptionRetryPolicy",
            "ChainRetryPolicy",
            "RetryRule",
            "RetryAction",
            "RetryDecision",
        )
    },
}


_TASK_INSTANCE = "dagflow.runtime.task_instance:RuntimeTaskInstance"


def _under(prefix: str, rows: dict[str, Row]) -> dict[str, Row]:
    return {f"{prefix}.{leaf}": row for leaf, row in rows.items()}


def _flat(rows: dict[str, Row]) -> Row:
    return {name: target for row in rows.values() for name, target in row.items()}


_STANDARD = "airflow.providers.standard"

AIRFLOW_NAMES: MappingProxyType[str, Row] = MappingProxyType(
    {
        "airflow": {"DAG": "dagflow:DAG", "AirflowException": "dagflow.exceptions:DagflowError"},
        "airflow.sdk": _SDK,
        "airflow.sdk.exceptions": _EXCEPTIONS,
        "airflow.exceptions": _EXCEPTIONS,
        "airflow.sdk.definitions.param": {"Param": "dagflow:Param", "ParamsDict": _SDK["ParamsDict"]},
        "airflow.models": {
            **{
                name: _SDK[name]
                for name in ("DAG", "BaseOperator", "Param", "XComArg", "Variable", "Connection")
            },
            "TaskInstance": _TASK_INSTANCE,
        },
        "airflow.models.dag": {"DAG": "dagflow:DAG"},
        # the Task SDK's own modules, which Airflow 3 code sometimes imports directly
        "airflow.sdk.bases.operator": {
            name: _SDK[name] for name in ("BaseOperator", "chain", "chain_linear", "cross_downstream")
        },
        "airflow.sdk.bases.sensor": {name: _SDK[name] for name in ("BaseSensorOperator", "PokeReturnValue")},
        "airflow.sdk.bases.hook": {"BaseHook": _SDK["BaseHook"]},
        "airflow.sdk.bases.operatorlink": {"BaseOperatorLink": _SDK["BaseOperatorLink"]},
        "airflow.sdk.definitions.dag": {"DAG": "dagflow:DAG", "dag": "dagflow:dag"},
        "airflow.sdk.definitions.taskgroup": {"TaskGroup": "dagflow:TaskGroup"},
        "airflow.sdk.definitions.edges": {name: _SDK[name] for name in ("Label", "EdgeModifier")},
        "airflow.sdk.definitions.xcom_arg": {"XComArg": "dagflow:XComArg"},
        "airflow.sdk.definitions.context": {name: _SDK[name] for name in ("Context", "get_current_context")},
        "airflow.sdk.definitions.retry_policy": {
            name: target for name, target in _SDK.items() if target.startswith("dagflow.models.retry_policy:")
        },
        "airflow.models.baseoperator": {
            "BaseOperatorLink": _SDK["BaseOperatorLink"],
            "BaseOperator": "dagflow:BaseOperator",
            "chain": "dagflow:chain",
            "chain_linear": "dagflow:chain_linear",
            "cross_downstream": "dagflow:cross_downstream",
        },
        "airflow.models.param": {"Param": "dagflow:Param", "ParamsDict": _SDK["ParamsDict"]},
        "airflow.models.variable": {"Variable": _SDK["Variable"]},
        "airflow.models.connection": {"Connection": _SDK["Connection"]},
        "airflow.models.xcom_arg": {"XComArg": "dagflow:XComArg"},
        "airflow.decorators": {
            name: _SDK[name] for name in ("dag", "task", "task_group", "setup", "teardown")
        },
        "airflow.utils.trigger_rule": {"TriggerRule": "dagflow:TriggerRule"},
        # the Task SDK's generated API models, where some Airflow 3 files take the state enums from
        "airflow.sdk.api.datamodels._generated": {
            "TriggerRule": "dagflow:TriggerRule",
            "TaskInstanceState": "dagflow.core.states:TaskState",
            "DagRunState": "dagflow.core.states:RunState",
        },
        "airflow.utils.context": {name: _SDK[name] for name in ("Context", "get_current_context")},
        "airflow.utils.types": {"DagRunType": "dagflow.core.states:RunType"},
        "airflow.utils.dag_parsing_context": {"get_parsing_context": _SDK["get_parsing_context"]},
        "airflow.utils.xcom": {"XCOM_RETURN_KEY": "dagflow.models.xcom_arg:RETURN_KEY"},
        "airflow.models.xcom": {"XCOM_RETURN_KEY": "dagflow.models.xcom_arg:RETURN_KEY"},
        # the task instance a task is given, for the type hints of ``ti`` parameters
        "airflow.models.taskinstance": {"TaskInstance": _TASK_INSTANCE},
        "airflow.utils.edgemodifier": {name: _SDK[name] for name in ("Label", "EdgeModifier")},
        "airflow.utils.task_group": {"TaskGroup": "dagflow:TaskGroup"},
        "airflow.utils.helpers": {"chain": "dagflow:chain", "cross_downstream": "dagflow:cross_downstream"},
        "airflow.utils.state": {
            "State": "dagflow.core.states:TaskState",
            "TaskInstanceState": "dagflow.core.states:TaskState",
            "DagRunState": "dagflow.core.states:RunState",
        },
        "airflow.utils": {"timezone": "dagflow.utils.timezone"},
        "airflow.utils.timezone": {
            name: f"dagflow.utils.timezone:{name}"
            for name in (
                "utc",
                "utcnow",
                "datetime",
                "parse",
                "is_localized",
                "is_naive",
                "make_aware",
                "make_naive",
                "convert_to_utc",
            )
        },
        "airflow.utils.weekday": {"WeekDay": _SDK["WeekDay"]},
        "airflow.macros": {
            name: f"dagflow.macros:{name}" for name in ("ds_add", "ds_format", "datetime", "timedelta")
        },
        "airflow.hooks.base": {"BaseHook": _SDK["BaseHook"]},
        "airflow.plugins_manager": {"AirflowPlugin": "dagflow.plugins:AirflowPlugin"},
        "airflow.task.priority_strategy": {
            "PriorityWeightStrategy": "dagflow.models.priority_strategy:PriorityWeightStrategy",
        },
        **_under("airflow.timetables", _TIMETABLES),
        # Airflow 2 paths, still accepted by Airflow 3
        **_under("airflow.operators", _STANDARD_OPERATORS),
        **_under("airflow.sensors", _STANDARD_SENSORS),
        # the standard provider
        **_under(f"{_STANDARD}.operators", _STANDARD_OPERATORS),
        **_under(f"{_STANDARD}.sensors", _STANDARD_SENSORS),
        f"{_STANDARD}.utils.weekday": {"WeekDay": _SDK["WeekDay"]},
        # the provider families DAG files reach for first
        "airflow.providers.common.sql.operators.sql": {
            name: f"dagflow.providers.common_sql:{name}"
            for name in (
                "SQLExecuteQueryOperator",
                "SQLCheckOperator",
                "SQLValueCheckOperator",
                "BaseSQLOperator",
            )
        },
        "airflow.providers.common.sql.hooks.sql": {
            name: f"dagflow.providers.common_sql:{name}"
            for name in ("DbApiHook", "fetch_all_handler", "fetch_one_handler", "return_single_query_results")
        },
        "airflow.providers.common.sql.hooks.handlers": {
            name: f"dagflow.providers.common_sql:{name}"
            for name in ("fetch_all_handler", "fetch_one_handler", "return_single_query_results")
        },
        "airflow.providers.http.operators.http": {
            "HttpOperator": "dagflow.providers.http:HttpOperator",
            "SimpleHttpOperator": "dagflow.providers.http:SimpleHttpOperator",
        },
        "airflow.providers.http.sensors.http": {"HttpSensor": "dagflow.providers.http:HttpSensor"},
        "airflow.providers.http.hooks.http": {"HttpHook": "dagflow.providers.http:HttpHook"},
        "airflow.providers.sqlite.hooks.sqlite": {"SqliteHook": "dagflow.providers.sqlite:SqliteHook"},
        "airflow.providers.postgres.hooks.postgres": {
            "PostgresHook": "dagflow.providers.postgres:PostgresHook"
        },
    }
)

_PACKAGES = frozenset(
    ".".join(path.split(".")[:depth]) for path in AIRFLOW_NAMES for depth in range(1, path.count(".") + 1)
)


def is_known_module(module: str) -> bool:
    """Whether ``module`` is an Airflow module the table has names for, or a package above one."""
    return module in AIRFLOW_NAMES or module in _PACKAGES


def target_of(module: str, name: str) -> Target | None:
    """Where ``name`` imported from the Airflow module ``module`` lives in dagflow, if it has a row."""
    spec = AIRFLOW_NAMES.get(module, {}).get(name)
    return Target.parse(spec) if spec else None


def names_of(module: str) -> list[str]:
    return sorted(AIRFLOW_NAMES.get(module, {}))
