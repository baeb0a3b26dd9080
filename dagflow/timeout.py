"""A time limit on a block of code, enforced with SIGALRM (so only in the main thread)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def time_limit(seconds: float | None, make_error: Callable[[], BaseException]) -> Iterator[None]:
    """Raise ``make_error()`` inside the block once ``seconds`` have passed.

    Without a limit, or outside the main thread (where signals cannot be delivered), the block
    runs unbounded; callers that need a hard limit there must use a separate process.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise make_error()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
