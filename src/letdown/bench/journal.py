"""How fast the journal is for a household two years in: adding entries, summaries, history.

The target (journal issue): a household with two years of entries (about 20,000) on
SQLite, where adding an entry, the 24-hour and 7-day summaries and ``history`` each take
at most 50 ms at p95.

The household is generated from a seed: a child nursed 10 times a day for six months and
less after, a parent pumping 8 times a day early and less later, some sessions bagged
(fridge, freezer, thawed, used in a bottle, now and then spilled), formula bottles, care
and symptoms that thin out after the first weeks. The daily rates are scaled so that the
two years hold ``entries`` entries (within about 1%).

Everything goes through the ``Book`` API. The older history is loaded first on an engine
that does not wait for the disk at each commit (SQLite ``synchronous = OFF``, PostgreSQL
``synchronous_commit = off``) so that it does not wait for 20,000 flushes to disk; the
newest ``timed_inserts`` entries are then written one by one through ``Journal.open(url)``
with the journal's own durable settings, and each is timed (an ``add``, or a bottle fed
from the stash with ``stash_use``): that is the "insert" figure.
Each read is then repeated ``repeat`` times. A p95 is the nearest-rank 95th percentile.
The generated plan is kept out of the garbage collector's way while timing (its
collections are the bench's cost, not the journal's).
"""

from __future__ import annotations

import gc
import math
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from letdown.journal import (
    Book,
    BottleContent,
    BottleFeed,
    Care,
    CareKind,
    ChildInfo,
    HouseholdInfo,
    Journal,
    Location,
    MemberInfo,
    NurseFeed,
    PumpSession,
    Record,
    Role,
    Symptom,
)
from letdown.journal.db import make_engine
from letdown.journal.records import now_utc

TARGET_P95_MS = 50.0
DAYS = 730
HOUSEHOLD = "letdown bench"
CHILD = "Robin"
BAGGED_SHARE = 0.4
"""Share of pump sessions whose milk is bagged into the stash (each bag ends in a bottle)."""

Progress = Callable[[int, int], None]
T = TypeVar("T")


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


# --- running it ------------------------------------------------------------------------------


MAIN_FIGURES = ("insert", "summary_24h", "summary_7d", "history")
"""The figures the journal issue sets the 50 ms target on."""

