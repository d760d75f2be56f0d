"""How long expressed milk keeps, from where a bag has been and for how long.

The household chooses a rule set (``RULE_SETS``): the CDC's (the default, "Proper Storage
and Preparation of Breast Milk", Centers for Disease Control and Prevention, reviewed
2024), ABM Clinical Protocol #8 (Eglash & Simon 2017) or the NHS's (as quoted in
``shared/design/supply.md`` §6). The module's constants are the CDC's.

Between moves a bag spends a share of the budget of the state it is in (fresh or
thawed): two days in the fridge leave half the fridge's four days, and an hour at room
temperature then costs a quarter of what is left. Freezing stops that clock; freezer
limits count from expression, as the CDC's do. Until a bag is first stored, its milk is
fresh milk at room temperature. Thawed milk never goes back to a freezer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from letdown.errors import StashRuleError
from letdown.journal.records import Location

FRESH_LIMITS: dict[Location, timedelta] = {
    # CDC: freshly expressed milk at room temperature (77 °F / 25 °C or colder): up to 4 hours.
    Location.ROOM: timedelta(hours=4),
    # CDC: insulated cooler with ice packs: up to 1 day.
    Location.COOLER: timedelta(days=1),
    # CDC: refrigerator (40 °F / 4 °C): up to 4 days.
    Location.FRIDGE: timedelta(days=4),
}

THAWED_LIMITS: dict[Location, timedelta] = {
    # CDC: thawed in the refrigerator, use within 1 day (24 hours) from when fully thawed.
    Location.FRIDGE: timedelta(days=1),
    # CDC: thawed milk brought to room temperature, use within 1-2 hours: we take the 1.
    Location.ROOM: timedelta(hours=1),
    # The CDC gives no figure for thawed milk in a cooler: treated as room temperature.
    Location.COOLER: timedelta(hours=1),
}

FROZEN_BEST = timedelta(days=182)
"""CDC: freezer (0 °F / -18 °C or colder), within 6 months is best (6 months as 182 days)."""

FROZEN_LIMIT = timedelta(days=365)
"""CDC: freezer, up to 12 months is acceptable (12 months as 365 days)."""

LEFTOVER_LIMIT = timedelta(hours=2)
"""CDC: milk left over from a feed, use within 2 hours after the baby finished."""

FROZEN = frozenset({Location.FREEZER, Location.DEEP_FREEZER})
"""The CDC gives one freezer figure; a deep freezer is held to the same limits."""


@dataclass(frozen=True)
class Stay:
    """A bag was put at ``location`` at ``since`` (the first stay is where it was stored)."""

    location: Location
    since: datetime


@dataclass(frozen=True)
class Expiry:
    """When a bag must be used by, and why."""

    use_by: datetime
    best_by: datetime | None
    thawed_at: datetime | None
    rule: str


@dataclass(frozen=True)
class RuleSet:
    """One source's storage limits; where it gives none, the CDC's figure and a note."""

    key: str
    name: str
    fresh: dict[Location, timedelta]
    thawed: dict[Location, timedelta]
    frozen_best: timedelta
    frozen_limit: timedelta
    leftover: timedelta
    notes: str = ""


CDC = RuleSet(
    "cdc",
    "CDC",
    FRESH_LIMITS,
    THAWED_LIMITS,
    FROZEN_BEST,
    FROZEN_LIMIT,
    LEFTOVER_LIMIT,
)

ABM_8 = RuleSet(
    "abm8",
    "ABM Protocol #8 (2017)",
    {
        # ABM #8 (Eglash & Simon 2017): room temperature 16-29 °C, 4 h optimal (6-8 h
        # acceptable only if very clean: the optimal figure is taken).
        Location.ROOM: timedelta(hours=4),
        # ABM #8: insulated cooler with ice packs (15 °C), 24 h.
        Location.COOLER: timedelta(hours=24),
        # ABM #8: refrigerator (~4 °C), 4 days optimal (5-8 days only if very clean).
        Location.FRIDGE: timedelta(days=4),
    },
    # ABM #8's figure for thawed milk is unverified (supply.md §6): the CDC's are used.
    THAWED_LIMITS,
    timedelta(days=182),  # ABM #8: freezer, 6 months optimal
    timedelta(days=365),  # ABM #8: 12 months acceptable
    # ABM #8 gives no figure for milk left after a feed: the CDC's 2 hours.
    LEFTOVER_LIMIT,
    "thawed and leftover milk: CDC figures (ABM #8 gives none verified)",
)

NHS = RuleSet(
    "nhs",
    "NHS (as quoted)",
    {
        # The NHS gives no room-temperature figure (as quoted): the CDC's 4 hours.
        Location.ROOM: FRESH_LIMITS[Location.ROOM],
        # NHS (as quoted): a cool bag with ice packs, up to 24 hours.
        Location.COOLER: timedelta(hours=24),
        # NHS (as quoted): up to 8 days at 4 °C or lower; 3 days if warmer or unknown.
        Location.FRIDGE: timedelta(days=8),
    },
    {
        # NHS (as quoted): thawed milk, use at once (taken as within 1 hour); never refreeze.
        Location.FRIDGE: timedelta(hours=1),
        Location.ROOM: timedelta(hours=1),
        Location.COOLER: timedelta(hours=1),
    },
    timedelta(days=182),  # NHS (as quoted): 6 months at -18 °C or lower
    timedelta(days=182),
    timedelta(hours=1),  # NHS (as quoted): leftover after a feed, within 1 hour
    "fridge 8 days only at 4 °C or lower (3 days if warmer or unknown); room: CDC's 4 h",
)

RULE_SETS: dict[str, RuleSet] = {rules.key: rules for rules in (CDC, ABM_8, NHS)}
"""The rule sets a household may choose, by key; the CDC's is the default."""


