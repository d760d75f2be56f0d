"""``letdown history``, ``show``, ``edit`` and ``delete``: reading and changing entries."""

# Each command imports what it needs when it runs, so that `letdown --help` starts fast.

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from letdown.cli import _common
from letdown.cli._common import (
    DbUrl,
    HouseholdName,
    MemberName,
    PrintJson,
    _describe,
    _Desk,
    _open_desk,
    _opt,
    _say,
    _span,
    _when,
)

if TYPE_CHECKING:
    from letdown.journal.book import StoredEntry, Summary

app = typer.Typer()


@app.command("history")
def history(
    since: Annotated[
        str, typer.Option("--since", help="How far back: 7d, 24h, or a time (07:30, ISO).")
    ] = "7d",
    kind: Annotated[
        str | None,
        _opt(
            "--kind",
            help="Only these kinds, e.g. pump,nurse (of nurse, pump, bottle, care, symptom).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many entries.")] = 100,
    as_json: PrintJson = False,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """The journal, newest first, then the last 24 hours in figures."""
    from datetime import timedelta

    from letdown.errors import InvalidEntryError
    from letdown.journal.parse import parse_since
    from letdown.journal.records import KINDS

    with _open_desk(db_url, household, as_member) as desk:
        kinds = None
        if kind is not None:
            kinds = [name.strip().lower() for name in kind.split(",") if name.strip()]
            unknown = [name for name in kinds if name not in KINDS]
            if unknown or not kinds:
                raise InvalidEntryError(
                    f"--kind {kind!r}: use some of {', '.join(KINDS)}, comma-separated"
                )
        since_at = parse_since(since, desk.zone, desk.now)
        entries = desk.book.history(since=since_at, kinds=kinds, limit=limit)
        summary = desk.book.summary(desk.now - timedelta(hours=24), desk.now)
        if as_json:
            payload = {
                "entries": [_entry_json(entry) for entry in entries],
                "summary_24h": _summary_json(summary),
            }
            typer.echo(json.dumps(payload, indent=2))
            return
        if entries:
            table = Table(
                title=f"{escape(desk.book.household.name)} since {desk.show_time(since_at)}"
            )
            for column in ("#", "when", "kind", "what", "by", "v"):
                table.add_column(column, overflow="fold")
            for entry in entries:
                by = entry.entered_by
                if entry.updated_by != entry.entered_by:
                    by += f", edited by {entry.updated_by}"
                table.add_row(
                    str(entry.id),
                    _when(entry.record, desk),
                    entry.kind,
                    Text(_describe(entry.record, desk)),
                    Text(by),
                    f"v{entry.version}" if entry.version > 1 else "",
                )
            _common.console.print(table)
        else:
            _say(f"nothing since {desk.show_time(since_at)}")
        for line in _summary_lines(summary, desk):
            _say(line, markup=True)


def _entry_json(entry: StoredEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "uid": entry.uid,
        "version": entry.version,
        "entered_by": entry.entered_by,
        "entered_at": entry.entered_at.isoformat(),
        "updated_by": entry.updated_by,
        "updated_at": entry.updated_at.isoformat(),
        "record": entry.record.model_dump(mode="json"),
    }


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}" + ("" if number == 1 else "s")


def _summary_lines(summary: Summary, desk: _Desk) -> list[str]:
    lines = ["[bold]last 24 hours[/]"]
    pumped = _count(summary.pump_sessions, "session")
    if summary.pump_sessions:
        sides = ", ".join(
            f"{desk.side(side)} {desk.show_amount(ml)}" for side, ml in summary.pumped_ml.items()
        )
        pumped += f", {sides} ({desk.show_amount(summary.pumped_total_ml)} in all)"
    lines.append(f"pumped: {pumped}")
    nursed = _count(summary.nurse_feeds, "feed")
    if summary.nurse_feeds:
        nursed += ", " + ", ".join(
            f"{desk.side(side)} {_span(s)}" for side, s in summary.nursed_s.items() if s
        )
    lines.append(f"nursed: {nursed}")
    given = ", ".join(
        f"{desk.show_amount(ml)} {content}" for content, ml in summary.bottle_ml.items() if ml
    )
    lines.append(f"bottles: {summary.bottles}" + (f", {given}" if given else ""))
    if summary.care or summary.symptoms:
        line = f"care: {summary.care}; symptoms: {summary.symptoms}"
        worst = ", ".join(
            f"{desk.side(side)} {pain}"
            for side, pain in summary.worst_pain.items()
            if pain is not None
        )
        if worst:
            line += f"; worst pain {worst}"
        if summary.highest_fever_c is not None:
            line += f"; fever up to {summary.highest_fever_c:.1f} °C"
        lines.append(line)
    return lines


