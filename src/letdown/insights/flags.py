"""Red flags, never a diagnosis, and what a pregnancy changes.

Each flag says what to do ("see a clinician today"), the figures it came from and its
source; a threshold that no source gives says it is letdown's choice. While a pregnancy is
recorded a falling supply is expected (Flower 2003) and is explained, not flagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from letdown.insights import sources
from letdown.journal.records import (
    SIDE_NAMES,
    NurseFeed,
    PregnancyInfo,
    PumpSession,
    Record,
    Side,
    Symptom,
    SymptomSide,
)

FEVER_FLAG_C = 38.5
"""ABM Protocol #4 (2008 revision): fever of 38.5 °C or more with breast signs."""
FEVER_C = 38.0
"""A fever for "signs lasting over 24 h": 38.0 °C, the usual definition (letdown's choice;
ABM #36 says "fever" without a figure)."""
SIGNS_HOURS = 24.0
"""ABM Protocol #36 (Mitchell et al. 2022): systemic symptoms over 24 h → clinician."""
PAINFUL = 4
"""A side counts as painful from 4/10 on the rating scale (moderate: letdown's choice)."""
PAIN_RUN = 3
"""Pain that persists: the last three ratings of a side all painful and not easing
(letdown's choice; Buck 2014 for how common lasting pain is)."""
PAIN_WINDOW = timedelta(days=7)
BLOOD_DAYS = 7.0
"""Blood in the milk beyond a week (the issue's figure; Faridi 2013: it usually clears
in 2-5 days)."""
BLOOD_GAP = timedelta(days=3)
"""Sightings further apart than this are separate episodes (letdown's choice)."""
DROP_SHARE = 0.3
"""A side's mean pumped volume 30 % below the week before (letdown's choice: no published
threshold, supply.md §4)."""
DROP_RECENT = timedelta(days=3)
DROP_BEFORE = timedelta(days=7)
FEWER_REMOVALS = 0.9
"""The drop is explained if removals a day fell below 90 % of the week before."""
ACTIVE = timedelta(hours=24)
"""A sign counts as current when it was last seen within a day."""

SEE_TODAY = "See a clinician today. This is not a diagnosis."
ABM_36_ADVICE = (
    "Keep feeding as usual; ABM #36 advises not to pump extra, not to aim to empty, and "
    "to avoid deep massage."
)


@dataclass(frozen=True)
class Flag:
    kind: str
    side: Side | None
    since: datetime
    advice: str
    source: str
    why: str


def _signs(felt: SymptomSide) -> list[str]:
    """Red, hard or painful: what ABM #4 means by breast signs."""
    found = [name for name in ("redness", "lump", "engorged") if getattr(felt, name)]
    if felt.pain is not None and felt.pain >= PAINFUL:
        found.append(f"pain {felt.pain}/10")
    return found


def _symptoms(records: Iterable[Record]) -> list[Symptom]:
    return sorted((r for r in records if isinstance(r, Symptom)), key=lambda r: r.start_at)


def fever_with_breast_signs(symptoms: Sequence[Symptom], now: datetime) -> Flag | None:
    fevers = [
        s
        for s in symptoms
        if s.fever_c is not None and s.fever_c >= FEVER_FLAG_C and now - s.start_at <= ACTIVE
    ]
    for fever in fevers:
        for other in symptoms:
            if abs((other.start_at - fever.start_at).total_seconds()) > SIGNS_HOURS * 3600:
                continue
            for side, felt in other.sides.items():
                found = _signs(felt)
                if found:
                    return Flag(
                        "fever_with_breast_signs",
                        side,
                        fever.start_at,
                        f"{SEE_TODAY} {ABM_36_ADVICE}",
                        sources.ABM_4_2008,
                        f"fever {fever.fever_c:.1f} °C (threshold {FEVER_FLAG_C} °C) and "
                        f"{side}: {', '.join(found)}",
                    )
    return None


def _has_signs(symptom: Symptom) -> bool:
    fever = symptom.fever_c is not None and symptom.fever_c >= FEVER_C
    return fever or any(_signs(felt) for felt in symptom.sides.values())


