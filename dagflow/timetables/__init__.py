"""Timetables: when a DAG runs by itself. The module names follow Airflow's ``airflow.timetables``.

Built in: :class:`CronTriggerTimetable` (what ``schedule="<cron>"`` means), :class:`DeltaTriggerTimetable`
(``schedule=timedelta(...)``), :class:`MultipleCronTriggerTimetable`, :class:`CronDataIntervalTimetable`,
:class:`DeltaDataIntervalTimetable`, :class:`EventsTimetable`, and the simple ones. Write your own by
subclassing :class:`dagflow.timetables.base.Timetable` and registering it in a plugin.
"""

from dagflow.core.timetables import (
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DeltaDataIntervalTimetable,
    DeltaTriggerTimetable,
    EventsTimetable,
    MultipleCronTriggerTimetable,
)
from dagflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from dagflow.timetables.simple import ContinuousTimetable, NullTimetable, OnceTimetable

__all__ = [
    "ContinuousTimetable",
    "CronDataIntervalTimetable",
    "CronTriggerTimetable",
    "DagRunInfo",
    "DataInterval",
    "DeltaDataIntervalTimetable",
    "DeltaTriggerTimetable",
    "EventsTimetable",
    "MultipleCronTriggerTimetable",
    "NullTimetable",
    "OnceTimetable",
    "TimeRestriction",
    "Timetable",
]
