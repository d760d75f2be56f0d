"""Made-up journals with a known truth, for ``letdown bench forecast``.

The truth here is deliberately not the forecast's own model: synthesis follows a daily
rhythm and wanders from day to day, each pumping and feed takes a random share, people
round what they write down and forget to write some sessions down, and a pregnancy
lowers the rate week by week. Each journal is a ``letdown export json`` document.

Named kinds (``KINDS``) were used while building the model; ``random_spec`` draws a
journal's make-up from its seed, for seeds nobody tuned on.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from letdown.journal.records import SIDE_NAMES, Side


@dataclass(frozen=True)
class JournalSpec:
    """How a made-up household pumps and nurses, and how its supply really behaves."""

    name: str
    days: int = 42
    pumps_per_day: int = 4
    nurses_per_day: int = 3
    rate_ml_h: tuple[float, float] = (22.0, 26.0)
    capacity_ml: tuple[float, float] = (200.0, 230.0)
    jitter_h: float = 0.8
    skip_share: float = 0.1
    """Share of planned removals that do not happen (irregular gaps)."""
    unlogged_share: float = 0.05
    """Share of removals that happen but are not written down."""
    one_side_share: float = 0.05
    trend_per_day: float = 0.0
    pregnant: bool = False
    day_noise: float = 0.08
    circadian: float = 0.15
    share_sd: float = 0.08
    time_zone: str = "Europe/Paris"


KINDS: dict[str, JournalSpec] = {
    spec.name: spec
    for spec in (
        JournalSpec("steady"),
        JournalSpec(
            "frequent",
            pumps_per_day=7,
            nurses_per_day=1,
            rate_ml_h=(30.0, 35.0),
            capacity_ml=(160.0, 260.0),
        ),
        JournalSpec(
            "sparse",
            pumps_per_day=2,
            nurses_per_day=6,
            rate_ml_h=(14.0, 20.0),
            capacity_ml=(150.0, 180.0),
            jitter_h=1.5,
        ),
        JournalSpec(
            "pregnant",
            pumps_per_day=3,
            nurses_per_day=4,
            rate_ml_h=(18.0, 24.0),
            trend_per_day=-0.025,
            pregnant=True,
        ),
        JournalSpec(
            "patchy",
            pumps_per_day=5,
            nurses_per_day=2,
            skip_share=0.3,
            unlogged_share=0.2,
            one_side_share=0.2,
            jitter_h=2.0,
        ),
        JournalSpec(
            "exclusive",
            pumps_per_day=8,
            nurses_per_day=0,
            rate_ml_h=(40.0, 45.0),
            capacity_ml=(250.0, 300.0),
            trend_per_day=0.01,
        ),
    )
}


def random_spec(seed: int) -> JournalSpec:
    """A journal's make-up drawn from its seed (for held-out checks)."""
    rng = random.Random(f"spec-{seed}")
    rate = rng.uniform(8.0, 50.0)
    capacity = rng.uniform(80.0, 380.0)
    pregnant = rng.random() < 0.25
    return JournalSpec(
        name=f"random-{seed}",
        days=rng.randint(21, 60),
        pumps_per_day=rng.randint(1, 8),
        nurses_per_day=rng.randint(0, 7),
        rate_ml_h=(rate, rate * rng.uniform(0.7, 1.4)),
        capacity_ml=(capacity, capacity * rng.uniform(0.7, 1.4)),
        jitter_h=rng.uniform(0.2, 2.5),
        skip_share=rng.uniform(0.0, 0.35),
        unlogged_share=rng.uniform(0.0, 0.25),
        one_side_share=rng.uniform(0.0, 0.25),
        trend_per_day=rng.uniform(-0.03, -0.01) if pregnant else rng.uniform(-0.01, 0.01),
        pregnant=pregnant,
        day_noise=rng.uniform(0.03, 0.15),
        circadian=rng.uniform(0.0, 0.25),
        share_sd=rng.uniform(0.04, 0.15),
    )


@dataclass
class _Event:
    at: datetime
    pumped: bool
    sides: tuple[Side, ...]
    logged: bool


def _schedule(spec: JournalSpec, start: datetime, rng: random.Random) -> list[_Event]:
    """Planned removals spread over the waking day (06:00-23:00 plus a night one)."""
    events: list[_Event] = []
    total = spec.pumps_per_day + spec.nurses_per_day
    for day in range(spec.days):
        kinds = [True] * spec.pumps_per_day + [False] * spec.nurses_per_day
        rng.shuffle(kinds)
        for slot, pumped in enumerate(kinds):
            hour = 6.0 + 17.0 * (slot + 0.5) / max(total, 1)
            if total >= 7 and slot == total - 1:
                hour = 27.0  # a night removal at 03:00
            at = start + timedelta(days=day, hours=hour + rng.gauss(0.0, spec.jitter_h))
            if rng.random() < spec.skip_share:
                continue
            sides: tuple[Side, ...] = SIDE_NAMES
            if rng.random() < spec.one_side_share:
                sides = (rng.choice(SIDE_NAMES),)
            events.append(_Event(at, pumped, sides, rng.random() >= spec.unlogged_share))
    events.sort(key=lambda event: event.at)
    return events


