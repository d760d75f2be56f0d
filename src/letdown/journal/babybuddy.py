"""Feedings and pumping sessions from Baby Buddy (https://docs.baby-buddy.net), the baby tracker.

It reads what Baby Buddy gives out, telling the kinds apart by their content, never by
the file's name: the admin export of Feeding or Pumping (CSV or TSV, or JSON with every
value a string), whose times carry no offset and are read in the household's time zone,
and pages of the REST API (``/api/feedings/``, ``/api/pumping/``), whose times are UTC.
Amounts are read as millilitres: Baby Buddy stores them without a unit.

How a row becomes an entry:

- A feeding at the breast (left, right or both breasts) is a ``NurseFeed`` from start to
  end. Baby Buddy does not time each side: at both breasts, each side gets half of the
  feed, and the notes say so.
- A feeding by bottle is a ``BottleFeed`` of its amount at its start (the journal keeps no
  end for a bottle): breast milk as expressed milk, fortified breast milk as expressed
  milk with "fortified" in the notes, formula as formula.
- Parent fed, self fed and solid food are neither nursing nor a bottle of milk: not
  imported, and reported.
- A pumping session is a ``PumpSession`` from the device "Baby Buddy import". Baby Buddy
  keeps one amount per session and no side; the journal holds milk per side and needs at
  least one. The whole amount goes on the left side and the notes say it is both sides
  together: the session's total, all that Baby Buddy knew, stays true, and per-side
  figures count it on the left. Halving it would make up two numbers nobody measured.
  A session of 0 mL is imported (some sessions give nothing) and reported.

A row that cannot be an entry (no end time, no amount or a negative one, a child the
household does not have, a method Baby Buddy does not use) is reported with its Baby
Buddy id and why. Each entry's uid is made from the household's name and the row's
Baby Buddy id (``uuid5``), and its notes end with that id, so importing a file again,
or the same rows in the other format, skips what the journal has already. What can be
imported is written in one transaction.
"""

from __future__ import annotations

import csv
import io
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from letdown.errors import InvalidEntryError, NotFoundError
from letdown.journal import schema
from letdown.journal.book import Book
from letdown.journal.exchange import (
    ImportReport,
    add_entry_row,
    existing_uids,
    load_json,
    read_utf8,
)
from letdown.journal.records import (
    BottleContent,
    BottleFeed,
    NurseFeed,
    PumpSession,
    Record,
    Side,
    Units,
    now_utc,
    validate,
)

__all__ = ["DEVICE", "UID_NAMESPACE", "import_babybuddy"]

DEVICE = "Baby Buddy import"
"""The pump named on every pumping session imported from Baby Buddy."""

UID_NAMESPACE = uuid.UUID("05cc2af3-42b1-4593-ab28-e578e50c3e12")
"""Imported rows' uids are ``uuid5`` under this namespace: stable, and apart from others."""

Which = Literal["feeding", "pumping"]

BREAST_SIDES: dict[str, tuple[Side, ...]] = {
    "left breast": ("left",),
    "right breast": ("right",),
    "both breasts": ("left", "right"),
}
BOTTLE_CONTENTS = {
    "breast milk": BottleContent.EXPRESSED,
    "fortified breast milk": BottleContent.EXPRESSED,
    "formula": BottleContent.FORMULA,
}
NOT_MILK_TYPES = frozenset({"solid food"})
NOT_MILK_METHODS = frozenset({"parent fed", "self fed"})
_DURATION = re.compile(
    r"^(?:(?P<days>\d+) )?(?P<hours>\d+):(?P<minutes>\d{2}):(?P<seconds>\d{2}(?:\.\d+)?)$"
)


def import_babybuddy(book: Book, path: Path, *, child: str | None = None) -> ImportReport:
    """Import a Baby Buddy feeding or pumping export into ``book``'s household.

    ``child`` is the household's child the rows are about; without it, each Baby Buddy
    child is matched by name, or taken to be the household's only child when the file
    gives no name.
    """
    export = _read(read_utf8(path))
    report = ImportReport()
    report.notes.extend(export.notes)
    if not export.rows:
        report.notes.append("the file holds no rows")
        return report
    with book.writing() as session:
        _Import(session, book, export, report).run(child)
    return report


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Export:
    which: Which
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def _read(text: str) -> _Export:
    if text.lstrip().startswith(("{", "[")):
        return _read_json(text)
    return _read_table(text)


