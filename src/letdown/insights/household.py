"""The insights of one household, read through a member's book of the journal.

The only module here that reads the journal; the rest are pure functions of what it
reads. Only the last weeks are read: nothing older weighs in any insight.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from letdown.insights.report import Insights, build
from letdown.insights.stash import StashBag
from letdown.journal.book import Book
from letdown.journal.records import now_utc

READ_DAYS = 42
"""The supply fit uses five weeks (plus a day to settle); flags and the stash less."""


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