def signs_over_24h(symptoms: Sequence[Symptom], now: datetime) -> Flag | None:
    """A run of entries with signs (no clear entry between) lasting over 24 h, still current."""
    run: list[Symptom] = []
    for symptom in symptoms:
        run = [*run, symptom] if _has_signs(symptom) else []
    if not run or now - run[-1].start_at > ACTIVE:
        return None
    hours = (run[-1].start_at - run[0].start_at).total_seconds() / 3600
    if hours <= SIGNS_HOURS:
        return None
    sides = [side for side, felt in run[-1].sides.items() if _signs(felt)]
    return Flag(
        "signs_over_24h",
        sides[0] if len(sides) == 1 else None,
        run[0].start_at,
        f"{SEE_TODAY} {ABM_36_ADVICE}",
        sources.ABM_36_2022,
        f"signs in {len(run)} entries over {hours:.0f} h (threshold {SIGNS_HOURS:g} h)",
    )


def _pain_ratings(records: Iterable[Record], side: Side) -> list[tuple[datetime, int]]:
    ratings: list[tuple[datetime, int]] = []
    for record in records:
        pain: int | None = None
        if isinstance(record, PumpSession | NurseFeed | Symptom):
            felt = record.sides.get(side)
            pain = None if felt is None else felt.pain
        if pain is not None:
            ratings.append((record.start_at, pain))
    return sorted(ratings)


def persistent_pain(records: Sequence[Record], now: datetime) -> list[Flag]:
    flags = []
    for side in SIDE_NAMES:
        ratings = [
            (at, pain) for at, pain in _pain_ratings(records, side) if now - at <= PAIN_WINDOW
        ]
        last = ratings[-PAIN_RUN:]
        if len(last) < PAIN_RUN or now - last[-1][0] > ACTIVE:
            continue
        values = [pain for _, pain in last]
        if min(values) >= PAINFUL and values[-1] >= values[0]:
            flags.append(
                Flag(
                    "persistent_pain",
                    side,
                    last[0][0],
                    "Pain that stays or grows on this side is worth showing to a lactation "
                    "consultant or clinician (flange fit, latch, a wound). "
                    "This is not a diagnosis.",
                    f"{sources.LETDOWN_CHOICE}; how common lasting pain is: {sources.BUCK_2014}",
                    f"the last {PAIN_RUN} ratings were {', '.join(map(str, values))} out of 10 "
                    f"(painful from {PAINFUL}, not easing)",
                )
            )
    return flags


def blood_in_milk(symptoms: Sequence[Symptom], now: datetime) -> list[Flag]:
    flags = []
    for side in SIDE_NAMES:
        seen = [
            s.start_at
            for s in symptoms
            if (felt := s.sides.get(side)) is not None and felt.blood_in_milk
        ]
        if not seen or now - seen[-1] > BLOOD_GAP:
            continue
        first = seen[-1]
        for earlier in reversed(seen[:-1]):
            if first - earlier > BLOOD_GAP:
                break
            first = earlier
        days = (seen[-1] - first).total_seconds() / 86400
        if days >= BLOOD_DAYS:
            flags.append(
                Flag(
                    "blood_in_milk",
                    side,
                    first,
                    "Blood in the milk for over a week: see a clinician. This is not a diagnosis.",
                    sources.FARIDI_2013,
                    f"blood noted on this side over {days:.0f} days (usually clears in 2-5)",
                )
            )
    return flags


@dataclass(frozen=True, slots=True)
class _Drop:
    """Pumped volume and removals over the last 3 days against the week before."""

    recent_ml: float
    before_ml: float
    per_day_recent: float
    per_day_before: float
    total_only: int

    def fell(self) -> bool:
        """The mean session fell by ``DROP_SHARE`` although removals did not."""
        return (
            self.before_ml > 0
            and self.recent_ml <= (1 - DROP_SHARE) * self.before_ml
            and self.per_day_recent >= FEWER_REMOVALS * self.per_day_before
        )

    def why(self, what: str) -> str:
        return (
            f"{self.recent_ml:.0f} mL a session{what} over 3 days against "
            f"{self.before_ml:.0f} mL the week before, with {self.per_day_recent:.1f} "
            f"removals a day against {self.per_day_before:.1f}"
        )


