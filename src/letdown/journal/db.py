"""Where the journal lives: SQLite in the user's data folder by default, PostgreSQL by URL.

SQLite runs in WAL mode with full sync, so a crash loses no committed entry; writes take
the write lock when they begin (``BEGIN IMMEDIATE``), so two members writing at once
wait for each other instead of failing. Alembic owns the schema: a new database is
created at the newest revision, an older one must be upgraded on purpose
(``letdown db upgrade``) and a newer one is refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from platformdirs import user_data_path
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import NullPool

from letdown.errors import DatabaseVersionError, JournalError

ENV_VAR = "LETDOWN_DB"
SQLITE_BUSY_MS = 10_000
"""How long a writer waits for another member's write to finish before giving up."""


def default_url() -> str:
    """``LETDOWN_DB`` if set, else ``letdown.sqlite`` in the user's data folder."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return configured
    folder = user_data_path("letdown", appauthor=False)
    return f"sqlite:///{folder / 'letdown.sqlite'}"


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: ``default_url()``), with SQLite made safe."""
    url = url or default_url()
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise JournalError(f"not a database URL: {url!r} (try sqlite:///FILE)") from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, poolclass=NullPool)
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
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "letdown.journal:migrations")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    script = ScriptDirectory.from_config(_config_without_connection())
    head = script.get_current_head()
    assert head is not None
    return head


def _config_without_connection() -> Config:
    config = Config()
    config.set_main_option("script_location", "letdown.journal:migrations")
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Migrate the database to this release's schema; returns the revision."""
    with engine.begin() as connection:
        command.upgrade(_config(connection), "head")
    return head_revision()


def check(engine: Engine) -> None:
    """Create a new database; refuse one that is behind or ahead of this release."""
    try:
        revision = current_revision(engine)
        tables = set(inspect(engine).get_table_names())
    except OperationalError as exc:
        raise JournalError(f"cannot open the journal database: {exc.orig}") from exc
    head = head_revision()
    if revision == head:
        return
    if revision is None:
        if tables - {"alembic_version"}:
            raise DatabaseVersionError(
                "this database has tables but no letdown schema version: "
                "it is not a letdown journal"
            )
        upgrade(engine)
        return
    known = {
        script.revision
        for script in ScriptDirectory.from_config(_config_without_connection()).walk_revisions()
    }
    if revision not in known:
        raise DatabaseVersionError(
            f"this database is at schema {revision}, newer than this letdown ({head}): "
            "upgrade letdown"
        )
    raise DatabaseVersionError(
        f"this database is at schema {revision}, older than this letdown ({head}): "
        "back it up, then run `letdown db upgrade`"
    )
