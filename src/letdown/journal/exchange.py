"""A household's whole journal in one file (JSON or CSV), and that file read back.

The file holds everything the household wrote: its settings, members, children and
pregnancies; every entry, deleted ones too (``deleted_at`` set), with who entered and last
changed it, its version and every revision; every stash bag with what happened to it
(``bag_event``: stored, moved, used, discarded) and the pump sessions its milk came from
(``bag_source``). Things point at each other by uid (entries, bags) or by name (members,
children), never by database id, so the file moves between databases: export, import
into a new journal and export again gives the same file but for ``exported_at``.

The formats live beside this module: ``exchange_rows`` (the items any file holds),
``exchange_json`` and ``exchange_csv``; this one checks a file as a whole and writes it.
JSON is one document (``FORMAT``, ``FORMAT_VERSION``). CSV is one file a spreadsheet
opens: one row per item, the first column says what it is (``ROW_TYPES``); a record's
fields are spread over dotted columns (``sides.left.volume_ml``) and its lists are JSON
text in their cell. Times are ISO 8601 in UTC, with the offset written. A text cell that a
spreadsheet would run as a formula (starting with ``= + - @``) or that starts with an
apostrophe is written behind one more apostrophe, which the import takes off.

An import checks the whole file before writing and writes it in one transaction: a file
with one bad row imports nothing, and the error names the row and the field. Into a
household that exists already it adds what is missing (members and children by name,
entries and bags by uid) and reports, one line each, what it left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, TextIO, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute, Session

from letdown.errors import InvalidEntryError, NotFoundError
from letdown.journal import schema
from letdown.journal.book import (
    Book,
    Journal,
    NotAllowedError,
    private_entry,
    touch,
    without_pain,
)
from letdown.journal.exchange_csv import (
    COLUMNS,
    RECORD_COLUMNS,
    _read_csv,
    _write_csv,
)
from letdown.journal.exchange_json import (
    _read_json,
    _write_json,
)
from letdown.journal.exchange_rows import (
    FORMAT,
    FORMAT_VERSION,
    ROW_TYPES,
    BagEventRow,
    BagRow,
    BagSourceRow,
    EntryRow,
    HouseholdRow,
    MemberRow,
    PregnancyRow,
    RevisionRow,
    RowType,
    _iso,
    _Item,
    _plain,
    _Raw,
    load_json,
    read_utf8,
)
from letdown.journal.records import (
    BottleFeed,
    ChildInfo,
    Record,
    Role,
    now_utc,
    parse_record,
    validate,
)

__all__ = [
    "COLUMNS",
    "FORMAT",
    "FORMAT_VERSION",
    "RECORD_COLUMNS",
    "ROW_TYPES",
    "EntryRow",
    "ImportReport",
    "RevisionRow",
    "add_entry_row",
    "existing_uids",
    "import_file",
    "load_json",
    "read_utf8",
    "write_export",
]


QUERY_CHUNK = 500
"""Uids asked about per query: well under any database's limit on parameters."""


_M = TypeVar("_M", bound=BaseModel)


_T = TypeVar("_T", schema.Member, schema.Child, schema.Pregnancy, schema.Entry, schema.Bag)


_LABELS: dict[str, tuple[str, str]] = {
    "household": ("household", "households"),
    "member": ("member", "members"),
    "child": ("child", "children"),
    "pregnancy": ("pregnancy", "pregnancies"),
    "nurse": ("nurse feed", "nurse feeds"),
    "pump": ("pump session", "pump sessions"),
    "bottle": ("bottle", "bottles"),
    "care": ("care entry", "care entries"),
    "symptom": ("symptom entry", "symptom entries"),
    "revision": ("revision", "revisions"),
    "bag": ("stash bag", "stash bags"),
    "bag_event": ("bag event", "bag events"),
    "bag_source": ("bag source", "bag sources"),
}