def _read_json(text: str) -> _Export:
    document = load_json(text)
    notes: list[str] = []
    if isinstance(document, dict) and "results" in document:
        rows = document["results"]
        following = document.get("next")
        if following:
            notes.append(
                f"this file is one page of Baby Buddy's list ({len(rows)} of "
                f"{document.get('count', '?')}): fetch the next pages too ({following})"
            )
    elif isinstance(document, list):
        rows = document
    else:
        raise InvalidEntryError(
            _not_babybuddy(set(document) if isinstance(document, dict) else set())
        )
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise InvalidEntryError("not a Baby Buddy export: its results are not a list of rows")
    if not rows:
        return _Export("feeding", [], notes)
    columns: set[str] = set().union(*(row.keys() for row in rows))
    return _Export(_which(columns), rows, notes)


def _read_table(text: str) -> _Export:
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        rows = [dict(row) for row in reader]
    except csv.Error as exc:
        raise InvalidEntryError(
            f"the file is damaged or cut short near line {reader.line_num}: {exc}"
        ) from None
    columns = set(reader.fieldnames or ())
    return _Export(_which(columns), rows)


def _which(columns: set[str]) -> Which:
    if not {"id", "start"} <= columns:
        raise InvalidEntryError(_not_babybuddy(columns))
    if {"type", "method"} <= columns:
        return "feeding"
    if "amount" in columns:
        return "pumping"
    raise InvalidEntryError(_not_babybuddy(columns))


def _not_babybuddy(columns: set[str]) -> str:
    if {"format", "format_version"} & columns:
        return "this is a letdown journal export, not a Baby Buddy one: import it as such"
    shown = ", ".join(sorted(columns)[:12]) or "none"
    return (
        "not a Baby Buddy feeding or pumping export: it needs id, start and either "
        f"type and method (feeding) or amount (pumping); its columns are {shown}"
    )


def _text(value: Any) -> str | None:
    """A cell as text, None when empty (CSV gives "", the API null)."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _word(row: dict[str, Any], key: str) -> str | None:
    text = _text(row.get(key))
    return None if text is None else text.casefold()


def _amount_ml(row: dict[str, Any]) -> float | None:
    text = _text(row.get("amount"))
    if text is None:
        return None
    try:
        amount = float(text)
    except ValueError:
        raise ValueError(f"amount {text!r} is not a number") from None
    if not math.isfinite(amount):
        raise ValueError(f"amount {text!r} is not a number")
    return amount


def _duration(text: str | None) -> timedelta | None:
    """Baby Buddy's ``[D ]HH:MM:SS`` durations."""
    match = _DURATION.match(text or "")
    if match is None:
        return None
    return timedelta(
        days=int(match["days"] or 0),
        hours=int(match["hours"]),
        minutes=int(match["minutes"]),
        seconds=float(match["seconds"]),
    )


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


# --- importing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    label: str
    uid: str
    record: Record
    remarks: tuple[str, ...] = ()


