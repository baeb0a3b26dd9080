"""The simple timetables (Airflow's ``airflow.timetables.simple``): none, once, continuous."""

from dagflow.core.schedule import ContinuousTimetable, NullTimetable, OnceTimetable

__all__ = ["ContinuousTimetable", "NullTimetable", "OnceTimetable"]
