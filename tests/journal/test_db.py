"""The journal's database: created at the newest schema, refused when it is not a letdown
journal or is newer than this letdown, and on SQLite kept safe (WAL, full sync, foreign
keys) with writers that queue for the write lock while readers never wait.

The SQLite settings are checked on SQLite only; everything else runs on every backend.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, inspect, text
from sqlalchemy.exc import IntegrityError

from letdown.errors import DatabaseVersionError, JournalError
from letdown.journal import (
    Book,
    HouseholdInfo,
    Journal,
    MemberInfo,
    PumpSession,
    PumpSide,
    Role,
    db,
    schema,
)

T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
JOURNAL_TABLES = {table.name for table in schema.Base.metadata.sorted_tables}


@contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    engine = db.make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def sqlite_only(url: str) -> None:
    if not url.startswith("sqlite"):
        pytest.skip("a SQLite setting")


def sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def test_a_new_database_is_created_at_the_newest_schema(journal_url: str) -> None:
    with Journal.open(journal_url) as journal:
        assert db.current_revision(journal.engine) == db.head_revision()
        assert set(inspect(journal.engine).get_table_names()) == JOURNAL_TABLES | {
            "alembic_version"
        }
        assert journal.household_names() == []


def test_the_migrated_schema_is_exactly_the_models(journal_url: str) -> None:
    with Journal.open(journal_url) as journal, journal.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, schema.Base.metadata) == []


def test_a_journal_keeps_what_was_written_when_opened_again(journal_url: str) -> None:
    with Journal.open(journal_url) as journal:
        book = journal.create_household(
            HouseholdInfo(name="Home", time_zone="Europe/Paris"),
            MemberInfo(name="Alex", role=Role.NURSING_PARENT),
        )
        stored = book.add(
            PumpSession(
                start_at=T0,
                end_at=T0.replace(minute=15),
                sides={"left": PumpSide(volume_ml=60)},
            )
        )
    with Journal.open(journal_url) as journal:
        again = journal.book("Home")
        assert again.get(stored.uid) == stored
        assert again.household.time_zone == "Europe/Paris"
        assert db.upgrade(journal.engine) == db.head_revision()
        assert journal.book("Home").get(stored.id) == stored


def test_a_database_with_other_tables_is_not_taken_for_a_journal(journal_url: str) -> None:
    with engine_for(journal_url) as engine, engine.begin() as connection:
        metadata = MetaData()
        Table("recipes", metadata, Column("id", Integer, primary_key=True), Column("name", String))
        metadata.create_all(connection)
    with pytest.raises(DatabaseVersionError, match="it is not a letdown journal"):
        Journal.open(journal_url)
    with engine_for(journal_url) as engine:
        assert set(inspect(engine).get_table_names()) == {"recipes"}


def test_a_journal_from_a_newer_letdown_is_refused(journal_url: str) -> None:
    with Journal.open(journal_url) as journal, journal.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(DatabaseVersionError, match=r"schema 9999, newer than this letdown") as e:
        Journal.open(journal_url)
    assert "upgrade letdown" in str(e.value)


def test_a_journal_from_an_older_letdown_must_be_upgraded_on_purpose(
    journal_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    current = db.head_revision()
    Journal.open(journal_url).close()
    # Pretend a later release added a revision this database has not seen.
    monkeypatch.setattr(db, "head_revision", lambda: "next-release")
    with pytest.raises(DatabaseVersionError, match=f"schema {current}, older than this") as e:
        Journal.open(journal_url)
    assert "letdown db upgrade" in str(e.value)


@pytest.mark.parametrize("older", ["0002", "0003"])
def test_a_journal_with_entries_upgrades_from_each_older_schema(
    journal_url: str, older: str
) -> None:
    """Every migration runs on a journal in use, not only on an empty one."""
    from alembic import command

    with Journal.open(journal_url) as journal:
        book = journal.create_household(
            HouseholdInfo(name="Home"), MemberInfo(name="Alex", role=Role.NURSING_PARENT)
        )
        stored = book.add(
            PumpSession(
                start_at=T0, end_at=T0.replace(minute=15), sides={"left": PumpSide(volume_ml=60)}
            )
        )
        with journal.engine.begin() as connection:
            command.downgrade(db._config(connection), older)
    with engine_for(journal_url) as engine:
        assert db.current_revision(engine) == older
        assert db.upgrade(engine) == db.head_revision()
    with Journal.open(journal_url) as journal:
        assert journal.book("Home").get(stored.uid) == stored


def test_pumping_imported_from_baby_buddy_becomes_total_only_on_upgrade(
    journal_url: str,
) -> None:
    """Before 0004 a Baby Buddy session's one amount sat on the left side."""
    from alembic import command

    with Journal.open(journal_url) as journal:
        book = journal.create_household(
            HouseholdInfo(name="Home"), MemberInfo(name="Alex", role=Role.NURSING_PARENT)
        )
        old_note = (
            "Baby Buddy keeps one amount per session: 120 mL from both sides together, all on "
            "the left side here; Baby Buddy pumping 7"
        )
        imported = book.add(
            PumpSession(
                start_at=T0,
                end_at=T0.replace(minute=15),
                sides={"left": PumpSide(volume_ml=120)},
                device="Baby Buddy import",
                notes=old_note,
            )
        )
        own = book.add(
            PumpSession(
                start_at=T0, end_at=T0.replace(minute=15), sides={"left": PumpSide(volume_ml=60)}
            )
        )
        with journal.engine.begin() as connection:
            command.downgrade(db._config(connection), "0003")
    with engine_for(journal_url) as engine:
        db.upgrade(engine)
    with Journal.open(journal_url) as journal:
        book = journal.book("Home")
        moved = book.get(imported.uid).record
        assert isinstance(moved, PumpSession)
        assert (moved.sides, moved.total_ml) == ({}, 120.0)
        assert moved.notes == "both sides together, no side kept; Baby Buddy pumping 7"
        assert book.get(own.uid) == own
        assert book.summary(T0.replace(hour=0)).pumped_ml["left"] == 60


