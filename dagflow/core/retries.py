"""When a failed try may run again: ``retry_delay``, exponential backoff and ``max_retry_delay``."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagflow.core.spec import TaskSpec

#: Backoff never waits longer than a day, whatever the arithmetic says.
MAX_BACKOFF = timedelta(days=1)


def retry_delay(
    *,
    try_number: int,
    delay: timedelta,
    exponential_backoff: bool,
    max_delay: timedelta | None,
    jitter_key: str,
) -> timedelta:
    """How long to wait after try ``try_number`` failed.

    Without backoff: ``delay``. With backoff: ``delay * 2**(try_number - 1)`` stretched by a
    deterministic jitter of up to the same amount again (derived from ``jitter_key``, so the same
    task instance always waits the same), capped at a day and then at ``max_delay``.
    """
    if not exponential_backoff:
        return delay
    minimum = max(1, math.ceil(delay.total_seconds() * 2 ** (try_number - 1)))
    digest = int(hashlib.sha1(f"{jitter_key}#{try_number}".encode(), usedforsecurity=False).hexdigest(), 16)
    wait = timedelta(seconds=min(minimum + digest % minimum, MAX_BACKOFF.total_seconds()))
    if max_delay is not None:
        wait = min(wait, max_delay)
    return wait


def next_try_at(
    end_date: datetime,
    *,
    try_number: int,
    delay: timedelta,
    exponential_backoff: bool,
    max_delay: timedelta | None,
    jitter_key: str,
) -> datetime:
    """The earliest moment the next try may start."""
    return end_date + retry_delay(
        try_number=try_number,
        delay=delay,
        exponential_backoff=exponential_backoff,
        max_delay=max_delay,
        jitter_key=jitter_key,
    )


def should_retry(*, try_number: int, max_tries: int) -> bool:
    """A failed try is retried while tries remain: ``retries=2`` means three tries in all."""
    return max_tries > 0 and try_number <= max_tries


def next_retry_for(
    spec: TaskSpec | None,
    *,
    end_date: datetime,
    try_number: int,
    dag_id: str,
    run_id: str,
    chosen: timedelta | None = None,
) -> datetime:
    """When the next try of a task instance (of ``spec``, in run ``run_id``) may start after
    ``end_date``: after the delay its retry policy ``chosen`` for the failure, if it chose one, else
    after the task's own retry delay; at once if the task is not known (its DAG could not be loaded)."""
    if chosen is not None:
        return end_date + chosen
    if spec is None:
        return end_date
    return next_try_at(
        end_date,
        try_number=try_number,
        delay=timedelta(seconds=spec.retry_delay),
        exponential_backoff=spec.retry_exponential_backoff,
        max_delay=timedelta(seconds=spec.max_retry_delay) if spec.max_retry_delay is not None else None,
        jitter_key=f"{dag_id}#{spec.task_id}#{run_id}",
    )
