"""How long the stash lasts away from the child, and which bags to use first.

From the child's own bottles when there are some (the usual bottle, every usual gap
between feeds), else from age-based norms: intake stays about the same from 1 to 6
months (Kent 2013; Michaelsen 1994: 781-855 mL a day), about 33 mL an hour (788 ÷ 24,
Kent 2006). An estimate, and it says so.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median

from letdown.insights import sources
from letdown.journal.records import BottleFeed, NurseFeed, Record

NORM_ML_H = 788.0 / 24.0
"""Kent et al. 2006: 788 mL a day in exclusively breastfed infants 1-6 months, ≈ 33 mL/h."""
YOUNGEST_NORM_DAYS = 30
"""Kent 2013's figures start at one month: younger children take less (no figure here)."""
BOTTLE_WINDOW = timedelta(days=14)
MIN_BOTTLES = 3
"""The child's own figures need at least three bottles in two weeks (letdown's choice)."""


@dataclass(frozen=True)
class StashBag:
    code: str
    remaining_ml: float
    use_by: datetime


@dataclass(frozen=True)
class Coverage:
    ml: float
    covers_h: float | None
    intake_ml_h: float | None
    why: str
    source: str
    use_first: tuple[str, ...]


def _intake_from_bottles(records: Sequence[Record], child: str, now: datetime) -> float | None:
    since = now - BOTTLE_WINDOW
    # A bottle of unknown amount (imported from a tracker without one) tells nothing here.
    bottles = [
        r
        for r in records
        if isinstance(r, BottleFeed)
        and r.child == child
        and r.start_at >= since
        and r.amount_ml is not None
    ]
    if len(bottles) < MIN_BOTTLES:
        return None
    feeds = sorted(
        r.start_at
        for r in records
        if isinstance(r, BottleFeed | NurseFeed) and r.child == child and r.start_at >= since
    )
    gaps_h = [
        (later - earlier).total_seconds() / 3600
        for earlier, later in itertools.pairwise(feeds)
        if later > earlier
    ]
    if not gaps_h:
        return None
    bottle_ml = median((r.amount_ml or 0.0) - r.leftover_ml for r in bottles)
    return float(bottle_ml / median(gaps_h))


def coverage(
    bags: Sequence[StashBag],
    records: Sequence[Record],
    child: str | None,
    birth_date: date | None,
    now: datetime,
) -> Coverage:
    """The stash in hours away from the child, and the bags in the order to use them."""
    usable = sorted(
        (b for b in bags if b.use_by > now and b.remaining_ml > 0), key=lambda b: b.use_by
    )
    total_ml = float(sum(b.remaining_ml for b in usable))
    order = tuple(b.code for b in usable)
    intake = None if child is None else _intake_from_bottles(records, child, now)
    if intake is not None and intake > 0:
        return Coverage(
            total_ml,
            total_ml / intake,
            intake,
            f"{total_ml:.0f} mL ÷ {intake:.0f} mL an hour (the child's usual bottle every "
            "usual gap between feeds, last two weeks)",
            "the child's own bottles in the journal",
            order,
        )
    if child is None:
        return Coverage(total_ml, None, None, "no child in the household", "", order)
    young = birth_date is not None and (now.date() - birth_date).days < YOUNGEST_NORM_DAYS
    note = " (under a month old: likely an underestimate of the hours)" if young else ""
    return Coverage(
        total_ml,
        total_ml / NORM_ML_H,
        NORM_ML_H,
        f"{total_ml:.0f} mL ÷ {NORM_ML_H:.0f} mL an hour, the norm for 1-6 months{note}",
        f"{sources.KENT_2006}; {sources.KENT_2013}; {sources.MICHAELSEN_1994}",
        order,
    )
