"""What people type at the command line, read into the journal's units.

Amounts become millilitres, times become aware UTC datetimes, durations seconds. Every
function is pure (the time zone and "now" are passed in) and says, on bad input, which
text it could not read and what would have worked.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from letdown.errors import InvalidEntryError
from letdown.journal.records import MAX_VOLUME_ML, Units

ML_PER_FL_OZ = 29.5735
"""One US customary fluid ounce in millilitres (29.5735295625 exactly). Nutrition labels
round it to 30 mL (21 CFR 101.9(b)(5)(viii)); the journal keeps the exact figure."""

FUTURE_SLACK = timedelta(minutes=5)
"""A time this far ahead of now is still accepted: clocks and typing run a little apart."""

TIME_EXAMPLES = "now, -20m, -1h30m, 07:30, 2026-11-28T07:30 or 2026-11-28T07:30+01:00"

_NUMBER = r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+|nan|inf(?:inity)?)"
_AMOUNT = re.compile(
    rf"^(?P<number>{_NUMBER})\s*(?P<unit>ml|millilitres?|milliliters?|(?:fl\.?\s*)?oz|floz)?$",
    re.IGNORECASE,
)
_SPAN_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(min|sec|d|h|m|s)", re.IGNORECASE)
_SPAN = re.compile(r"^(?:\d+(?:\.\d+)?\s*(?:min|sec|d|h|m|s)\s*)+$", re.IGNORECASE)
_SPAN_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "min": 60.0, "s": 1.0, "sec": 1.0}
_CLOCK = re.compile(
    r"^(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?\s*(?P<half>am|pm)?$",
    re.IGNORECASE,
)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TEMPERATURE = re.compile(rf"^(?P<number>{_NUMBER})\s*°?\s*(?P<unit>c|f)?$", re.IGNORECASE)


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def parse_amount_ml(text: str, default_units: Units, *, allow_zero: bool = False) -> float:
    """``120``, ``120ml``, ``4 oz``, ``4 fl oz``, ``2.5oz`` in millilitres.

    A bare number is in the household's units, so a parent who thinks in ounces types
    what is written on the bottle.
    """
    match = _AMOUNT.match(text.strip())
    if match is None:
        raise InvalidEntryError(f"amount {text!r}: not an amount (try 120, 120ml, 4oz or 4 fl oz)")
    value = _number(match["number"])
    if not math.isfinite(value):
        raise InvalidEntryError(f"amount {text!r}: not a finite number")
    if value < 0:
        raise InvalidEntryError(f"amount {text!r}: an amount cannot be negative")
    if value == 0 and not allow_zero:
        raise InvalidEntryError(f"amount {text!r}: must be more than zero")
    unit = (match["unit"] or "").lower()
    if unit:
        in_ounces = unit.endswith("oz")
    else:
        in_ounces = default_units is Units.FL_OZ
    volume_ml = value * ML_PER_FL_OZ if in_ounces else value
    if volume_ml > MAX_VOLUME_ML:
        raise InvalidEntryError(
            f"amount {text!r}: more than {MAX_VOLUME_ML:g} mL, surely a typing mistake"
        )
    return volume_ml


def format_amount(volume_ml: float, units: Units) -> str:
    """``120 mL`` or ``4.1 fl oz``: whole figures lose their ``.0``; under an ounce, two
    decimals, so a small amount does not read as none."""
    if units is Units.FL_OZ:
        ounces = volume_ml / ML_PER_FL_OZ
        return f"{_trim(ounces, 2 if ounces < 0.95 else 1)} fl oz"
    return f"{_trim(volume_ml, 1)} mL"


def _trim(value: float, decimals: int) -> str:
    shown = f"{value:.{decimals}f}"
    return shown.rstrip("0").rstrip(".") if "." in shown else shown


def _span_s(text: str) -> float | None:
    """``1h30m`` in seconds, or None if it is not a span."""
    compact = text.strip()
    if not _SPAN.match(compact):
        return None
    return sum(
        float(amount) * _SPAN_SECONDS[unit.lower()] for amount, unit in _SPAN_PART.findall(compact)
    )


def parse_duration_s(text: str) -> float:
    """``10m``, ``1h5m``, ``90s`` or a bare number of minutes, in seconds."""
    stripped = text.strip()
    try:
        minutes = _number(stripped)
    except ValueError:
        seconds = _span_s(stripped)
    else:
        if not math.isfinite(minutes) or minutes < 0:
            raise InvalidEntryError(f"duration {text!r}: must be zero or more minutes")
        seconds = minutes * 60.0
    if seconds is None:
        if stripped.startswith("-"):
            raise InvalidEntryError(f"duration {text!r}: a duration cannot be negative")
        raise InvalidEntryError(f"duration {text!r}: not a duration (try 10m, 1h5m, 90s or 10)")
    return seconds


def parse_time(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """When something happened, as an aware UTC datetime.

    ``now``; ``-20m`` / ``-1h30m`` / ``-2d`` before now; ``07:30`` the most recent such
    local time (so ``23:45`` typed just after midnight is yesterday evening); ISO with or
    without an offset (without one it is local to ``zone``). More than a few minutes
    ahead of ``now`` is refused: nothing is written down before it happens.
    """
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered == "now":
        at = now
    elif lowered.startswith("-") and (span := _span_s(lowered[1:])) is not None:
        at = now - timedelta(seconds=span)
    elif match := _CLOCK.match(stripped):
        at = _recent_clock(text, match, zone, now)
    else:
        at = _iso(text, zone)
    at = at.astimezone(UTC)
    if at > now + FUTURE_SLACK:
        raise InvalidEntryError(
            f"time {text!r}: {format_time(at, zone)} is in the future (now is "
            f"{format_time(now, zone)})"
        )
    return at


def _recent_clock(text: str, match: re.Match[str], zone: ZoneInfo, now: datetime) -> datetime:
    hour, minute = int(match["hour"]), int(match["minute"])
    second = int(match["second"] or 0)
    if match["half"]:
        if not 1 <= hour <= 12:
            raise InvalidEntryError(f"time {text!r}: with am/pm the hour is 1 to 12")
        hour = hour % 12 + (12 if match["half"].lower() == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise InvalidEntryError(f"time {text!r}: not a time of day (00:00 to 23:59)")
    today = now.astimezone(zone).date()
    latest = now + FUTURE_SLACK
    candidates = [
        at
        for day in (today, today - timedelta(days=1), today - timedelta(days=2))
        for fold in (0, 1)
        if (at := _local(day, time(hour, minute, second, fold=fold), zone)) is not None
        and at <= latest
    ]
    if not candidates:
        raise InvalidEntryError(f"time {text!r}: that local time did not exist lately")
    return max(candidates)


def _local(day: date, clock: time, zone: tzinfo) -> datetime | None:
    """The time in UTC, or None where the clocks skipped it (a spring-forward gap).

    In UTC because times in one zone compare by their wall clock, fold ignored, so the
    two 02:30s of an autumn night would compare equal.
    """
    at = datetime.combine(day, clock, tzinfo=zone)
    utc = at.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None, fold=0) != at.replace(tzinfo=None, fold=0):
        return None
    return utc


def _iso(text: str, zone: ZoneInfo) -> datetime:
    stripped = text.strip()
    if _DATE_ONLY.match(stripped):
        raise InvalidEntryError(f"time {text!r}: give the time of day too, as in {stripped}T07:30")
    try:
        at = datetime.fromisoformat(stripped)
    except ValueError:
        raise InvalidEntryError(
            f"time {text!r}: not a time I can read (try {TIME_EXAMPLES})"
        ) from None
    if at.tzinfo is not None:
        return at
    local = _local(at.date(), at.time(), zone)
    if local is None:
        raise InvalidEntryError(
            f"time {text!r}: the clocks skipped that hour in {zone.key} (give an offset)"
        )
    return local


def format_time(at: datetime, zone: ZoneInfo) -> str:
    """A local date and time, to the minute."""
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def parse_since(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """The start of a span to look back over: ``7d``, ``24h``, ``-7d`` or any time."""
    stripped = text.strip()
    span = _span_s(stripped.removeprefix("-"))
    if span is not None:
        try:
            return (now - timedelta(seconds=span)).astimezone(UTC)
        except OverflowError:
            raise InvalidEntryError(f"since {text!r}: too far back") from None
    return parse_time(stripped, zone, now)


def parse_fever_c(text: str) -> float:
    """A body temperature in °C: ``38.4``, ``38.4C`` or ``101.1F``.

    A bare figure above 45 can only be Fahrenheit, so it is read as such.
    """
    match = _TEMPERATURE.match(text.strip())
    if match is None:
        raise InvalidEntryError(f"fever {text!r}: not a temperature (try 38.4 or 101.1F)")
    value = _number(match["number"])
    if not math.isfinite(value):
        raise InvalidEntryError(f"fever {text!r}: not a finite number")
    unit = (match["unit"] or "").lower()
    if unit == "f" or (not unit and value > 45):
        value = (value - 32.0) * 5.0 / 9.0
    return value


__all__ = [
    "FUTURE_SLACK",
    "ML_PER_FL_OZ",
    "format_amount",
    "format_time",
    "parse_amount_ml",
    "parse_duration_s",
    "parse_fever_c",
    "parse_since",
    "parse_time",
]
