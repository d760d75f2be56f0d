"""The ``letdown`` command line: a thin shell over the packages.

One module per command group; this one puts them together as the ``letdown`` app.
"""

from __future__ import annotations

import typer

from letdown.cli import (
    bench,
    db,
    entries,
    exchange,
    household,
    insights,
    log,
    notify,
    pump,
    serve,
    stash,
    twin,
)

app = typer.Typer(
    help="letdown: an open smart breast-pump system (controller, twin, journal, app).",
    no_args_is_help=True,
    add_completion=False,
)
# Added without a name, these modules' commands sit at the top: `letdown pump`, `letdown show`.
for commands in (pump.app, entries.app, exchange.app, serve.app, insights.app):
    app.add_typer(commands)
app.add_typer(twin.app, name="twin")
app.add_typer(bench.app, name="bench")
app.add_typer(household.app, name="household")
app.add_typer(log.app, name="log")
app.add_typer(stash.app, name="stash")
app.add_typer(db.app, name="db")
app.add_typer(notify.app, name="notify")


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
