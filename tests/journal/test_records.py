"""The record kinds as a parent or an import would send them: what is kept, and what is
refused with a message that names the field and says what is wrong.

Records are plain data here (``parse_record``, ``validate``), as the CLI, the web API and
the importers hand them over; no database is involved.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from letdown.errors import InvalidEntryError, LetdownError
from letdown.journal import (
    BottleContent,
    BottleFeed,
    Care,
    CareKind,
    ChildInfo,
    HouseholdInfo,
    MemberInfo,
    MilkKind,
    NurseFeed,
    PregnancyInfo,
    PumpSession,
    Role,
    Symptom,
    Units,
    Word,
    parse_record,
)
from letdown.journal.records import validate

START = datetime(2026, 3, 10, 7, 30, tzinfo=UTC)
PARIS_WINTER = timezone(timedelta(hours=1))


def at(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


def nurse() -> dict[str, Any]:
    return {
        "kind": "nurse",
        "child": "Robin",
        "start_at": at(0),
        "end_at": at(25),
        "sides": {
            "left": {"duration_s": 600, "latch": 8, "pain": 2},
            "right": {"duration_s": 720, "latch": 6, "pain": 4},
        },
        "notes": "sleepy at the end",
    }


def pump() -> dict[str, Any]:
    return {
        "kind": "pump",
        "start_at": at(60),
        "end_at": at(75),
        "sides": {
            "left": {"volume_ml": 62.5, "comfort_mmhg": 180, "pain": 1},
            "right": {"volume_ml": 80, "comfort_mmhg": 195, "pain": 0},
        },
        "device": "letdown",
        "program": "two-phase",
        "milk": "mature",
        "phases": [
            {"name": "stimulation", "start_s": 0, "end_s": 120},
            {"name": "expression", "start_s": 120, "end_s": 900},
        ],
        "ejections_s": [95.0, 310.5, 604.0],
        "notes": "",
    }


def bottle() -> dict[str, Any]:
    return {
        "kind": "bottle",
        "child": "Robin",
        "start_at": at(120),
        "amount_ml": 90,
        "content": "expressed",
        "bags": [{"bag": "ACD", "volume_ml": 60}, {"bag": "KMN", "volume_ml": 30}],
        "leftover_ml": 15,
    }


def care() -> dict[str, Any]:
    return {"kind": "care", "start_at": at(130), "care": "warm-compress", "side": "left"}


def symptom() -> dict[str, Any]:
    return {
        "kind": "symptom",
        "start_at": at(140),
        "sides": {"left": {"pain": 6, "cracked": True, "bleeding": True, "redness": True}},
        "fever_c": 38.4,
    }


RECORDS: dict[str, Callable[[], dict[str, Any]]] = {
    "nurse": nurse,
    "pump": pump,
    "bottle": bottle,
    "care": care,
    "symptom": symptom,
}


def changed(make: Callable[[], dict[str, Any]], *path: str, value: Any) -> dict[str, Any]:
    """The record from ``make`` with the field at ``path`` set to ``value``."""
    data = make()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def without(make: Callable[[], dict[str, Any]], key: str) -> dict[str, Any]:
    data = make()
    del data[key]
    return data


@pytest.mark.parametrize("kind", list(RECORDS))
def test_every_kind_survives_plain_data_and_back(kind: str) -> None:
    record = parse_record(RECORDS[kind]())
    assert record.kind == kind
    assert parse_record(record.model_dump(mode="json")) == record


def test_a_nurse_feed_keeps_each_side_its_duration_latch_and_pain() -> None:
    feed = parse_record(nurse())
    assert isinstance(feed, NurseFeed)
    assert feed.sides["left"].duration_s == 600
    assert (feed.sides["right"].latch, feed.sides["right"].pain) == (6, 4)
    assert feed.end_at - feed.start_at == timedelta(minutes=25)


def test_a_pump_session_keeps_its_sides_program_milk_phases_and_ejections() -> None:
    session = parse_record(pump())
    assert isinstance(session, PumpSession)
    assert session.volume_ml() == pytest.approx(142.5)
    assert session.sides["right"].comfort_mmhg == 195
    assert session.milk is MilkKind.MATURE
    assert [phase.name for phase in session.phases] == ["stimulation", "expression"]
    assert session.ejections_s == (95.0, 310.5, 604.0)


def test_another_pumps_session_is_entered_by_hand_with_its_name() -> None:
    data = pump()
    data.update(device="Spectra S1", program=None, phases=[], ejections_s=[], milk="colostrum")
    session = parse_record(data)
    assert isinstance(session, PumpSession)
    assert (session.device, session.milk) == ("Spectra S1", MilkKind.COLOSTRUM)


def test_a_bottle_names_its_content_and_its_bags() -> None:
    feed = parse_record(bottle())
    assert isinstance(feed, BottleFeed)
    assert feed.content is BottleContent.EXPRESSED
    assert {use.bag: use.volume_ml for use in feed.bags} == {"ACD": 60, "KMN": 30}
    assert feed.leftover_ml == 15


@pytest.mark.parametrize("content", ["donor", "formula"])
def test_a_bottle_of_donor_milk_or_formula_needs_no_bag(content: str) -> None:
    data = bottle()
    data.update(content=content, bags=[])
    feed = parse_record(data)
    assert isinstance(feed, BottleFeed)
    assert feed.content.value == content


@pytest.mark.parametrize("kind", [kind.value for kind in CareKind])
def test_every_kind_of_care_is_kept(kind: str) -> None:
    record = parse_record(changed(care, "care", value=kind))
    assert isinstance(record, Care)
    assert record.care.value == kind


def test_a_symptom_keeps_each_side_and_the_fever() -> None:
    data = symptom()
    data["sides"]["right"] = {"engorged": True, "lump": True, "pain": 3}
    record = parse_record(data)
    assert isinstance(record, Symptom)
    left, right = record.sides["left"], record.sides["right"]
    assert (left.cracked, left.bleeding, left.redness, left.lump) == (True, True, True, False)
    assert (right.engorged, right.lump, right.pain) == (True, True, 3)
    assert record.fever_c == 38.4


def test_a_fever_alone_is_a_symptom() -> None:
    record = parse_record({"kind": "symptom", "start_at": at(0), "fever_c": 37.9})
    assert isinstance(record, Symptom)
    assert record.sides == {}


def test_times_keep_their_instant_and_are_held_in_utc() -> None:
    local = (START + timedelta(hours=1)).replace(tzinfo=PARIS_WINTER)
    record = parse_record(changed(care, "start_at", value=local.isoformat()))
    assert record.start_at == local
    assert record.start_at.utcoffset() == timedelta(0)
    assert record.start_at.hour == START.hour


BAD_RECORDS = [
    pytest.param(
        changed(pump, "sides", "left", "volume_ml", value=-5),
        "left amount: must be at least 0 mL",
        id="negative volume",
    ),
    pytest.param(
        changed(nurse, "end_at", value=at(-5)),
        f"end: the end ({START - timedelta(minutes=5):%Y-%m-%d %H:%M} UTC) is before the start",
        id="end before start",
    ),
    pytest.param(
        changed(pump, "colour", value="white"),
        "colour: is not a field of this kind of entry",
        id="unknown field",
    ),
    pytest.param(
        changed(nurse, "sides", "right", "pain", value=11),
        "right pain: must be at most 10",
        id="pain 11",
    ),
    pytest.param(
        changed(nurse, "sides", "left", "latch", value=-1),
        "left latch: must be at least 0",
        id="latch -1",
    ),
    pytest.param(
        changed(symptom, "sides", "left", "pain", value=11),
        "left pain: must be at most 10",
        id="symptom pain 11",
    ),
    pytest.param(
        changed(pump, "sides", "right", "pain", value=12),
        "right pain: must be at most 10",
        id="pump pain 12",
    ),
    pytest.param(
        changed(symptom, "fever_c", value=50),
        "fever: must be at most 43 °C",
        id="fever 50",
    ),
    pytest.param(
        changed(care, "start_at", value="2026-03-10T07:30:00"),
        "start: needs its offset (as in 07:30+01:00)",
        id="naive datetime",
    ),
    pytest.param(
        changed(nurse, "sides", value={"middle": {"duration_s": 60}}),
        "sides (middle): Input should be 'left' or 'right'",
        id="unknown side",
    ),
    pytest.param(
        changed(nurse, "sides", value={}),
        "sides: give at least one side",
        id="no side",
    ),
    pytest.param(
        changed(nurse, "sides", "left", "duration_s", value=1800),
        "left time: 30 min on the left is longer than the feed (25 min)",
        id="side longer than the feed",
    ),
    pytest.param(
        changed(pump, "end_at", value=at(60 + 7 * 60)),
        "lasts more than 6 hours",
        id="seven-hour session",
    ),
    pytest.param(
        changed(pump, "milk", value="foremilk"),
        "milk: Input should be 'colostrum', 'transitional' or 'mature'",
        id="unknown milk",
    ),
    pytest.param(
        changed(pump, "sides", "left", "volume_ml", value="nan"),
        "left amount: must be a number",
        id="volume nan",
    ),
    pytest.param(
        changed(pump, "phases", value=[{"name": "expression", "start_s": 300, "end_s": 100}]),
        "phases: end_s 100 is before start_s 300",
        id="phase ends before it starts",
    ),
    pytest.param(
        changed(pump, "device", value=""),
        "pump: cannot be empty",
        id="no device",
    ),
    pytest.param(
        changed(bottle, "amount_ml", value=0),
        "amount: must be more than 0 mL",
        id="empty bottle",
    ),
    pytest.param(
        changed(bottle, "content", value="formula"),
        "a formula bottle cannot use stash bags",
        id="formula from the stash",
    ),
    pytest.param(
        changed(
            bottle, "bags", value=[{"bag": "ACD", "volume_ml": 30}, {"bag": "acd", "volume_ml": 30}]
        ),
        "bags: Value error, a bag is listed twice",
        id="a bag twice",
    ),
    pytest.param(
        changed(bottle, "amount_ml", value=50),
        "bags: the bags give 90 mL, more than the bottle's 50 mL",
        id="bags give more than the bottle holds",
    ),
    pytest.param(
        changed(bottle, "leftover_ml", value=100),
        "left over: 100 mL is more than the bottle's 90 mL",
        id="more left over than given",
    ),
    pytest.param(
        changed(bottle, "content", value="juice"),
        "content: Input should be 'expressed', 'donor' or 'formula'",
        id="unknown content",
    ),
    pytest.param(
        without(bottle, "child"),
        "child: is missing",
        id="no child",
    ),
    pytest.param(
        changed(care, "care", value="massage"),
        "care: Input should be",
        id="unknown care",
    ),
    pytest.param(
        {"kind": "symptom", "start_at": at(0)},
        "give a side's symptoms or a fever",
        id="a symptom that says nothing",
    ),
    pytest.param(
        changed(nurse, "kind", value="feed"),
        "kind: must be one of nurse, pump, bottle, care, symptom, not 'feed'",
        id="unknown kind",
    ),
]


@pytest.mark.parametrize(("data", "message"), BAD_RECORDS)
def test_bad_input_says_exactly_what_is_wrong(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidEntryError) as caught:
        parse_record(data)
    assert message.removeprefix("bags: Value error, ") in str(caught.value)


def test_every_problem_is_named_at_once() -> None:
    data = changed(nurse, "sides", "left", "pain", value=11)
    data["sides"]["right"]["latch"] = 14
    data["colour"] = "white"
    with pytest.raises(InvalidEntryError) as caught:
        parse_record(data)
    problems = str(caught.value).split("; ")
    assert sorted(problem.split(":")[0] for problem in problems) == [
        "colour",
        "left pain",
        "right latch",
    ]


def test_an_invalid_entry_is_a_value_error_and_a_letdown_error() -> None:
    with pytest.raises(ValueError) as caught:
        parse_record(changed(symptom, "fever_c", value=50))
    assert isinstance(caught.value, LetdownError)


def test_a_household_keeps_its_zone_units_and_word() -> None:
    household = validate(
        HouseholdInfo,
        {"name": "Home", "time_zone": "America/Los_Angeles", "units": "floz", "word": "chest"},
    )
    assert (household.time_zone, household.units, household.word) == (
        "America/Los_Angeles",
        Units.FL_OZ,
        Word.CHEST,
    )
    default = validate(HouseholdInfo, {"name": "Flat"})
    assert (default.time_zone, default.units, default.word) == ("UTC", Units.ML, Word.BREAST)


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus", "Europe", "europe/paris", "", "localtime", "Factory"]
)
def test_an_unknown_time_zone_is_refused(zone: str) -> None:
    with pytest.raises(InvalidEntryError) as caught:
        validate(HouseholdInfo, {"name": "Home", "time_zone": zone})
    assert f"time zone: unknown time zone {zone!r}" in str(caught.value)
    assert "IANA" in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("units", "cups", "units: Input should be 'ml' or 'floz'"),
        ("word", "bust", "word: Input should be 'breast' or 'chest'"),
        ("name", "", "name: cannot be empty"),
    ],
)
def test_a_household_refuses_what_it_cannot_show(field: str, value: str, message: str) -> None:
    with pytest.raises(InvalidEntryError) as caught:
        validate(HouseholdInfo, {"name": "Home", field: value})
    assert message in str(caught.value)


@pytest.mark.parametrize("role", ["nursing-parent", "partner", "caregiver", "viewer"])
def test_a_member_is_one_of_four_roles(role: str) -> None:
    assert validate(MemberInfo, {"name": "Kim", "role": role}).role is Role(role)


def test_a_member_with_another_role_is_refused() -> None:
    with pytest.raises(InvalidEntryError) as caught:
        validate(MemberInfo, {"name": "Kim", "role": "owner"})
    assert "role: Input should be 'nursing-parent', 'partner', 'caregiver' or 'viewer'" in str(
        caught.value
    )


def test_a_child_has_a_name_and_a_birth_date_and_a_pregnancy_a_due_date() -> None:
    child = validate(ChildInfo, {"name": " Robin ", "birth_date": "2026-01-02"})
    assert (child.name, child.birth_date) == ("Robin", date(2026, 1, 2))
    pregnancy = validate(PregnancyInfo, {"due_date": "2026-09-30"})
    assert pregnancy.due_date == date(2026, 9, 30)
    with pytest.raises(InvalidEntryError, match="due date: is missing"):
        validate(PregnancyInfo, {})