class _Import:
    """One Baby Buddy file into one household, inside the caller's transaction."""

    def __init__(self, session: Session, book: Book, export: _Export, report: ImportReport) -> None:
        self.session = session
        self.book = book
        self.export = export
        self.report = report
        self.zone = ZoneInfo(book.household.time_zone)
        self.read_naive = False
        self.unknown: dict[str, str] = {}
        """Why the rows of a Baby Buddy child (by id) that matches none are left out."""

    def run(self, child: str | None) -> None:
        household = self.book.household
        children = dict(
            self.session.execute(
                select(schema.Child.name, schema.Child.id)
                .filter_by(household_id=household.id)
                .order_by(schema.Child.id)
            ).all()
        )
        targets = self._children(children, child)
        candidates = self._candidates(targets)
        found = existing_uids(
            self.session,
            schema.Entry.uid,
            schema.Entry.household_id,
            [candidate.uid for candidate in candidates],
        )
        now = now_utc()
        for candidate in candidates:
            if candidate.uid in found:
                self.report.skipped.append(f"{candidate.label}: imported already")
                continue
            name = getattr(candidate.record, "child", None)
            add_entry_row(
                self.session,
                household_id=household.id,
                member_id=self.book.member.id,
                child_id=None if name is None else children[name],
                uid=candidate.uid,
                record=candidate.record,
                at=now,
            )
            self.report.add(candidate.record.kind)
            self.report.notes.extend(candidate.remarks)
        self._explain()

    def _explain(self) -> None:
        added = self.report.added
        if not added:
            return
        if self.read_naive:
            self.report.notes.append(
                f"times without an offset were read in {self.zone.key}, "
                f"{self.book.household.name}'s time zone"
            )
        if added.get("pump"):
            self.report.notes.append(
                "Baby Buddy keeps one amount per pumping session and no side: each "
                "session's whole amount is on the left side, and its notes say so"
            )
        if self.book.household.units is Units.FL_OZ and (added.get("pump") or added.get("bottle")):
            self.report.notes.append(
                "Baby Buddy stores amounts without a unit: they were read as mL, though "
                f"{self.book.household.name} counts in fl oz"
            )

    def _children(self, children: dict[str, int], child: str | None) -> dict[str, str | None]:
        """Each Baby Buddy child (by id) to the household's child, or None when unknown."""
        seen: dict[str, str | None] = {}
        for row in self.export.rows:
            key = _child_key(row)
            seen[key] = seen.get(key) or _child_name(row)
        known = ", ".join(children) or "none yet"
        household = self.book.household.name
        if child is not None and child not in children:
            raise NotFoundError(f"child: no child named {child!r} in {household} ({known})")
        targets: dict[str, str | None] = {}
        for key, name in seen.items():
            who = _describe(key, name)
            if child is not None:
                if len(seen) == 1 or _same_child(name, child):
                    targets[key] = child
                elif not any(seen.values()):
                    raise InvalidEntryError(
                        f"the file holds rows of {len(seen)} Baby Buddy children "
                        f"({', '.join(seen)}) without their names: export one child at a time"
                    )
                else:
                    targets[key] = None
                continue
            match = next(
                (known_name for known_name in children if _same_child(name, known_name)), None
            )
            if match is not None:
                targets[key] = match
            elif name is None and len(children) == 1:
                only = next(iter(children))
                targets[key] = only
                self.report.notes.append(
                    f"{who} is taken to be {only}, the only child of {household}"
                )
            else:
                targets[key] = None
        self.unknown = {
            key: (
                f"{_describe(key, seen[key])} is not {child}"
                if child is not None
                else f"{_describe(key, seen[key])} is not a child of {household} ({known}): "
                "name the child to import into"
            )
            for key, target in targets.items()
            if target is None
        }
        return targets

    def _candidates(self, targets: dict[str, str | None]) -> list[_Candidate]:
        which = self.export.which
        household = self.book.household.name
        candidates: list[_Candidate] = []
        ids: set[str] = set()
        for number, row in enumerate(self.export.rows, start=1):
            bb_id = _text(row.get("id"))
            if bb_id is None:
                self.report.skipped.append(f"{which} row {number}: no Baby Buddy id: not imported")
                continue
            label = f"{which} {bb_id}"
            if bb_id in ids:
                self.report.skipped.append(f"{label}: appears twice in the file, imported once")
                continue
            ids.add(bb_id)
            key = _child_key(row)
            child = targets[key]
            if child is None:
                self.report.skipped.append(f"{label}: {self.unknown[key]}: not imported")
                continue
            try:
                made = (
                    self._feeding(row, label, child)
                    if which == "feeding"
                    else self._pumping(row, label)
                )
            except ValueError as exc:
                made = str(exc)
            if isinstance(made, str):
                self.report.skipped.append(f"{label}: {made}: not imported")
                continue
            record, remarks = made
            uid = str(uuid.uuid5(UID_NAMESPACE, f"babybuddy:{household}:{which}:{bb_id}"))
            candidates.append(_Candidate(label, uid, record, remarks))
        return candidates

    def _time(self, row: dict[str, Any], key: str) -> datetime | None:
        text = _text(row.get(key))
        if text is None:
            return None
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{key} {text!r} is not a time") from None
        if at.tzinfo is None:
            self.read_naive = True
            return at.replace(tzinfo=self.zone)
        return at

    def _span(self, row: dict[str, Any]) -> tuple[datetime, datetime] | str:
        start = self._time(row, "start")
        if start is None:
            return "no start time"
        end = self._time(row, "end")
        if end is None:
            length = _duration(_text(row.get("duration")))
            if length is None:
                return "no end time"
            end = start + length
        if end < start:
            return (
                f"ends ({end.astimezone(self.zone):%Y-%m-%d %H:%M}) before it starts "
                f"({start.astimezone(self.zone):%Y-%m-%d %H:%M})"
            )
        return start, end

    def _feeding(
        self, row: dict[str, Any], label: str, child: str
    ) -> tuple[Record, tuple[str, ...]] | str:
        kind, method = _word(row, "type"), _word(row, "method")
        if kind in NOT_MILK_TYPES or method in NOT_MILK_METHODS:
            return f"{kind or 'no type'}, {method or 'no method'}: neither nursing nor a bottle"
        if method in BREAST_SIDES:
            span = self._span(row)
            if isinstance(span, str):
                return span
            start, end = span
            sides = BREAST_SIDES[method]
            length_s = (end - start).total_seconds()
            remarks = []
            if len(sides) == 2:
                remarks.append(
                    f"both sides, {_minutes(length_s)} in all: Baby Buddy does not time "
                    "each side, so each has half"
                )
            if kind != "breast milk":
                remarks.append(f"Baby Buddy type: {kind or 'none'}")
            amount_ml = _amount_ml(row)
            if amount_ml:
                remarks.append(f"Baby Buddy amount: {amount_ml:g} mL")
            feed = validate(
                NurseFeed,
                {
                    "start_at": start,
                    "end_at": end,
                    "child": child,
                    "sides": {side: {"duration_s": length_s / len(sides)} for side in sides},
                    "notes": _notes(row, remarks, label),
                },
            )
            return feed, ()
        if method == "bottle":
            if kind not in BOTTLE_CONTENTS:
                return f"a bottle of {kind or 'no type'}: the journal keeps milk and formula"
            given_at = self._time(row, "start")
            if given_at is None:
                return "no start time"
            amount_ml = _amount_ml(row)
            if amount_ml is None:
                return "a bottle with no amount"
            if amount_ml <= 0:
                return f"a bottle of {amount_ml:g} mL"
            remarks = ["fortified breast milk"] if kind == "fortified breast milk" else []
            bottle = validate(
                BottleFeed,
                {
                    "start_at": given_at,
                    "child": child,
                    "amount_ml": amount_ml,
                    "content": BOTTLE_CONTENTS[kind],
                    "notes": _notes(row, remarks, label),
                },
            )
            return bottle, ()
        return f"method {method or 'none'}: not one Baby Buddy uses"

    def _pumping(self, row: dict[str, Any], label: str) -> tuple[Record, tuple[str, ...]] | str:
        span = self._span(row)
        if isinstance(span, str):
            return span
        amount_ml = _amount_ml(row)
        if amount_ml is None:
            return "no amount"
        if amount_ml < 0:
            return f"a negative amount ({amount_ml:g} mL)"
        remark = (
            f"Baby Buddy keeps one amount per session: {amount_ml:g} mL from both sides "
            "together, all on the left side here"
        )
        session = validate(
            PumpSession,
            {
                "start_at": span[0],
                "end_at": span[1],
                "sides": {"left": {"volume_ml": amount_ml}},
                "device": DEVICE,
                "notes": _notes(row, [remark], label),
            },
        )
        empty = (f"{label}: 0 mL recorded, imported as a session that gave no milk",)
        return session, empty if amount_ml == 0 else ()


def _child_key(row: dict[str, Any]) -> str:
    return _text(row.get("child_id", row.get("child"))) or ""


def _child_name(row: dict[str, Any]) -> str | None:
    parts = [_text(row.get("child_first_name")), _text(row.get("child_last_name"))]
    return " ".join(part for part in parts if part) or None


def _describe(key: str, name: str | None) -> str:
    who = f"Baby Buddy child {key}" if key else "Baby Buddy's child"
    return f"{who} ({name})" if name else who


def _same_child(name: str | None, known: str) -> bool:
    """Baby Buddy's "first last" is the household's child by full or first name."""
    if name is None:
        return False
    wanted = known.casefold()
    return wanted in (name.casefold(), name.split(" ")[0].casefold())


def _notes(row: dict[str, Any], remarks: list[str], label: str) -> str:
    parts = [_text(row.get("notes"))]
    tags = row.get("tags")
    shown = ", ".join(str(tag) for tag in tags) if isinstance(tags, list) else _text(tags)
    if shown:
        parts.append(f"tags: {shown}")
    parts.extend(remarks)
    parts.append(f"Baby Buddy {label}")
    return "; ".join(part for part in parts if part)
