"""Pump sessions written with a total only (no sides, as Baby Buddy keeps them): counted
in every figure that needs no side, and named where a figure is per side."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from letdown import cli
from letdown.cli import _common
from letdown.insights.flags import red_flags
from letdown.insights.report import as_json, build
from letdown.insights.supply import daily, removals, yield_at
from letdown.journal import HouseholdInfo, Journal, MemberInfo, Role
from letdown.journal.records import PumpSession, Record, validate

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _total(hours_ago: float, total_ml: float) -> PumpSession:
    at = NOW - timedelta(hours=hours_ago)
    return validate(
        PumpSession,
        {"start_at": at, "end_at": at + timedelta(minutes=15), "total_ml": total_ml},
    )


def _sided(hours_ago: float, left_ml: float, right_ml: float) -> PumpSession:
    at = NOW - timedelta(hours=hours_ago)
    return validate(
        PumpSession,
        {
            "start_at": at,
            "end_at": at + timedelta(minutes=15),
            "sides": {"left": {"volume_ml": left_ml}, "right": {"volume_ml": right_ml}},
        },
    )


def _every(hours: float, days: float, ml: float, sided: bool = False) -> list[Record]:
    """A session every ``hours`` over the last ``days``, the first half an hour ago."""
    count = int(days * 24 / hours)
    if sided:
        return [_sided(0.5 + i * hours, ml / 2, ml / 2) for i in range(count)]
    return [_total(0.5 + i * hours, ml) for i in range(count)]


def _insights(records: list[Record]) -> dict[str, object]:
    found = build(records, pregnancies=[], children=[], bags=[], time_zone="UTC", now=NOW)
    return as_json(found)


def test_a_total_only_session_is_a_removal_from_both_sides_of_unknown_size() -> None:
    found = removals([_total(1, 120)])
    for side in ("left", "right"):
        assert [(r.pumped, r.volume_ml, r.total_only) for r in found[side]] == [(True, None, True)]


def test_a_household_of_totals_gets_its_daily_milk_and_trend_and_no_made_up_sides() -> None:
    # 120 mL every 4 h for the last week (720 mL a day), 150 mL the week before (900).
    records = [*_every(4, 7, 120), *[_total(7 * 24 + 0.5 + i * 4, 150) for i in range(42)]]
    supply = _insights(records)["supply"]
    assert isinstance(supply, dict)
    both = supply["both"]
    assert both["ml_day"] == 720.0 and both["week_before_ml_day"] == 900.0
    assert both["change_pct"] == -20.0
    assert both["sessions_day"] == 6.0
    assert both["pumped_sessions"] == 42 and both["total_only_sessions"] == 42
    for side in ("left", "right"):
        assert "rate_ml_h" not in supply[side]  # no side's volume to fit on
        assert supply[side]["total_only_sessions"] == 84
        assert "total only" in supply[side]["total_only_note"]


def test_sided_and_total_only_sessions_add_up_in_the_daily_milk() -> None:
    records = [*_every(6, 3, 100, sided=True), _total(2, 130)]
    found = daily(records, NOW)
    # 12 sided sessions of 100 mL and one of 130 mL, over the 3 days the journal covers
    # (from 66.5 h ago, and a usual gap of 5.5 h before its first session).
    assert found.ml_day == pytest.approx((12 * 100 + 130) / 3)
    assert (found.sessions, found.total_only) == (13, 1)
    assert found.before_ml_day is None and found.change_pct is None  # no week before


def test_a_total_only_session_just_now_lowers_the_next_forecast_on_each_side() -> None:
    history = _every(4, 14, 80, sided=True)[1:]  # the last sided one 4.5 h ago
    alone = build(history, pregnancies=[], children=[], bags=[], time_zone="UTC", now=NOW)
    emptied = build(
        [*history, _total(0.25, 90)],
        pregnancies=[],
        children=[],
        bags=[],
        time_zone="UTC",
        now=NOW,
    )
    for side in ("left", "right"):
        before, after = alone.sides[side].fit, emptied.sides[side].fit
        assert before is not None and after is not None
        in_an_hour = NOW + timedelta(hours=1)
        assert yield_at(after, in_an_hour).volume_ml < 0.7 * yield_at(before, in_an_hour).volume_ml
        assert emptied.sides[side].total_only_sessions == 1
        assert alone.sides[side].total_only_note is None


def _drop(recent_ml: float, recent_every_h: float) -> list[Record]:
    recent = [_total(1 + i * recent_every_h, recent_ml) for i in range(int(72 / recent_every_h))]
    return [*recent, *[_total(80 + i * 6, 120) for i in range(28)]]


def test_a_drop_in_total_only_sessions_is_flagged_for_both_sides() -> None:
    flags = red_flags(_drop(60, 6), [], NOW)
    assert [(f.kind, f.side) for f in flags] == [("supply_drop", None)]
    assert "both sides" in flags[0].advice and "total only" in flags[0].why
    assert red_flags(_drop(60, 12), [], NOW) == []  # half the removals: explained
    assert red_flags(_drop(110, 6), [], NOW) == []


@pytest.fixture
def totals_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A household that writes "pumped 120 mL" and nothing per side, for two weeks."""
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    with Journal.open(url) as journal:
        book = journal.create_household(
            HouseholdInfo(name="Home"), MemberInfo(name="Alex", role=Role.NURSING_PARENT)
        )
        for record in _every(4, 14, 120):
            book.add(record)
    monkeypatch.setattr(_common, "_now", lambda: NOW)
    monkeypatch.setattr(_common, "console", Console(width=300))
    monkeypatch.delenv("LETDOWN_DB", raising=False)
    return url


def test_letdown_insights_says_the_daily_milk_and_why_the_sides_have_none(totals_db: str) -> None:
    result = CliRunner().invoke(cli.app, ["insights", "--db", totals_db])
    assert result.exit_code == 0, result.output
    assert "both sides: about 720 mL a day pumped over the last 7 days" in result.output
    assert "(720 mL the week before, +0 %)" in result.output
    assert "42 of them with a total only (counted here, not per side)" in result.output
    left = next(line for line in result.output.splitlines() if line.startswith("left"))
    assert "too few pump sessions" in left and "84 pump sessions with a total only" in left
    as_json = CliRunner().invoke(cli.app, ["insights", "--json", "--db", totals_db])
    assert json.loads(as_json.output)["supply"]["both"]["ml_day"] == 720.0


def test_what_if_says_why_a_household_of_totals_gets_no_side_figure(totals_db: str) -> None:
    result = CliRunner().invoke(cli.app, ["what-if", "--add", "15:00", "--db", totals_db])
    assert result.exit_code == 0, result.output
    assert "left breast: too few pump sessions with volumes to estimate (84 with a total" in (
        result.output
    )
