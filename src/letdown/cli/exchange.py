"""``letdown export`` and ``import``: the journal to and from files."""

# Each command imports what it needs when it runs, so that `letdown --help` starts fast.

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from letdown.cli import _common
from letdown.cli._common import (
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


def _child_options(given: list[str]) -> tuple[str | None, dict[str, str]]:
    """``--child NAME`` (every row) or ``--child ID=NAME`` (each Baby Buddy child)."""
    from letdown.errors import InvalidEntryError

    mapping: dict[str, str] = {}
    plain = []
    for text in given:
        key, sep, name = text.partition("=")
        if sep:
            if not key.strip() or not name.strip():
                raise InvalidEntryError(f"--child {text!r}: give ID=NAME, as 2=Sam")
            mapping[key.strip()] = name.strip()
        else:
            plain.append(text.strip())
    if len(plain) > 1:
        raise InvalidEntryError("--child NAME once; for several children give ID=NAME each")
    return (plain[0] if plain else None), mapping


@app.command("import")
def import_command(
    fmt: Annotated[
        str,
        typer.Argument(
            metavar="csv|json|babybuddy", help="csv or json (letdown's own export) or babybuddy."
        ),
    ],
    file: Annotated[Path, typer.Argument(help="The file to read.")],
    children: Annotated[
        list[str] | None,
        _opt(
            "--child",
            help="Baby Buddy: the child every row is about (NAME), or one Baby Buddy child "
            "as ID=NAME (repeat; the REST API gives ids only).",
        ),
    ] = None,
    create_children: Annotated[
        bool,
        typer.Option("--create-children", help="Baby Buddy: add children the household lacks."),
    ] = False,
    zone: Annotated[
        str | None,
        _opt("--zone", help="Baby Buddy: the server's time zone (default: the household's)."),
    ] = None,
    source: Annotated[
        str | None,
        _opt(
            "--source",
            help="Baby Buddy: a name for the install the file is from (default: the API's "
            "host), so two installs' rows with the same ids are told apart.",
        ),
    ] = None,
    tags: Annotated[
        Path | None,
        _opt("--tags", help="Baby Buddy: its export of Tags, to keep tag names, not ids."),
    ] = None,
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
        given = [children, create_children or None, zone, source, tags]
        if fmt != "babybuddy" and any(value is not None for value in given):
            raise InvalidEntryError(
                "--child, --create-children, --zone, --source and --tags are for Baby Buddy "
                "imports: letdown's exports carry theirs"
            )
        if not file.is_file():
            raise InvalidEntryError(f"{file}: no such file")
        import_babybuddy = _babybuddy_import() if fmt == "babybuddy" else None
    if import_babybuddy is not None:
        from letdown.journal.babybuddy import Options, read_tags

        one_child, mapping = _child_options(children or [])
        with _open_desk(db_url, household, as_member) as desk:
            options = Options(
                child=one_child,
                children=mapping,
                create_children=create_children,
                zone=zone,
                source=source,
                tags={} if tags is None else read_tags(tags),
            )
            report = import_babybuddy(desk.book, file, options=options)
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
