"""Sensors: tasks that wait for something (a file, a condition, a moment, another DAG's run).

Import them from here, as Airflow users import them from ``airflow.sensors`` and
``airflow.providers.standard.sensors``::

    from dagflow.sensors import ExternalTaskSensor, FileSensor, PythonSensor, TimeDeltaSensor
"""

from dagflow.sensors.base import BaseSensorOperator, PokeReturnValue
from dagflow.sensors.bash import BashSensor
from dagflow.sensors.date_time import DateTimeSensor, DateTimeSensorAsync
from dagflow.sensors.external_task import ExternalTaskMarker, ExternalTaskSensor
from dagflow.sensors.filesystem import FileSensor
from dagflow.sensors.python import PythonSensor
from dagflow.sensors.time import TimeSensor, TimeSensorAsync
from dagflow.sensors.time_delta import TimeDeltaSensor, TimeDeltaSensorAsync, WaitSensor
from dagflow.sensors.weekday import DayOfWeekSensor

__all__ = [
    "BaseSensorOperator",
    "BashSensor",
    "DateTimeSensor",
    "DateTimeSensorAsync",
    "DayOfWeekSensor",
    "ExternalTaskMarker",
    "ExternalTaskSensor",
    "FileSensor",
    "PokeReturnValue",
    "PythonSensor",
    "TimeDeltaSensor",
    "TimeDeltaSensorAsync",
    "TimeSensor",
    "TimeSensorAsync",
    "WaitSensor",
]
