"""DateTimeSensor: waits until a moment, given as a datetime or a templated ISO 8601 string."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from dagflow.core.clock import utcnow
from dagflow.exceptions import DagflowError
from dagflow.sensors.base import BaseSensorOperator

if TYPE_CHECKING:
    from dagflow.context import Context


def parse_moment(value: Any, where: str) -> datetime:
    """A timezone-aware datetime from a datetime or an ISO 8601 string; a naive one is read as UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise DagflowError(f"{where}: target_time {value!r} is not an ISO 8601 date and time") from None
    else:
        raise DagflowError(f"{where}: target_time must be a datetime or a string, got {type(value).__name__}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class DateTimeSensor(BaseSensorOperator):
    """Succeeds once now is past ``target_time`` (templated: ``"{{ data_interval_end.add(hours=1) }}"``).

    Unlike TimeSensor, the moment is a full date and time, so a late run (a backfill) whose moment has
    passed does not wait at all. The sensor sleeps (or is rescheduled) until exactly that moment.
    """

    template_fields: ClassVar[Sequence[str]] = ("target_time",)

    def __init__(self, *, target_time: str | datetime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_time = target_time

    @property
    def _moment(self) -> datetime:
        return parse_moment(self.target_time, self._where())

    def poke(self, context: Context) -> bool:
        self.log.info("Checking if the time (%s) has come", self.target_time)
        return utcnow() > self._moment

    def poke_again_at(self, context: Context) -> datetime | None:
        return self._moment


class DateTimeSensorAsync(DateTimeSensor):
    """Airflow's deferrable DateTimeSensor: here the same sensor (use ``mode="reschedule"`` to free the
    worker while waiting)."""

    def __init__(
        self,
        *,
        start_from_trigger: bool = False,
        end_from_trigger: bool = False,
        trigger_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.start_from_trigger = start_from_trigger
        self.end_from_trigger = end_from_trigger
