"""Sensors: tasks that wait for something (a file, a condition, a moment, another DAG's run).

Import them from here, as Airflow users import them from ``airflow.sensors`` and
``airflow.providers.standard.sensors``::

    from dagflow.sensors import ExternalTaskSensor, FileSensor, PythonSensor, TimeDeltaSensor
"""

from dagflow.sensors.base import BaseSensorOperator, PokeReturnValue
from dagflow.sensors.external_task import ExternalTaskSensor
from dagflow.sensors.filesystem import FileSensor
from dagflow.sensors.python import PythonSensor
from dagflow.sensors.time_delta import TimeDeltaSensor

__all__ = [
    "BaseSensorOperator",
    "ExternalTaskSensor",
    "FileSensor",
    "PokeReturnValue",
    "PythonSensor",
    "TimeDeltaSensor",
]
