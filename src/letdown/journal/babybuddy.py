"""Feedings and pumping sessions from Baby Buddy (https://docs.baby-buddy.net), the baby tracker.

It reads what Baby Buddy gives out, telling the kinds apart by their content, never by
the file's name: the admin export of Feeding or Pumping (CSV or TSV, or JSON with every
value a string), whose times carry no offset, and pages of the REST API
(``/api/feedings/``, ``/api/pumping/``), whose times are UTC. The admin's YAML and HTML
exports are named and refused. Amounts are read as millilitres: Baby Buddy stores them
without a unit.

Times without an offset are local to the Baby Buddy server: they are read in the zone
given (default: the household's), each in absolute time, so a feed across a daylight
saving change keeps its true length. A local time the clocks skipped, or one they
showed twice, is reported with what was chosen.

How a row becomes an entry:

- A feeding at the breast (left, right or both breasts) is a ``NurseFeed`` from start to
  end. Baby Buddy does not time each side: at both breasts, each side gets half of the
  feed, and the notes say so.
- A feeding by bottle is a ``BottleFeed`` of its amount (or "amount unknown"), from its
  start to its end: breast milk as expressed milk, fortified breast milk as expressed
  milk with "fortified" in the notes, formula as formula.
- Parent fed, self fed and solid food are neither nursing nor a bottle of milk: not
  imported, and reported.
- A pumping session is a ``PumpSession`` from the device "Baby Buddy import" with its
  total only (``total_ml``): Baby Buddy keeps one amount and no side, and a split would
  make up two numbers nobody measured. It belongs to no child, as letdown's do.

Children are matched by name (Baby Buddy's first name or full name), or by ``--child
ID=NAME`` where the file gives only ids (the REST API); a missing one is created when
asked. Two Baby Buddy children are never merged into one, silently or not.

A row is the same as one imported before when its Baby Buddy install (``source``: the
API's host, or one given), its id and its content (times, kind, amount) are: each
entry's notes end with "Baby Buddy <kind> <id>" and its uid is made from all of these
(``uuid5``). A second install's rows with the same ids are new rows, and renaming the
household changes nothing. A file whose every row is in the journal is said to look
like one imported before. What can be imported is written in one transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
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
    check_zone,
    now_utc,
    validate,
)

__all__ = ["DEVICE", "UID_NAMESPACE", "Options", "import_babybuddy", "read_tags"]

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


@dataclass(frozen=True)
class Options:
    """How to read a Baby Buddy file: its zone, its children, its install, its tags."""

    child: str | None = None
    """The household's child every row is about (a file of one child)."""
    children: dict[str, str] = field(default_factory=dict)
    """Baby Buddy child id (or name) to the household's child: ``--child 2=Sam``."""
    create_children: bool = False
    zone: str | None = None
    """The Baby Buddy server's zone, for admin exports (default: the household's)."""
    source: str | None = None
    """Which Baby Buddy install (default: the API's host, else unknown)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tag id to name, from Baby Buddy's tag export (admin exports give ids)."""


def import_babybuddy(
    book: Book,
    path: Path,
    *,
    child: str | None = None,
    options: Options | None = None,
) -> ImportReport:
    """Import a Baby Buddy feeding or pumping export into ``book``'s household."""
    options = options or Options(child=child)
    if options.zone is not None:
        try:
            check_zone(options.zone)
        except ValueError as exc:
            raise InvalidEntryError(f"--zone: {exc}") from None
    export = _read(read_utf8(path))
    report = ImportReport()
    report.notes.extend(export.notes)
    if not export.rows:
        report.notes.append("the file holds no rows")
        return report
    with book.writing() as session:
        _Import(session, book, export, report, options).run()
    return report


def read_tags(path: Path) -> dict[str, str]:
    """Tag id to name from Baby Buddy's admin export of Tags (CSV, TSV or JSON)."""
    text = read_utf8(path)
    rows = _read_rows(text)
    found = {
        str(row.get("id")).strip(): str(row.get("name")).strip()
        for row in rows
        if _text(row.get("id")) and _text(row.get("name"))
    }
    if not found:
        raise InvalidEntryError(f"{path.name}: not a Baby Buddy tag export (id and name)")
    return found


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Export:
    which: Which
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    host: str | None = None
    """The Baby Buddy server the API pages came from (their links name it)."""


