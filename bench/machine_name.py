"""``[core] hostname_callable`` for scheduler daemons that stand for separate machines on this one
(``bench_multi_scheduler.py --machines``): the name is read from ``BENCH_MACHINE``."""

from __future__ import annotations

import os


def name() -> str:
    return os.environ["BENCH_MACHINE"]
