"""``letdown db``: the journal database's schema version, and upgrades."""

# Each command imports what it needs when it runs, so that `letdown --help` starts fast.

from __future__ import annotations

import typer

from letdown.cli._common import DbUrl, _db_problem, _fail, _guard, _say

app = typer.Typer(
    help="The journal database: its schema version and upgrades.", no_args_is_help=True
)


@app.command("status")
def db_status(db_url: DbUrl = None) -> None:
    """Which schema the journal database is at, and which this letdown wants."""
    from sqlalchemy.exc import SQLAlchemyError

    from letdown.journal import db

    with _guard():
        engine = db.make_engine(db_url, create=False)
        _say(f"database: {engine.url.render_as_string(hide_password=True)}")
        try:
            current = db.current_revision(engine)
        except SQLAlchemyError as exc:
            raise _fail(f"cannot reach the database: {_db_problem(exc)}") from None
        finally:
            engine.dispose()
        head = db.head_revision()
        if current is None:
            _say(f"schema: none yet (made on first use); this letdown: {head}")
        elif current == head:
            _say(f"schema: {current}, this letdown's: up to date")
        else:
            _say(
                f"schema: {current}, this letdown's is {head}: back the database up and run "
                "`letdown db upgrade` (if the database is the newer one, upgrade letdown)"
            )


@app.command("upgrade")
def db_upgrade(db_url: DbUrl = None) -> None:
    """Migrate the journal database to this letdown's schema (back it up first)."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from letdown.journal import db

    with _guard():
        engine = db.make_engine(db_url, create=False)
        where = engine.url.render_as_string(hide_password=True)
        try:
            before = db.current_revision(engine)
            after = db.upgrade(engine)
        except (SQLAlchemyError, CommandError) as exc:
            raise _fail(f"cannot upgrade {where}: {_db_problem(exc)}") from None
        finally:
            engine.dispose()
        if before == after:
            _say(f"{where} is at {after} already")
        else:
            _say(f"upgraded {where} from {before or 'nothing'} to {after}")
