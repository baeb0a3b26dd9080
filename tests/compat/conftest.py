"""Fixtures of the ``airflow`` import layer's tests.

* ``airflow_layer``: the layer on for the test, and as it was afterwards (on or off), with the
  ``airflow`` modules it made forgotten so each test starts from fresh, lazily filled modules.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dagflow import compat


@pytest.fixture
def airflow_layer() -> Iterator[None]:
    was_on = compat.installed()
    compat.disable()
    assert compat.apply(True), "these tests run without Apache Airflow installed"
    yield
    compat.disable()
    if was_on:
        compat.apply(True)
