"""The household's insights for the dashboard, kept per journal revision.

Fitting the supply model takes most of a second, far more than a dashboard may: the
insights are built once per revision of the household's journal and kept. When the
journal changes, the last insights are shown (saying when they were made) while the new
ones are built on a thread; only a household's very first dashboard waits for them.
They are built as the nursing parent sees them; each page shows only what its reader may
see (``Identity.sees_private``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

from letdown.insights.household import for_book
from letdown.insights.report import Insights
from letdown.journal import Book, Journal, MemberView, Role
from letdown.journal.accounts import Identity
from letdown.journal.book import HouseholdView
from letdown.journal.records import Units, Word, now_utc

MAX_AGE = timedelta(minutes=10)
"""Insights depend on the time too (a flag's day passes, the next session nears)."""


@dataclass(frozen=True)
class _Kept:
    revision: int | None
    insights: Insights


class InsightsCache:
    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._lock = threading.Lock()
        self._kept: dict[int, _Kept] = {}
        self._building: set[int] = set()
        self._first: dict[int, threading.Lock] = {}

    def _first_build(self, household_id: int) -> threading.Lock:
        with self._lock:
            return self._first.setdefault(household_id, threading.Lock())

    def _book(self, who: Identity) -> Book:
        household = HouseholdView(
            who.household_id,
            who.household,
            who.time_zone,
            Units(who.units),
            Word(who.word),
            who.storage_rules,
        )
        # Read as the nursing parent would: the page then shows each reader their share.
        reader = MemberView(who.member_id, who.member, Role.NURSING_PARENT)
        return Book(self._journal.engine, household, reader)

    def _build(self, who: Identity) -> Insights:
        insights = for_book(self._book(who))
        with self._lock:
            self._kept[who.household_id] = _Kept(who.revision, insights)
            self._building.discard(who.household_id)
        return insights

    def _build_quietly(self, who: Identity) -> None:
        try:
            self._build(who)
        except Exception:  # a failed build keeps the last insights; the next request retries
            with self._lock:
                self._building.discard(who.household_id)

    def get(self, who: Identity) -> Insights:
        """The household's insights at ``who.revision``, or the last ones while they build."""
        with self._lock:
            kept = self._kept.get(who.household_id)
            fresh = (
                kept is not None
                and kept.revision == who.revision
                and now_utc() - kept.insights.at < MAX_AGE
            )
            if fresh or kept is None:
                start = False
            else:
                start = who.household_id not in self._building
                if start:
                    self._building.add(who.household_id)
        if kept is None:
            with self._first_build(who.household_id):  # one build, however many ask
                with self._lock:
                    kept = self._kept.get(who.household_id)
                if kept is None:
                    return self._build(who)
            return kept.insights
        if start:
            threading.Thread(target=self._build_quietly, args=(who,), daemon=True).start()
        return kept.insights

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