def test_a_url_that_is_not_a_database_says_so() -> None:
    with pytest.raises(JournalError, match="not a database URL"):
        Journal.open("a notebook on the fridge")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_a_journal_in_memory_is_refused_rather_than_forgetful(url: str) -> None:
    with pytest.raises(JournalError, match="in memory and would forget every entry"):
        Journal.open(url)


def test_a_file_that_is_not_a_database_says_so(tmp_path: Path) -> None:
    notes = tmp_path / "notes.sqlite"
    notes.write_text("feed at 3, pump at 5\n" * 200)
    with pytest.raises(JournalError, match="cannot open the journal database"):
        Journal.open(f"sqlite:///{notes}")


def test_the_default_journal_is_where_letdown_db_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'folder' / 'journal.sqlite'}"
    monkeypatch.setenv(db.ENV_VAR, url)
    assert db.default_url() == url
    with Journal.open() as journal:
        assert journal.household_names() == []
    assert (tmp_path / "deep" / "folder" / "journal.sqlite").exists()


def test_two_members_opening_a_new_journal_at_once_both_get_it(journal_url: str) -> None:
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            Journal.open(journal_url).close()
        except BaseException as exc:
            errors.append(exc)

    openers = [threading.Thread(target=open_it) for _ in range(2)]
    for opener in openers:
        opener.start()
    for opener in openers:
        opener.join()
    assert errors == []
    with engine_for(journal_url) as engine:
        assert db.current_revision(engine) == db.head_revision()


def test_foreign_keys_hold(book: Book) -> None:
    with pytest.raises(IntegrityError), book.engine.begin() as connection:
        connection.execute(schema.BagSource.__table__.insert().values(bag_id=9999, entry_id=9999))


# --- SQLite ------------------------------------------------------------------------------


def test_sqlite_runs_in_wal_with_full_sync_and_foreign_keys(journal_url: str) -> None:
    sqlite_only(journal_url)
    with Journal.open(journal_url) as journal, journal.engine.connect() as connection:
        pragma = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": db.SQLITE_BUSY_MS,
    }


def test_a_sqlite_write_holds_the_write_lock_from_its_start(journal_url: str) -> None:
    sqlite_only(journal_url)
    with Journal.open(journal_url) as journal:
        other = sqlite3.connect(sqlite_file(journal_url), timeout=0, isolation_level=None)
        try:
            with journal.engine.begin() as connection:
                connection.execute(text("SELECT 1"))
                with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                    other.execute("BEGIN IMMEDIATE")
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            other.close()


def test_sqlite_readers_do_not_wait_for_a_writer(journal_url: str) -> None:
    sqlite_only(journal_url)
    with Journal.open(journal_url) as journal:
        book = journal.create_household(
            HouseholdInfo(name="Home"), MemberInfo(name="Alex", role=Role.NURSING_PARENT)
        )
        writer = sqlite3.connect(sqlite_file(journal_url), timeout=0, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("UPDATE households SET name = 'Elsewhere'")
            assert journal.household_names() == ["Home"]
            assert book.history() == []
            assert [member.name for member in book.members()] == ["Alex"]
            writer.execute("ROLLBACK")
        finally:
            writer.close()
