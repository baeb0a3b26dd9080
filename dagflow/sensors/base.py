"""BaseSensorOperator: poke until a condition holds, within a ``timeout``, as Airflow's sensors do.

A sensor calls :meth:`~BaseSensorOperator.poke` until it returns something truthy. Between pokes it
either sleeps while holding its worker (``mode="poke"``) or ends the try as ``up_for_reschedule``
so the worker is free until the next poke is due (``mode="reschedule"``); a rescheduled sensor
continues the same try, so its try number does not change.

``timeout`` counts from the first poke of the try: in reschedule mode from the start of the try's
first poke (the try history remembers it), so the time spent waiting between pokes counts too.
A sensor that times out fails without using its retries (:class:`~dagflow.exceptions.SensorTimeout`),
or is skipped with ``soft_fail=True``. Any other error in ``poke`` fails the try as usual, and is
retried while retries remain.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from dagflow.core.clock import utcnow
from dagflow.core.retries import retry_delay
from dagflow.exceptions import (
    DagDefinitionError,
    FailTask,
    RescheduleTask,
    SensorTimeout,
    SkipTask,
    TaskTimeout,
)
from dagflow.models.baseoperator import BaseOperator

if TYPE_CHECKING:
    from dagflow.context import Context

#: Airflow's ``[sensors] default_timeout``: a week.
DEFAULT_TIMEOUT = timedelta(days=7)
#: Past this many pokes the backoff arithmetic is capped anyway; estimating further gains nothing.
MAX_ESTIMATED_POKES = 64


class PokeReturnValue:
    """What ``poke`` may return instead of a bool: whether the sensor is done, and the XCom to push then."""

    def __init__(self, is_done: bool, xcom_value: Any = None) -> None:
        self.is_done = is_done
        self.xcom_value = xcom_value

    def __bool__(self) -> bool:
        return bool(self.is_done)

    def __repr__(self) -> str:
        return f"PokeReturnValue(is_done={self.is_done!r}, xcom_value={self.xcom_value!r})"


def as_seconds(value: Any, name: str, where: str) -> float:
    """A non-negative number of seconds from a timedelta or a number, or a DagDefinitionError."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise DagDefinitionError(f"{where}: {name} must be a timedelta or a number of seconds, got {value!r}")
    if seconds < 0:
        raise DagDefinitionError(f"{where}: {name} must not be negative, got {value!r}")
    return seconds


def estimated_poke_count(elapsed: float, wait_after: Callable[[int], float]) -> int:
    """Which poke this is, ``elapsed`` seconds after the first, when poke ``n`` is followed by a wait
    of ``wait_after(n)``: how a rescheduled sensor, which keeps no count, finds its place in a backoff."""
    count, total = 1, 0.0
    while count < MAX_ESTIMATED_POKES:
        wait = wait_after(count)
        if total + wait > elapsed:
            break
        total += wait
        count += 1
    return count


