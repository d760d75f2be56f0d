"""Everything the insights say about a household now, in one value the CLI and app show.

``build`` takes the journal's records and what else it knows (pregnancies, children,
bags) and returns ``Insights``; ``as_json`` gives the keys scripts read
(``letdown insights --json``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from letdown.insights import flags as red
from letdown.insights import sources
from letdown.insights.plan import (
    Plan,
    WhatIf,
    add_session,
    next_reminder,
    propose_plan,
    usual_day,
    what_if,
)
from letdown.insights.stash import Coverage, StashBag, coverage
from letdown.insights.supply import (
    DAILY_DAYS,
    FIT_DAYS,
    Daily,
    Estimate,
    Prediction,
    Schedule,
    SideFit,
    daily,
    fit_side,
    removals,
    yield_at,
)
from letdown.journal.records import SIDE_NAMES, ChildInfo, PregnancyInfo, PumpSession, Record, Side

COMFORT_WEEKS = 4
"""The comfort ceiling trend looks at the last four weeks (letdown's choice)."""


@dataclass(frozen=True)
class SideInsight:
    side: Side
    fit: SideFit | None
    next_yield: Prediction | None
    one_more: WhatIf | None
    comfort_trend_mmhg_week: float | None
    pumped_sessions: int
    total_only_sessions: int = 0
    """Pump sessions of the fitted weeks that kept only their total: removals from this
    side, but no volume of it, so they cannot count in the side's own figures."""

    @property
    def total_only_note(self) -> str | None:
        """What the side's figures leave out, in words; None when nothing is left out."""
        if not self.total_only_sessions:
            return None
        count = self.total_only_sessions
        return (
            f"{count} pump session{'s' if count != 1 else ''} with a total only (no sides) "
            "count as removals from this side but not in its amounts"
        )


@dataclass(frozen=True)
class Insights:
    at: datetime
    flags: tuple[red.Flag, ...]
    sides: dict[Side, SideInsight]
    daily: Daily
    stash: Coverage
    plan: Plan
    reminder: datetime | None
    pregnancy_note: str | None


def comfort_trend(records: Sequence[Record], side: Side, now: datetime) -> float | None:
    """The side's comfort ceiling (mmHg) change a week, by least squares; None under 3."""
    since = now - timedelta(weeks=COMFORT_WEEKS)
    points = [
        ((r.start_at - since).total_seconds() / (7 * 86400), felt.comfort_mmhg)
        for r in records
        if isinstance(r, PumpSession)
        and r.start_at >= since
        and (felt := r.sides.get(side)) is not None
        and felt.comfort_mmhg is not None
    ]
    if len(points) < 3:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def build(
    records: Sequence[Record],
    *,
    pregnancies: Sequence[PregnancyInfo],
    children: Sequence[ChildInfo],
    bags: Sequence[StashBag],
    time_zone: str,
    now: datetime,
    fixed_hours: Sequence[float] = (),
) -> Insights:
    zone = ZoneInfo(time_zone)
    past = [r for r in records if r.start_at <= now]
    by_side = removals(past)
    usual = usual_day(by_side, zone, now)
    lump = red.lump_now(past, now)
    sides: dict[Side, SideInsight] = {}
    merged = {r.at: r for side in SIDE_NAMES for r in by_side[side]}
    both = usual_day(
        dict.fromkeys(SIDE_NAMES, sorted(merged.values(), key=lambda r: r.at)), zone, now
    )
    plan = propose_plan([hour for hour, _ in both["left"].hours], fixed_hours, lump)
    reminder = next_reminder(plan, zone, now)
    for side in SIDE_NAMES:
        fit = fit_side(side, by_side[side], now)
        next_yield = None
        one_more = None
        if fit is not None:
            next_yield = yield_at(fit, reminder or now + timedelta(hours=3))
            extra = plan.added[0] if plan.added else _longest_gap_middle(usual[side])
            if extra is not None and not lump:
                one_more = what_if(fit, usual[side], add_session(usual[side], extra))
        sides[side] = SideInsight(
            side,
            fit,
            next_yield,
            one_more,
            comfort_trend(past, side, now),
            sum(1 for r in by_side[side] if r.pumped and r.volume_ml is not None),
            sum(
                1 for r in by_side[side] if r.total_only and r.at >= now - timedelta(days=FIT_DAYS)
            ),
        )
    child = children[0] if children else None
    stash = coverage(
        bags,
        past,
        None if child is None else child.name,
        None if child is None else child.birth_date,
        now,
    )
    is_pregnant = red.pregnant(pregnancies, now.date()) is not None
    return Insights(
        now,
        tuple(red.red_flags(past, pregnancies, now)),
        sides,
        daily(past, now),
        stash,
        plan,
        reminder,
        f"{red.PREGNANCY_NOTE} ({sources.FLOWER_2003})" if is_pregnant else None,
    )


def _longest_gap_middle(schedule: Schedule) -> float | None:
    hours = sorted(hour for hour, _ in schedule.hours)
    if not hours:
        return None
    gaps = [((hours[(i + 1) % len(hours)] - h) % 24.0 or 24.0, h) for i, h in enumerate(hours)]
    length, start = max(gaps)
    return (start + length / 2) % 24.0


def _estimate(value: Estimate, digits: int = 1) -> dict[str, float]:
    return {
        "value": round(value.value, digits),
        "low": round(value.low, digits),
        "high": round(value.high, digits),
    }


def side_json(insight: SideInsight, pregnant: bool) -> dict[str, Any]:
    fit = insight.fit
    out: dict[str, Any] = {
        "pumped_sessions": insight.pumped_sessions,
        "comfort_trend_mmhg_per_week": None
        if insight.comfort_trend_mmhg_week is None
        else round(insight.comfort_trend_mmhg_week, 1),
        "expected_drop": sources.FLOWER_2003 if pregnant else None,
    }
    if insight.total_only_sessions:
        out["total_only_sessions"] = insight.total_only_sessions
        out["total_only_note"] = insight.total_only_note
    if fit is None:
        out["note"] = "too few pump sessions with this side's volume to fit (4 needed)"
        return out
    out.update(
        {
            "rate_ml_h": _estimate(fit.rate_ml_h),
            "capacity_ml": _estimate(fit.capacity_ml, 0),
            "trend_pct_per_week": _estimate(fit.trend_pct_per_week),
            "source": fit.source,
        }
    )
    if insight.next_yield is not None:
        out["next_session"] = {
            "at": insight.next_yield.at.isoformat(),
            "ml": round(insight.next_yield.volume_ml, 0),
            "low_ml": round(insight.next_yield.low_ml, 0),
            "high_ml": round(insight.next_yield.high_ml, 0),
        }
    if insight.one_more is not None:
        out["one_more_session_ml_day"] = _estimate(insight.one_more.change_ml_day, 0)
    return out


def daily_json(found: Daily, pregnant: bool) -> dict[str, Any]:
    """Both sides together: the figures that need no side, so every pump session counts."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {
        "pumped_sessions": found.sessions,
        "total_only_sessions": found.total_only,
        "ml_day": rounded(found.ml_day),
        "sessions_day": rounded(found.sessions_day),
        "week_before_ml_day": rounded(found.before_ml_day),
        "week_before_sessions_day": rounded(found.before_sessions_day),
        "change_pct": rounded(found.change_pct),
        "expected_drop": sources.FLOWER_2003 if pregnant else None,
        "note": f"the last {DAILY_DAYS} days against the {DAILY_DAYS} before; every pump "
        "session counts, those with a total only (no sides) included",
    }


def as_json(insights: Insights) -> dict[str, Any]:
    """The keys of ``letdown insights --json`` (issue 11's interface), nothing else at the top."""
    pregnant = insights.pregnancy_note is not None
    return {
        "flags": [
            {
                "kind": flag.kind,
                "side": flag.side,
                "since": flag.since.isoformat(),
                "advice": flag.advice,
                "source": flag.source,
            }
            for flag in insights.flags
        ],
        "supply": {
            **{side: side_json(insights.sides[side], pregnant) for side in SIDE_NAMES},
            "both": daily_json(insights.daily, pregnant),
        },
        "stash": {
            "ml": round(float(insights.stash.ml), 1),
            "covers_h": None
            if insights.stash.covers_h is None
            else round(insights.stash.covers_h, 1),
        },
    }


__all__ = ["Insights", "SideInsight", "as_json", "build", "comfort_trend"]