@dataclass
class ImportReport:
    """What an import added (per kind), what it left out and why, and what to know."""

    added: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, count: int = 1) -> None:
        self.added[kind] = self.added.get(kind, 0) + count

    def lines(self) -> list[str]:
        order = list(_LABELS)
        counted = sorted(
            (item for item in self.added.items() if item[1]),
            key=lambda item: order.index(item[0]) if item[0] in order else len(order),
        )
        parts = [
            f"{count} {_LABELS.get(kind, (kind, kind))[count != 1]}" for kind, count in counted
        ]
        lines = [f"Added {', '.join(parts)}." if parts else "Nothing added."]
        lines.extend(f"Note: {note}" for note in self.notes)
        if self.skipped:
            lines.append(f"Not imported ({len(self.skipped)}):")
            lines.extend(f"  {line}" for line in self.skipped)
        return lines


def write_export(book: Book, fmt: Literal["json", "csv"], out: TextIO) -> int:
    """Write the book's whole household to ``out``; returns how many items were written.

    CSV rows end in CRLF (RFC 4180, and a lone CR in a note is then quoted) and the text
    starts with a byte-order mark, so that spreadsheets read accents right: open ``out``
    with ``newline=""``.
    """
    if fmt not in ("json", "csv"):
        raise InvalidEntryError(f"format: {fmt!r} is not json or csv")
    items = _export_items(book)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "exported_at": _iso(now_utc())}
    if fmt == "json":
        _write_json(header, items, out)
    else:
        _write_csv(header, items, out)
    return len(items)


def _export_items(book: Book) -> list[_Item]:
    with Session(book.engine) as session:
        if book.engine.dialect.name == "postgresql":
            # One snapshot for every query: a member writing meanwhile cannot leave an entry
            # without its newest revision in the file.
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        household = session.get(schema.Household, book.household.id)
        if household is None:
            raise NotFoundError(f"no household named {book.household.name!r}")
        items = [
            _item(
                "household",
                HouseholdRow(
                    name=household.name,
                    time_zone=household.time_zone,
                    units=household.units,
                    word=household.word,
                    storage_rules=household.storage_rules,
                    created_at=household.created_at,
                ),
            )
        ]
        members = _rows(session, schema.Member, schema.Member.household_id == household.id)
        names = {member.id: member.name for member in members}
        items += [
            _item(
                "member",
                MemberRow(
                    name=m.name, role=m.role, created_at=m.created_at, sees_private=m.sees_private
                ),
            )
            for m in members
        ]
        # What is the nursing parent's own leaves the file with them and those they chose.
        sees = book.member.sees_private
        children = _rows(session, schema.Child, schema.Child.household_id == household.id)
        items += [_item("child", ChildInfo(name=c.name, birth_date=c.birth_date)) for c in children]
        pregnancies = _rows(
            session, schema.Pregnancy, schema.Pregnancy.household_id == household.id
        )
        items += [
            _item(
                "pregnancy",
                PregnancyRow(
                    due_date=p.due_date,
                    notes=p.notes,
                    entered_by=names[p.entered_by],
                    entered_at=p.entered_at,
                ),
            )
            for p in pregnancies
            if sees
        ]
        entries = [
            e
            for e in _rows(session, schema.Entry, schema.Entry.household_id == household.id)
            if sees or not private_entry(e.kind, e.shared)
        ]
        uids = {entry.id: entry.uid for entry in entries}
        shown = (lambda record: record) if sees else without_pain
        items += [
            _item(
                "entry",
                EntryRow(
                    uid=e.uid,
                    version=e.version,
                    entered_by=names[e.entered_by],
                    entered_at=e.entered_at,
                    updated_by=names[e.updated_by],
                    updated_at=e.updated_at,
                    deleted_at=e.deleted_at,
                    shared=e.shared,
                ),
                shown(parse_record(e.data)),
            )
            for e in entries
        ]
        revisions = session.scalars(
            select(schema.Revision)
            .join(schema.Entry, schema.Entry.id == schema.Revision.entry_id)
            .where(schema.Entry.household_id == household.id)
            .order_by(schema.Revision.entry_id, schema.Revision.version)
        )
        items += [
            _item(
                "revision",
                RevisionRow(
                    entry=uids[r.entry_id],
                    version=r.version,
                    action=r.action,
                    changed_by=names[r.changed_by],
                    changed_at=r.changed_at,
                ),
                shown(parse_record(r.data)),
            )
            for r in revisions
            if r.entry_id in uids
        ]
        bags = _rows(session, schema.Bag, schema.Bag.household_id == household.id)
        bag_uids = {bag.id: bag.uid for bag in bags}
        items += [
            _item(
                "bag",
                BagRow(
                    uid=b.uid,
                    code=b.code,
                    volume_ml=b.volume_ml,
                    remaining_ml=b.remaining_ml,
                    expressed_at=b.expressed_at,
                    location=b.location,
                    status=b.status,
                    closed_at=b.closed_at,
                    reason=b.reason,
                    notes=b.notes,
                    entered_by=names[b.entered_by],
                    entered_at=b.entered_at,
                ),
            )
            for b in bags
        ]
        events = session.scalars(
            select(schema.BagEvent)
            .join(schema.Bag, schema.Bag.id == schema.BagEvent.bag_id)
            .where(schema.Bag.household_id == household.id)
            .order_by(schema.BagEvent.id)
        )
        items += [
            _item(
                "bag_event",
                BagEventRow(
                    bag=bag_uids[ev.bag_id],
                    at=ev.at,
                    action=ev.action,
                    location=ev.location,
                    volume_ml=ev.volume_ml,
                    entry=None if ev.entry_id is None else uids[ev.entry_id],
                    reason=ev.reason,
                    member=names[ev.member_id],
                ),
            )
            for ev in events
        ]
        sources = session.scalars(
            select(schema.BagSource)
            .join(schema.Bag, schema.Bag.id == schema.BagSource.bag_id)
            .where(schema.Bag.household_id == household.id)
            .order_by(schema.BagSource.bag_id, schema.BagSource.entry_id)
        )
        items += [
            _item("bag_source", BagSourceRow(bag=bag_uids[s.bag_id], entry=uids[s.entry_id]))
            for s in sources
        ]
    return items