class BaseSensorOperator(BaseOperator):
    """Waits for a condition: subclasses implement :meth:`poke` (see the module docstring).

    ``poke_interval``: seconds (or a timedelta) between pokes. ``timeout``: how long to wait in all
    (default a week). ``mode``: ``"poke"`` or ``"reschedule"``. ``exponential_backoff``: wait longer
    after each poke (doubling, with a deterministic jitter), at most ``max_wait``. ``soft_fail``:
    skip instead of failing on timeout, or when ``poke`` raises FailTask or hits ``execution_timeout``.
    ``silent_fail``: an error in ``poke`` counts as "not yet" (logged). ``never_fail``: any error in
    ``poke`` skips the task.
    """

    ui_color = "#e6f1f2"
    valid_modes: ClassVar[tuple[str, ...]] = ("poke", "reschedule")

    def __init__(
        self,
        *,
        poke_interval: timedelta | float = 60,
        timeout: timedelta | float | None = None,
        soft_fail: bool = False,
        mode: str = "poke",
        exponential_backoff: bool = False,
        max_wait: timedelta | float | None = None,
        silent_fail: bool = False,
        never_fail: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = self._where()
        self.poke_interval = as_seconds(poke_interval, "poke_interval", where)
        self.timeout = as_seconds(DEFAULT_TIMEOUT if timeout is None else timeout, "timeout", where)
        self.max_wait = None if max_wait is None else as_seconds(max_wait, "max_wait", where)
        if mode not in self.valid_modes:
            modes = ", ".join(repr(m) for m in self.valid_modes)
            raise DagDefinitionError(f"{where}: mode must be one of {modes}, got {mode!r}")
        if soft_fail and never_fail:
            raise DagDefinitionError(f"{where}: soft_fail and never_fail cannot both be set")
        self.mode = mode
        self.soft_fail, self.silent_fail, self.never_fail = soft_fail, silent_fail, never_fail
        self.exponential_backoff = exponential_backoff

    def _where(self) -> str:
        dag = f" in DAG {self.dag.dag_id!r}" if self.dag is not None else ""
        return f"{type(self).__name__}(task_id={self.task_id!r}){dag}"

    @property
    def reschedule(self) -> bool:
        """True in reschedule mode."""
        return self.mode == "reschedule"

    # -- what subclasses implement ----------------------------------------------------------------

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Check the condition once: truthy (or a done PokeReturnValue) when the wait is over."""
        raise NotImplementedError(f"{type(self).__name__} does not implement poke()")

    def poke_again_at(self, context: Context) -> datetime | None:
        """When the condition can next become true, if the sensor knows (a sensor waiting for a
        moment): the next poke is then due exactly then rather than after ``poke_interval``."""
        return None

    # -- the loop -----------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        """Poke until done; return the done PokeReturnValue's ``xcom_value`` (else None)."""
        elapsed = self._clock(context)
        poke_count = 1
        while True:
            result = self._poke_once(context)
            if result:
                self.log.info("Success criteria met. Exiting.")
                return result.xcom_value if isinstance(result, PokeReturnValue) else None
            if elapsed() > self.timeout:
                self._time_out(elapsed())
            now = utcnow()
            at = self._next_poke_at(context, elapsed, poke_count, now)
            if self.reschedule:
                raise RescheduleTask(at)
            wait = (at - now).total_seconds()
            self.log.info("Poking again in %.3gs", wait)
            time.sleep(wait)
            poke_count += 1

    def _clock(self, context: Context) -> Callable[[], float]:
        """Seconds since the wait began: this execute() in poke mode, the try's first poke otherwise."""
        if not self.reschedule:
            started = time.monotonic()
            return lambda: time.monotonic() - started
        ti = context["ti"]
        first = ti.get_first_reschedule_date(context) or ti.start_date
        return lambda: (utcnow() - first).total_seconds()

    def _poke_once(self, context: Context) -> Any:
        """One poke, with ``soft_fail``, ``silent_fail`` and ``never_fail`` applied to its errors."""
        try:
            return self.poke(context)
        except (SkipTask, RescheduleTask):
            raise
        except (FailTask, TaskTimeout) as exc:  # SensorTimeout is a FailTask
            if self.soft_fail or self.never_fail:
                reason = "soft_fail" if self.soft_fail else "never_fail"
                raise SkipTask(f"skipping ({reason}): {exc}") from exc
            raise
        except Exception as exc:
            if self.silent_fail:
                self.log.error("Poke failed, poking again later: %s: %s", type(exc).__name__, exc)
                return False
            if self.never_fail:
                raise SkipTask(f"skipping (never_fail): {exc}") from exc
            raise

    def _time_out(self, elapsed: float) -> None:
        message = f"the sensor waited {elapsed:.3g}s, longer than its timeout of {self.timeout:g}s"
        if self.soft_fail:
            raise SkipTask(f"skipping (soft_fail): {message}")
        raise SensorTimeout(message)

    def _next_poke_at(
        self, context: Context, elapsed: Callable[[], float], poke_count: int, now: datetime
    ) -> datetime:
        """When to poke next (after poke ``poke_count``), never past the moment the timeout runs out."""
        due = self.poke_again_at(context)
        if due is None:
            due = now + timedelta(seconds=self._interval(elapsed, poke_count))
        deadline = now + timedelta(seconds=max(0.0, self.timeout - elapsed()))
        return max(now, min(due, deadline))

    def _interval(self, elapsed: Callable[[], float], poke_count: int) -> float:
        if not self.exponential_backoff:
            return self.poke_interval
        if self.reschedule:  # a rescheduled try keeps no count of its pokes
            poke_count = estimated_poke_count(elapsed(), self._backoff)
        return self._backoff(poke_count)

    def _backoff(self, poke_count: int) -> float:
        """The wait after poke ``poke_count`` with exponential backoff (the retry delay arithmetic)."""
        return retry_delay(
            try_number=poke_count,
            delay=timedelta(seconds=self.poke_interval),
            exponential_backoff=True,
            max_delay=timedelta(seconds=self.max_wait) if self.max_wait is not None else None,
            jitter_key=f"{self.dag.dag_id if self.dag else ''}#{self.task_id}#poke",
        ).total_seconds()
