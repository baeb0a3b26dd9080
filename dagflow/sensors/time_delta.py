"""TimeDeltaSensor: waits until a fixed time after the end of the run's data interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dagflow.exceptions import DagDefinitionError, DagflowError
from dagflow.sensors.base import BaseSensorOperator

if TYPE_CHECKING:
    from dagflow.context import Context


class TimeDeltaSensor(BaseSensorOperator):
    """Succeeds once ``delta`` has passed since the run's ``data_interval_end`` (or, for a run
    without a data interval, since its ``run_after``, else its logical date).

    Nothing can change before that moment, so the sensor does not poke every ``poke_interval``:
    it sleeps (poke mode) or is rescheduled (reschedule mode) until exactly that moment, or until
    its timeout runs out if that comes first.
    """

    def __init__(
        self, *, delta: timedelta, deferrable: bool = False, end_from_trigger: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.deferrable = deferrable  # Airflow's trigger-based wait: here the sensor's mode says how
        self.end_from_trigger = end_from_trigger
        if not isinstance(delta, timedelta):
            raise DagDefinitionError(f"{self._where()}: delta must be a timedelta, got {delta!r}")
        self.delta = delta

    def target(self, context: Context) -> datetime:
        """The moment the sensor waits for."""
        dag_run = context.get("dag_run")
        base = context.get("data_interval_end") or getattr(dag_run, "run_after", None)
        base = base or context.get("logical_date")
        if base is None:
            raise DagflowError(
                f"{self._where()}: the run has no data interval end, run_after or logical date to count from"
            )
        return base + self.delta

    def poke(self, context: Context) -> bool:
        target = self.target(context)
        self.log.info("Waiting until %s", target.isoformat())
        return datetime.now(UTC) >= target

    def poke_again_at(self, context: Context) -> datetime | None:
        return self.target(context)


class TimeDeltaSensorAsync(TimeDeltaSensor):
    """Airflow's deprecated deferrable TimeDeltaSensor: the same sensor here."""

    def __init__(self, *, delta: timedelta, end_from_trigger: bool = False, **kwargs: Any) -> None:
        super().__init__(delta=delta, deferrable=True, end_from_trigger=end_from_trigger, **kwargs)


class WaitSensor(BaseSensorOperator):
    """Waits ``time_to_wait`` (a timedelta, or an int of minutes) from the start of the try.

    Unlike TimeDeltaSensor it counts from when the task starts, not from the run's data interval.
    In reschedule mode it counts from the try's first start, so a rescheduled wait does not restart.
    """

    def __init__(self, time_to_wait: timedelta | int, deferrable: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deferrable = deferrable
        if isinstance(time_to_wait, int) and not isinstance(time_to_wait, bool):
            self.time_to_wait = timedelta(minutes=time_to_wait)
        elif isinstance(time_to_wait, timedelta):
            self.time_to_wait = time_to_wait
        else:
            raise DagDefinitionError(
                f"{self._where()}: time_to_wait must be a timedelta or a number of minutes, "
                f"got {time_to_wait!r}"
            )

    def target(self, context: Context) -> datetime:
        ti = context["ti"]
        started = ti.get_first_reschedule_date(context) or ti.start_date
        return started + self.time_to_wait

    def poke(self, context: Context) -> bool:
        return datetime.now(UTC) >= self.target(context)

    def poke_again_at(self, context: Context) -> datetime | None:
        return self.target(context)