SUPPORTED = (
    "letdown reads Baby Buddy's admin export as CSV, TSV or JSON, and the REST API's JSON "
    "(/api/feedings/, /api/pumping/): export again in one of those"
)


def _read(text: str) -> _Export:
    head = text.lstrip()[:200].lower()
    if head.startswith(("<!doctype", "<html", "<table", "<?xml", "<")):
        raise InvalidEntryError(f"this is Baby Buddy's HTML export: {SUPPORTED}")
    if head.startswith(("---", "- ")) or re.match(r"^[a-z_]+: ", head):
        raise InvalidEntryError(f"this looks like Baby Buddy's YAML export: {SUPPORTED}")
    if head.startswith(("{", "[")):
        return _read_json(text)
    return _read_table(text)


def _read_rows(text: str) -> list[dict[str, Any]]:
    if text.lstrip().startswith(("{", "[")):
        document = load_json(text)
        rows = document.get("results", []) if isinstance(document, dict) else document
        return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    return [dict(row) for row in csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)]


def _host(link: Any) -> str | None:
    if not isinstance(link, str) or not link:
        return None
    return urlsplit(link).netloc or None


def _read_json(text: str) -> _Export:
    document = load_json(text)
    notes: list[str] = []
    host = None
    if isinstance(document, dict) and "results" in document:
        host = _host(document.get("next")) or _host(document.get("previous"))
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
        return _Export("feeding", [], notes, host)
    columns: set[str] = set().union(*(row.keys() for row in rows))
    return _Export(_which(columns), rows, notes, host)


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


MARK = re.compile(
    r"Baby Buddy (?P<which>feeding|pumping) (?P<id>[^\s;]+)(?: from (?P<source>\S+))?$"
)
"""The end of an imported entry's notes: which Baby Buddy row (and install) it came from."""


@dataclass(frozen=True)
class _Known:
    """An entry imported from Baby Buddy before, as its notes and times tell."""

    id: int
    kind: str
    start_at: datetime
    end_at: datetime | None
    volume_ml: float | None
    source: str | None


