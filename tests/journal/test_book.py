"""A household's book as its members use it: entries with their history, the milk stash,
who may write, and what one household can see of another.

Every write either lands whole or not at all, so each refused write is checked against
the row counts of every table before and after. Times are fixed (``T0``) except where
the journal itself stamps "now" (who entered something, and when).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from letdown.errors import InvalidEntryError, NotFoundError, StashRuleError
from letdown.journal import (
    BagUse,
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
    NotAllowedError,
    NurseFeed,
    NurseSide,
    PregnancyInfo,
    PumpSession,
    PumpSide,
    Record,
    Role,
    Symptom,
    SymptomSide,
    schema,
)
from letdown.journal.book import CODE_ALPHABET

T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
TABLES = [
    schema.Household,
    schema.Member,
    schema.Child,
    schema.Pregnancy,
    schema.Entry,
    schema.Revision,
    schema.Bag,
    schema.BagEvent,
    schema.BagSource,
]


def counts(journal: Journal) -> dict[str, int]:
    """Rows in every table: what a refused write must leave as it was."""
    with journal.engine.connect() as connection:
        return {
            table.__tablename__: connection.scalar(select(func.count()).select_from(table)) or 0
            for table in TABLES
        }


def pumped(
    at: datetime = T0, left_ml: float = 60.0, right_ml: float = 80.0, **sides: Any
) -> PumpSession:
    return PumpSession(
        start_at=at,
        end_at=at + 15 * MINUTE,
        sides={
            "left": PumpSide(volume_ml=left_ml, pain=sides.get("left_pain")),
            "right": PumpSide(volume_ml=right_ml, pain=sides.get("right_pain")),
        },
    )


def nursed(at: datetime, left_s: float, right_s: float, left_pain: int | None = None) -> NurseFeed:
    return NurseFeed(
        start_at=at,
        end_at=at + timedelta(seconds=left_s + right_s),
        child="Robin",
        sides={
            "left": NurseSide(duration_s=left_s, pain=left_pain),
            "right": NurseSide(duration_s=right_s),
        },
    )


def bottled(
    at: datetime,
    amount_ml: float,
    bags: dict[str, float] | None = None,
    content: BottleContent = BottleContent.EXPRESSED,
    **extra: Any,
) -> BottleFeed:
    uses = tuple(BagUse(bag=code, volume_ml=ml) for code, ml in (bags or {}).items())
    return BottleFeed(
        start_at=at, child="Robin", amount_ml=amount_ml, content=content, bags=uses, **extra
    )


def felt(
    at: datetime,
    left_pain: int | None = None,
    right_pain: int | None = None,
    fever_c: float | None = None,
) -> Symptom:
    sides = {}
    if left_pain is not None:
        sides["left"] = SymptomSide(pain=left_pain)
    if right_pain is not None:
        sides["right"] = SymptomSide(pain=right_pain)
    return Symptom(start_at=at, sides=sides, fever_c=fever_c)


def fill(book: Book, *volumes_ml: float, at: datetime = T0) -> list[str]:
    """Bags of fresh milk in the fridge, labelled A, B, C..."""
    codes = []
    for index, volume_ml in enumerate(volumes_ml):
        code = "ACDEF"[index]
        book.stash_add(volume_ml, expressed_at=at, location=Location.FRIDGE, code=code)
        codes.append(code)
    return codes


def remaining(book: Book) -> dict[str, tuple[float, str]]:
    return {bag.code: (bag.remaining_ml, bag.status) for bag in book.stash(include_closed=True)}


# --- entries -----------------------------------------------------------------------------


def test_every_kind_is_stored_with_who_entered_it_and_when(book: Book) -> None:
    sam = book.as_member("Sam")
    records: list[Record] = [
        pumped(),
        nursed(T0 + HOUR, 600, 300),
        bottled(T0 + 2 * HOUR, 90, content=BottleContent.DONOR),
        Care(start_at=T0 + 3 * HOUR, care=CareKind.LACTATION_CONSULTANT_VISIT),
        felt(T0 + 4 * HOUR, fever_c=38.2),
    ]
    for record in records:
        before = datetime.now(UTC)
        stored = sam.add(record)
        after = datetime.now(UTC)
        assert stored.record == record
        assert stored.kind == record.kind
        assert (stored.version, stored.entered_by, stored.updated_by) == (1, "Sam", "Sam")
        assert before - timedelta(seconds=1) <= stored.entered_at <= after + timedelta(seconds=1)
        assert book.get(stored.id) == stored
        assert book.get(stored.uid) == stored
        assert book.get(str(stored.id)) == stored
        [created] = book.revisions(stored.uid)
        assert (created.version, created.action, created.changed_by) == (1, "created", "Sam")


def test_an_import_keeps_its_uid_and_when_it_was_entered(book: Book, journal: Journal) -> None:
    entered_at = T0 - DAY
    stored = book.add(pumped(), uid="babybuddy-pumping-17", entered_at=entered_at)
    assert book.get("babybuddy-pumping-17").id == stored.id
    assert stored.entered_at == entered_at
    before = counts(journal)
    with pytest.raises(InvalidEntryError, match="uid babybuddy-pumping-17 exists already"):
        book.add(pumped(T0 + HOUR), uid="babybuddy-pumping-17")
    with pytest.raises(InvalidEntryError, match="entered_at: give a time with its offset"):
        book.add(pumped(T0 + HOUR), entered_at=datetime(2026, 3, 10, 8, 0))
    assert counts(journal) == before


def test_an_unknown_child_is_named_with_the_children_there_are(
    book: Book, journal: Journal
) -> None:
    before = counts(journal)
    feed = nursed(T0, 300, 300).model_copy(update={"child": "Kim"})
    with pytest.raises(NotFoundError, match=r"no child named 'Kim' \(children: Robin\)"):
        book.add(feed)
    with pytest.raises(NotFoundError, match="no child named 'Kim'"):
        book.add(bottled(T0, 60).model_copy(update={"child": "Kim"}))
    assert counts(journal) == before


def test_an_unknown_entry_is_not_found(book: Book) -> None:
    book.add(pumped())
    for ref in (999, "999", "no-such-uid"):
        with pytest.raises(NotFoundError, match=f"no entry {ref} in Home"):
            book.get(ref)


def test_each_edit_is_a_new_version_that_keeps_the_one_before(book: Book) -> None:
    stored = book.add(pumped(left_ml=60))
    sam = book.as_member("Sam")
    edited = sam.edit(stored.id, {"sides": {"left": {"volume_ml": 65}, "right": {"volume_ml": 80}}})
    again = book.edit(stored.uid, {"notes": "after the night feed"})
    assert (edited.version, again.version) == (2, 3)
    assert (again.entered_by, again.updated_by) == ("Alex", "Alex")
    assert edited.updated_by == "Sam"
    assert again.record.notes == "after the night feed"
    assert isinstance(again.record, PumpSession)
    assert again.record.sides["left"].volume_ml == 65
    revisions = book.revisions(stored.id)
    assert [(r.version, r.action, r.changed_by) for r in revisions] == [
        (1, "created", "Alex"),
        (2, "edited", "Sam"),
        (3, "edited", "Alex"),
    ]
    assert [r.record for r in revisions] == [stored.record, edited.record, again.record]


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"colour": "white"}, InvalidEntryError, "colour: is not a field of this kind of entry"),
        ({"kind": "care"}, InvalidEntryError, "kind: an entry cannot change kind"),
        (
            {"end_at": "2026-03-10T07:00:00+00:00"},
            InvalidEntryError,
            r"end: the end \(.*\) is before the start",
        ),
        ({"start_at": "2026-03-10T08:00:00"}, InvalidEntryError, "start: needs its offset"),
        ({"sides": {"left": {"duration_s": 60, "pain": 11}}}, InvalidEntryError, "pain"),
        ({"child": "Kim"}, NotFoundError, "no child named 'Kim'"),
    ],
)
def test_a_bad_edit_says_why_and_changes_nothing(
    book: Book, journal: Journal, changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    stored = book.add(nursed(T0, 600, 300))
    before = counts(journal)
    with pytest.raises(error, match=message):
        book.edit(stored.id, changes)
    assert counts(journal) == before
    assert book.get(stored.id) == stored


def test_a_deleted_entry_leaves_the_history_but_keeps_its_revisions(book: Book) -> None:
    kept = book.add(pumped(T0, left_ml=10, right_ml=10))
    gone = book.add(pumped(T0 + HOUR))
    book.edit(gone.id, {"notes": "wrong day"})
    book.as_member("Sam").delete(gone.uid)
    with pytest.raises(NotFoundError):
        book.get(gone.id)
    assert [entry.id for entry in book.history()] == [kept.id]
    assert book.summary(T0 - DAY, T0 + DAY).pumped_total_ml == 20
    revisions = book.revisions(gone.id)
    assert [(r.version, r.action, r.changed_by) for r in revisions] == [
        (1, "created", "Alex"),
        (2, "edited", "Alex"),
        (3, "deleted", "Sam"),
    ]
    assert revisions[-1].record.notes == "wrong day"
    with pytest.raises(NotFoundError):
        book.edit(gone.id, {"notes": "back"})
    with pytest.raises(NotFoundError):
        book.delete(gone.id)


# --- bottles and their bags --------------------------------------------------------------


def test_a_bottle_draws_down_each_bag_it_names(book: Book) -> None:
    fill(book, 100, 50)
    book.add(bottled(T0 + HOUR, 90, {"A": 60, "c": 30}))
    assert remaining(book) == {"A": (40, "stored"), "C": (20, "stored")}


def test_a_bottle_that_empties_a_bag_uses_it_up(book: Book) -> None:
    fill(book, 100)
    book.add(bottled(T0 + HOUR, 100, {"A": 100}))
    bag = book.bag("A")
    assert (bag.remaining_ml, bag.status, bag.closed_at) == (0, "used", T0 + HOUR)
    assert book.stash() == []
    assert [bag.code for bag in book.stash(include_closed=True)] == ["A"]
    with pytest.raises(StashRuleError, match="bag A was used already"):
        book.add(bottled(T0 + 2 * HOUR, 10, {"A": 10}))


def test_a_bag_is_finished_when_its_last_milk_was_taken(book: Book) -> None:
    fill(book, 100)
    book.add(bottled(T0 + 3 * HOUR, 60, {"A": 60}))
    book.add(bottled(T0 + HOUR, 40, {"A": 40}))
    assert book.bag("A").closed_at == T0 + 3 * HOUR


@pytest.mark.parametrize(
    ("bags", "error", "message"),
    [
        ({"A": 60, "C": 80}, InvalidEntryError, "bag C holds 50 mL, not the 80 mL this bottle"),
        ({"A": 60, "ZZZ": 10}, NotFoundError, "no bag labelled 'ZZZ'"),
    ],
)
def test_a_bottle_the_stash_cannot_give_is_refused_whole(
    book: Book,
    journal: Journal,
    bags: dict[str, float],
    error: type[Exception],
    message: str,
) -> None:
    fill(book, 100, 50)
    before = counts(journal)
    with pytest.raises(error, match=message):
        book.add(bottled(T0 + HOUR, 140, bags))
    assert counts(journal) == before
    assert remaining(book) == {"A": (100, "stored"), "C": (50, "stored")}


def test_milk_past_its_use_by_is_refused(book: Book, journal: Journal) -> None:
    book.stash_add(80, expressed_at=T0, location=Location.ROOM, code="WARM")
    before = counts(journal)
    with pytest.raises(StashRuleError, match=r"bag WARM expired at .*room: 4 h \(CDC\)"):
        book.add(bottled(T0 + 5 * HOUR, 80, {"WARM": 80}))
    assert counts(journal) == before
    book.add(bottled(T0 + 3 * HOUR, 80, {"WARM": 80}))
    assert book.bag("WARM").status == "used"


def test_a_bottle_cannot_use_milk_before_it_was_stored(book: Book, journal: Journal) -> None:
    fill(book, 100, at=T0 + DAY)
    before = counts(journal)
    with pytest.raises(InvalidEntryError, match="bag A was not stored yet at the bottle's time"):
        book.add(bottled(T0, 60, {"A": 60}))
    assert counts(journal) == before


def test_editing_a_bottles_bags_returns_the_milk_and_draws_it_again(book: Book) -> None:
    fill(book, 100, 50)
    stored = book.add(bottled(T0 + HOUR, 60, {"A": 60}))
    book.edit(stored.id, {"amount_ml": 40, "bags": [{"bag": "C", "volume_ml": 40}]})
    assert remaining(book) == {"A": (100, "stored"), "C": (10, "stored")}
    book.edit(stored.id, {"amount_ml": 100, "bags": [{"bag": "A", "volume_ml": 100}]})
    assert remaining(book) == {"A": (0, "used"), "C": (50, "stored")}
    book.edit(stored.id, {"content": "formula", "bags": []})
    assert remaining(book) == {"A": (100, "stored"), "C": (50, "stored")}
    assert book.get(stored.id).version == 4


def test_editing_a_bottle_to_before_its_bag_was_stored_changes_nothing(
    book: Book, journal: Journal
) -> None:
    fill(book, 100, at=T0 + HOUR)
    stored = book.add(bottled(T0 + 2 * HOUR, 60, {"A": 60}))
    before = counts(journal)
    with pytest.raises(InvalidEntryError, match="bag A was not stored yet"):
        book.edit(stored.id, {"start_at": T0.isoformat()})
    assert counts(journal) == before
    assert remaining(book) == {"A": (40, "stored")}
    assert book.get(stored.id) == stored


def test_a_bottle_stays_editable_after_its_bag_is_discarded(book: Book) -> None:
    fill(book, 100)
    stored = book.add(bottled(T0 + HOUR, 40, {"A": 40}))
    book.stash_discard("A", "smelled soapy", at=T0 + 2 * HOUR)
    edited = book.edit(stored.id, {"notes": "took it all", "leftover_ml": 5})
    assert (edited.version, edited.record.notes) == (2, "took it all")
    assert remaining(book) == {"A": (60, "discarded")}
    with pytest.raises(StashRuleError, match="bag A was discarded already"):
        book.edit(stored.id, {"amount_ml": 50, "bags": [{"bag": "A", "volume_ml": 50}]})
    assert remaining(book) == {"A": (60, "discarded")}


def test_deleting_a_bottle_gives_its_milk_back_to_the_bag(book: Book) -> None:
    fill(book, 100)
    stored = book.add(bottled(T0 + HOUR, 100, {"A": 100}))
    book.delete(stored.id)
    bag = book.bag("A")
    assert (bag.remaining_ml, bag.status, bag.closed_at) == (100, "stored", None)
    book.stash_use("A", child="Robin", at=T0 + 2 * HOUR, volume_ml=30)
    assert book.bag("A").remaining_ml == 70


def test_label_rounding_never_adds_milk_to_a_bag(book: Book) -> None:
    fill(book, 100)
    stored = book.add(bottled(T0 + HOUR, 100.4, {"A": 100.4}))
    assert remaining(book) == {"A": (0, "used")}
    book.edit(stored.id, {"amount_ml": 90, "bags": [{"bag": "A", "volume_ml": 90}]})
    assert remaining(book) == {"A": (10, "stored")}
    book.delete(stored.id)
    assert remaining(book) == {"A": (100, "stored")}
    with pytest.raises(InvalidEntryError, match="bag A holds 100 mL, not the 101 mL"):
        book.add(bottled(T0 + HOUR, 101, {"A": 101}))


# --- leftovers ---------------------------------------------------------------------------


def test_leftovers_of_a_bottle_keep_two_hours(book: Book) -> None:
    with_left = book.add(bottled(T0, 120, leftover_ml=30))
    book.add(bottled(T0 + 30 * MINUTE, 90))
    assert with_left.leftover_use_by == T0 + 2 * HOUR
    assert [entry.id for entry in book.leftovers(T0 + HOUR)] == [with_left.id]
    assert book.leftovers(T0 + 2 * HOUR) == []
    assert book.leftovers(T0 - MINUTE) == []


# --- the stash ---------------------------------------------------------------------------


def test_a_new_bag_gets_a_short_code_that_reads_clearly(book: Book) -> None:
    codes = {book.stash_add(50, expressed_at=T0).code for _ in range(20)}
    assert len(codes) == 20
    for code in codes:
        assert len(code) == 3
        assert set(code) <= set(CODE_ALPHABET)
    assert not set(CODE_ALPHABET) & set("0O1I5S8B")


def test_a_code_given_by_hand_is_kept_in_capitals(book: Book, journal: Journal) -> None:
    bag = book.stash_add(50, expressed_at=T0, code=" mon-am ")
    assert bag.code == "MON-AM"
    assert book.bag("mon-am").uid == bag.uid
    before = counts(journal)
    with pytest.raises(InvalidEntryError, match="a bag labelled MON-AM exists already"):
        book.stash_add(50, expressed_at=T0, code="Mon-Am")
    with pytest.raises(InvalidEntryError, match="code: 1 to 20 letters, digits or hyphens"):
        book.stash_add(50, expressed_at=T0, code="X" * 21)
    assert counts(journal) == before


def test_a_bag_remembers_the_sessions_its_milk_came_from(book: Book, journal: Journal) -> None:
    morning = book.add(pumped(T0))
    noon = book.add(pumped(T0 + 4 * HOUR))
    feed = book.add(nursed(T0 + 5 * HOUR, 300, 300))
    bag = book.stash_add(
        280, expressed_at=T0 + 4 * HOUR, sources=[morning.id, noon.uid, str(morning.id)]
    )
    assert sorted(bag.sources) == sorted([morning.uid, noon.uid])
    before = counts(journal)
    with pytest.raises(InvalidEntryError, match="milk comes from a pump session"):
        book.stash_add(50, expressed_at=T0, sources=[feed.id])
    with pytest.raises(NotFoundError, match="no entry 999"):
        book.stash_add(50, expressed_at=T0, sources=[morning.id, 999])
    assert counts(journal) == before


@pytest.mark.parametrize("volume_ml", [-5.0, 0.0, 2500.0, math.nan, math.inf])
def test_a_bag_volume_must_be_real(book: Book, journal: Journal, volume_ml: float) -> None:
    before = counts(journal)
    with pytest.raises(InvalidEntryError, match=r"volume: .* mL is not between 0 and 2000 mL"):
        book.stash_add(volume_ml, expressed_at=T0)
    assert counts(journal) == before


def test_a_bag_needs_times_with_offsets_in_order(book: Book, journal: Journal) -> None:
    before = counts(journal)
    with pytest.raises(InvalidEntryError, match="expressed_at: give a time with its offset"):
        book.stash_add(50, expressed_at=datetime(2026, 3, 10, 8, 0))
    with pytest.raises(InvalidEntryError, match="stored_at: give a time with its offset"):
        book.stash_add(50, expressed_at=T0, stored_at=datetime(2026, 3, 10, 9, 0))
    with pytest.raises(InvalidEntryError, match="stored before it was expressed"):
        book.stash_add(50, expressed_at=T0, stored_at=T0 - HOUR)
    assert counts(journal) == before


def test_a_bag_entered_late_keeps_its_time_from_expression(book: Book) -> None:
    entered_later = book.stash_add(100, expressed_at=T0, location=Location.FRIDGE)
    assert entered_later.stays[0].since == T0
    assert entered_later.expiry.use_by == T0 + 4 * DAY
    left_out = book.stash_add(100, expressed_at=T0, stored_at=T0 + HOUR, location=Location.FRIDGE)
    # An hour at room temperature used a quarter of the budget: 3 of the fridge's 4 days.
    assert left_out.expiry.use_by == T0 + HOUR + 3 * DAY


def test_every_move_is_kept_and_each_place_spends_its_share(book: Book) -> None:
    book.stash_add(100, expressed_at=T0, location=Location.FRIDGE, code="A")
    book.stash_move("A", Location.ROOM, at=T0 + 2 * DAY)
    out = book.bag("A")
    assert out.expiry.use_by == T0 + 2 * DAY + 2 * HOUR
    back = book.stash_move("A", Location.FRIDGE, at=T0 + 2 * DAY + HOUR)
    # Half the fridge's budget, then a quarter of the room's: a quarter (1 day) is left.
    assert back.expiry.use_by == T0 + 3 * DAY + HOUR
    assert [(stay.location, stay.since - T0) for stay in back.stays] == [
        (Location.FRIDGE, timedelta(0)),
        (Location.ROOM, 2 * DAY),
        (Location.FRIDGE, 2 * DAY + HOUR),
    ]
    assert back.location is Location.FRIDGE


def test_frozen_milk_thaws_once_and_is_never_refrozen(book: Book, journal: Journal) -> None:
    book.stash_add(120, expressed_at=T0, location=Location.FRIDGE, code="A")
    frozen = book.stash_move("A", Location.DEEP_FREEZER, at=T0 + DAY)
    assert frozen.expiry.best_by == T0 + timedelta(days=182)
    assert frozen.expiry.use_by == T0 + timedelta(days=365)
    thawed = book.stash_move("A", Location.FRIDGE, at=T0 + 40 * DAY)
    assert thawed.expiry.thawed_at == T0 + 40 * DAY
    assert thawed.expiry.use_by == T0 + 41 * DAY
    before = counts(journal)
    for freezer in (Location.FREEZER, Location.DEEP_FREEZER):
        with pytest.raises(StashRuleError, match="thawed milk must never be refrozen"):
            book.stash_move("A", freezer, at=T0 + 40 * DAY + HOUR)
    assert counts(journal) == before
    assert book.bag("A") == thawed


def test_a_move_must_go_somewhere_else_and_forward_in_time(book: Book, journal: Journal) -> None:
    book.stash_add(100, expressed_at=T0, location=Location.FRIDGE, code="A")
    book.stash_move("A", Location.COOLER, at=T0 + DAY)
    before = counts(journal)
    with pytest.raises(InvalidEntryError, match="bag A is already in the cooler"):
        book.stash_move("A", Location.COOLER, at=T0 + DAY + HOUR)
    with pytest.raises(StashRuleError, match="before the bag's last move"):
        book.stash_move("A", Location.FRIDGE, at=T0 + HOUR)
    with pytest.raises(InvalidEntryError, match="at: give a time with its offset"):
        book.stash_move("A", Location.FRIDGE, at=datetime(2026, 3, 12, 8, 0))
    with pytest.raises(NotFoundError, match="no bag labelled 'Z'"):
        book.stash_move("Z", Location.FRIDGE, at=T0 + 2 * DAY)
    assert counts(journal) == before


def test_use_next_lists_good_bags_soonest_to_expire_first(book: Book) -> None:
    book.stash_add(60, expressed_at=T0 - 30 * DAY, location=Location.FREEZER, code="OLDICE")
    book.stash_add(60, expressed_at=T0 - 10 * DAY, location=Location.FREEZER, code="NEWICE")
    book.stash_add(60, expressed_at=T0, location=Location.FRIDGE, code="NEWCOLD")
    book.stash_add(60, expressed_at=T0 - DAY, location=Location.FRIDGE, code="OLDCOLD")
    book.stash_add(60, expressed_at=T0 + 2 * HOUR, location=Location.ROOM, code="WARM")
    book.stash_add(60, expressed_at=T0 - 2 * HOUR, location=Location.ROOM, code="STALE")
    book.stash_add(60, expressed_at=T0 - HOUR, location=Location.FRIDGE, code="GONE")
    book.stash_discard("GONE", "spilled", at=T0)
    now = T0 + 3 * HOUR
    assert [bag.code for bag in book.use_next(now)] == [
        "WARM",
        "OLDCOLD",
        "NEWCOLD",
        "OLDICE",
        "NEWICE",
    ]
    assert book.bag("STALE").expired(now)
    assert not book.bag("GONE").expired(now)


def test_bags_expiring_today_follow_the_households_zone(book: Book, journal: Journal) -> None:
    # 22:30 UTC on 15 January is 23:30 in Paris; milk at room temperature keeps 4 hours.
    now = datetime(2026, 1, 15, 22, 30, tzinfo=UTC)
    cabin = journal.create_household(
        HouseholdInfo(name="Cabin", time_zone="UTC"), MemberInfo(name="Kim", role=Role.PARTNER)
    )
    for household in (book, cabin):
        for code, use_by in [("TONIGHT", (22, 45)), ("PASTMIDNIGHT", (23, 30)), ("GONE", (22, 0))]:
            expressed_at = datetime(2026, 1, 15, *use_by, tzinfo=UTC) - 4 * HOUR
            household.stash_add(60, expressed_at=expressed_at, location=Location.ROOM, code=code)
        household.stash_add(60, expressed_at=now - HOUR, location=Location.FRIDGE, code="COLD")
    assert [bag.code for bag in book.expiring_today(now)] == ["TONIGHT"]
    assert [bag.code for bag in cabin.expiring_today(now)] == ["TONIGHT", "PASTMIDNIGHT"]
    after_midnight_in_paris = datetime(2026, 1, 16, 0, 10, tzinfo=timezone(timedelta(hours=1)))
    assert [bag.code for bag in book.expiring_today(after_midnight_in_paris)] == ["PASTMIDNIGHT"]
    # The fridge's 4 days end at 22:30 in Paris on the 19th, and not before.
    assert [bag.code for bag in book.expiring_today(datetime(2026, 1, 18, 12, tzinfo=UTC))] == []
    assert [bag.code for bag in book.expiring_today(datetime(2026, 1, 19, 12, tzinfo=UTC))] == [
        "COLD"
    ]


def test_feeding_from_a_bag_takes_all_that_is_left_unless_told(book: Book) -> None:
    fill(book, 100, 80)
    some = book.stash_use("A", child="Robin", at=T0 + HOUR, volume_ml=30, notes="top-up")
    assert isinstance(some.record, BottleFeed)
    assert (some.record.amount_ml, some.record.notes) == (30, "top-up")
    rest = book.stash_use("a", child="Robin", at=T0 + 2 * HOUR)
    assert isinstance(rest.record, BottleFeed)
    assert rest.record.amount_ml == 70
    assert rest.record.bags == (BagUse(bag="A", volume_ml=70),)
    assert remaining(book) == {"A": (0, "used"), "C": (80, "stored")}
    assert book.summary(T0, T0 + DAY).bottle_ml["expressed"] == 100


def test_feeding_from_a_bag_that_cannot_give_says_why(book: Book, journal: Journal) -> None:
    fill(book, 100)
    book.stash_use("A", child="Robin", at=T0 + HOUR)
    book.stash_add(50, expressed_at=T0, code="KEPT")
    before = counts(journal)
    with pytest.raises(StashRuleError, match="bag A was used already"):
        book.stash_use("A", child="Robin", at=T0 + 2 * HOUR)
    with pytest.raises(NotFoundError, match="no bag labelled 'ZZZ'"):
        book.stash_use("ZZZ", child="Robin", at=T0 + 2 * HOUR)
    with pytest.raises(NotFoundError, match="no child named 'Kim'"):
        book.stash_use("KEPT", child="Kim", at=T0 + 2 * HOUR)
    with pytest.raises(InvalidEntryError, match="bag KEPT holds 50 mL, not the 60 mL"):
        book.stash_use("KEPT", child="Robin", at=T0 + 2 * HOUR, volume_ml=60)
    with pytest.raises(InvalidEntryError, match="amount: must be more than 0 mL"):
        book.stash_use("KEPT", child="Robin", at=T0 + 2 * HOUR, volume_ml=-5)
    with pytest.raises(InvalidEntryError, match="at: give a time with its offset"):
        book.stash_use("KEPT", child="Robin", at=datetime(2026, 3, 10, 10, 0))
    assert counts(journal) == before


def test_a_discarded_bag_says_why_and_takes_no_more_moves(book: Book, journal: Journal) -> None:
    fill(book, 100)
    with pytest.raises(InvalidEntryError, match="reason: say why"):
        book.stash_discard("A", "  ", at=T0 + HOUR)
    bag = book.stash_discard("A", " left out overnight ", at=T0 + HOUR)
    assert (bag.status, bag.reason, bag.closed_at) == ("discarded", "left out overnight", T0 + HOUR)
    assert book.stash() == []
    assert book.stash(include_closed=True) == [bag]
    before = counts(journal)
    with pytest.raises(StashRuleError, match="bag A was discarded already"):
        book.stash_move("A", Location.ROOM, at=T0 + 2 * HOUR)
    with pytest.raises(StashRuleError, match="bag A was discarded already"):
        book.stash_discard("A", "again", at=T0 + 2 * HOUR)
    assert counts(journal) == before


# --- people ------------------------------------------------------------------------------


def test_members_children_and_pregnancies(book: Book, journal: Journal) -> None:
    book.add_member(MemberInfo(name="Grandma", role=Role.CAREGIVER))
    book.add_member(MemberInfo(name="Val", role=Role.VIEWER))
    assert [(member.name, member.role) for member in book.members()] == [
        ("Alex", Role.NURSING_PARENT),
        ("Sam", Role.PARTNER),
        ("Grandma", Role.CAREGIVER),
        ("Val", Role.VIEWER),
    ]
    book.add_child(ChildInfo(name="Noa", birth_date=date(2026, 2, 1)))
    assert book.children() == [
        ChildInfo(name="Robin"),
        ChildInfo(name="Noa", birth_date=date(2026, 2, 1)),
    ]
    book.add_pregnancy(PregnancyInfo(due_date=date(2027, 5, 1), notes="second"))
    book.add_pregnancy(PregnancyInfo(due_date=date(2026, 12, 1)))
    assert [p.due_date for p in book.pregnancies()] == [date(2026, 12, 1), date(2027, 5, 1)]
    before = counts(journal)
    with pytest.raises(InvalidEntryError, match="a member named 'Sam' exists already"):
        book.add_member(MemberInfo(name="Sam", role=Role.CAREGIVER))
    with pytest.raises(InvalidEntryError, match="a child named 'Noa' exists already"):
        book.add_child(ChildInfo(name="Noa"))
    with pytest.raises(NotFoundError, match="no member named 'Pat' in Home"):
        book.as_member("Pat")
    assert counts(journal) == before


def test_a_members_role_changes_and_then_decides_what_they_may_do(book: Book) -> None:
    assert book.set_role("Sam", Role.VIEWER) == book.as_member("Sam").member
    assert book.as_member("Sam").member.role is Role.VIEWER
    with pytest.raises(NotAllowedError, match="Sam is a viewer"):
        book.as_member("Sam").add(pumped())
    with pytest.raises(NotAllowedError):
        book.as_member("Sam").set_role("Sam", Role.PARTNER)
    with pytest.raises(NotFoundError, match="no member named 'Pat' in Home"):
        book.set_role("Pat", Role.PARTNER)
    book.set_role("Sam", Role.PARTNER)
    book.as_member("Sam").add(pumped())


def test_a_journal_opens_the_book_of_a_named_household(book: Book, journal: Journal) -> None:
    assert journal.book().member.name == "Alex"
    assert journal.book("Home", "Sam").member.role is Role.PARTNER
    assert journal.book("Home").household.time_zone == "Europe/Paris"
    journal.create_household(HouseholdInfo(name="Cabin"), MemberInfo(name="Kim", role=Role.PARTNER))
    assert journal.household_names() == ["Home", "Cabin"]
    with pytest.raises(NotFoundError, match=r"several households \(Home, Cabin\): name one"):
        journal.book()
    with pytest.raises(NotFoundError, match="no household named 'Attic'"):
        journal.book("Attic")
    with pytest.raises(NotFoundError, match="no member named 'Kim' in Home"):
        journal.book("Home", "Kim")
    with pytest.raises(InvalidEntryError, match="a household named 'Cabin' exists already"):
        journal.create_household(
            HouseholdInfo(name="Cabin"), MemberInfo(name="Lee", role=Role.PARTNER)
        )


def test_a_viewer_reads_but_cannot_write(book: Book, journal: Journal) -> None:
    stored = book.add(pumped())
    book.stash_add(100, expressed_at=T0, code="A")
    book.add_member(MemberInfo(name="Val", role=Role.VIEWER))
    viewer = journal.book("Home", "Val")
    assert viewer.get(stored.id) == stored
    assert [bag.code for bag in viewer.stash()] == ["A"]
    writes: list[Callable[[], object]] = [
        lambda: viewer.add(pumped(T0 + HOUR)),
        lambda: viewer.edit(stored.id, {"notes": "seen"}),
        lambda: viewer.delete(stored.id),
        lambda: viewer.stash_add(50, expressed_at=T0),
        lambda: viewer.stash_move("A", Location.ROOM, at=T0 + HOUR),
        lambda: viewer.stash_use("A", child="Robin", at=T0 + HOUR),
        lambda: viewer.stash_discard("A", "old", at=T0 + HOUR),
        lambda: viewer.add_member(MemberInfo(name="Eve", role=Role.NURSING_PARENT)),
        lambda: viewer.add_child(ChildInfo(name="Noa")),
        lambda: viewer.add_pregnancy(PregnancyInfo(due_date=date(2027, 1, 1))),
    ]
    before = counts(journal)
    for write in writes:
        with pytest.raises(NotAllowedError, match="Val is a viewer and cannot change the journal"):
            write()
    assert counts(journal) == before
    assert issubclass(NotAllowedError, PermissionError)


def test_another_household_sees_and_touches_nothing_of_this_one(
    book: Book, journal: Journal
) -> None:
    stored = book.add(pumped())
    book.stash_add(100, expressed_at=T0, code="ACD")
    cabin = journal.create_household(
        HouseholdInfo(name="Cabin"), MemberInfo(name="Kim", role=Role.NURSING_PARENT)
    )
    cabin.add_child(ChildInfo(name="Robin"))
    assert cabin.history() == []
    assert cabin.stash() == []
    assert cabin.summary(T0 - DAY, T0 + DAY).pump_sessions == 0
    assert [member.name for member in cabin.members()] == ["Kim"]
    before = counts(journal)
    reaches: list[Callable[[], object]] = [
        lambda: cabin.get(stored.id),
        lambda: cabin.get(stored.uid),
        lambda: cabin.edit(stored.id, {"notes": "mine now"}),
        lambda: cabin.delete(stored.uid),
        lambda: cabin.revisions(stored.id),
        lambda: cabin.bag("ACD"),
        lambda: cabin.stash_move("ACD", Location.ROOM, at=T0 + HOUR),
        lambda: cabin.stash_use("ACD", child="Robin", at=T0 + HOUR),
        lambda: cabin.stash_discard("ACD", "not ours", at=T0 + HOUR),
        lambda: cabin.add(bottled(T0 + HOUR, 50, {"ACD": 50})),
        lambda: cabin.stash_add(50, expressed_at=T0, sources=[stored.id]),
        lambda: cabin.as_member("Alex"),
    ]
    for reach in reaches:
        with pytest.raises(NotFoundError):
            reach()
    assert counts(journal) == before
    assert book.get(stored.id) == stored
    assert remaining(book) == {"ACD": (100, "stored")}
    assert cabin.stash_add(40, expressed_at=T0, code="ACD").remaining_ml == 40


# --- history and summary -----------------------------------------------------------------


def test_history_is_newest_first_and_filters_by_span_kind_and_count(book: Book) -> None:
    entries = [
        book.add(pumped(T0)),
        book.add(nursed(T0 + HOUR, 600, 600)),
        book.add(bottled(T0 + 2 * HOUR, 90, content=BottleContent.FORMULA)),
        book.add(pumped(T0 + 3 * HOUR)),
        book.add(felt(T0 + 4 * HOUR, left_pain=3)),
    ]
    ids = [entry.id for entry in entries]
    assert [entry.id for entry in book.history()] == ids[::-1]
    assert [e.id for e in book.history(since=T0 + HOUR, until=T0 + 3 * HOUR)] == [ids[2], ids[1]]
    assert [e.id for e in book.history(kinds=["pump"])] == [ids[3], ids[0]]
    assert [e.id for e in book.history(kinds=["pump", "symptom"], limit=2)] == [ids[4], ids[3]]
    assert [e.id for e in book.history(limit=1)] == [ids[4]]
    paris = timezone(timedelta(hours=1))
    since_local = (T0 + 3 * HOUR).astimezone(paris)
    assert [e.id for e in book.history(since=since_local)] == [ids[4], ids[3]]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"kinds": ["feed"]}, "kinds: 'feed' unknown"),
        ({"limit": -1}, "limit: -1 is negative"),
        ({"since": datetime(2026, 3, 10)}, "since: give a time with its offset"),
        ({"until": datetime(2026, 3, 10)}, "until: give a time with its offset"),
    ],
)
def test_a_bad_history_query_says_why(book: Book, query: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidEntryError, match=message):
        book.history(**query)


def test_the_summary_totals_a_day_and_a_week(book: Book) -> None:
    now = T0 + 7 * DAY
    day, week = now - DAY, now - 7 * DAY
    # In the last 24 hours.
    book.add(pumped(now - 20 * HOUR, left_ml=50, right_ml=70, left_pain=3))
    book.add(pumped(now - 10 * HOUR, left_ml=40, right_ml=55))
    book.add(nursed(now - 8 * HOUR, 600, 420, left_pain=5))
    book.add(bottled(now - 6 * HOUR, 90))
    book.add(bottled(now - 5 * HOUR, 60, content=BottleContent.FORMULA))
    book.add(felt(now - 4 * HOUR, left_pain=2, right_pain=4, fever_c=37.8))
    book.add(Care(start_at=now - 3 * HOUR, care=CareKind.SALVE, side="right"))
    # Earlier in the week.
    book.add(pumped(now - 3 * DAY, left_ml=100, right_ml=100, right_pain=7))
    book.add(felt(now - 2 * DAY, fever_c=38.9))
    book.add(bottled(now - 2 * DAY, 120, content=BottleContent.DONOR))
    # Outside both, deleted, or in the future.
    book.add(pumped(now - 8 * DAY, left_ml=500, right_ml=500))
    book.delete(book.add(pumped(now - 2 * HOUR, left_ml=300, right_ml=300, left_pain=9)).id)
    book.add(pumped(now + HOUR, left_ml=900, right_ml=900))

    today = book.summary(day, now)
    assert (today.since, today.until) == (day, now)
    assert today.pump_sessions == 2
    assert today.pumped_ml == {"left": 90, "right": 125}
    assert today.pumped_total_ml == 215
    assert (today.nurse_feeds, today.nursed_s) == (1, {"left": 600, "right": 420})
    assert today.bottles == 2
    assert today.bottle_ml == {"expressed": 90, "donor": 0, "formula": 60}
    assert (today.care, today.symptoms) == (1, 1)
    assert today.worst_pain == {"left": 5, "right": 4}
    assert today.highest_fever_c == 37.8

    week_summary = book.summary(week, now)
    assert week_summary.pump_sessions == 3
    assert week_summary.pumped_ml == {"left": 190, "right": 225}
    assert week_summary.bottle_ml == {"expressed": 90, "donor": 120, "formula": 60}
    assert week_summary.worst_pain == {"left": 5, "right": 7}
    assert week_summary.highest_fever_c == 38.9


def test_an_empty_summary_has_nothing_to_report(book: Book) -> None:
    empty = book.summary(T0, T0 + DAY)
    assert (empty.pump_sessions, empty.pumped_total_ml, empty.bottles) == (0, 0, 0)
    assert empty.worst_pain == {"left": None, "right": None}
    assert empty.highest_fever_c is None


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        (datetime(2026, 3, 10), None, "since: give a time with its offset"),
        (T0, datetime(2026, 3, 11), "until: give a time with its offset"),
        (T0, T0 - HOUR, "until: the span ends before it starts"),
    ],
)
def test_a_bad_summary_span_says_why(
    book: Book, since: datetime, until: datetime | None, message: str
) -> None:
    with pytest.raises(InvalidEntryError, match=message):
        book.summary(since, until)


def test_two_members_changing_the_same_entry_and_bag_at_once_both_land(
    book: Book, journal: Journal
) -> None:
    shared = book.add(pumped())
    fill(book, 100)
    edits, uses, start = 8, 5, threading.Barrier(2)
    errors: list[BaseException] = []

    def write(name: str) -> None:
        member = journal.book("Home", name)
        start.wait()
        try:
            for index in range(edits):
                member.edit(shared.id, {"notes": f"{name} {index}"})
                if index < uses:
                    member.stash_use("A", child="Robin", at=T0 + HOUR, volume_ml=5)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(name,)) for name in ("Alex", "Sam")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert errors == []
    assert book.get(shared.id).version == 1 + 2 * edits
    assert [r.version for r in book.revisions(shared.id)] == list(range(1, 2 + 2 * edits))
    assert book.bag("A").remaining_ml == 100 - 2 * uses * 5
