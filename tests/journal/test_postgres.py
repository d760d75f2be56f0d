"""The journal holds the same things on PostgreSQL as on SQLite.

Every book test already runs on both stores; these check what differs between them:
how times and JSON numbers come back, that the same writes give the same views, and
that the bench can fill a PostgreSQL journal.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import text

from letdown.bench.journal import run_journal_bench
from letdown.journal import (
    Book,
    BottleFeed,
    ChildInfo,
    HouseholdInfo,
    Journal,
    Location,
    MemberInfo,
    NurseFeed,
    PumpSession,
    Role,
    Symptom,
)

AT = datetime(2025, 3, 30, 0, 59, 59, 123456, tzinfo=UTC)
"""Just before the Paris clocks go forward: a time that a zone would get wrong."""


def test_times_come_back_as_written_whatever_the_server_zone(postgres_url: str) -> None:
    zoned = f"{postgres_url}?options={quote('-c TimeZone=Pacific/Auckland')}"
    with Journal.open(zoned) as journal:
        book = journal.create_household(
            HouseholdInfo(name="Home", time_zone="Europe/Paris"),
            MemberInfo(name="Alex", role=Role.NURSING_PARENT),
        )
        stored = book.add(
            PumpSession(
                start_at=AT, end_at=AT + timedelta(minutes=20), sides={"left": {"volume_ml": 60.0}}
            )
        )
        with journal.engine.connect() as connection:
            zone = connection.execute(text("SHOW TimeZone")).scalar_one()
            raw = connection.execute(text("SELECT start_at FROM entries")).scalar_one()
    assert zone == "Pacific/Auckland"
    assert raw == AT.replace(tzinfo=None)
    with Journal.open(postgres_url) as journal:
        assert journal.book().get(stored.uid).record.start_at == AT


def _write_the_same_day(book: Book) -> None:
    book.add_child(ChildInfo(name="Robin"))
    pumped = book.add(
        PumpSession(
            start_at=AT,
            end_at=AT + timedelta(minutes=18),
            sides={"left": {"volume_ml": 62.35, "pain": 2}, "right": {"volume_ml": 0.1 + 0.2}},
            ejections_s=(61.5, 300.25),
        ),
        uid="00000000-0000-4000-8000-000000000001",
    )
    book.stash_add(
        62.35,
        expressed_at=AT + timedelta(minutes=18),
        stored_at=AT + timedelta(minutes=20),
        sources=[pumped.uid],
        code="AC3",
    )
    book.stash_move("AC3", Location.FREEZER, at=AT + timedelta(hours=1))
    book.add(
        NurseFeed(
            start_at=AT + timedelta(hours=2),
            end_at=AT + timedelta(hours=2, minutes=15),
            child="Robin",
            sides={"left": {"duration_s": 540.0, "latch": 7}},
        ),
        uid="00000000-0000-4000-8000-000000000002",
    )
    book.stash_move("AC3", Location.FRIDGE, at=AT + timedelta(hours=3))
    bottle = book.stash_use("AC3", child="Robin", at=AT + timedelta(hours=4), volume_ml=40.0)
    book.edit(bottle.uid, {"leftover_ml": 5.5})
    book.add(
        Symptom(start_at=AT + timedelta(hours=5), sides={"left": {"pain": 4}}, fever_c=38.25),
        uid="00000000-0000-4000-8000-000000000003",
    )
    book.add(
        BottleFeed(start_at=AT + timedelta(hours=6), child="Robin", amount_ml=30, content="donor"),
        uid="00000000-0000-4000-8000-000000000004",
    )


def _views(book: Book) -> object:
    entries = [(e.record, e.version, e.entered_by, e.updated_by) for e in book.history()]
    bottle = next(e for e in book.history() if e.kind == "bottle" and e.record.bags)
    revisions = [(r.version, r.action, r.record, r.changed_by) for r in book.revisions(bottle.uid)]
    bags = [(bag.code, bag.remaining_ml, bag.stays, bag.expiry) for bag in book.stash()]
    summary = book.summary(AT - timedelta(hours=1), AT + timedelta(days=1))
    return entries, revisions, bags, summary


def test_the_same_writes_give_the_same_views(postgres_url: str, tmp_path: Path) -> None:
    seen = []
    for url in (f"sqlite:///{tmp_path / 'journal.sqlite'}", postgres_url):
        with Journal.open(url) as journal:
            book = journal.create_household(
                HouseholdInfo(name="Home", time_zone="Europe/Paris"),
                MemberInfo(name="Alex", role=Role.NURSING_PARENT),
            )
            _write_the_same_day(book)
            seen.append(_views(book))
    on_sqlite, on_postgres = seen
    assert on_postgres == on_sqlite


def test_the_journal_bench_runs_on_postgresql(postgres_url: str) -> None:
    result = run_journal_bench(postgres_url, entries=100, timed_inserts=10, repeat=2)
    assert result["store"] == "postgresql"
    assert 80 <= result["entries"] <= 120
    assert all(value > 0 for value in result["p95_ms"].values())