class _Import:
    """One Baby Buddy file into one household, inside the caller's transaction."""

    def __init__(
        self,
        session: Session,
        book: Book,
        export: _Export,
        report: ImportReport,
        options: Options,
    ) -> None:
        self.session = session
        self.book = book
        self.export = export
        self.report = report
        self.options = options
        self.zone = ZoneInfo(options.zone or book.household.time_zone)
        self.source = options.source or export.host
        self.read_naive = False
        self.unknown: dict[str, str] = {}
        """Why the rows of a Baby Buddy child (by id) that matches none are left out."""
        self.tag_ids_seen = False

    def run(self) -> None:
        household = self.book.household
        children = self._household_children()
        targets = {} if self.export.which == "pumping" else self._children(children, self.options)
        if self.options.create_children:
            for name in sorted({t for t in targets.values() if t and t not in children}):
                self.session.add(schema.Child(household_id=household.id, name=name))
                self.session.flush()
                self.report.notes.append(f"added child {name} to {household.name}")
            children = self._household_children()
        candidates = self._candidates(targets)
        known = self._known()
        found = existing_uids(
            self.session,
            schema.Entry.uid,
            schema.Entry.household_id,
            [candidate.uid for candidate in candidates],
        )
        now = now_utc()
        again = 0
        beside: list[str] = []
        for candidate in candidates:
            same = self._same(candidate, known)
            if candidate.uid in found or same is not None:
                self.report.skipped.append(f"{candidate.label}: imported already")
                again += 1
                continue
            shifted = self._shifted(candidate, known)
            if shifted is not None:
                entry, shift_h = shifted
                self.report.skipped.append(
                    f"{candidate.label}: imported before as entry #{entry.id}, at a time "
                    f"{abs(shift_h):g} h {'earlier' if shift_h > 0 else 'later'}: the same row "
                    "read in another "
                    "zone. Not imported again; if that entry is misplaced, delete the earlier "
                    "import and import again with the right --zone"
                )
                again += 1
                continue
            which, _, bb_id = candidate.label.partition(" ")
            if known.get((which, bb_id)):
                beside.append(candidate.label)
            child_name: str | None = getattr(candidate.record, "child", None)
            add_entry_row(
                self.session,
                household_id=household.id,
                member_id=self.book.member.id,
                child_id=None if child_name is None else children[child_name],
                uid=candidate.uid,
                record=candidate.record,
                at=now,
            )
            self.report.add(candidate.record.kind)
            self.report.notes.extend(candidate.remarks)
        if candidates and again == len(candidates):
            self.report.notes.insert(
                0,
                "every row of this file is in the journal already: it looks like a file "
                "imported before",
            )
        if beside:
            shown = ", ".join(beside[:5]) + (
                f" and {len(beside) - 5} more" if len(beside) > 5 else ""
            )
            self.report.notes.append(
                f"{len(beside)} rows share their Baby Buddy id with rows imported before but "
                f"not their content ({shown}): imported as rows of their own (another Baby "
                "Buddy install, or a row edited since). If it is one install read in another "
                "zone, delete one import and give --zone"
            )
        self._explain()

    def _household_children(self) -> dict[str, int]:
        return dict(
            self.session.execute(
                select(schema.Child.name, schema.Child.id)
                .filter_by(household_id=self.book.household.id)
                .order_by(schema.Child.id)
            ).all()
        )

    def _known(self) -> dict[tuple[str, str], list[_Known]]:
        """Entries imported from Baby Buddy before, by (which, Baby Buddy id)."""
        known: dict[tuple[str, str], list[_Known]] = {}
        rows = self.session.execute(
            select(
                schema.Entry.id,
                schema.Entry.kind,
                schema.Entry.start_at,
                schema.Entry.end_at,
                schema.Entry.data,
            ).where(
                schema.Entry.household_id == self.book.household.id,
                schema.Entry.deleted_at.is_(None),
                schema.Entry.kind.in_(("nurse", "bottle", "pump")),
            )
        )
        for entry_id, kind, start_at, end_at, data in rows:
            mark = MARK.search(str(data.get("notes", "")))
            if mark is None:
                continue
            known.setdefault((mark["which"], mark["id"]), []).append(
                _Known(entry_id, kind, start_at, end_at, _volume(data), mark["source"])
            )
        return known

    def _same(
        self, candidate: _Candidate, known: dict[tuple[str, str], list[_Known]]
    ) -> _Known | None:
        """The entry this row was imported as before (same install, id and content)."""
        which, _, bb_id = candidate.label.partition(" ")
        record = candidate.record
        for entry in known.get((which, bb_id), []):
            if entry.source and self.source and entry.source != self.source:
                continue
            if (
                entry.kind == record.kind
                and entry.start_at == record.start_at
                and entry.end_at == record.end_time()
                and _close(entry.volume_ml, _volume(record.model_dump(mode="json")))
            ):
                return entry
        return None

    def _shifted(
        self, candidate: _Candidate, known: dict[tuple[str, str], list[_Known]]
    ) -> tuple[_Known, float] | None:
        """An entry imported before from this row read in another zone: the same id, kind,
        length and amount, whole hours apart. Two installs do not agree on all of that."""
        which, _, bb_id = candidate.label.partition(" ")
        record = candidate.record
        end = record.end_time()
        for entry in known.get((which, bb_id), []):
            shift_h = (record.start_at - entry.start_at).total_seconds() / 3600
            if (
                entry.kind == record.kind
                and shift_h != 0
                and shift_h == round(shift_h)
                and abs(shift_h) <= 14
                and (end is None) == (entry.end_at is None)
                and (
                    end is None
                    or entry.end_at is None
                    or end - record.start_at == entry.end_at - entry.start_at
                )
                and _close(entry.volume_ml, _volume(record.model_dump(mode="json")))
            ):
                return entry, shift_h
        return None

    def _explain(self) -> None:
        added = self.report.added
        if not added:
            return
        if self.read_naive:
            self.report.notes.append(
                f"times without an offset were read in {self.zone.key}"
                + (
                    f", {self.book.household.name}'s time zone"
                    if self.options.zone is None
                    else " (--zone)"
                )
                + ": if the Baby Buddy server ran in another zone, import again with --zone"
            )
        if added.get("pump"):
            self.report.notes.append(
                "Baby Buddy keeps one amount per pumping session and no side: each session "
                'is kept as its total only, shown as "total" beside the sides'
            )
        if self.tag_ids_seen:
            self.report.notes.append(
                "the admin export gives tag ids, not names: import again with --tags and "
                "Baby Buddy's export of Tags to keep their names"
            )
        if self.book.household.units is Units.FL_OZ and (added.get("pump") or added.get("bottle")):
            self.report.notes.append(
                "Baby Buddy stores amounts without a unit: they were read as mL, though "
                f"{self.book.household.name} counts in fl oz"
            )

    def _children(self, children: dict[str, int], options: Options) -> dict[str, str | None]:
        """Each Baby Buddy child (by id) to the household's child, or None when unknown."""
        seen: dict[str, str | None] = {}
        for row in self.export.rows:
            key = _child_key(row)
            seen[key] = seen.get(key) or _child_name(row)
        household = self.book.household.name
        known = ", ".join(children) or "none yet"
        usable = set(children)
        for wanted in filter(None, (options.child, *options.children.values())):
            if wanted not in usable and not options.create_children:
                raise NotFoundError(
                    f"child: no child named {wanted!r} in {household} ({known}): add it, or "
                    "pass --create-children"
                )
        targets: dict[str, str | None] = {}
        for key, name in seen.items():
            who = _describe(key, name)
            given = options.children.get(key) or (name and options.children.get(name))
            if (
                given is None
                and options.child is not None
                and (len(seen) == 1 or _same_child(name, options.child))
            ):
                given = options.child
            if given is not None:
                targets[key] = given
            elif (match := next((k for k in children if _same_child(name, k)), None)) is not None:
                targets[key] = match
            elif name is None and len(seen) == 1 and len(children) == 1:
                only = next(iter(children))
                targets[key] = only
                self.report.notes.append(
                    f"{who} is taken to be {only}, the only child of {household}"
                )
            elif name is not None and options.create_children:
                targets[key] = name
                usable.add(name)
            else:
                targets[key] = None
        for target in targets.values():
            if target is not None and target not in usable and not options.create_children:
                raise NotFoundError(
                    f"child: no child named {target!r} in {household} ({known}): add it, or "
                    "pass --create-children"
                )
        merged: dict[str, list[str]] = {}
        for key, target in targets.items():
            if target is not None:
                merged.setdefault(target, []).append(key)
        for target, keys in merged.items():
            if len(keys) > 1:
                raise InvalidEntryError(
                    f"{' and '.join(_describe(k, seen[k]) for k in keys)} would all become "
                    f"{target}: letdown does not merge children. Say which is which, as "
                    + " ".join(f"--child {k or '?'}=NAME" for k in keys)
                )
        unnamed = [key for key, target in targets.items() if target is None and seen[key] is None]
        if unnamed and len(seen) > 1:
            raise InvalidEntryError(
                f"the file holds rows of {len(seen)} Baby Buddy children "
                f"({', '.join(k or '?' for k in seen)}) without their names: say which is "
                "which, as " + " ".join(f"--child {k or '?'}=NAME" for k in seen)
            )
        self.unknown = {
            key: (
                f"{_describe(key, seen[key])} is not {options.child}"
                if options.child is not None
                else f"{_describe(key, seen[key])} is not a child of {household} ({known}): "
                "name the child to import into (--child), or pass --create-children"
            )
            for key, target in targets.items()
            if target is None
        }
        return targets

    def _candidates(self, targets: dict[str, str | None]) -> list[_Candidate]:
        which = self.export.which
        household = self.book.household
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
            child: str | None = None
            if which == "feeding":
                key = _child_key(row)
                child = targets[key]
                if child is None:
                    self.report.skipped.append(f"{label}: {self.unknown[key]}: not imported")
                    continue
            remarks: list[str] = []
            try:
                made = (
                    self._feeding(row, label, child, remarks)
                    if child is not None
                    else self._pumping(row, label, remarks)
                )
            except ValueError as exc:
                made = str(exc)
            if isinstance(made, str):
                self.report.skipped.append(f"{label}: {made}: not imported")
                continue
            content = hashlib.sha256(
                repr(sorted(made.model_dump(mode="json", exclude={"notes"}).items())).encode()
            ).hexdigest()
            uid = str(
                uuid.uuid5(
                    UID_NAMESPACE,
                    f"babybuddy:{household.id}:{self.source or ''}:{which}:{bb_id}:{content}",
                )
            )
            candidates.append(_Candidate(label, uid, made, tuple(remarks)))
        return candidates

    def _time(
        self, row: dict[str, Any], key: str, label: str, remarks: list[str]
    ) -> datetime | None:
        """An absolute time: with its offset as given, else the local time in ``zone``."""
        text = _text(row.get(key))
        if text is None:
            return None
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{key} {text!r} is not a time") from None
        if at.tzinfo is not None:
            return at.astimezone(UTC)
        self.read_naive = True
        first = at.replace(tzinfo=self.zone, fold=0)
        second = at.replace(tzinfo=self.zone, fold=1)
        if first.utcoffset() == second.utcoffset():
            return first.astimezone(UTC)
        shown = f"{at:%Y-%m-%d %H:%M}"
        back = first.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None)
        if back != at:  # the clocks skipped it (spring forward)
            taken = first.astimezone(UTC)
            remarks.append(
                f"{label}: {key} {shown} did not exist in {self.zone.key} (the clocks "
                f"went forward): read as {taken.astimezone(self.zone):%H:%M %Z}"
            )
            return taken
        return self._twice(at, key, label, remarks)

    def _twice(self, at: datetime, key: str, label: str, remarks: list[str]) -> datetime:
        """A local time the clocks showed twice (autumn): the first, unless the row's
        other end says otherwise (``_span`` settles a pair)."""
        taken = at.replace(tzinfo=self.zone, fold=0)
        remarks.append(
            f"{label}: {key} {at:%Y-%m-%d %H:%M} happened twice in {self.zone.key} (the "
            f"clocks went back): taken as the first, {taken:%H:%M %Z} "
            f"({taken.astimezone(UTC):%H:%M} UTC)"
        )
        return taken.astimezone(UTC)

    def _span(
        self, row: dict[str, Any], label: str, remarks: list[str]
    ) -> tuple[datetime, datetime] | str:
        start = self._time(row, "start", label, remarks)
        if start is None:
            return "no start time"
        end = self._time(row, "end", label, remarks)
        if end is None:
            length = _duration(_text(row.get("duration")))
            if length is None:
                return "no end time"
            end = start + length
        if end < start and remarks:
            # Across the autumn change: the end's repeated hour is its second showing.
            text = _text(row.get("end")) or ""
            later = datetime.fromisoformat(text).replace(tzinfo=self.zone, fold=1)
            if later.astimezone(UTC) >= start:
                end = later.astimezone(UTC)
                remarks[:] = [r for r in remarks if f": end {text[:16]}" not in r]
                remarks.append(
                    f"{label}: end {text[:16]} happened twice in {self.zone.key}: taken as "
                    f"the second, {later:%H:%M %Z}, as the row starts before it"
                )
        if end < start:
            return (
                f"ends ({end.astimezone(self.zone):%Y-%m-%d %H:%M}) before it starts "
                f"({start.astimezone(self.zone):%Y-%m-%d %H:%M})"
            )
        return start, end

    def _feeding(
        self, row: dict[str, Any], label: str, child: str, remarks: list[str]
    ) -> Record | str:
        kind, method = _word(row, "type"), _word(row, "method")
        if kind in NOT_MILK_TYPES or method in NOT_MILK_METHODS:
            return f"{kind or 'no type'}, {method or 'no method'}: neither nursing nor a bottle"
        if method in BREAST_SIDES:
            span = self._span(row, label, remarks)
            if isinstance(span, str):
                return span
            start, end = span
            sides = BREAST_SIDES[method]
            length_s = (end - start).total_seconds()
            said = []
            if len(sides) == 2:
                said.append(
                    f"both sides, {_minutes(length_s)} in all: Baby Buddy does not time "
                    "each side, so each has half"
                )
            if kind != "breast milk":
                said.append(f"Baby Buddy type: {kind or 'none'}")
            amount_ml = _amount_ml(row)
            if amount_ml:
                said.append(f"Baby Buddy amount: {amount_ml:g} mL")
            return validate(
                NurseFeed,
                {
                    "start_at": start,
                    "end_at": end,
                    "child": child,
                    "sides": {side: {"duration_s": length_s / len(sides)} for side in sides},
                    "notes": self._notes(row, said, label),
                },
            )
        if method == "bottle":
            if kind not in BOTTLE_CONTENTS:
                return f"a bottle of {kind or 'no type'}: the journal keeps milk and formula"
            given_at = self._time(row, "start", label, remarks)
            if given_at is None:
                return "no start time"
            ended_at = self._time(row, "end", label, remarks)
            if ended_at is not None and ended_at < given_at:
                span = self._span(row, label, remarks)
                if isinstance(span, str):
                    return span
                ended_at = span[1]
            amount_ml = _amount_ml(row)
            said = ["fortified breast milk"] if kind == "fortified breast milk" else []
            if amount_ml is None or amount_ml <= 0:
                said.append("no amount in Baby Buddy: amount unknown")
                amount_ml = None
            return validate(
                BottleFeed,
                {
                    "start_at": given_at,
                    "end_at": ended_at,
                    "child": child,
                    "amount_ml": amount_ml,
                    "content": BOTTLE_CONTENTS[kind],
                    "notes": self._notes(row, said, label),
                },
            )
        return f"method {method or 'none'}: not one Baby Buddy uses"

    def _pumping(self, row: dict[str, Any], label: str, remarks: list[str]) -> Record | str:
        span = self._span(row, label, remarks)
        if isinstance(span, str):
            return span
        amount_ml = _amount_ml(row)
        if amount_ml is None:
            return "no amount"
        if amount_ml < 0:
            return f"a negative amount ({amount_ml:g} mL)"
        if amount_ml == 0:
            remarks.append(f"{label}: 0 mL recorded, imported as a session that gave no milk")
        return validate(
            PumpSession,
            {
                "start_at": span[0],
                "end_at": span[1],
                "total_ml": amount_ml,
                "device": DEVICE,
                "notes": self._notes(row, ["both sides together, no side kept"], label),
            },
        )

    def _notes(self, row: dict[str, Any], remarks: list[str], label: str) -> str:
        parts = [_text(row.get("notes"))]
        tags = row.get("tags")
        if isinstance(tags, list):  # the REST API: names
            names = [str(tag) for tag in tags]
        else:  # the admin export: ids, "1,2"
            ids = [part.strip() for part in (_text(tags) or "").split(",") if part.strip()]
            names = [self.options.tags.get(tag_id, "") for tag_id in ids]
            if ids and not all(names):
                self.tag_ids_seen = True
                names = [
                    name or f"Baby Buddy tag {tag_id}"
                    for tag_id, name in zip(ids, names, strict=True)
                ]
        if names:
            parts.append(f"tags: {', '.join(names)}")
        parts.extend(remarks)
        mark = f"Baby Buddy {label}" + (f" from {self.source}" if self.source else "")
        parts.append(mark)
        return "; ".join(part for part in parts if part)


def _volume(data: dict[str, Any]) -> float | None:
    if data.get("total_ml") is not None:
        return float(data["total_ml"])
    if data.get("amount_ml") is not None:
        return float(data["amount_ml"])
    sides = data.get("sides") or {}
    volumes = [side.get("volume_ml") for side in sides.values() if isinstance(side, dict)]
    if any(volume is not None for volume in volumes):
        return float(sum(volume or 0.0 for volume in volumes))
    return None


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) < 0.05


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
