"""The insights of one household, read through a member's book of the journal.

The only module here that reads the journal; the rest are pure functions of what it
reads. Only the last weeks are read: nothing older weighs in any insight.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from letdown.insights.flags import Flag, red_flags
from letdown.insights.report import Insights, build
from letdown.insights.stash import BOTTLE_WINDOW, Coverage, StashBag, coverage
from letdown.journal.book import Book
from letdown.journal.records import Record, now_utc

READ_DAYS = 42
"""The supply fit uses five weeks (plus a day to settle); flags and the stash less."""
STASH_READ_DAYS = BOTTLE_WINDOW.days + 1
"""The stash's hours come from the child's bottles of the last two weeks."""


def for_book(book: Book, now: datetime | None = None) -> Insights:
    now = now or now_utc()
    entries = book.history(since=now - timedelta(days=READ_DAYS), until=now + timedelta(minutes=1))
    records = [entry.record for entry in reversed(entries)]
    bags = [
        StashBag(bag.code, bag.remaining_ml, bag.expiry.use_by)
        for bag in book.stash()
        if bag.status == "stored"
    ]
    return build(
        records,
        pregnancies=book.pregnancies(),
        children=book.children(),
        bags=bags,
        time_zone=book.household.time_zone,
        now=now,
    )


def _records(book: Book, now: datetime, days: int) -> list[Record]:
    entries = book.history(since=now - timedelta(days=days), until=now + timedelta(minutes=1))
    return [entry.record for entry in reversed(entries)]


def stash_coverage(book: Book, now: datetime | None = None) -> Coverage:
    """Only the stash's hours (no supply fit: cheap enough to read every few seconds)."""
    now = now or now_utc()
    bags = [
        StashBag(bag.code, bag.remaining_ml, bag.expiry.use_by)
        for bag in book.stash()
        if bag.status == "stored"
    ]
    children = book.children()
    child = children[0] if children else None
    return coverage(
        bags,
        _records(book, now, STASH_READ_DAYS),
        None if child is None else child.name,
        None if child is None else child.birth_date,
        now,
    )


def visible_flags(book: Book, now: datetime | None = None) -> tuple[Flag, ...]:
    """The red flags as ``book``'s member may see them: none unless the nursing parent
    chose them (flags are the parent's own, issue 11 item 8), and only from what the
    member's book shows."""
    if not book.member.sees_private:
        return ()
    now = now or now_utc()
    return tuple(red_flags(_records(book, now, READ_DAYS), book.pregnancies(), now))
