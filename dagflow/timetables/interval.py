"""Data-interval timetables (Airflow's ``airflow.timetables.interval``): a run per interval, at its end."""

from dagflow.core.timetables import CronDataIntervalTimetable, DeltaDataIntervalTimetable

__all__ = ["CronDataIntervalTimetable", "DeltaDataIntervalTimetable"]