def rule_set(key: str) -> RuleSet:
    if key not in RULE_SETS:
        raise StashRuleError(f"storage rules {key!r}: one of {', '.join(RULE_SETS)}")
    return RULE_SETS[key]


def thawed_at(stays: Sequence[Stay]) -> datetime | None:
    """When the bag left a freezer for the first time (None if never thawed)."""
    frozen = False
    for stay in stays:
        if stay.location in FROZEN:
            frozen = True
        elif frozen:
            return stay.since
    return None


def check_move(stays: Sequence[Stay], to: Location, at: datetime) -> None:
    """Refuse a move that breaks a storage rule or goes back in time."""
    if stays and at < stays[-1].since:
        raise StashRuleError(
            f"the move at {at.isoformat()} is before the bag's last move "
            f"({stays[-1].since.isoformat()})"
        )
    if to in FROZEN and thawed_at(stays) is not None:
        # CDC: never refreeze human milk after it has been thawed.
        raise StashRuleError("thawed milk must never be refrozen (CDC): use it or discard it")


def leftover_use_by(finished_at: datetime, rules: RuleSet = CDC) -> datetime:
    """When milk left in a bottle must be thrown away (CDC: within 2 hours of the feed)."""
    return finished_at + rules.leftover


def expiry(expressed_at: datetime, stays: Sequence[Stay], rules: RuleSet = CDC) -> Expiry:
    """The bag's use-by time given where it has been (the last stay is where it is now).

    Milk stored some time after it was expressed spent that time at room temperature, so
    that a bag entered days late does not get the fridge's four days from the entry.
    """
    if not stays:
        raise ValueError("a bag has at least one stay")
    if stays[0].since > expressed_at:
        stays = [Stay(Location.ROOM, expressed_at), *stays]
    used = 0.0
    thawed: datetime | None = None
    frozen = False
    for index, stay in enumerate(stays):
        if stay.location in FROZEN:
            frozen = True
            continue
        if frozen and thawed is None:
            thawed, used = stay.since, 0.0
        limits = rules.fresh if thawed is None else rules.thawed
        limit = limits[stay.location]
        left = limit * (1.0 - used)
        end = stays[index + 1].since if index + 1 < len(stays) else None
        if end is None or end - stay.since >= left:
            state = "fresh" if thawed is None else "thawed"
            use_by = stay.since + left
            if frozen:
                use_by = min(use_by, expressed_at + rules.frozen_limit)
            return Expiry(
                use_by=use_by,
                best_by=None,
                thawed_at=thawed,
                rule=f"{state} milk, {stay.location.value}: {_span(limit)} ({rules.name})",
            )
        used += (end - stay.since) / limit
    best_months, limit_months = _months(rules.frozen_best), _months(rules.frozen_limit)
    return Expiry(
        use_by=expressed_at + rules.frozen_limit,
        best_by=expressed_at + rules.frozen_best,
        thawed_at=None,
        rule=f"frozen: best within {best_months} months, up to {limit_months} ({rules.name})"
        if best_months != limit_months
        else f"frozen: up to {limit_months} months ({rules.name})",
    )


def _months(span: timedelta) -> str:
    return f"{span.days / 30.4:.0f}"


def _span(limit: timedelta) -> str:
    hours = limit.total_seconds() / 3600
    if hours < 24:
        return f"{hours:g} h"
    days = hours / 24
    return f"{days:g} day" if days == 1 else f"{days:g} days"