def _rows(session: Session, table: type[_T], where: ColumnElement[bool]) -> list[_T]:
    """A household's rows of one table, in the order they were written."""
    return list(session.scalars(select(table).where(where).order_by(table.id)))


def _item(kind: RowType, row: BaseModel, record: Record | None = None) -> _Item:
    return _Item(
        kind,
        _plain(row.model_dump()),
        None if record is None else _plain(record.model_dump()),
    )


@dataclass(frozen=True)
class _Entry:
    where: str
    row: EntryRow
    record: Record


@dataclass(frozen=True)
class _Revision:
    where: str
    row: RevisionRow
    record: Record


@dataclass
class _Document:
    """A file's content, every item valid and every reference inside the file."""

    household: HouseholdRow
    members: list[tuple[str, MemberRow]] = field(default_factory=list)
    children: list[tuple[str, ChildInfo]] = field(default_factory=list)
    pregnancies: list[tuple[str, PregnancyRow]] = field(default_factory=list)
    entries: list[_Entry] = field(default_factory=list)
    revisions: list[_Revision] = field(default_factory=list)
    bags: list[tuple[str, BagRow]] = field(default_factory=list)
    events: list[tuple[str, BagEventRow]] = field(default_factory=list)
    sources: list[tuple[str, BagSourceRow]] = field(default_factory=list)


def _valid(model: type[_M], raw: _Raw) -> _M:
    try:
        return validate(model, raw.values)
    except InvalidEntryError as exc:
        raise InvalidEntryError(f"{raw.where}: {exc}") from None


def _valid_record(raw: _Raw) -> Record:
    try:
        return parse_record(raw.record or {})
    except InvalidEntryError as exc:
        raise InvalidEntryError(f"{raw.where}: {exc}") from None


