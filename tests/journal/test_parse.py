"""What people type: amounts, times and durations, read the way a tired parent means them."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from letdown.errors import InvalidEntryError
from letdown.journal.parse import (
    FUTURE_SLACK,
    ML_PER_FL_OZ,
    format_amount,
    format_time,
    parse_amount_ml,
    parse_duration_s,
    parse_fever_c,
    parse_since,
    parse_time,
)
from letdown.journal.records import Units

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 28, 6, 40, tzinfo=UTC)
"""07:40 in Paris."""

# --- amounts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "volume_ml"),
    [
        ("120", 120.0),
        ("120ml", 120.0),
        ("120 mL", 120.0),
        ("120ML", 120.0),
        ("4oz", 4 * 29.5735),
        ("4 oz", 4 * 29.5735),
        ("4floz", 4 * 29.5735),
        ("4 fl oz", 4 * 29.5735),
        ("4 fl. oz", 4 * 29.5735),
        ("2.5oz", 2.5 * 29.5735),
        ("2,5 oz", 2.5 * 29.5735),
        (" 60 ", 60.0),
    ],
)
def test_amounts_in_millilitres_or_fluid_ounces(text: str, volume_ml: float) -> None:
    assert parse_amount_ml(text, Units.ML) == pytest.approx(volume_ml)


def test_a_bare_number_is_in_the_households_units() -> None:
    assert parse_amount_ml("4", Units.FL_OZ) == pytest.approx(4 * ML_PER_FL_OZ)
    assert parse_amount_ml("4", Units.ML) == 4.0
    assert parse_amount_ml("120ml", Units.FL_OZ) == 120.0


def test_the_fluid_ounce_is_the_exact_us_one_not_the_label_rounding() -> None:
    assert ML_PER_FL_OZ == 29.5735
    assert parse_amount_ml("1oz", Units.ML) != 30.0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-5", "cannot be negative"),
        ("-5ml", "cannot be negative"),
        ("0", "more than zero"),
        ("0oz", "more than zero"),
        ("nan", "not a finite number"),
        ("inf", "not a finite number"),
        ("-inf ml", "not a finite number"),
        ("lots", "not an amount"),
        ("5 l", "not an amount"),
        ("", "not an amount"),
        ("3000ml", "more than 2000 mL"),
    ],
)
def test_bad_amounts_name_the_text_and_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InvalidEntryError, match=problem) as caught:
        parse_amount_ml(text, Units.ML)
    assert repr(text) in str(caught.value)


def test_zero_where_nothing_came_is_allowed_when_asked() -> None:
    assert parse_amount_ml("0", Units.ML, allow_zero=True) == 0.0
    with pytest.raises(InvalidEntryError, match="negative"):
        parse_amount_ml("-1", Units.ML, allow_zero=True)


def test_amounts_are_shown_in_the_households_units() -> None:
    assert format_amount(120, Units.ML) == "120 mL"
    assert format_amount(120.04, Units.ML) == "120 mL"
    assert format_amount(59.5, Units.ML) == "59.5 mL"
    assert format_amount(120, Units.FL_OZ) == "4.1 fl oz"
    assert format_amount(4 * ML_PER_FL_OZ, Units.FL_OZ) == "4 fl oz"
    assert format_amount(10, Units.FL_OZ) == "0.34 fl oz"
    assert format_amount(0, Units.FL_OZ) == "0 fl oz"


@given(st.floats(min_value=0.1, max_value=2000.0), st.sampled_from(list(Units)))
def test_a_shown_amount_reads_back_within_its_rounding(volume_ml: float, units: Units) -> None:
    shown = format_amount(volume_ml, units)
    step_ml = 0.05 * (ML_PER_FL_OZ if units is Units.FL_OZ else 1.0)
    back = parse_amount_ml(shown, Units.ML, allow_zero=True)
    assert abs(back - volume_ml) <= step_ml + 1e-9


@given(st.floats(min_value=0.001, max_value=2000.0, allow_nan=False))
def test_any_plain_millilitre_figure_reads_as_itself(volume_ml: float) -> None:
    text = f"{volume_ml:f}ml"
    assert parse_amount_ml(text, Units.FL_OZ) == pytest.approx(volume_ml, rel=1e-6, abs=1e-6)


@given(st.text(max_size=12))
def test_any_text_is_an_amount_or_a_clear_error(text: str) -> None:
    try:
        volume_ml = parse_amount_ml(text, Units.ML)
    except InvalidEntryError as exc:
        assert "amount" in str(exc)
    else:
        assert math.isfinite(volume_ml)
        assert 0 < volume_ml <= 2000


# --- times --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        ("-20m", NOW - timedelta(minutes=20)),
        ("-1h30m", NOW - timedelta(hours=1, minutes=30)),
        ("-90s", NOW - timedelta(seconds=90)),
        ("-2d", NOW - timedelta(days=2)),
        ("07:30", datetime(2026, 11, 28, 6, 30, tzinfo=UTC)),
        ("7:30", datetime(2026, 11, 28, 6, 30, tzinfo=UTC)),
        ("07:44", datetime(2026, 11, 28, 6, 44, tzinfo=UTC)),
        ("07:46", datetime(2026, 11, 27, 6, 46, tzinfo=UTC)),
        ("23:45", datetime(2026, 11, 27, 22, 45, tzinfo=UTC)),
        ("7:30am", datetime(2026, 11, 28, 6, 30, tzinfo=UTC)),
        ("7:30pm", datetime(2026, 11, 27, 18, 30, tzinfo=UTC)),
        ("2026-11-28T07:30", datetime(2026, 11, 28, 6, 30, tzinfo=UTC)),
        ("2026-11-28 07:30", datetime(2026, 11, 28, 6, 30, tzinfo=UTC)),
        ("2026-11-28T06:30Z", datetime(2026, 11, 28, 6, 30, tzinfo=UTC)),
        ("2026-11-28T01:30-05:00", datetime(2026, 11, 28, 6, 30, tzinfo=UTC)),
    ],
)
def test_times_people_type(text: str, expected: datetime) -> None:
    at = parse_time(text, PARIS, NOW)
    assert at == expected
    assert at.tzinfo is UTC


def test_a_time_typed_just_after_midnight_means_yesterday_evening() -> None:
    half_past_midnight = datetime(2026, 11, 28, 0, 30, tzinfo=PARIS)
    at = parse_time("23:45", PARIS, half_past_midnight)
    assert at.astimezone(PARIS) == datetime(2026, 11, 27, 23, 45, tzinfo=PARIS)


@pytest.mark.parametrize("text", ["07:50", "-0m", "2026-11-28T07:45"])
def test_a_few_minutes_ahead_is_still_now(text: str) -> None:
    now = datetime(2026, 11, 28, 7, 45, tzinfo=PARIS)
    assert parse_time(text, PARIS, now) <= now + FUTURE_SLACK


@pytest.mark.parametrize("text", ["2026-11-28T08:00", "2026-11-29T07:30", "2027-01-01 00:00"])
def test_the_future_is_refused(text: str) -> None:
    with pytest.raises(InvalidEntryError, match="in the future"):
        parse_time(text, PARIS, NOW)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tomorrow", "try now, -20m"),
        ("yesterday at 7", "try now, -20m"),
        ("", "try now, -20m"),
        ("25:00", "not a time of day"),
        ("07:61", "not a time of day"),
        ("13:00pm", "1 to 12"),
        ("2026-11-28", "give the time of day too"),
        ("-20x", "try now, -20m"),
    ],
)
def test_unreadable_times_say_what_works(text: str, problem: str) -> None:
    with pytest.raises(InvalidEntryError, match=problem) as caught:
        parse_time(text, PARIS, NOW)
    assert repr(text) in str(caught.value)


def test_a_local_time_the_clocks_skipped_is_refused() -> None:
    after_spring_forward = datetime(2026, 3, 29, 12, 0, tzinfo=PARIS)
    with pytest.raises(InvalidEntryError, match="skipped"):
        parse_time("2026-03-29T02:30", PARIS, after_spring_forward)
    at = parse_time("02:30", PARIS, after_spring_forward)
    assert at.astimezone(PARIS) == datetime(2026, 3, 28, 2, 30, tzinfo=PARIS)


def test_a_clock_time_that_happened_twice_is_the_latest() -> None:
    after_fall_back = datetime(2026, 10, 25, 4, 0, tzinfo=PARIS)
    at = parse_time("02:30", PARIS, after_fall_back)
    assert at == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_now_must_carry_its_offset() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_time("now", PARIS, datetime(2026, 11, 28, 7, 0))


aware_nows = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)


@given(aware_nows, st.integers(min_value=0, max_value=60 * 24 * 30))
def test_minutes_ago_is_exactly_that(now: datetime, minutes: int) -> None:
    assert parse_time(f"-{minutes}m", PARIS, now) == now - timedelta(minutes=minutes)


@given(
    aware_nows,
    st.integers(min_value=0, max_value=23),
    st.integers(min_value=0, max_value=59),
    st.sampled_from(["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "UTC"]),
)
def test_a_clock_time_is_the_latest_such_time_not_in_the_future(
    now: datetime, hour: int, minute: int, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    try:
        at = parse_time(f"{hour:02d}:{minute:02d}", zone, now)
    except InvalidEntryError:
        return
    assert at <= now + FUTURE_SLACK
    assert at > now + FUTURE_SLACK - timedelta(hours=49)
    local = at.astimezone(zone)
    assert (local.hour, local.minute) == (hour, minute)


def test_times_are_shown_local_to_the_minute() -> None:
    assert format_time(NOW, PARIS) == "2026-11-28 07:40"
    assert format_time(NOW, ZoneInfo("America/New_York")) == "2026-11-28 01:40"


# --- durations and spans ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10m", 600.0),
        ("10min", 600.0),
        ("1h5m", 3900.0),
        ("1h 5m", 3900.0),
        ("90s", 90.0),
        ("10", 600.0),
        ("2.5", 150.0),
        ("0", 0.0),
        ("1d", 86400.0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-10m", "cannot be negative"),
        ("-5", "zero or more"),
        ("nan", "zero or more"),
        ("ten", "not a duration"),
        ("10x", "not a duration"),
        ("", "not a duration"),
    ],
)
def test_bad_durations(text: str, problem: str) -> None:
    with pytest.raises(InvalidEntryError, match=problem):
        parse_duration_s(text)


@given(st.integers(0, 9), st.integers(0, 59), st.integers(0, 59))
def test_hours_minutes_and_seconds_add_up(hours: int, minutes: int, seconds: int) -> None:
    text = f"{hours}h{minutes}m{seconds}s"
    assert parse_duration_s(text) == hours * 3600 + minutes * 60 + seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("-7d", NOW - timedelta(days=7)),
        ("24h", NOW - timedelta(hours=24)),
        ("07:30", datetime(2026, 11, 28, 6, 30, tzinfo=UTC)),
        ("2026-11-01T00:00", datetime(2026, 10, 31, 23, 0, tzinfo=UTC)),
    ],
)
def test_since(text: str, expected: datetime) -> None:
    assert parse_since(text, PARIS, NOW) == expected


# --- fever --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "celsius"),
    [("38.4", 38.4), ("38.4C", 38.4), ("38,4 °C", 38.4), ("101.1F", 38.388), ("101.1", 38.388)],
)
def test_fever_in_celsius_or_fahrenheit(text: str, celsius: float) -> None:
    assert parse_fever_c(text) == pytest.approx(celsius, abs=0.001)


@pytest.mark.parametrize("text", ["hot", "nan", "38.4K"])
def test_bad_fevers(text: str) -> None:
    with pytest.raises(InvalidEntryError, match="fever"):
        parse_fever_c(text)
