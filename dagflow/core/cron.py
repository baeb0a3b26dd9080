"""Cron and delta arithmetic in a timezone, with Airflow's rules for daylight-saving changes.

croniter works on naive wall-clock times, so a cron expression is evaluated on the local wall clock
and the result is placed back in the timezone by these rules (Airflow's, so that a DAG ported from
Airflow runs at the same instants):

* An expression that fires at least once every hour (its hour field is ``*``) advances in absolute
  time: the step croniter takes on the wall clock is added to the current *instant*. A repeated
  local hour therefore runs twice and a skipped local hour not at all, with no run doubled or lost.
* Any other expression names wall-clock times. A time that happens twice (the fall-back hour) is
  taken at its *second* occurrence; a time that does not exist (the spring-forward gap) is moved
  forward by the length of the gap (02:30 on a day clocks jump from 02:00 to 03:00 becomes 03:30).
  The local time a step starts from is read without its fold, as Airflow's ``make_naive`` does.
* A ``timedelta`` (or ``relativedelta``) schedule is added to the instant in UTC: ``timedelta(days=1)``
  is always 24 hours, and a month is a calendar month of UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def wall_clock(moment: datetime, timezone: tzinfo) -> datetime:
    """``moment``'s local time in ``timezone``, naive and without its fold (Airflow's make_naive)."""
    local = moment.astimezone(timezone)
    return local.replace(tzinfo=None, fold=0)


def localize(naive: datetime, timezone: tzinfo) -> datetime:
    """The instant (in UTC) of a local wall-clock time, resolving DST changes as pendulum does.

    A repeated time is the later instant; a time inside a gap moves forward by the gap's length.
    """
    before = naive.replace(tzinfo=timezone, fold=0).utcoffset() or timedelta(0)
    after = naive.replace(tzinfo=timezone, fold=1).utcoffset() or timedelta(0)
    if after > before:  # skipped wall-clock time
        naive = naive + (after - before)
    return naive.replace(tzinfo=timezone, fold=1).astimezone(UTC)


def expand_preset(expression: str) -> str:
    return PRESETS.get(expression, expression)


def covers_every_hour(expression: str) -> bool:
    """Whether the expression fires in every hour: croniter normalises a full hour field to ``*``."""
    from croniter import croniter

    expanded = croniter(expression).expanded
    return len(expanded) > 1 and expanded[1] == ["*"]


class Cron:
    """A cron expression evaluated in a timezone; every method takes and returns aware datetimes (UTC)."""

    def __init__(self, expression: str, timezone: tzinfo):
        self.expression = expand_preset(expression)
        self.timezone = timezone
        self.every_hour = covers_every_hour(self.expression)

    def _step(self, current: datetime, forward: bool) -> datetime:
        from croniter import croniter

        naive = wall_clock(current, self.timezone)
        it = croniter(self.expression, naive)
        step: datetime = it.get_next(datetime) if forward else it.get_prev(datetime)
        if not self.every_hour:
            return localize(step, self.timezone)
        return current.astimezone(UTC) + (step - naive)

    def next_after(self, current: datetime) -> datetime:
        """The first time the expression fires after ``current``."""
        return self._step(current, forward=True)

    def previous_before(self, current: datetime) -> datetime:
        """The last time the expression fired before ``current``."""
        return self._step(current, forward=False)

    def align_to_next(self, current: datetime) -> datetime:
        """``current`` if it is a fire time (stepping back from the next one lands on it), else the next."""
        current = current.astimezone(UTC)
        following = self.next_after(current)
        return current if self.previous_before(following) == current else following

    def align_to_previous(self, current: datetime) -> datetime:
        """``current`` if it is a fire time (stepping on from the previous one lands on it), else the last."""
        current = current.astimezone(UTC)
        previous = self.previous_before(current)
        return current if self.next_after(previous) == current else previous


def calendar_part(delta: Any) -> Any:
    """The years and months of a pendulum ``Duration`` as a relativedelta (they are calendar units)."""
    years, months = getattr(delta, "years", 0), getattr(delta, "months", 0)
    if not (years or months):
        return None
    from dateutil.relativedelta import relativedelta

    days = getattr(delta, "remaining_days", 0) + 7 * getattr(delta, "weeks", 0)
    seconds = getattr(delta, "remaining_seconds", 0)
    micros = getattr(delta, "microseconds", 0)
    rest = timedelta(days=days, seconds=seconds, microseconds=micros)
    return relativedelta(years=years, months=months) + rest


def shift(moment: datetime, delta: Any, sign: int = 1) -> datetime:
    """``moment`` plus (or minus) a timedelta/relativedelta, computed in UTC as Airflow does."""
    utc = moment.astimezone(UTC)
    calendar = calendar_part(delta)
    if calendar is not None:
        delta = calendar
    elif isinstance(delta, timedelta):
        delta = timedelta(seconds=delta.total_seconds())  # a plain, absolute amount of time
    result: datetime = utc + delta if sign > 0 else utc - delta
    return result.astimezone(UTC)


def delta_seconds(delta: Any) -> float:
    """A delta's length in seconds, a month counting 30 days and a year 365 (Airflow's rounding)."""
    if isinstance(delta, timedelta):
        return delta.total_seconds()
    days = delta.years * 365 + delta.months * 30 + delta.days
    return float(days * 86400 + delta.hours * 3600 + delta.minutes * 60 + delta.seconds)


def is_positive(delta: Any) -> bool:
    now = datetime(2000, 1, 1, tzinfo=UTC)
    return bool(shift(now, delta) > now)
