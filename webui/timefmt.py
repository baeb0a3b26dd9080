"""How pages write times and durations: one timestamp format, durations in words.

A timestamp is rendered as ``<time datetime="ISO">2024-01-02 03:04:05 UTC</time>``: readable without
JavaScript, and ``dagflow-ui.js`` rewrites the text in the browser's zone when the user asks for it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape

FORMAT = "%Y-%m-%d %H:%M:%S UTC"


def _as_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def when_text(value: datetime | str | None) -> str:
    """``2024-01-02 03:04:05 UTC``: seconds, no microseconds, always UTC (empty for no time)."""
    moment = _as_datetime(value)
    return moment.astimezone(UTC).strftime(FORMAT) if moment else ""


def when(value: datetime | str | None) -> Markup:
    """A ``<time>`` element for a timestamp (empty markup for no time)."""
    moment = _as_datetime(value)
    if moment is None:
        return Markup("")
    iso = moment.astimezone(UTC).isoformat(timespec="seconds")
    return Markup('<time datetime="{}">{}</time>').format(iso, escape(when_text(moment)))


#: The units a duration is written in, largest first.
UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def duration_words(seconds: float | None) -> str:
    """``2 min 5 s``, ``1 h 3 min``, ``3 d 4 h``, ``0.25 s``, ``40 ms``: the two largest units that matter."""
    if seconds is None:
        return ""
    if seconds < 0:
        seconds = 0
    if seconds == 0:
        return "0 s"
    if seconds < 0.1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 10:
        text = f"{seconds:.2f}" if seconds < 1 else f"{seconds:.1f}"
        text = text.rstrip("0").rstrip(".")
        return f"{text or '0'} s"
    whole = round(seconds)
    parts: list[tuple[int, str]] = []
    for name, size in UNITS:
        amount, whole = divmod(whole, size)
        if amount or parts:
            parts.append((amount, name))
    shown = parts[:2]
    return " ".join(f"{amount} {name}" for amount, name in shown if amount or len(shown) == 1)
