"""Trigger timetables (Airflow's ``airflow.timetables.trigger``): a run at each schedule point."""

from dagflow.core.timetables import CronTriggerTimetable, DeltaTriggerTimetable, MultipleCronTriggerTimetable

__all__ = ["CronTriggerTimetable", "DeltaTriggerTimetable", "MultipleCronTriggerTimetable"]