def _document(raws: Sequence[_Raw]) -> _Document:
    households = [raw for raw in raws if raw.type == "household"]
    if len(households) != 1:
        raise InvalidEntryError(f"the file has {len(households)} household rows, not 1")
    document = _Document(_valid(HouseholdRow, households[0]))
    for raw in raws:
        if raw.type == "member":
            document.members.append((raw.where, _valid(MemberRow, raw)))
        elif raw.type == "child":
            document.children.append((raw.where, _valid(ChildInfo, raw)))
        elif raw.type == "pregnancy":
            document.pregnancies.append((raw.where, _valid(PregnancyRow, raw)))
        elif raw.type == "entry":
            document.entries.append(_Entry(raw.where, _valid(EntryRow, raw), _valid_record(raw)))
        elif raw.type == "revision":
            row = _valid(RevisionRow, raw)
            document.revisions.append(_Revision(raw.where, row, _valid_record(raw)))
        elif raw.type == "bag":
            document.bags.append((raw.where, _valid(BagRow, raw)))
        elif raw.type == "bag_event":
            document.events.append((raw.where, _valid(BagEventRow, raw)))
        elif raw.type == "bag_source":
            document.sources.append((raw.where, _valid(BagSourceRow, raw)))
    _check_references(document)
    return document


def _once(where: str, what: str, value: str, seen: set[str]) -> None:
    if value in seen:
        raise InvalidEntryError(f"{where}: {what} {value} appears twice in the file")
    seen.add(value)


def _known(where: str, what: str, value: str | None, known: Iterable[str]) -> None:
    if value is not None and value not in known:
        raise InvalidEntryError(f"{where}: {what}: {value!r} is not in the file")


def _check_references(document: _Document) -> None:
    """Names and uids point at things the file holds; histories are whole."""
    members: set[str] = set()
    for where, member in document.members:
        _once(where, "name", member.name, members)
    children: set[str] = set()
    for where, child in document.children:
        _once(where, "name", child.name, children)
    for where, pregnancy in document.pregnancies:
        _known(where, "entered_by", pregnancy.entered_by, members)
    entries: dict[str, _Entry] = {}
    for entry in document.entries:
        if entry.row.uid in entries:
            raise InvalidEntryError(f"{entry.where}: uid appears twice in the file")
        entries[entry.row.uid] = entry
        for what in ("entered_by", "updated_by"):
            _known(entry.where, what, getattr(entry.row, what), members)
        _known(entry.where, "child", getattr(entry.record, "child", None), children)
    versions: dict[str, list[int]] = {uid: [] for uid in entries}
    for revision in document.revisions:
        _known(revision.where, "entry", revision.row.entry, entries)
        _known(revision.where, "changed_by", revision.row.changed_by, members)
        owner = entries[revision.row.entry]
        if revision.record.kind != owner.record.kind:
            raise InvalidEntryError(
                f"{revision.where}: kind: {revision.record.kind}, but the entry is a "
                f"{owner.record.kind} (an entry never changes kind)"
            )
        versions[revision.row.entry].append(revision.row.version)
    for uid, found in versions.items():
        entry = entries[uid]
        if sorted(found) != list(range(1, entry.row.version + 1)):
            raise InvalidEntryError(
                f"{entry.where}: version {entry.row.version} needs revisions 1 to "
                f"{entry.row.version}, the file has {sorted(found) or 'none'}: "
                "the file is incomplete"
            )
    bags: dict[str, BagRow] = {}
    codes: set[str] = set()
    for where, bag in document.bags:
        if bag.uid in bags:
            raise InvalidEntryError(f"{where}: uid appears twice in the file")
        _once(where, "code", bag.code, codes)
        _known(where, "entered_by", bag.entered_by, members)
        bags[bag.uid] = bag
    first_events: dict[str, str] = {}
    for where, event in document.events:
        _known(where, "bag", event.bag, bags)
        _known(where, "member", event.member, members)
        _known(where, "entry", event.entry, entries)
        first_events.setdefault(event.bag, event.action)
    for where, bag in document.bags:
        if first_events.get(bag.uid) != "stored":
            raise InvalidEntryError(
                f"{where}: the bag's first event must be 'stored' (where it was put), "
                f"the file has {first_events.get(bag.uid) or 'none'}"
            )
    pairs: set[str] = set()
    for where, source in document.sources:
        _known(where, "bag", source.bag, bags)
        _known(where, "entry", source.entry, entries)
        _once(where, "source", f"{source.bag} → {source.entry}", pairs)
        if entries[source.entry].record.kind != "pump":
            raise InvalidEntryError(f"{where}: entry: milk comes from a pump session")


