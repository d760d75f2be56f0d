"""The web app's shared copy of a household's last weeks (``RecentCache``).

A book given the cache and the household's revision answers the dashboard's reads
(history, summaries, the stash, leftovers) from the copy. What a member must see: the
same answers as the journal gives, every write (through any book, the importers or
another process) showing on the next read, and reads further back than the copy still
answered from the journal.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from letdown.journal import (
    BagUse,
    Book,
    BottleContent,
    BottleFeed,
    Care,
    CareKind,
    HouseholdInfo,
    Journal,
    Location,
    MemberInfo,
    NurseFeed,
    NurseSide,
    PumpSession,
    PumpSide,
    Role,
    Symptom,
    SymptomSide,
    schema,
)
from letdown.journal.babybuddy import import_babybuddy
from letdown.journal.book import RECENT_SPAN, RecentCache
from letdown.journal.records import now_utc

NOW = now_utc().replace(microsecond=0)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
EDGE = NOW - 5 * HOUR
"""An entry starts here: spans that begin or end on it (a span takes its start, not its end)."""


def revision(journal: Journal, book: Book) -> int:
    with Session(journal.engine) as session:
        found = session.scalar(select(schema.Household.revision).filter_by(id=book.household.id))
        assert found is not None
        return found


def cached(journal: Journal, book: Book, cache: RecentCache) -> Book:
    """The book as the web app builds it for one request: with the revision just read."""
    return Book(
        journal.engine,
        book.household,
        book.member,
        recent=cache,
        revision=revision(journal, book),
    )


def pumped(at: datetime, left_ml: float, right_ml: float, pain: int | None = None) -> PumpSession:
    return PumpSession(
        start_at=at,
        end_at=at + timedelta(minutes=15),
        sides={
            "left": PumpSide(volume_ml=left_ml, pain=pain),
            "right": PumpSide(volume_ml=right_ml),
        },
    )


def fill_weeks(book: Book, rng: random.Random, days: int) -> None:
    """A household's weeks: feeds, sessions, bottles from bags, care, symptoms."""
    for day in range(days):
        base = NOW - day * DAY
        for _ in range(rng.randint(2, 5)):
            at = base - rng.uniform(0, 24) * HOUR
            kind = rng.random()
            if kind < 0.35:
                book.add(pumped(at, rng.uniform(10, 90), rng.uniform(10, 90), rng.randint(0, 10)))
            elif kind < 0.7:
                book.add(
                    NurseFeed(
                        start_at=at,
                        end_at=at + timedelta(minutes=20),
                        child="Robin",
                        sides={"left": NurseSide(duration_s=rng.uniform(60, 900), pain=2)},
                    )
                )
            elif kind < 0.85:
                book.add(
                    BottleFeed(
                        start_at=at,
                        child="Robin",
                        amount_ml=rng.uniform(30, 120),
                        content=BottleContent.FORMULA,
                        leftover_ml=rng.choice([0.0, 10.0]),
                    )
                )
            elif kind < 0.93:
                book.add(Care(start_at=at, care=CareKind.SALVE))
            else:
                book.add(
                    Symptom(
                        start_at=at,
                        sides={"right": SymptomSide(pain=rng.randint(0, 10))},
                        fever_c=rng.choice([None, 38.4]),
                    )
                )
    book.add(pumped(EDGE, 30, 30))
    for index in range(4):
        book.stash_add(
            rng.uniform(40, 120),
            expressed_at=NOW - (index + 1) * DAY,
            location=rng.choice([Location.FRIDGE, Location.FREEZER]),
        )