def _summary_json(summary: Summary) -> dict[str, Any]:
    return {
        "since": summary.since.isoformat(),
        "until": summary.until.isoformat(),
        "pump_sessions": summary.pump_sessions,
        "pumped_ml": summary.pumped_ml,
        "nurse_feeds": summary.nurse_feeds,
        "nursed_s": summary.nursed_s,
        "bottles": summary.bottles,
        "bottle_ml": summary.bottle_ml,
        "care": summary.care,
        "symptoms": summary.symptoms,
        "worst_pain": summary.worst_pain,
        "highest_fever_c": summary.highest_fever_c,
    }


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data:
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.removesuffix("."): data}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """``field: old → new`` for every leaf that differs."""
    old, new = _flatten(before), _flatten(after)
    return [
        f"{key}: {json.dumps(old.get(key))} → {json.dumps(new.get(key))}"
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]


@app.command("show")
def show(
    entry: Annotated[str, typer.Argument(help="The entry's number (or uid).")],
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """An entry and its history: who changed what, and when."""
    from letdown.errors import NotFoundError

    with _open_desk(db_url, household, as_member) as desk:
        revisions = desk.book.revisions(entry)
        try:
            stored = desk.book.get(entry)
        except NotFoundError:
            latest = revisions[-1]
            _say(
                f"entry {entry} ({latest.record.kind}) was deleted by {latest.changed_by} at "
                f"{desk.show_time(latest.changed_at)}"
            )
        else:
            _say(
                f"[bold]{stored.kind} #{stored.id}[/] (uid {stored.uid}), version {stored.version}",
                markup=True,
            )
            _say(f"{_when(stored.record, desk)}: {_describe(stored.record, desk)}")
            _say(
                f"entered by {stored.entered_by} at {desk.show_time(stored.entered_at)}, "
                f"last changed by {stored.updated_by} at {desk.show_time(stored.updated_at)}"
            )
            for key, value in _flatten(stored.record.model_dump(mode="json")).items():
                if value not in (None, "", [], {}):
                    _say(f"  {key} = {json.dumps(value, ensure_ascii=False)}")
        table = Table(title="history")
        for column in ("v", "what", "by", "when", "changes"):
            table.add_column(column, overflow="fold")
        previous: dict[str, Any] = {}
        for revision in revisions:
            data = revision.record.model_dump(mode="json")
            changed = "" if revision.action != "edited" else "\n".join(_changes(previous, data))
            table.add_row(
                str(revision.version),
                revision.action,
                Text(revision.changed_by),
                desk.show_time(revision.changed_at),
                Text(changed),
            )
            previous = data
        _common.console.print(table)


@app.command("edit")
def edit(
    entry: Annotated[str, typer.Argument(help="The entry's number (or uid).")],
    assignments: Annotated[
        list[str],
        typer.Argument(
            help="field=value: notes=late, sides.left.volume_ml=70, start_at=07:30, amount_ml=4oz.",
            show_default=False,
        ),
    ],
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Change fields of an entry (the version before stays in its history).

    Values are read as JSON where they can be (70, true, null), else as text; fields ending
    in _at take any time (07:30, -20m, ISO), fields ending in _ml any amount (4oz).
    """
    import copy

    from letdown.errors import InvalidEntryError

    with _open_desk(db_url, household, as_member) as desk:
        current = desk.book.get(entry)
        before = current.record.model_dump(mode="json")
        after = copy.deepcopy(before)
        changed: set[str] = set()
        for assignment in assignments:
            path, sep, text = assignment.partition("=")
            keys = [key.strip() for key in path.split(".")]
            if not sep or not all(keys):
                raise InvalidEntryError(f"{assignment!r}: write field=value, as notes=late")
            target = after
            for key in keys[:-1]:
                inner = target.setdefault(key, {})
                if not isinstance(inner, dict):
                    raise InvalidEntryError(f"{path}: {key} holds no fields")
                target = inner
            target[keys[-1]] = _edit_value(desk, keys[-1], text, target.get(keys[-1]))
            changed.add(keys[0])
        updated = desk.book.edit(entry, {key: after[key] for key in changed})
        _say(f"{updated.kind} #{updated.id} is now version {updated.version}")
        for line in _changes(before, updated.record.model_dump(mode="json")):
            _say(f"  {line}")


def _edit_value(desk: _Desk, key: str, text: str, current: Any) -> Any:
    """JSON where it reads as JSON, else text; times and amounts as the log commands read them."""
    if text.strip() == "null":
        return None
    if isinstance(current, str) and not key.endswith("_at"):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if isinstance(value, str) and key.endswith("_at"):
        return desk.time(value).isoformat()
    if isinstance(value, str) and key.endswith("_ml"):
        from letdown.journal.parse import parse_amount_ml
        from letdown.journal.records import Units

        return parse_amount_ml(value, Units.ML, allow_zero=True)
    return value


@app.command("delete")
def delete(
    entry: Annotated[str, typer.Argument(help="The entry's number (or uid).")],
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Remove an entry (it stays in its history; a bottle's milk goes back to its bags)."""
    with _open_desk(db_url, household, as_member) as desk:
        stored = desk.book.get(entry)
        desk.book.delete(entry)
        _say(f"deleted {stored.kind} #{stored.id} ({_when(stored.record, desk)})")
