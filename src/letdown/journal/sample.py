"""A two-year household, generated from a seed: what the demo shows and the bench times.

A child nursed 10 times a day for six months and less after, a parent pumping 8 times a
day early and less later, some sessions bagged (fridge, freezer, thawed, used in a
bottle, now and then spilled), formula bottles, care and symptoms that thin out after the
first weeks. The daily rates are scaled so that the two years hold ``entries`` entries
(within about 1%). ``plan_household`` makes the steps; a ``Writer`` plays them on a
journal through the ``Book`` API. Both ``letdown demo`` and ``letdown bench journal``
use it.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from letdown.journal import (
    BottleContent,
    BottleFeed,
    Care,
    CareKind,
    Journal,
    Location,
    NurseFeed,
    PumpSession,
    Record,
    Symptom,
)
from letdown.journal.db import make_engine

DAYS = 730
HOUSEHOLD = "letdown bench"
CHILD = "Robin"
BAGGED_SHARE = 0.4
"""Share of pump sessions whose milk is bagged into the stash (each bag ends in a bottle)."""


def nurse_per_day(age_days: float) -> float:
    """8 to 12 feeds a day while exclusively breastfed (to 6 months), fewer with solids."""
    if age_days < 182:
        return 10.0
    return 10.0 - 4.0 * (age_days - 182) / (DAYS - 182)


def pump_per_day(age_days: float) -> float:
    """About 8 sessions a day at first, 3 at a year, fewer in the second year."""
    if age_days < 365:
        return 8.0 - 5.0 * age_days / 365
    return 3.0 - 1.5 * (age_days - 365) / (DAYS - 365)


def formula_per_day(age_days: float) -> float:
    return 0.5 if age_days < 182 else 1.0


def care_per_day(age_days: float) -> float:
    """Salves and compresses mostly in the first six weeks, a visit now and then after."""
    return 0.8 if age_days < 42 else 0.1


def symptom_per_day(age_days: float) -> float:
    return 1.0 if age_days < 42 else 0.15


def entries_per_day(age_days: float) -> float:
    pumped = pump_per_day(age_days)
    return (
        nurse_per_day(age_days)
        + pumped * (1.0 + BAGGED_SHARE)
        + formula_per_day(age_days)
        + care_per_day(age_days)
        + symptom_per_day(age_days)
    )


# --- the plan: what the household writes, in time order ----------------------------------


@dataclass(frozen=True)
class AddStep:
    at: datetime
    record: Record
    member: str
    uid: str | None = None


@dataclass(frozen=True)
class StoreStep:
    at: datetime
    bag: int
    volume_ml: float
    expressed_at: datetime
    location: Location
    source: str


@dataclass(frozen=True)
class MoveStep:
    at: datetime
    bag: int
    to: Location


@dataclass(frozen=True)
class UseStep:
    at: datetime
    bag: int
    member: str


@dataclass(frozen=True)
class DiscardStep:
    at: datetime
    bag: int


Step = AddStep | StoreStep | MoveStep | UseStep | DiscardStep


def _count(rng: random.Random, rate: float) -> int:
    """``rate`` rounded up or down at random, so that counts add up to the rates."""
    whole = int(rate)
    return whole + (rng.random() < rate - whole)


def _spread(rng: random.Random, day: datetime, count: int) -> list[datetime]:
    """``count`` times through the day, roughly evenly spaced as feeds and sessions are."""
    slot = timedelta(days=1) / max(count, 1)
    return [day + slot * (index + 0.2 + 0.6 * rng.random()) for index in range(count)]


def plan_household(entries: int, seed: int, end: datetime, days: int = DAYS) -> list[Step]:
    """Two years up to ``end`` of a household writing about ``entries`` entries, in order.

    ``days`` stops the plan after the child's first days (the demo's few weeks), the same
    days as the whole plan has.
    """
    rng = random.Random(seed)
    scale = entries / sum(entries_per_day(age) for age in range(DAYS))
    birth = end - timedelta(days=DAYS)
    steps: list[Step] = []
    bags = 0
    for age in range(min(days, DAYS)):
        day = birth + timedelta(days=age)
        for start in _spread(rng, day, _count(rng, nurse_per_day(age) * scale)):
            left_s, right_s = rng.uniform(240, 900), rng.uniform(0, 900)
            sides: dict[str, dict[str, float | int]] = {"left": {"duration_s": left_s}}
            if right_s > 120:
                sides["right"] = {"duration_s": right_s}
            if age < 42 and rng.random() < 0.3:
                sides["left"]["pain"] = rng.randint(1, 6)
            record = NurseFeed.model_validate(
                {
                    "start_at": start,
                    "end_at": start + timedelta(seconds=left_s + right_s + 60),
                    "child": CHILD,
                    "sides": sides,
                }
            )
            steps.append(AddStep(start, record, "Alex"))
        for start in _spread(rng, day, _count(rng, pump_per_day(age) * scale)):
            end_at = start + timedelta(minutes=rng.uniform(12, 25))
            per_side_ml = min(60.0, 15.0 + age * 0.5) * rng.uniform(0.6, 1.4)
            pumped = PumpSession(
                start_at=start,
                end_at=end_at,
                sides={
                    side: {"volume_ml": round(per_side_ml * rng.uniform(0.8, 1.2), 1)}
                    for side in ("left", "right")
                },
                program="two-phase",
                presses=rng.randint(0, 3),
            )
            uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            steps.append(AddStep(start, pumped, "Alex", uid))
            if rng.random() < BAGGED_SHARE:
                bags += 1
                steps += _bag_life(rng, bags, pumped, uid)
        for start in _spread(rng, day, _count(rng, formula_per_day(age) * scale)):
            formula = BottleFeed(
                start_at=start,
                child=CHILD,
                amount_ml=round(rng.uniform(60, 180), -1),
                content=BottleContent.FORMULA,
            )
            steps.append(AddStep(start, formula, "Sam"))
        for start in _spread(rng, day, _count(rng, care_per_day(age) * scale)):
            kind = rng.choice(list(CareKind)) if age >= 42 else CareKind.SALVE
            steps.append(AddStep(start, Care(start_at=start, care=kind, side="left"), "Alex"))
        for start in _spread(rng, day, _count(rng, symptom_per_day(age) * scale)):
            symptom = Symptom.model_validate(
                {
                    "start_at": start,
                    "sides": {"left": {"pain": rng.randint(1, 7), "cracked": age < 21}},
                    "fever_c": 38.2 if rng.random() < 0.05 else None,
                }
            )
            steps.append(AddStep(start, symptom, "Alex"))
    kept = [step for step in steps if step.at < end]
    return sorted(kept, key=lambda step: step.at)


def _bag_life(rng: random.Random, bag: int, pumped: PumpSession, source: str) -> list[Step]:
    """A bag from a pump session: stored, perhaps frozen and thawed, used (or spilled)."""
    stored = pumped.end_at + timedelta(minutes=5)
    volume_ml = pumped.volume_ml()
    frozen = rng.random() < 0.2
    first = Location.FREEZER if frozen else Location.FRIDGE
    steps: list[Step] = [StoreStep(stored, bag, volume_ml, pumped.end_at, first, source)]
    if not frozen and rng.random() < 0.75:
        used = stored + timedelta(hours=rng.uniform(2, 72))
    else:
        at = stored if frozen else stored + timedelta(hours=rng.uniform(2, 24))
        if not frozen:
            steps.append(MoveStep(at, bag, Location.FREEZER))
        thawed = at + timedelta(days=rng.uniform(1, 90))
        steps.append(MoveStep(thawed, bag, Location.FRIDGE))
        used = thawed + timedelta(hours=rng.uniform(4, 20))
    if rng.random() < 0.03:
        steps.append(DiscardStep(used, bag))
    else:
        steps.append(UseStep(used, bag, rng.choice(("Alex", "Sam"))))
    return steps


def fast_engine(url: str) -> Engine:
    """The journal's engine, told not to wait for the disk at each commit (bulk load only)."""
    engine = make_engine(url)
    backend = make_url(url).get_backend_name()

    @event.listens_for(engine, "connect")
    def _no_waiting(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if backend == "sqlite":
            cursor.execute("PRAGMA synchronous = OFF")
        elif backend == "postgresql":
            cursor.execute("SET synchronous_commit = off")
            dbapi_connection.commit()
        cursor.close()

    return engine


class Writer:
    """Plays the plan on a journal, as Alex or Sam, remembering which code each bag got."""

    def __init__(self, journal: Journal, codes: dict[int, str]) -> None:
        self.books = {name: journal.book(HOUSEHOLD, name) for name in ("Alex", "Sam")}
        self.codes = codes

    def play(self, step: Step) -> bool:
        """Write one step; True if it made an entry."""
        alex = self.books["Alex"]
        if isinstance(step, AddStep):
            self.books[step.member].add(step.record, uid=step.uid, entered_at=step.at)
            return True
        if isinstance(step, UseStep):
            book = self.books[step.member]
            book.stash_use(self.codes[step.bag], child=CHILD, at=step.at)
            return True
        if isinstance(step, StoreStep):
            bag = alex.stash_add(
                step.volume_ml,
                expressed_at=step.expressed_at,
                location=step.location,
                stored_at=step.at,
                sources=[step.source],
            )
            self.codes[step.bag] = bag.code
        elif isinstance(step, MoveStep):
            alex.stash_move(self.codes[step.bag], step.to, at=step.at)
        else:
            alex.stash_discard(self.codes[step.bag], "spilled", at=step.at)
        return False