def answers(book: Book) -> dict[str, object]:
    """What the app's screens ask a book, over spans inside and beyond the copy."""
    spans = [HOUR * 2, DAY, 7 * DAY, 31 * DAY, RECENT_SPAN + 5 * DAY]
    return {
        "summaries": [book.summary(NOW - span, NOW + HOUR) for span in spans],
        "edges": [book.summary(EDGE - DAY, EDGE), book.summary(EDGE, NOW)],
        "edge_histories": [book.history(EDGE - DAY, EDGE), book.history(EDGE, NOW)],
        "histories": [book.history(since=NOW - span) for span in spans],
        "feeds": book.history(kinds=["nurse", "bottle"], limit=1),
        "last_three": book.history(limit=3),
        "care_and_older": book.history(kinds=["care"], limit=40),
        "a_long_list": book.history(limit=1000),
        "older_than_a_day": book.history(until=NOW - DAY, limit=200),
        "everything": book.history(),
        "pumps_a_day": book.history(since=NOW - DAY, until=NOW - HOUR, kinds=["pump"]),
        "stash": book.stash(),
        "all_bags": book.stash(include_closed=True),
        "leftovers": book.leftovers(NOW + HOUR),
        "use_next": book.use_next(NOW),
    }


def test_a_book_with_the_copy_answers_as_the_journal_does(journal: Journal, book: Book) -> None:
    fill_weeks(book, random.Random(5), days=45)
    cache = RecentCache()
    assert answers(cached(journal, book, cache)) == answers(book)
    # Once more from the copy now built, and after changes of every sort.
    assert answers(cached(journal, book, cache)) == answers(book)
    entries = book.history(since=NOW - 3 * DAY)
    book.delete(entries[0].id)
    book.edit(entries[1].id, {"notes": "edited"})
    bag = book.stash()[0]
    to = Location.FRIDGE if bag.location is Location.FREEZER else Location.FREEZER
    book.stash_move(bag.code, to, NOW)
    book.stash_use(book.stash()[-1].code, child="Robin", at=NOW, volume_ml=20)
    book.stash_discard(book.stash()[0].code, "spilled", NOW)
    assert answers(cached(journal, book, cache)) == answers(book)


WRITES: dict[str, Callable[[Book], object]] = {
    "add": lambda book: book.add(pumped(NOW - HOUR, 50, 70)),
    "edit": lambda book: book.edit(book.history(limit=1)[0].id, {"notes": "sore"}),
    "delete": lambda book: book.delete(book.history(limit=1)[0].id),
    "stash_add": lambda book: book.stash_add(80, expressed_at=NOW - HOUR),
    "stash_move": lambda book: book.stash_move(book.stash()[0].code, Location.FREEZER, NOW),
    "stash_use": lambda book: book.stash_use(book.stash()[0].code, child="Robin", at=NOW),
    "stash_discard": lambda book: book.stash_discard(book.stash()[0].code, "smelled off", NOW),
    "bottle from a bag": lambda book: book.add(
        BottleFeed(
            start_at=NOW,
            child="Robin",
            amount_ml=30,
            content=BottleContent.EXPRESSED,
            bags=(BagUse(bag=book.stash()[0].code, volume_ml=30),),
        )
    ),
}


@pytest.mark.parametrize("write", WRITES, ids=list(WRITES))
def test_every_write_shows_on_the_next_read_from_the_copy(
    journal: Journal, book: Book, write: str
) -> None:
    book.add(pumped(NOW - 2 * HOUR, 40, 60))
    book.stash_add(100, expressed_at=NOW - DAY, location=Location.FRIDGE)
    cache = RecentCache()
    before = answers(cached(journal, book, cache))
    revision_before = revision(journal, book)
    WRITES[write](book)
    assert revision(journal, book) > revision_before
    after = answers(cached(journal, book, cache))
    assert after == answers(book)
    assert after != before


def test_a_write_from_another_process_shows_on_the_next_request(
    journal_url: str, journal: Journal, book: Book
) -> None:
    """The CLI writing beside the web app: another engine, the same household."""
    cache = RecentCache()
    seen = cached(journal, book, cache).summary(NOW - DAY, NOW + HOUR)
    with Journal.open(journal_url) as elsewhere:
        elsewhere.book("Home", "Sam").add(pumped(NOW - HOUR, 55, 65))
    now_seen = cached(journal, book, cache).summary(NOW - DAY, NOW + HOUR)
    assert now_seen.pump_sessions == seen.pump_sessions + 1
    assert now_seen.pumped_total_ml == pytest.approx(seen.pumped_total_ml + 120)