def import_file(
    journal: Journal,
    fmt: Literal["json", "csv"],
    path: Path,
    *,
    household: str | None = None,
    member: str | None = None,
) -> ImportReport:
    """Import an export into ``journal``, as household ``household`` (default: the file's).

    ``member`` is who imports (default: the household's first member); a viewer cannot.
    Nothing is written unless all of the file can be.
    """
    if fmt not in ("json", "csv"):
        raise InvalidEntryError(f"format: {fmt!r} is not json or csv")
    text = read_utf8(path)
    document = _document(_read_json(text) if fmt == "json" else _read_csv(text))
    if household is not None:
        settings = document.household.model_dump() | {"name": household}
        document.household = validate(HouseholdRow, settings)
    report = ImportReport()
    try:
        with Session(journal.engine) as session, session.begin():
            _Importer(session, document, report).run(member)
    except IntegrityError as exc:
        raise InvalidEntryError(
            f"the journal changed while importing, try again ({exc.orig})"
        ) from None
    return report


def existing_uids(
    session: Session,
    column: QueryableAttribute[str],
    household_column: QueryableAttribute[int],
    uids: Sequence[str],
) -> dict[str, int]:
    """Which of ``uids`` the journal has already, and in which household."""
    found: dict[str, int] = {}
    for start in range(0, len(uids), QUERY_CHUNK):
        chunk = list(uids[start : start + QUERY_CHUNK])
        rows = session.execute(select(column, household_column).where(column.in_(chunk)))
        found.update((uid, household_id) for uid, household_id in rows)
    return found


def add_entry_row(
    session: Session,
    *,
    household_id: int,
    member_id: int,
    child_id: int | None,
    uid: str,
    record: Record,
    at: datetime,
) -> schema.Entry:
    """A new entry and its first revision, as ``Book.add`` writes them, in a bulk import."""
    row = schema.Entry(
        uid=uid,
        household_id=household_id,
        kind=record.kind,
        child_id=child_id,
        start_at=record.start_at,
        end_at=record.end_time(),
        data=record.model_dump(mode="json"),
        version=1,
        entered_by=member_id,
        entered_at=at,
        updated_by=member_id,
        updated_at=at,
    )
    session.add(row)
    session.flush()
    session.add(
        schema.Revision(
            entry_id=row.id,
            version=1,
            action="created",
            data=row.data,
            changed_by=member_id,
            changed_at=at,
        )
    )
    return row


