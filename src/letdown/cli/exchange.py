"""``letdown export`` and ``import``: the journal to and from files."""

# Each command imports what it needs when it runs, so that `letdown --help` starts fast.

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from letdown.cli import _common
from letdown.cli._common import (
    ChildName,
    DbUrl,
    HouseholdName,
    MemberName,
    _guard,
    _open_desk,
    _open_journal,
    _opt,
    _say,
)

app = typer.Typer()

EXPORT_FORMATS = ("csv", "json")


def _babybuddy_import() -> Any:
    """``import_babybuddy``, loaded by name: a build without the Baby Buddy reader still runs."""
    import importlib

    from letdown.errors import JournalError

    name = "letdown.journal.babybuddy"
    try:
        return importlib.import_module(name).import_babybuddy
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise JournalError("Baby Buddy import is not in this build of letdown") from None


@app.command("export")
def export(
    fmt: Annotated[str, typer.Argument(metavar="csv|json", help="csv or json.")],
    out: Annotated[
        Path | None, _opt("--out", help="File to write (default: standard output).")
    ] = None,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """The household's whole journal, to read elsewhere or import again without loss."""
    import io
    import sys

    from letdown.errors import InvalidEntryError
    from letdown.journal.exchange import write_export

    with _guard():
        if fmt not in EXPORT_FORMATS:
            raise InvalidEntryError(f"format {fmt!r}: csv or json")
    with _open_desk(db_url, household, as_member) as desk:
        buffer = io.StringIO(newline="")
        count = write_export(desk.book, "csv" if fmt == "csv" else "json", buffer)
        if out is None:
            sys.stdout.write(buffer.getvalue())
            sys.stdout.flush()
            _common.err.print(f"exported {count} records", highlight=False)
        else:
            with out.open("w", encoding="utf-8", newline="") as file:
                file.write(buffer.getvalue())
            _say(f"wrote {count} records to {out}")


@app.command("import")
def import_command(
    fmt: Annotated[
        str,
        typer.Argument(
            metavar="csv|json|babybuddy", help="csv or json (letdown's own export) or babybuddy."
        ),
    ],
    file: Annotated[Path, typer.Argument(help="The file to read.")],
    child: ChildName = None,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Bring in letdown's own export, or a Baby Buddy export; says what it skipped and why."""
    from letdown.errors import InvalidEntryError
    from letdown.journal.exchange import import_file

    with _guard():
        if fmt not in (*EXPORT_FORMATS, "babybuddy"):
            raise InvalidEntryError(f"format {fmt!r}: csv, json or babybuddy")
        if child is not None and fmt != "babybuddy":
            raise InvalidEntryError(
                "--child is for Baby Buddy imports: letdown's exports name theirs"
            )
        if not file.is_file():
            raise InvalidEntryError(f"{file}: no such file")
        import_babybuddy = _babybuddy_import() if fmt == "babybuddy" else None
    if import_babybuddy is not None:
        with _open_desk(db_url, household, as_member) as desk:
            report = import_babybuddy(desk.book, file, child=child)
    else:
        with _open_journal(db_url, create=True) as journal:
            report = import_file(
                journal,
                "csv" if fmt == "csv" else "json",
                file,
                household=household,
                member=as_member,
            )
    for line in report.lines():
        _say(line)
