"""Figures a body cannot give: what is asked for confirmation, and what is refused.

A record can be valid (every field in range) and still not be right: 1,774 mL from one
side in ten minutes is a typing mistake (60 oz for 60 mL), yet the journal would add it
to every total. Entry points (the CLI, the web forms, the API) ask these functions
before writing a hand entry: a ``Concern`` that ``refuses`` is never written; the others
are written only once the person confirms (``--yes``, the form's confirmation box),
having seen the figure that made it implausible.

Imports and the pump controller do not ask: they carry what was measured elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from letdown.journal.records import BottleFeed, NurseFeed, PumpSession, Record

SIDE_SESSION_LIMIT_ML = 500.0
"""More than this from one side in one session asks for confirmation. A breast stores
74–382 mL across parents (Kent 2007 review; 209.9 mL on average, Kent et al. 1999) and
refills at 0–56 mL/h (Daly et al. 1996): even the largest store plus half an hour of the
fastest synthesis stays under 500 mL. The margin above 382 mL is letdown's choice."""

SIDE_FLOW_LIMIT_ML_PER_MIN = 55.0
"""A side's average flow over a session above this asks for confirmation: it is the
highest flow measured during an ejection, up to 4.6 g per 5 s, about 55 g/min (Ramsay
et al. 2006, Breastfeed Med 1:14); an average over a whole session is always lower."""

MIN_FLOW_CHECK_S = 60.0
"""Sessions shorter than this are judged by volume alone: a rounded minute says little."""

FEED_ML_BY_AGE: tuple[tuple[int, float], ...] = ((0, 106.0), (60, 126.0))
"""Mean milk per feed from one month (106 mL) and from about three months (126 mL), by
the child's age in days (Kent et al. 2013, Breastfeed Med); daily intake stays level to
six months (Michaelsen et al. 1994, Am J Clin Nutr 59:600)."""

BOTTLE_FACTOR = 2.5
"""A bottle more than this many times the mean feed for the child's age asks for
confirmation: letdown's choice, wide enough for a hungry day and a generous pour."""

BOTTLE_LIMIT_ML = 330.0
"""Without a birth date, a bottle above this asks (2.5 × 126 mL, rounded up)."""

OLD_ENTRY = timedelta(days=366)
"""A hand entry from more than a year ago asks for confirmation (letdown's choice): a
``-99999h`` is a slip, while a parent catching up writes about recent days."""

OLDEST_CHILD_YEARS = 10
"""A birth date more than this many years ago is refused: letdown's choice (nursing and
bottles end long before; 1800 is a typing mistake)."""


@dataclass(frozen=True)
class Concern:
    """One implausible figure: the record's field, and what is wrong in the user's words."""

    field: str
    message: str
    refuses: bool = False


def concerns(record: Record, *, now: datetime, birth_date: date | None = None) -> list[Concern]:
    """What is implausible (or impossible) about a hand entry, worst first."""
    found: list[Concern] = []
    if now - record.start_at > OLD_ENTRY:
        found.append(
            Concern(
                "start_at",
                f"it starts on {record.start_at:%Y-%m-%d}, {_years(now - record.start_at)} ago",
            )
        )
    if isinstance(record, PumpSession):
        found.extend(_pump(record))
    elif isinstance(record, BottleFeed):
        found.extend(_bottle(record, birth_date))
    elif isinstance(record, NurseFeed) and record.end_at == record.start_at:
        found.append(Concern("end_at", "the feed lasts no time at all", refuses=True))
    return sorted(found, key=lambda concern: not concern.refuses)


def _pump(record: PumpSession) -> list[Concern]:
    found: list[Concern] = []
    length_s = (record.end_at - record.start_at).total_seconds()
    if length_s <= 0 and record.volume_ml() > 0:
        return [
            Concern(
                "end_at",
                f"{record.volume_ml():g} mL in no time at all: say how long the session lasted",
                refuses=True,
            )
        ]
    for side, pumped in record.sides.items():
        where = f"sides.{side}.volume_ml"
        if pumped.volume_ml > SIDE_SESSION_LIMIT_ML:
            found.append(
                Concern(
                    where,
                    f"{pumped.volume_ml:,.0f} mL from the {side} side in one session is more "
                    f"than a breast holds (at most about {SIDE_SESSION_LIMIT_ML:g} mL)",
                )
            )
        elif length_s >= MIN_FLOW_CHECK_S:
            rate = pumped.volume_ml / (length_s / 60.0)
            if rate > SIDE_FLOW_LIMIT_ML_PER_MIN:
                found.append(
                    Concern(
                        where,
                        f"{pumped.volume_ml:,.0f} mL from the {side} side in "
                        f"{length_s / 60:.0f} min is {rate:.0f} mL a minute, faster than milk "
                        f"flows (at most about {SIDE_FLOW_LIMIT_ML_PER_MIN:g} mL a minute)",
                    )
                )
    if record.total_ml is not None and record.total_ml > 2 * SIDE_SESSION_LIMIT_ML:
        found.append(
            Concern(
                "total_ml",
                f"{record.total_ml:,.0f} mL in one session is more than both breasts hold",
            )
        )
    return found


def bottle_limit_ml(birth_date: date | None, on: date) -> float:
    """Above this a bottle asks for confirmation (see ``FEED_ML_BY_AGE``)."""
    if birth_date is None:
        return BOTTLE_LIMIT_ML
    age_days = (on - birth_date).days
    feed_ml = FEED_ML_BY_AGE[0][1]
    for from_days, mean_ml in FEED_ML_BY_AGE:
        if age_days >= from_days:
            feed_ml = mean_ml
    return round(feed_ml * BOTTLE_FACTOR)


def _bottle(record: BottleFeed, birth_date: date | None) -> list[Concern]:
    if record.amount_ml is None:
        return []
    limit_ml = bottle_limit_ml(birth_date, record.start_at.date())
    if record.amount_ml <= limit_ml:
        return []
    age = "" if birth_date is None else f" for a child of {_age(birth_date, record.start_at)}"
    return [
        Concern(
            "amount_ml",
            f"a bottle of {record.amount_ml:,.0f} mL is far more than a feed{age} "
            f"(more than {limit_ml:g} mL)",
        )
    ]


def _age(birth_date: date, at: datetime) -> str:
    days = max(0, (at.date() - birth_date).days)
    if days < 60:
        return f"{days} days"
    return f"{days // 30} months"


def birth_date_problem(born: date | None, today: date) -> str | None:
    """Why a birth date cannot be right, or None."""
    if born is None:
        return None
    if born > today + timedelta(days=1):
        return f"{born.isoformat()} is in the future: add the child once born (or a due date)"
    oldest = today.replace(year=today.year - OLDEST_CHILD_YEARS, day=min(today.day, 28))
    if born < oldest:
        return f"{born.isoformat()} is more than {OLDEST_CHILD_YEARS} years ago: a typing mistake?"
    return None


def summary(found: list[Concern]) -> str:
    return "; ".join(concern.message for concern in found)


__all__ = [
    "BOTTLE_LIMIT_ML",
    "SIDE_FLOW_LIMIT_ML_PER_MIN",
    "SIDE_SESSION_LIMIT_ML",
    "Concern",
    "birth_date_problem",
    "bottle_limit_ml",
    "concerns",
    "summary",
]


def _years(span: timedelta) -> str:
    years = span.days // 365
    return "over a year" if years <= 1 else f"{years} years"
