"""Airflow's ``http`` provider: ``HttpHook``, ``HttpOperator`` (or ``SimpleHttpOperator``), ``HttpSensor``."""

from dagflow.providers.http.hooks import HttpError, HttpHook
from dagflow.providers.http.operators import HttpOperator, HttpSensor

SimpleHttpOperator = HttpOperator

__all__ = ["HttpError", "HttpHook", "HttpOperator", "HttpSensor", "SimpleHttpOperator"]
