"""``[core] hostname_callable`` for processes that stand for separate machines on this one: the name
is read from ``DAGFLOW_TEST_MACHINE``."""

from __future__ import annotations

import os


def name() -> str:
    return os.environ["DAGFLOW_TEST_MACHINE"]