def _share(rng: random.Random, mean: float, sd: float) -> float:
    return min(max(rng.gauss(mean, sd), 0.2), 0.98)


def make_journal(spec: JournalSpec, seed: int, end: datetime | None = None) -> dict[str, Any]:
    """A ``letdown export json`` document of ``spec.days`` days ending at ``end``."""
    rng = random.Random(f"{spec.name}-{seed}")
    end = end or datetime(2026, 11, 30, tzinfo=UTC)
    start = end - timedelta(days=spec.days)
    events = _schedule(spec, start, rng)
    levels = {side: 0.5 * spec.capacity_ml[i] for i, side in enumerate(SIDE_NAMES)}
    day_factor = dict.fromkeys(SIDE_NAMES, 1.0)
    last = start
    step = timedelta(minutes=10)
    current_day = -1
    entries: list[dict[str, Any]] = []
    for event in events:
        while last < event.at:
            day = (last - start).days
            if day != current_day:
                current_day = day
                for side in SIDE_NAMES:
                    log_factor = 0.7 * math.log(day_factor[side]) + rng.gauss(0.0, spec.day_noise)
                    day_factor[side] = math.exp(log_factor)
            hour = (last - start).total_seconds() / 3600.0
            rhythm = 1.0 + spec.circadian * math.cos(2 * math.pi * ((hour % 24) - 5.0) / 24.0)
            trend = math.exp(spec.trend_per_day * hour / 24.0)
            dt_h = min(step, event.at - last).total_seconds() / 3600.0
            for i, side in enumerate(SIDE_NAMES):
                rate = spec.rate_ml_h[i] * day_factor[side] * rhythm * trend
                capacity = spec.capacity_ml[i]
                levels[side] = capacity - (capacity - levels[side]) * math.exp(
                    -rate * dt_h / capacity
                )
            last = min(last + step, event.at)
        volumes: dict[Side, float] = {}
        for side in event.sides:
            share = _share(rng, 0.65 if event.pumped else 0.7, spec.share_sd)
            taken = levels[side] * share
            levels[side] -= taken
            volumes[side] = taken
        if event.logged:
            entries.append(_entry(event, volumes, rng))
    return _document(spec, start, end, entries)


def _entry(event: _Event, volumes: dict[Side, float], rng: random.Random) -> dict[str, Any]:
    minutes = rng.uniform(12.0, 25.0)
    record: dict[str, Any]
    if event.pumped:
        record = {
            "kind": "pump",
            "sides": {
                side: {"volume_ml": float(round(volume / 5.0) * 5.0)}
                for side, volume in volumes.items()
            },
            "device": "made-up",
        }
    else:
        record = {
            "kind": "nurse",
            "child": "Kid",
            "sides": {side: {"duration_s": minutes * 60.0 / 2} for side in volumes},
        }
    record["start_at"] = event.at.isoformat()
    record["end_at"] = (event.at + timedelta(minutes=minutes)).isoformat()
    uid = str(uuid.UUID(int=rng.getrandbits(128)))
    at = (event.at + timedelta(minutes=minutes)).isoformat()
    return {
        "uid": uid,
        "version": 1,
        "entered_by": "Parent",
        "entered_at": at,
        "updated_by": "Parent",
        "updated_at": at,
        "deleted_at": None,
        "record": record,
    }


def _document(
    spec: JournalSpec, start: datetime, end: datetime, entries: list[dict[str, Any]]
) -> dict[str, Any]:
    created = start.isoformat()
    born = (start - timedelta(days=90)).date()
    pregnancies = []
    if spec.pregnant:
        due = (end + timedelta(days=120)).date()
        pregnancies.append(
            {
                "due_date": due.isoformat(),
                "notes": "",
                "entered_by": "Parent",
                "entered_at": created,
            }
        )
    return {
        "format": "letdown-journal",
        "format_version": 1,
        "exported_at": end.isoformat(),
        "household": {
            "name": spec.name,
            "time_zone": spec.time_zone,
            "units": "ml",
            "word": "breast",
            "created_at": created,
        },
        "members": [{"name": "Parent", "role": "nursing-parent", "created_at": created}],
        "children": [{"name": "Kid", "birth_date": born.isoformat()}],
        "pregnancies": pregnancies,
        "entries": entries,
        "revisions": [
            {
                "entry": entry["uid"],
                "version": 1,
                "action": "created",
                "changed_by": "Parent",
                "changed_at": entry["entered_at"],
                "record": entry["record"],
            }
            for entry in entries
        ],
        "bags": [],
        "bag_events": [],
        "bag_sources": [],
    }


def write_journal(path: Path, spec: JournalSpec, seed: int) -> None:
    path.write_text(json.dumps(make_journal(spec, seed), indent=1) + "\n", encoding="utf-8")


def spec_named(name: str) -> JournalSpec:
    """A named kind, or ``random-N`` for a journal drawn from seed N."""
    if name.startswith("random-") and name.removeprefix("random-").isdigit():
        return random_spec(int(name.removeprefix("random-")))
    if name not in KINDS:
        raise ValueError(f"unknown journal kind {name!r} (one of {', '.join(KINDS)}, random-N)")
    return KINDS[name]


__all__ = ["KINDS", "JournalSpec", "make_journal", "random_spec", "spec_named", "write_journal"]
