"""Runs at listed instants (Airflow's ``airflow.timetables.events``)."""

from dagflow.core.timetables import EventsTimetable

__all__ = ["EventsTimetable"]
