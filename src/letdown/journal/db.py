"""Where the journal lives: SQLite in the user's data folder by default, PostgreSQL by URL.

SQLite runs in WAL mode with full sync, so a crash loses no committed entry; writes take
the write lock when they begin (``BEGIN IMMEDIATE``), so two members writing at once
wait for each other instead of failing, while reads (``reading(engine)``) take no lock
and never wait for a write. Alembic owns the schema: a new database is
created at the newest revision, an older one must be upgraded on purpose
(``letdown db upgrade``) and a newer one is refused.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from platformdirs import user_data_path
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from letdown.errors import DatabaseVersionError, JournalError

ENV_VAR = "LETDOWN_DB"
SQLITE_BUSY_MS = 10_000
"""How long a writer waits for another member's write to finish before giving up."""

READ_ONLY = "letdown_read_only"
"""The execution option that marks a connection as only reading (see ``reading``)."""

POSTGRES_SCHEMA_LOCK = 0x6C6574646F776E
"""The advisory lock that lets one process at a time check or migrate the schema ("letdown")."""


def default_url() -> str:
    """``LETDOWN_DB`` if set, else ``letdown.sqlite`` in the user's data folder."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return configured
    folder = user_data_path("letdown", appauthor=False)
    return f"sqlite:///{folder / 'letdown.sqlite'}"


NO_JOURNAL_HINT = (
    "create one with `letdown household init --name NAME --member NAME` (same --db), "
    "or start `letdown serve` and set it up in the browser"
)


class NoJournalError(JournalError, FileNotFoundError):
    """The database holds no journal, and this command may not create one."""


def make_engine(url: str | None = None, *, create: bool = True) -> Engine:
    """An engine for ``url`` (default: ``default_url()``), with SQLite made safe.

    Without ``create``, a SQLite file that does not exist is refused before anything
    (folders included) is made: a mistyped path must not become a new, empty journal.
    """
    url = url or default_url()
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise JournalError(f"not a database URL: {url!r} (try sqlite:///FILE)") from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in {"", ":memory:"}:
            # Each connection would open its own empty database (one per transaction).
            raise JournalError(f"{url!r} is in memory and would forget every entry: use a file")
        if not database.startswith("file:"):
            path = Path(database).expanduser()
            if not create and not path.is_file():
                raise NoJournalError(f"no letdown journal at {path}: {NO_JOURNAL_HINT}")
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
        _make_sqlite_safe(engine)
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except Exception as exc:  # a missing driver names itself here
        raise JournalError(f"cannot use {parsed.render_as_string()}: {exc}") from exc


def _make_sqlite_safe(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        _set_wal(cursor)
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        reads_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN DEFERRED" if reads_only else "BEGIN IMMEDIATE")


def _set_wal(cursor: Any) -> None:
    """Switch to WAL, waiting for another opener that holds the lock of a new file.

    SQLite answers "database is locked" at once here instead of waiting for the busy
    timeout: only a file that is not in WAL yet (a brand-new journal) can see it.
    """
    deadline_s = time.monotonic() + SQLITE_BUSY_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline_s:
                raise
            time.sleep(0.02)


def reading(engine: Engine) -> Engine:
    """The engine for transactions that only read.

    On SQLite they begin without the write lock, so a reader never waits for a writer
    (WAL keeps its snapshot) and a read inside a write cannot wait for itself.
    """
    return engine.execution_options(**{READ_ONLY: True})


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "letdown.journal:migrations")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with reading(engine).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _lock_schema(connection: Connection) -> None:
    """Hold the schema still until the transaction ends.

    SQLite's ``BEGIN IMMEDIATE`` already holds the write lock; PostgreSQL needs an
    advisory lock, or two processes opening a new database would both create its tables.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({POSTGRES_SCHEMA_LOCK})")


def upgrade(engine: Engine) -> str:
    """Migrate the database to this release's schema; returns the revision."""
    with engine.begin() as connection:
        _lock_schema(connection)
        command.upgrade(_config(connection), "head")
    return head_revision()


def check(engine: Engine, *, create: bool = True) -> None:
    """Create a new database (if ``create``); refuse one behind or ahead of this release.

    Reading the version and creating the schema are one transaction, so two members
    opening a new journal at once do not both create it.
    """
    try:
        with engine.begin() as connection:
            _lock_schema(connection)
            revision = MigrationContext.configure(connection).get_current_revision()
            if revision is None:
                if set(inspect(connection).get_table_names()) - {"alembic_version"}:
                    raise DatabaseVersionError(
                        "this database has tables but no letdown schema version: "
                        "it is not a letdown journal"
                    )
                if not create:
                    where = engine.url.render_as_string(hide_password=True)
                    raise NoJournalError(f"no letdown journal in {where}: {NO_JOURNAL_HINT}")
                command.upgrade(_config(connection), "head")
                return
    except DBAPIError as exc:
        raise JournalError(f"cannot open the journal database: {exc.orig}") from exc
    _check_revision(revision)


def _check_revision(revision: str) -> None:
    head = head_revision()
    if revision == head:
        return
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    if revision not in known:
        raise DatabaseVersionError(
            f"this database is at schema {revision}, newer than this letdown ({head}): "
            "upgrade letdown"
        )
    raise DatabaseVersionError(
        f"this database is at schema {revision}, older than this letdown ({head}): "
        "back it up, then run `letdown db upgrade`"
    )
