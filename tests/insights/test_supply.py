"""The per-side supply model, the forecast bench and the plan, on made-up journals.

The journals come from ``letdown.bench.journals`` (a truth that is not the model's own:
a daily rhythm, day-to-day wander, random shares, rounding, unlogged sessions).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from letdown.bench.forecast import run_forecast
from letdown.bench.journals import KINDS, make_journal
from letdown.cli import app
from letdown.insights.plan import MAX_GAP_H, MIN_REMOVALS, _gaps, propose_plan, what_if
from letdown.insights.supply import (
    Removal,
    Schedule,
    fit_side,
    forecast,
    removals,
    yield_at,
)
from letdown.journal.records import PumpSession, Record, parse_record

START = datetime(2026, 11, 1, tzinfo=UTC)


def _records(kind: str, seed: int = 1) -> list[Record]:
    document = make_journal(KINDS[kind], seed)
    return [parse_record(entry["record"]) for entry in document["entries"]]


def _regular(days: int, every_h: float, rate_ml_h: float, share: float = 0.65) -> list[Removal]:
    """Pumpings about every ``every_h`` (gaps alternately shorter and longer) of what a
    compartment with this rate and a 200 mL capacity gives, rounded to 5 mL."""
    capacity = 200.0
    level = 100.0
    found = []
    at = START
    count = 0
    while at < START + timedelta(days=days):
        gap_h = every_h * (0.6 if count % 2 else 1.4)
        at += timedelta(hours=gap_h)
        level = capacity - (capacity - level) * math.exp(-rate_ml_h * gap_h / capacity)
        taken = share * level
        level -= taken
        found.append(Removal(at, True, round(taken / 5) * 5.0))
        count += 1
    return found


def test_the_fit_finds_a_known_rate_and_a_longer_gap_gives_more() -> None:
    history = _regular(days=14, every_h=4.0, rate_ml_h=30.0)
    until = history[-1].at + timedelta(minutes=1)
    fit = fit_side("left", history, until)
    assert fit is not None
    assert fit.rate_ml_h.low <= 30.0 * 1.2 and fit.rate_ml_h.high >= 30.0 / 1.2
    soon = yield_at(fit, until + timedelta(hours=2))
    later = yield_at(fit, until + timedelta(hours=6))
    assert 0 < soon.volume_ml < later.volume_ml <= fit.capacity_ml.value
    assert soon.low_ml <= soon.volume_ml <= soon.high_ml


def test_too_few_sessions_give_no_fit_rather_than_a_guess() -> None:
    history = _regular(days=1, every_h=8.0, rate_ml_h=20.0)
    assert fit_side("left", history, history[-1].at + timedelta(hours=1)) is None


@pytest.mark.parametrize(("kind", "seed"), [("frequent", 1), ("pregnant", 1), ("patchy", 2)])
def test_the_model_beats_both_baselines_on_held_out_days(kind: str, seed: int) -> None:
    figures = run_forecast(_records(kind, seed), "Europe/Paris", holdout_days=7)
    mae = figures["mae_ml"]
    assert mae["model"] <= 0.85 * min(mae["last_week_mean"], mae["time_of_day_mean"])
    assert 0.5 <= figures["coverage_80"] <= 1.0
    assert figures["sessions"] > 5


def test_nursing_feeds_are_removals_that_lower_the_next_pumping() -> None:
    history = _regular(days=10, every_h=4.0, rate_ml_h=25.0)
    until = history[-1].at + timedelta(minutes=1)
    fit = fit_side("left", history, until)
    assert fit is not None
    at = until + timedelta(hours=4)
    alone = forecast(fit, [Removal(at, True)])[0]
    after_feed = forecast(fit, [Removal(at - timedelta(hours=1), False), Removal(at, True)])[0]
    assert after_feed.volume_ml < 0.7 * alone.volume_ml


def test_one_more_session_adds_milk_and_dropping_one_takes_some_away() -> None:
    history = _regular(days=10, every_h=6.0, rate_ml_h=25.0)
    fit = fit_side("left", history, history[-1].at + timedelta(minutes=1))
    assert fit is not None
    usual = Schedule(((6.0, True), (12.0, True), (18.0, True), (0.0, True)))
    more = Schedule((*usual.hours, (15.0, True)))
    fewer = Schedule(usual.hours[:3])
    gain = what_if(fit, usual, more)
    loss = what_if(fit, usual, fewer)
    assert gain.change_ml_day.low > 0 and "assumption" in gain.why
    assert loss.change_ml_day.high < 0
    assert "Dewey" in gain.source


def test_the_plan_keeps_gaps_under_seven_hours_and_five_a_day() -> None:
    plan = propose_plan([7.0, 19.0], fixed=[12.5], lump=False)
    assert len(plan.hours) >= MIN_REMOVALS
    assert max(length for _, length in _gaps(plan.hours)) <= MAX_GAP_H
    assert {7.0, 19.0, 12.5} <= set(plan.hours)
    assert "Lai" in plan.source


def test_the_plan_adds_nothing_while_a_lump_is_noted() -> None:
    plan = propose_plan([7.0, 19.0], fixed=[], lump=True)
    assert plan.added == () and "ABM #36" in plan.why


def test_removals_take_each_side_of_a_session() -> None:
    record = PumpSession(
        start_at=START,
        end_at=START + timedelta(minutes=15),
        sides={"left": {"volume_ml": 40.0}},  # type: ignore[dict-item]
    )
    found = removals([record])
    assert [r.volume_ml for r in found["left"]] == [40.0] and found["right"] == []


def test_bench_forecast_writes_the_interface_keys(tmp_path: Path) -> None:
    journal = tmp_path / "steady.json"
    out = tmp_path / "out.json"
    journal.write_text(json.dumps(make_journal(KINDS["steady"], 3)), encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["bench", "forecast", "--journal", str(journal), "--holdout-days", "7", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert set(figures) == {"sessions", "mae_ml", "coverage_80"}
    assert set(figures["mae_ml"]) == {"model", "last_week_mean", "time_of_day_mean"}


def test_bench_forecast_says_what_is_wrong_with_a_bad_file(tmp_path: Path) -> None:
    journal = tmp_path / "bad.json"
    journal.write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(app, ["bench", "forecast", "--journal", str(journal)])
    assert result.exit_code == 2
    assert "not a letdown export json file" in result.output
