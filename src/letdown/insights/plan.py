"""What a change of schedule would do, and a daily plan that helps to do it more often.

The plan keeps every gap under 7 h and at least 5 removals a day (Lai et al. 2020), around
the family's fixed times; it never adds a session while a lump is noted (ABM #36 advises
against extra pumping then). The change in a day's milk is the model's short-term
response; in Dewey & Lönnerdal 1986 one more session a day raised production by about
124 g/day, about half of it drifting back within 1-2 weeks: how much of the model's
response lasts is an assumption and is said to be one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from letdown.insights import sources
from letdown.insights.supply import Estimate, Removal, Schedule, SideFit, day_change_ml
from letdown.journal.records import SIDE_NAMES, Side

MAX_GAP_H = 7.0
"""Lai et al. 2020: no gap over 7 hours (volume per session flat from 7 h)."""
MIN_REMOVALS = 5
"""Lai et al. 2020: at least 5 removals a day; more gave no significant further rise."""
USUAL_DAYS = 7
LONG_RUN_NOTE = (
    "How much of this lasts is an assumption: in Dewey & Lönnerdal 1986 one more session "
    "a day gave about +124 g/day, and about half drifted back within 1-2 weeks."
)


def _hour(at: datetime, zone: ZoneInfo) -> float:
    local = at.astimezone(zone)
    return local.hour + local.minute / 60.0


def usual_day(
    by_side: dict[Side, list[Removal]], zone: ZoneInfo, now: datetime
) -> dict[Side, Schedule]:
    """Each side's typical day over the last week: as many removals as the median day,
    at the clock times of the week's removals split into that many groups."""
    since = now - timedelta(days=USUAL_DAYS)
    usual: dict[Side, Schedule] = {}
    for side in SIDE_NAMES:
        week = [r for r in by_side[side] if since <= r.at <= now]
        per_day: dict[object, int] = {}
        for r in week:
            day = r.at.astimezone(zone).date()
            per_day[day] = per_day.get(day, 0) + 1
        count = round(median(per_day.values())) if per_day else 0
        ordered = sorted(week, key=lambda r: _hour(r.at, zone))
        hours: list[tuple[float, bool]] = []
        for group in range(count):
            chunk = ordered[group * len(ordered) // count : (group + 1) * len(ordered) // count]
            if chunk:
                pumped = sum(r.pumped for r in chunk) * 2 >= len(chunk)
                hours.append((median(_hour(r.at, zone) for r in chunk), pumped))
        usual[side] = Schedule(tuple(hours))
    return usual


def _gaps(hours: Sequence[float]) -> list[tuple[float, float]]:
    """(start, length) of each gap in a day that repeats, the night's included."""
    ordered = sorted(hours)
    return [
        (start, (ordered[(i + 1) % len(ordered)] - start) % 24.0 or 24.0)
        for i, start in enumerate(ordered)
    ]


@dataclass(frozen=True)
class WhatIf:
    side: Side
    change_ml_day: Estimate
    why: str
    source: str


def what_if(fit: SideFit, before: Schedule, after: Schedule) -> WhatIf:
    change = day_change_ml(fit, before, after)
    return WhatIf(
        fit.side,
        change,
        f"{len(before.hours)} → {len(after.hours)} removals a day; the model's short-term "
        f"response. {LONG_RUN_NOTE}",
        f"{sources.MODEL}; {sources.DEWEY_1986}",
    )


def add_session(schedule: Schedule, hour: float) -> Schedule:
    return Schedule((*schedule.hours, (hour % 24.0, True)))


def drop_session(schedule: Schedule, hour: float) -> Schedule:
    if not schedule.hours:
        return schedule
    nearest = min(schedule.hours, key=lambda item: abs((item[0] - hour + 12) % 24 - 12))
    kept = list(schedule.hours)
    kept.remove(nearest)
    return Schedule(tuple(kept))


def move_session(schedule: Schedule, from_hour: float, to_hour: float) -> Schedule:
    return add_session(drop_session(schedule, from_hour), to_hour)


@dataclass(frozen=True)
class Plan:
    """Session times for the day (local hours) and why each was added."""

    hours: tuple[float, ...]
    added: tuple[float, ...]
    why: str
    source: str


def propose_plan(usual: Sequence[float], fixed: Sequence[float], lump: bool) -> Plan:
    """The usual and fixed times, with sessions added in the middle of the longest gap until
    no gap is over 7 h and there are at least 5 a day (Lai 2020); none added while a lump
    is noted (ABM #36)."""
    hours = sorted({round(h % 24.0, 2) for h in (*usual, *fixed)})
    if lump:
        return Plan(
            tuple(hours),
            (),
            "A lump is noted: ABM #36 advises against extra pumping, so no session is added.",
            sources.ABM_36_2022,
        )
    added: list[float] = []
    while hours and (len(hours) < MIN_REMOVALS or max(g for _, g in _gaps(hours)) > MAX_GAP_H):
        start, length = max(_gaps(hours), key=lambda gap: gap[1])
        new = round((start + length / 2) % 24.0, 2)
        added.append(new)
        hours = sorted([*hours, new])
    why = (
        f"{len(hours)} removals a day, longest gap {max(g for _, g in _gaps(hours)):.1f} h"
        if hours
        else "no removals logged in the last week"
    )
    return Plan(tuple(hours), tuple(added), why, sources.LAI_2020)


def next_reminder(plan: Plan, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The next planned time after ``now`` ("time to pump")."""
    if not plan.hours:
        return None
    local = now.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for day in (0, 1):
        for hour in plan.hours:
            at = midnight + timedelta(days=day, hours=hour)
            if at > local:
                return at
    return None