class _Importer:
    """One file into one household, inside the caller's transaction."""

    def __init__(self, session: Session, document: _Document, report: ImportReport) -> None:
        self.session = session
        self.document = document
        self.report = report
        self.name = document.household.name
        self.zone = ZoneInfo(document.household.time_zone)

    def run(self, importer: str | None) -> None:
        household_id = self._household()
        touch(self.session, household_id)
        members = self._members(household_id)
        self._check_importer(household_id, importer)
        children = self._children(household_id)
        self._pregnancies(household_id, members)
        entry_ids, added_entries = self._entries(household_id, members, children)
        self._revisions(members, entry_ids, added_entries)
        added_bags = self._bags(household_id, members, added_entries)
        self._bag_history(members, entry_ids, added_bags)

    def _household(self) -> int:
        info = self.document.household
        row = self.session.scalar(select(schema.Household).filter_by(name=self.name))
        if row is None:
            row = schema.Household(
                name=info.name,
                time_zone=info.time_zone,
                units=info.units.value,
                word=info.word.value,
                storage_rules=info.storage_rules,
                created_at=info.created_at,
            )
            self.session.add(row)
            self.session.flush()
            self.report.add("household")
            return row.id
        self.zone = ZoneInfo(row.time_zone)
        for setting in ("time_zone", "units", "word", "storage_rules"):
            kept, wanted = getattr(row, setting), str(getattr(info, setting))
            if kept != wanted:
                self.report.skipped.append(
                    f"household setting {setting}: {self.name} keeps {kept} "
                    f"(the file says {wanted})"
                )
        return row.id

    def _members(self, household_id: int) -> dict[str, int]:
        rows = self.session.scalars(
            select(schema.Member).filter_by(household_id=household_id).order_by(schema.Member.id)
        )
        existing = {row.name: row for row in rows}
        ids = {name: row.id for name, row in existing.items()}
        for _, member in self.document.members:
            found = existing.get(member.name)
            if found is None:
                row = schema.Member(
                    household_id=household_id,
                    name=member.name,
                    role=member.role.value,
                    created_at=member.created_at,
                    sees_private=member.sees_private,
                )
                self.session.add(row)
                self.session.flush()
                ids[member.name] = row.id
                self.report.add("member")
            elif found.role != member.role.value:
                self.report.skipped.append(
                    f"member {member.name}: stays {found.role} (the file says {member.role.value})"
                )
        return ids

    def _check_importer(self, household_id: int, name: str | None) -> None:
        query = select(schema.Member).filter_by(household_id=household_id)
        if name is not None:
            query = query.filter_by(name=name)
        who = self.session.scalar(query.order_by(schema.Member.id).limit(1))
        if who is None:
            raise NotFoundError(f"no member named {name!r} in {self.name}")
        if who.role == Role.VIEWER.value:
            raise NotAllowedError(f"{who.name} is a viewer and cannot change the journal")

    def _children(self, household_id: int) -> dict[str, int]:
        rows = self.session.execute(
            select(schema.Child.name, schema.Child.id).filter_by(household_id=household_id)
        )
        ids = dict(rows.all())
        for _, child in self.document.children:
            if child.name not in ids:
                row = schema.Child(
                    household_id=household_id, name=child.name, birth_date=child.birth_date
                )
                self.session.add(row)
                self.session.flush()
                ids[child.name] = row.id
                self.report.add("child")
        return ids

    def _pregnancies(self, household_id: int, members: dict[str, int]) -> None:
        due = set(
            self.session.scalars(
                select(schema.Pregnancy.due_date).filter_by(household_id=household_id)
            )
        )
        for _, pregnancy in self.document.pregnancies:
            if pregnancy.due_date in due:
                self.report.skipped.append(
                    f"pregnancy due {pregnancy.due_date}: already in {self.name}"
                )
                continue
            self.session.add(
                schema.Pregnancy(
                    household_id=household_id,
                    due_date=pregnancy.due_date,
                    notes=pregnancy.notes,
                    entered_by=members[pregnancy.entered_by],
                    entered_at=pregnancy.entered_at,
                )
            )
            due.add(pregnancy.due_date)
            self.report.add("pregnancy")

    def _entries(
        self, household_id: int, members: dict[str, int], children: dict[str, int]
    ) -> tuple[dict[str, int], dict[str, schema.Entry]]:
        uids = [entry.row.uid for entry in self.document.entries]
        found = existing_uids(self.session, schema.Entry.uid, schema.Entry.household_id, uids)
        ids = dict(
            self.session.execute(
                select(schema.Entry.uid, schema.Entry.id).filter_by(household_id=household_id)
            ).all()
        )
        added: dict[str, schema.Entry] = {}
        for entry in self.document.entries:
            uid, record = entry.row.uid, entry.record
            if uid in found:
                self._refuse_elsewhere(entry.where, "entry", found[uid], household_id)
                self.report.skipped.append(
                    f"entry {uid} ({self._describe(record)}): already in {self.name}"
                )
                continue
            child = getattr(record, "child", None)
            row = schema.Entry(
                uid=uid,
                household_id=household_id,
                kind=record.kind,
                child_id=None if child is None else children[child],
                start_at=record.start_at,
                end_at=record.end_time(),
                data=record.model_dump(mode="json"),
                version=entry.row.version,
                entered_by=members[entry.row.entered_by],
                entered_at=entry.row.entered_at,
                updated_by=members[entry.row.updated_by],
                updated_at=entry.row.updated_at,
                deleted_at=entry.row.deleted_at,
                shared=entry.row.shared,
            )
            self.session.add(row)
            added[uid] = row
            self.report.add(record.kind)
        self.session.flush()
        ids.update({uid: row.id for uid, row in added.items()})
        return ids, added

    def _refuse_elsewhere(self, where: str, what: str, found_in: int, household_id: int) -> None:
        if found_in != household_id:
            other = self.session.get(schema.Household, found_in)
            name = other.name if other is not None else str(found_in)
            raise InvalidEntryError(
                f"{where}: this {what} is in household {name!r} of this journal already: "
                "a uid belongs to one household"
            )

    def _describe(self, record: Record) -> str:
        return f"{record.kind}, {record.start_at.astimezone(self.zone):%Y-%m-%d %H:%M}"

    def _revisions(
        self, members: dict[str, int], ids: dict[str, int], added: dict[str, schema.Entry]
    ) -> None:
        for revision in self.document.revisions:
            if revision.row.entry not in added:
                continue
            self.session.add(
                schema.Revision(
                    entry_id=ids[revision.row.entry],
                    version=revision.row.version,
                    action=revision.row.action,
                    data=revision.record.model_dump(mode="json"),
                    changed_by=members[revision.row.changed_by],
                    changed_at=revision.row.changed_at,
                )
            )
            self.report.add("revision")

    def _bags(
        self, household_id: int, members: dict[str, int], added_entries: dict[str, schema.Entry]
    ) -> dict[str, schema.Bag]:
        uids = [bag.uid for _, bag in self.document.bags]
        found = existing_uids(self.session, schema.Bag.uid, schema.Bag.household_id, uids)
        codes = dict(
            self.session.execute(
                select(schema.Bag.code, schema.Bag.uid).filter_by(household_id=household_id)
            ).all()
        )
        added: dict[str, schema.Bag] = {}
        for where, bag in self.document.bags:
            if bag.uid in found:
                self._refuse_elsewhere(where, "bag", found[bag.uid], household_id)
                self.report.skipped.append(
                    f"bag {bag.code} ({bag.uid}): already in the stash of {self.name}, "
                    "its history in the file is not merged"
                )
                continue
            if bag.code in codes:
                raise InvalidEntryError(
                    f"{where}: code: {bag.code} labels another bag in {self.name} already"
                )
            row = schema.Bag(
                uid=bag.uid,
                household_id=household_id,
                code=bag.code,
                volume_ml=bag.volume_ml,
                remaining_ml=bag.remaining_ml,
                expressed_at=bag.expressed_at,
                location=bag.location.value,
                status=bag.status,
                closed_at=bag.closed_at,
                reason=bag.reason,
                notes=bag.notes,
                entered_by=members[bag.entered_by],
                entered_at=bag.entered_at,
            )
            self.session.add(row)
            added[bag.uid] = row
            codes[bag.code] = bag.uid
            self.report.add("bag")
        self.session.flush()
        self._check_bottles(added_entries, codes, {row.code for row in added.values()})
        return added

    def _check_bottles(
        self, added: dict[str, schema.Entry], codes: dict[str, str], new_codes: set[str]
    ) -> None:
        """A bottle names bags the stash has; a bag the file did not bring is left alone."""
        for entry in self.document.entries:
            record = entry.record
            if entry.row.uid not in added or entry.row.deleted_at is not None:
                continue
            if not isinstance(record, BottleFeed):
                continue
            for use in record.bags:
                code = use.bag.upper()
                if code not in codes:
                    raise InvalidEntryError(
                        f"{entry.where}: bags: no bag labelled {code} in the file or the stash"
                    )
                if code not in new_codes:
                    self.report.notes.append(
                        f"bottle {entry.row.uid} uses bag {code}, which was in the stash "
                        "already: that bag's remaining amount is left as it was"
                    )

    def _bag_history(
        self, members: dict[str, int], entry_ids: dict[str, int], bags: dict[str, schema.Bag]
    ) -> None:
        for _, event in self.document.events:
            if event.bag not in bags:
                continue
            self.session.add(
                schema.BagEvent(
                    bag_id=bags[event.bag].id,
                    at=event.at,
                    action=event.action,
                    location=None if event.location is None else event.location.value,
                    volume_ml=event.volume_ml,
                    entry_id=None if event.entry is None else entry_ids[event.entry],
                    reason=event.reason,
                    member_id=members[event.member],
                )
            )
            self.report.add("bag_event")
        for _, source in self.document.sources:
            if source.bag not in bags:
                continue
            self.session.add(
                schema.BagSource(bag_id=bags[source.bag].id, entry_id=entry_ids[source.entry])
            )
            self.report.add("bag_source")
        self.session.flush()