def _drop(records: Sequence[Record], now: datetime, side: Side | None) -> _Drop | None:
    """``side``'s sessions and removals (None: both sides, total-only sessions too), or
    None with fewer than 3 sessions in either window."""
    recent_from, before_from = now - DROP_RECENT, now - DROP_RECENT - DROP_BEFORE
    recent: list[float] = []
    before: list[float] = []
    removals = {"recent": 0, "before": 0}
    total_only = 0
    for record in records:
        if not isinstance(record, PumpSession | NurseFeed):
            continue
        if side is not None and side not in record.sides:
            continue
        at = record.start_at
        window = "recent" if recent_from <= at <= now else "before" if at >= before_from else ""
        if not window:
            continue
        removals[window] += 1
        if isinstance(record, PumpSession):
            volume_ml = record.volume_ml() if side is None else record.sides[side].volume_ml
            (recent if window == "recent" else before).append(volume_ml)
            total_only += not record.sides
    if len(recent) < 3 or len(before) < 3:
        return None
    return _Drop(
        sum(recent) / len(recent),
        sum(before) / len(before),
        removals["recent"] / DROP_RECENT.days,
        removals["before"] / DROP_BEFORE.days,
        total_only,
    )


def supply_drop(records: Sequence[Record], now: datetime) -> list[tuple[Side, str, datetime]]:
    """Sides whose mean pumped volume fell although removals did not: (side, why, since)."""
    found = []
    for side in SIDE_NAMES:
        drop = _drop(records, now, side)
        if drop is not None and drop.fell():
            found.append((side, drop.why(""), now - DROP_RECENT))
    return found


def supply_drop_total(records: Sequence[Record], now: datetime) -> tuple[str, datetime] | None:
    """Both sides together, for a journal with sessions that kept only their total (no
    sides), which no side's check can count: the mean session fell although removals did
    not. (why, since), or None."""
    drop = _drop(records, now, None)
    if drop is None or not drop.total_only or not drop.fell():
        return None
    return drop.why(f" (both sides; {drop.total_only} with a total only)"), now - DROP_RECENT


def pregnant(pregnancies: Iterable[PregnancyInfo], today: date) -> PregnancyInfo | None:
    """The pregnancy under way today (due date at most 40 weeks ahead and not yet past)."""
    for pregnancy in pregnancies:
        if today <= pregnancy.due_date <= today + timedelta(weeks=40):
            return pregnancy
    return None


PREGNANCY_NOTE = (
    "While pregnant, most parents notice their supply fall by mid-pregnancy whatever they "
    "do, and nipples are often more sensitive: expected, not a warning. letdown never "
    "advises on continuing or stopping; ask your clinician if the pregnancy is high-risk."
)


def red_flags(
    records: Sequence[Record],
    pregnancies: Iterable[PregnancyInfo],
    now: datetime,
) -> list[Flag]:
    """Every current red flag, most urgent first."""
    symptoms = _symptoms(records)
    flags: list[Flag] = []
    for flag in (fever_with_breast_signs(symptoms, now), signs_over_24h(symptoms, now)):
        if flag is not None:
            flags.append(flag)
    flags += blood_in_milk(symptoms, now)
    flags += persistent_pain(records, now)
    if pregnant(pregnancies, now.date()) is None:
        drops: list[tuple[Side | None, str, datetime]] = list(supply_drop(records, now))
        if not drops and (both := supply_drop_total(records, now)) is not None:
            drops.append((None, *both))
        for side, why, since in drops:
            flags.append(
                Flag(
                    "supply_drop",
                    side,
                    since,
                    f"Output {'on this side' if side else 'of both sides'} fell although "
                    "removals did not: worth a word with a lactation consultant (flange, "
                    "pump parts, health). This is not a diagnosis.",
                    sources.LETDOWN_CHOICE,
                    why,
                )
            )
    return flags


def lump_now(records: Sequence[Record], now: datetime) -> bool:
    """A lump noted in the last day and not cleared since: ABM #36 advises against extra
    pumping then, so the planner suggests none."""
    latest: dict[Side, bool] = {}
    for symptom in _symptoms(records):
        if now - symptom.start_at > ACTIVE:
            continue
        for side, felt in symptom.sides.items():
            latest[side] = felt.lump
    return any(latest.values())
