"""TimeSensor: waits until a time of day, in the DAG's timezone, on the day the sensor runs."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

from dagflow.core.clock import utcnow
from dagflow.exceptions import DagDefinitionError
from dagflow.sensors.base import BaseSensorOperator

if TYPE_CHECKING:
    from dagflow.context import Context


class TimeSensor(BaseSensorOperator):
    """Succeeds once ``target_time`` has passed on the day the try started; that day and a naive time
    are in the DAG's timezone. A run that starts after that time of day succeeds at once.
    ``deferrable`` is accepted for Airflow files: the sensor waits as its ``mode`` says."""

    def __init__(
        self,
        *,
        target_time: time,
        deferrable: bool = False,
        start_from_trigger: bool = False,
        end_from_trigger: bool = False,
        trigger_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(target_time, time):
            raise DagDefinitionError(
                f"{self._where()}: target_time must be a datetime.time, got {target_time!r}"
            )
        self.target_time = target_time
        self.deferrable = deferrable
        self.start_from_trigger = start_from_trigger
        self.end_from_trigger = end_from_trigger

    def target_on(self, moment: datetime) -> datetime:
        """``target_time`` on the day of ``moment`` (in the DAG's timezone), in UTC."""
        zone = self.dag.timezone if self.dag is not None else UTC
        target = datetime.combine(moment.astimezone(zone).date(), self.target_time)
        if target.tzinfo is None:
            target = target.replace(tzinfo=zone)
        return target.astimezone(UTC)

    @property
    def target_datetime(self) -> datetime:
        """Today's ``target_time``, in UTC."""
        return self.target_on(utcnow())

    def _target(self, context: Context) -> datetime:
        """The target on the day the try started: a wait that goes past midnight keeps its day."""
        ti = context["ti"]
        return self.target_on(ti.get_first_reschedule_date(context) or ti.start_date)

    def poke(self, context: Context) -> bool:
        target = self._target(context)
        self.log.info("Checking if the time (%s) has come", target)
        return utcnow() > target

    def poke_again_at(self, context: Context) -> datetime | None:
        return self._target(context)


class TimeSensorAsync(TimeSensor):
    """Airflow's deprecated deferrable TimeSensor: the same sensor here."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(deferrable=True, **kwargs)