def test_a_book_keeps_to_the_journal_after_its_own_write(journal: Journal, book: Book) -> None:
    """A request that writes and then reads sees its write, though its revision was older."""
    request_book = cached(journal, book, RecentCache())
    assert request_book.summary(NOW - DAY, NOW + HOUR).pump_sessions == 0
    request_book.add(pumped(NOW - HOUR, 30, 30))
    assert request_book.summary(NOW - DAY, NOW + HOUR).pump_sessions == 1
    assert len(request_book.history(since=NOW - DAY)) == 1


def test_the_copies_keep_to_a_number_of_lines_dropping_the_least_read(
    journal: Journal, book: Book
) -> None:
    book.add(pumped(NOW - HOUR, 40, 40))
    others = [
        journal.create_household(
            HouseholdInfo(name=name), MemberInfo(name="Kim", role=Role.NURSING_PARENT)
        )
        for name in ("Other", "Third")
    ]
    for other in others:
        other.add(pumped(NOW - HOUR, 40, 40))
    cache = RecentCache(max_lines=2)
    home_book = cached(journal, book, cache)
    home_book.stash()
    cached(journal, others[0], cache).stash()
    home_book.stash()  # read again: now the most recently read
    cached(journal, others[1], cache).stash()
    assert cache.get(book.household.id, revision(journal, book)) is not None
    assert cache.get(others[0].household.id, revision(journal, others[0])) is None
    assert cache.get(others[1].household.id, revision(journal, others[1])) is not None


def test_a_journal_restored_from_a_backup_is_read_afresh(journal: Journal, book: Book) -> None:
    """Its revisions start again from an older number: a copy of a later one is not it."""
    cache = RecentCache()
    book.add(pumped(NOW - HOUR, 40, 40))
    book.add(pumped(NOW - 2 * HOUR, 40, 40))
    cached(journal, book, cache).stash()
    with Session(journal.engine) as session, session.begin():
        newest = session.scalar(select(schema.Entry).order_by(schema.Entry.id.desc()).limit(1))
        assert newest is not None
        newest.deleted_at = NOW
        household = session.get(schema.Household, book.household.id)
        assert household is not None
        household.revision = 1
    restored = cached(journal, book, cache)
    assert restored.summary(NOW - DAY, NOW).pump_sessions == 1


def test_many_requests_at_once_build_one_copy(
    journal: Journal, book: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    book.add(pumped(NOW - HOUR, 40, 40))
    cache = RecentCache()
    builds = []
    build = Book._build_recent

    def counted(self: Book) -> object:
        builds.append(1)
        time.sleep(0.2)
        return build(self)

    monkeypatch.setattr(Book, "_build_recent", counted)
    books = [cached(journal, book, cache) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        sessions = list(pool.map(lambda b: b.summary(NOW - DAY, NOW).pump_sessions, books))
    assert sessions == [1] * 6
    assert len(builds) == 1


def test_an_import_through_a_book_with_the_copy_shows_in_that_book(
    journal: Journal, book: Book, tmp_path: Path
) -> None:
    request_book = cached(journal, book, RecentCache())
    assert request_book.summary(NOW - DAY, NOW + HOUR).bottles == 0
    at = (NOW - HOUR).astimezone(ZoneInfo(book.household.time_zone)).strftime("%Y-%m-%d %H:%M:%S")
    export = tmp_path / "feedings.csv"
    export.write_text(
        "id,child_id,child_first_name,child_last_name,start,end,type,method,amount,notes,tags\n"
        f"1,1,Robin,Anchor,{at},{at},formula,bottle,90,,\n",
        encoding="utf-8",
    )
    assert import_babybuddy(request_book, export, child="Robin").added == {"bottle": 1}
    assert request_book.summary(NOW - DAY, NOW + HOUR).bottles == 1
