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
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

from letdown.journal import (
    Book,
    ChildInfo,
    HouseholdInfo,
    Journal,
    MemberInfo,
    Role,
)
from letdown.journal.records import now_utc
from letdown.journal.sample import (
    CHILD,
    DAYS,
    HOUSEHOLD,
    AddStep,
    UseStep,
    Writer,
    fast_engine,
    plan_household,
)

Progress = Callable[[int, int], None]
T = TypeVar("T")

TARGET_P95_MS = 50.0
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