READS: dict[str, Callable[[Book, datetime, datetime], object]] = {
    "summary_24h": lambda book, end, now: book.summary(now - timedelta(hours=24)),
    "summary_7d": lambda book, end, now: book.summary(now - timedelta(days=7)),
    "history": lambda book, end, now: book.history(limit=100),
    "history_7d": lambda book, end, now: book.history(since=now - timedelta(days=7)),
    "summary_7d_busiest": lambda book, end, now: book.summary(
        end - timedelta(days=DAYS - 1), end - timedelta(days=DAYS - 8)
    ),
}
"""What the app shows most: the day, the week, the latest entries (and the newborn weeks)."""


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


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """Keep the plan's objects out of the garbage collector's scans while timing.

    Two years of generated records make collections slow (up to 0.3 s at 20,000
    entries); without this they would be charged to whatever journal call ran then.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def _target(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="letdown-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'journal.sqlite'}"


def run_journal_bench(
    url: str | None = None,
    entries: int = 20_000,
    seed: int = 0,
    *,
    timed_inserts: int = 500,
    repeat: int = 50,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Fill a journal with a generated two-year household, then time writes and reads.

    ``url`` is an empty database to fill (default: a temporary SQLite file, removed
    after). Returns ``entries`` (as stored) and ``p95_ms`` (wall time) for ``insert``
    (an entry added, or a bottle fed from the stash), ``summary_24h``, ``summary_7d`` and
    ``history`` (the newest 100), then more: p50s, the CPU time of each (the wall time
    without waiting for the disk or for other processes), the 7-day summary of the
    busiest week (the first), ``history`` of the last 7 days, and what was written.
    """
    if not 10 <= entries <= 1_000_000:
        raise ValueError(f"entries must be within [10, 1000000], got {entries}")
    if timed_inserts < 1 or repeat < 1:
        raise ValueError("timed_inserts and repeat must be at least 1")
    end = now_utc()
    plan = plan_household(entries, seed, end)
    entry_steps = [index for index, step in enumerate(plan) if isinstance(step, AddStep | UseStep)]
    timed_inserts = min(timed_inserts, len(entry_steps))
    split = entry_steps[-timed_inserts]
    total = len(plan) + len(READS) * repeat
    codes: dict[int, str] = {}
    samples = _Samples()
    stored = 0
    with _target(url) as target, _heap_frozen():
        with Journal(fast_engine(target)) as loading:
            book = loading.create_household(
                HouseholdInfo(name=HOUSEHOLD, time_zone="Europe/Paris"),
                MemberInfo(name="Alex", role=Role.NURSING_PARENT),
            )
            book.add_member(MemberInfo(name="Sam", role=Role.PARTNER))
            book.add_child(ChildInfo(name=CHILD, birth_date=(end - timedelta(days=DAYS)).date()))
            writer = Writer(loading, codes)
            load_start = time.perf_counter()
            for index, step in enumerate(plan[:split]):
                stored += writer.play(step)
                if progress and index % 100 == 0:
                    progress(index, total)
            load_s = time.perf_counter() - load_start
        with Journal.open(target) as journal:
            writer = Writer(journal, codes)
            for index, step in enumerate(plan[split:], start=split):
                if samples.time("insert", partial(writer.play, step)):
                    stored += 1
                else:
                    samples.forget("insert")
                if progress and index % 20 == 0:
                    progress(index, total)
            alex = writer.books["Alex"]
            first_week = end - timedelta(days=DAYS - 1)
            spans = {
                "summary_24h": (end - timedelta(hours=24), end),
                "summary_7d": (end - timedelta(days=7), end),
                "summary_7d_busiest": (first_week, first_week + timedelta(days=7)),
            }
            rows = {name: len(alex.history(since, until)) for name, (since, until) in spans.items()}
            for round_ in range(repeat):
                for name, read in READS.items():
                    samples.time(name, partial(read, alex, end, now_utc()))
                if progress:
                    progress(len(plan) + len(READS) * (round_ + 1), total)
    p95_ms = {name: samples.p95_ms(name) for name in MAIN_FIGURES}
    kinds: dict[str, int] = {}
    for step in plan:
        if isinstance(step, AddStep | UseStep):
            kind = step.record.kind if isinstance(step, AddStep) else "bottle"
            kinds[kind] = kinds.get(kind, 0) + 1
    inserts_s = samples.wall_s["insert"]
    return {
        "entries": stored,
        "p95_ms": p95_ms,
        "target_p95_ms": TARGET_P95_MS,
        "ok": all(value <= TARGET_P95_MS for value in p95_ms.values()),
        "other_p95_ms": {name: samples.p95_ms(name) for name in READS if name not in MAIN_FIGURES},
        "p50_ms": {name: samples.p50_ms(name) for name in samples.wall_s},
        "p95_cpu_ms": {name: samples.p95_ms(name, cpu=True) for name in samples.cpu_s},
        "rows": rows,
        "insert_per_s": len(inserts_s) / sum(inserts_s),
        "load_per_s": (stored - len(inserts_s)) / load_s if load_s > 0 else 0.0,
        "timed_inserts": len(inserts_s),
        "repeat": repeat,
        "kinds": dict(sorted(kinds.items())),
        "bags": len(codes),
        "days": DAYS,
        "store": make_url(target).get_backend_name(),
        "seed": seed,
    }


class _Samples:
    """Wall and CPU seconds of each timed call, by name."""

    def __init__(self) -> None:
        self.wall_s: dict[str, list[float]] = {}
        self.cpu_s: dict[str, list[float]] = {}

    def time(self, name: str, call: Callable[[], T]) -> T:
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        self.wall_s.setdefault(name, []).append(time.perf_counter() - wall)
        self.cpu_s.setdefault(name, []).append(time.process_time() - cpu)
        return result

    def forget(self, name: str) -> None:
        """Drop the last sample (the call was not what is being measured)."""
        self.wall_s[name].pop()
        self.cpu_s[name].pop()

    def p95_ms(self, name: str, *, cpu: bool = False) -> float:
        return _percentile_ms((self.cpu_s if cpu else self.wall_s)[name], 0.95)

    def p50_ms(self, name: str) -> float:
        return _percentile_ms(self.wall_s[name], 0.5)


def _percentile_ms(samples_s: list[float], fraction: float) -> float:
    """The nearest-rank percentile, in milliseconds."""
    ordered = sorted(samples_s)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] * 1000.0
