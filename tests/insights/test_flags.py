"""Red flags (never a diagnosis), pregnancy, and how long the stash lasts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from letdown.insights.flags import lump_now, red_flags
from letdown.insights.stash import NORM_ML_H, StashBag, coverage
from letdown.journal.records import (
    BottleFeed,
    NurseFeed,
    PregnancyInfo,
    PumpSession,
    Record,
    Symptom,
    validate,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _symptom(hours_ago: float, fever_c: float | None = None, **sides: dict[str, Any]) -> Symptom:
    return validate(
        Symptom,
        {"start_at": NOW - timedelta(hours=hours_ago), "fever_c": fever_c, "sides": sides},
    )


def _pump(hours_ago: float, left_ml: float, right_ml: float, **left: Any) -> PumpSession:
    at = NOW - timedelta(hours=hours_ago)
    return validate(
        PumpSession,
        {
            "start_at": at,
            "end_at": at + timedelta(minutes=15),
            "sides": {"left": {"volume_ml": left_ml, **left}, "right": {"volume_ml": right_ml}},
        },
    )


def _kinds(records: list[Record], pregnant: bool = False) -> list[tuple[str, str | None]]:
    pregnancies = [PregnancyInfo(due_date=date(2027, 4, 1))] if pregnant else []
    return [(flag.kind, flag.side) for flag in red_flags(records, pregnancies, NOW)]


def test_a_fever_with_a_red_area_says_see_a_clinician_today_with_its_source() -> None:
    flags = red_flags([_symptom(2, 38.7, left={"redness": True})], [], NOW)
    assert [(f.kind, f.side) for f in flags] == [("fever_with_breast_signs", "left")]
    assert "clinician today" in flags[0].advice and "not a diagnosis" in flags[0].advice
    assert "ABM" in flags[0].source and "38.7" in flags[0].why


def test_a_fever_alone_or_a_lower_one_is_not_that_flag() -> None:
    assert _kinds([_symptom(2, 39.0)]) == []
    assert _kinds([_symptom(2, 38.3, left={"redness": True})]) == []
    assert _kinds([_symptom(30, 38.9, right={"lump": True})]) == []  # over a day ago


def test_signs_lasting_over_a_day_are_flagged_and_a_clear_entry_ends_them() -> None:
    lasting = [_symptom(30, right={"lump": True}), _symptom(3, right={"lump": True})]
    assert _kinds(lasting) == [("signs_over_24h", "right")]
    cleared = [_symptom(30, right={"lump": True}), _symptom(20, right={"pain": 1})]
    assert _kinds([*cleared, _symptom(3, right={"lump": True})]) == []


def test_pain_that_stays_on_one_side_is_flagged_and_easing_pain_is_not() -> None:
    staying = [_pump(30, 50, 50, pain=5), _pump(20, 50, 50, pain=5), _pump(4, 50, 50, pain=6)]
    assert _kinds(list(staying)) == [("persistent_pain", "left")]
    easing = [_pump(30, 50, 50, pain=7), _pump(20, 50, 50, pain=5), _pump(4, 50, 50, pain=4)]
    assert _kinds(list(easing)) == []


def test_blood_in_the_milk_beyond_a_week_is_flagged() -> None:
    days = [8 * 24, 5 * 24, 2 * 24, 6]
    records: list[Record] = [_symptom(h, left={"blood_in_milk": True}) for h in days]
    assert _kinds(records) == [("blood_in_milk", "left")]
    assert _kinds(records[2:]) == []


def _supply(recent_ml: float, recent_every_h: float) -> list[Record]:
    records: list[Record] = []
    for i in range(int(72 / recent_every_h)):
        records.append(_pump(1 + i * recent_every_h, recent_ml, 60))
    for i in range(28):
        records.append(_pump(80 + i * 6, 60, 60))
    return records


def test_a_drop_that_more_removals_do_not_explain_is_flagged_unless_pregnant() -> None:
    assert _kinds(_supply(30, 6)) == [("supply_drop", "left")]
    assert _kinds(_supply(30, 6), pregnant=True) == []
    assert _kinds(_supply(30, 12)) == []  # half the removals: the drop is explained
    assert _kinds(_supply(55, 6)) == []


def test_a_lump_noted_today_stops_extra_pumping_until_cleared() -> None:
    assert lump_now([_symptom(3, left={"lump": True})], NOW)
    assert not lump_now([_symptom(3, left={"lump": True}), _symptom(1, left={"pain": 2})], NOW)


def _bottle(hours_ago: float, ml: float) -> BottleFeed:
    return validate(
        BottleFeed,
        {"start_at": NOW - timedelta(hours=hours_ago), "child": "Kid", "amount_ml": ml},
    )


def _feed(hours_ago: float) -> NurseFeed:
    at = NOW - timedelta(hours=hours_ago)
    return validate(
        NurseFeed,
        {
            "start_at": at,
            "end_at": at + timedelta(minutes=10),
            "child": "Kid",
            "sides": {"left": {"duration_s": 600}},
        },
    )


BAGS = [
    StashBag("LATE", 150.0, NOW + timedelta(days=30)),
    StashBag("SOON", 90.0, NOW + timedelta(days=1)),
    StashBag("GONE", 200.0, NOW - timedelta(hours=1)),
]


def test_the_stash_covers_hours_from_the_childs_own_bottles_soonest_bag_first() -> None:
    records: list[Record] = [_bottle(h, 120) for h in (3, 9, 15, 21)] + [_feed(6), _feed(12)]
    found = coverage(BAGS, records, "Kid", None, NOW)
    assert found.ml == 240.0  # the expired bag does not count
    assert found.use_first == ("SOON", "LATE")
    assert found.covers_h == 240.0 / (120 / 3)


def test_without_bottles_the_stash_uses_age_norms_and_says_so() -> None:
    found = coverage(BAGS, [], "Kid", date(2026, 9, 1), NOW)
    assert found.covers_h == 240.0 / NORM_ML_H
    assert "Kent" in found.source
    assert coverage(BAGS, [], None, None, NOW).covers_h is None
