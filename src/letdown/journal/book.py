"""The journal's API: a household's book of entries, its members, children and milk stash.

``Journal.open(url)`` opens (or creates) the database; ``journal.book(household, member)``
gives one member's view of one household, through which every read and write goes, so
nothing crosses households and every change names who made it. Each write is one
transaction: it lands whole or not at all.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from letdown.errors import InvalidEntryError, JournalError, NotFoundError, StashRuleError
from letdown.journal import db, schema
from letdown.journal.plausible import birth_date_problem
from letdown.journal.records import (
    KINDS,
    LABEL_ROUNDING_ML,
    MAX_VOLUME_ML,
    SIDE_NAMES,
    BottleContent,
    BottleFeed,
    ChildInfo,
    HouseholdInfo,
    Location,
    MemberInfo,
    NurseFeed,
    PregnancyInfo,
    PumpSession,
    Record,
    Role,
    Units,
    Word,
    now_utc,
    parse_record,
    validate,
)
from letdown.journal.stash import (
    LEFTOVER_LIMIT,
    Expiry,
    RuleSet,
    Stay,
    check_move,
    expiry,
    leftover_use_by,
    rule_set,
)

VOLUME_SLACK_ML = LABEL_ROUNDING_ML
"""A bag may give this much more than its recorded remainder (rounding on a label)."""

CODE_ALPHABET = "ACDEFHJKMNPRTWXY3479"
BAG_CODE = re.compile(r"[A-Z0-9-]{1,20}")
"""A label of one's own: letters, digits and hyphens (``CODE_ALPHABET``'s codes are such),
so that it goes into a link or a form's address as it is and names one bag there."""
"""Label codes avoid characters that read alike when handwritten (0/O, 1/I, 5/S, 8/B)."""

_Row = TypeVar("_Row")


class NotAllowedError(JournalError, PermissionError):
    """The member's role does not allow this (a viewer cannot write)."""


@dataclass(frozen=True)
class HouseholdView:
    id: int
    name: str
    time_zone: str
    units: Units
    word: Word
    storage_rules: str = "cdc"
    """The milk-storage rule set every bag is judged by (``stash.RULE_SETS``)."""


@dataclass(frozen=True)
class MemberView:
    id: int
    name: str
    role: Role
    chosen: bool = False
    """Chosen by the nursing parent to see what is theirs (see ``sees_private``)."""

    @property
    def sees_private(self) -> bool:
        """Symptoms, pain, care, pregnancy and red flags: the nursing parent's own, shown
        to the members they choose."""
        return self.role is Role.NURSING_PARENT or self.chosen


@dataclass(frozen=True)
class StoredEntry:
    """A record as the journal holds it, with who wrote it and how often it changed."""

    id: int
    uid: str
    record: Record
    version: int
    entered_by: str
    entered_at: datetime
    updated_by: str
    updated_at: datetime

    @property
    def kind(self) -> str:
        return self.record.kind

    @property
    def leftover_use_by(self) -> datetime | None:
        """For a bottle with milk left over, when that milk must be thrown away.

        Counted from the bottle's time, as the journal does not know when the feed
        finished: never later than the CDC's 2 hours after the feed.
        """
        record = self.record
        if not isinstance(record, BottleFeed) or record.leftover_ml <= 0:
            return None
        return leftover_use_by(record.start_at)


@dataclass(frozen=True)
class RevisionView:
    version: int
    action: str
    record: Record
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class BagView:
    """A stash bag now: where it is, what is left, and when it must be used by."""

    code: str
    uid: str
    volume_ml: float
    remaining_ml: float
    expressed_at: datetime
    location: Location
    status: str
    stays: tuple[Stay, ...]
    expiry: Expiry
    sources: tuple[str, ...]
    closed_at: datetime | None
    reason: str
    notes: str

    def expired(self, now: datetime) -> bool:
        return self.status == "stored" and now >= self.expiry.use_by


@dataclass(frozen=True)
class Summary:
    """What happened between ``since`` and ``until`` (entries that started in that span).

    ``worst_pain`` is the highest pain per side written anywhere: at the breast, on the
    pump or as a symptom.
    """

    since: datetime
    until: datetime
    pump_sessions: int = 0
    pumped_ml: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SIDE_NAMES, 0.0))
    pumped_unsided_ml: float = 0.0
    """Sessions that kept only their total (an import from Baby Buddy): no side's."""
    nurse_feeds: int = 0
    nursed_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SIDE_NAMES, 0.0))
    bottles: int = 0
    bottle_ml: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys((c.value for c in BottleContent), 0.0)
    )
    care: int = 0
    symptoms: int = 0
    worst_pain: dict[str, int | None] = field(
        default_factory=lambda: dict.fromkeys(SIDE_NAMES, None)
    )
    highest_fever_c: float | None = None

    @property
    def pumped_total_ml(self) -> float:
        return sum(self.pumped_ml.values()) + self.pumped_unsided_ml


RECENT_SPAN = timedelta(days=32)
"""How far back the shared copy of a household's entries reaches: the summaries' longest
span (31 days) and a day to spare."""

RECENT_MAX_AGE = timedelta(hours=1)
"""A copy older than this is read again even if nothing was written (its span slides)."""


@dataclass(frozen=True)
class RecentLine:
    """One entry in a ``Recent`` copy: the columns reads filter on, its fields as stored."""

    id: int
    uid: str
    kind: str
    start_at: datetime
    data: dict[str, Any]
    version: int
    entered_by: str
    entered_at: datetime
    updated_by: str
    updated_at: datetime
    shared: bool = False


@dataclass(frozen=True)
class Recent:
    """A household's entries of the last ``RECENT_SPAN`` and its open bags, at a revision.

    A record is parsed when a read first returns it, not when the copy is made: after a
    write the next dashboard pays for the copy's queries and their rows, not for parsing
    a month of records.
    """

    revision: int
    built_at: datetime
    since: datetime
    lines: tuple[RecentLine, ...]
    """Newest first, as ``history`` gives them."""
    open_bags: tuple[BagView, ...]
    _parsed: dict[int, StoredEntry] = field(default_factory=dict, compare=False, repr=False)

    def entry(self, line: RecentLine) -> StoredEntry:
        found = self._parsed.get(line.id)
        if found is None:
            found = StoredEntry(
                id=line.id,
                uid=line.uid,
                record=parse_record(line.data),
                version=line.version,
                entered_by=line.entered_by,
                entered_at=line.entered_at,
                updated_by=line.updated_by,
                updated_at=line.updated_at,
            )
            self._parsed[line.id] = found
        return found


class RecentCache:
    """The latest ``Recent`` of each household, shared by the books of one process.

    The dashboard and the summaries are asked for on every phone every few seconds; with
    this they cost one lookup of the household's revision (read with who is asking)
    instead of several queries. Any write raises the revision, so the next read builds
    a new copy; one request builds it while the others asking for it wait. A copy
    serves only the revision it was read at (a journal restored from a backup starts
    its revisions afresh). The least recently read households leave first once the
    copies hold more than ``max_lines`` entries in all.
    """

    def __init__(self, max_lines: int = 20_000) -> None:
        self.max_lines = max_lines
        self._lock = threading.Lock()
        self._copies: OrderedDict[int, Recent] = OrderedDict()
        self._lines = 0
        self._building: dict[int, threading.Lock] = {}

    def get(self, household_id: int, revision: int) -> Recent | None:
        """The copy read at ``revision``, or None."""
        with self._lock:
            recent = self._copies.get(household_id)
            if recent is None or recent.revision != revision:
                return None
            self._copies.move_to_end(household_id)
            return recent

    def put(self, household_id: int, recent: Recent) -> None:
        with self._lock:
            kept = self._copies.pop(household_id, None)
            if kept is not None:
                self._lines -= len(kept.lines)
            self._copies[household_id] = recent
            self._lines += len(recent.lines)
            while self._lines > self.max_lines and len(self._copies) > 1:
                _, dropped = self._copies.popitem(last=False)
                self._lines -= len(dropped.lines)

    def building(self, household_id: int) -> threading.Lock:
        """The lock one builder of the household's copy holds while the others wait."""
        with self._lock:
            return self._building.setdefault(household_id, threading.Lock())

    def clear(self) -> None:
        with self._lock:
            self._copies.clear()
            self._lines = 0


_LINE_COLUMNS = (
    schema.Entry.id,
    schema.Entry.uid,
    schema.Entry.kind,
    schema.Entry.start_at,
    schema.Entry.data,
    schema.Entry.version,
    schema.Entry.entered_by,
    schema.Entry.entered_at,
    schema.Entry.updated_by,
    schema.Entry.updated_at,
    schema.Entry.shared,
)

PRIVATE_KINDS = frozenset({"symptom", "care"})
"""Entries that are the nursing parent's own: hidden (404) from members not chosen, unless
the parent shared that entry. Pain written on a feed or a pump session is hidden too."""


def private_entry(kind: str, shared: bool) -> bool:
    return kind in PRIVATE_KINDS and not shared


def without_pain(record: Record) -> Record:
    """A feed or pump session without its pain ratings (what a member not chosen sees)."""
    if not isinstance(record, NurseFeed | PumpSession):
        return record
    if all(side.pain is None for side in record.sides.values()):
        return record
    sides = {name: side.model_copy(update={"pain": None}) for name, side in record.sides.items()}
    return record.model_copy(update={"sides": sides})


def touch(session: Session, household_id: int) -> None:
    """Raise the household's revision inside a write: every copy read before is stale.

    Every transaction that changes a household's journal calls it (``Book`` does for
    each of its writes; the importers and the CLI's direct writes call it themselves).
    """
    session.execute(
        update(schema.Household)
        .where(schema.Household.id == household_id)
        .values(revision=schema.Household.revision + 1)
    )


class Journal:
    """An open journal database. Closing it releases its connections."""

    def __init__(self, engine: Engine, *, create: bool = True) -> None:
        db.check(engine, create=create)
        self.engine = engine
        self.recent = RecentCache()
        """What the web app's books share (others do not use it)."""

    @classmethod
    def open(cls, url: str | None = None, *, create: bool = True) -> Journal:
        """Open the journal at ``url`` (default: ``LETDOWN_DB`` or the user's data folder).

        Without ``create``, a database that holds no journal is refused (``NoJournalError``).
        """
        engine = db.make_engine(url, create=create)
        try:
            return cls(engine, create=create)
        except BaseException:
            engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def create_household(self, info: HouseholdInfo, first: MemberInfo) -> Book:
        """A new household with its first member; returns that member's book."""
        with Session(self.engine) as session, session.begin():
            household, member = add_household(session, info, first)
            return Book(self.engine, _household_view(household), _member_view(member))

    def household_names(self) -> list[str]:
        with Session(db.reading(self.engine)) as session:
            return _household_names(session)

    def book(self, household: str | None = None, member: str | None = None) -> Book:
        """One member's view of one household (defaults: the only household, its first member)."""
        with Session(db.reading(self.engine)) as session:
            query = select(schema.Household)
            if household is not None:
                query = query.filter_by(name=household)
            found = list(session.scalars(query.limit(2)))
            if not found:
                raise NotFoundError(
                    f"no household named {household!r}" if household else "no household yet"
                )
            if len(found) > 1:
                names = ", ".join(_household_names(session))
                raise NotFoundError(f"several households ({names}): name one")
            row = found[0]
            members = select(schema.Member).filter_by(household_id=row.id)
            if member is not None:
                members = members.filter_by(name=member)
            who = session.scalar(members.order_by(schema.Member.id).limit(1))
            if who is None:
                raise NotFoundError(f"no member named {member!r} in {row.name}")
            return Book(self.engine, _household_view(row), _member_view(who))


def _household_names(session: Session) -> list[str]:
    return list(session.scalars(select(schema.Household.name).order_by(schema.Household.id)))


def add_household(
    session: Session, info: HouseholdInfo, first: MemberInfo
) -> tuple[schema.Household, schema.Member]:
    """A new household and its first member, inside the caller's transaction."""
    if session.scalar(select(schema.Household.id).filter_by(name=info.name)):
        raise InvalidEntryError(f"a household named {info.name!r} exists already")
    now = now_utc()
    household = schema.Household(
        name=info.name,
        time_zone=info.time_zone,
        units=info.units.value,
        word=info.word.value,
        storage_rules=info.storage_rules,
        created_at=now,
    )
    session.add(household)
    session.flush()
    member = schema.Member(
        household_id=household.id, name=first.name, role=first.role.value, created_at=now
    )
    session.add(member)
    session.flush()
    return household, member


def _household_view(row: schema.Household) -> HouseholdView:
    return HouseholdView(
        row.id, row.name, row.time_zone, Units(row.units), Word(row.word), row.storage_rules
    )


def _member_view(row: schema.Member) -> MemberView:
    return MemberView(row.id, row.name, Role(row.role), bool(row.sees_private))


class Book:
    """A household's journal as one member sees it; every change is signed by that member."""

    def __init__(
        self,
        engine: Engine,
        household: HouseholdView,
        member: MemberView,
        *,
        recent: RecentCache | None = None,
        revision: int | None = None,
    ) -> None:
        """``recent`` and ``revision`` (the household's, as the caller just read it) let
        reads of the last weeks come from a copy shared by the process (the web app)."""
        self.engine = engine
        self.household = household
        self.member = member
        self._recent_cache = recent
        self._revision = revision

    def as_member(self, name: str) -> Book:
        with Session(db.reading(self.engine)) as session:
            row = session.scalar(
                select(schema.Member).filter_by(household_id=self.household.id, name=name)
            )
            if row is None:
                raise NotFoundError(f"no member named {name!r} in {self.household.name}")
            return Book(self.engine, self.household, _member_view(row))

    def as_nursing_parent(self) -> Book:
        """The same household read as its nursing parent sees it (for insights that are
        then shown to each member as they may see them); it cannot write."""
        reader = MemberView(self.member.id, self.member.name, Role.NURSING_PARENT)
        return _ReadOnlyBook(self.engine, self.household, reader)

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One transaction that changes the household's journal, for this member.

        A viewer is refused; the household's revision is raised (``touch``), and this
        book reads the journal itself from now on, not the shared copy it was given.
        The importers write through it too.
        """
        if self.member.role is Role.VIEWER:
            raise NotAllowedError(f"{self.member.name} is a viewer and cannot change the journal")
        self._revision = None  # this book's own reads now need the journal itself
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            touch(session, self.household.id)
            yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(db.reading(self.engine), expire_on_commit=False) as session:
            yield session

    # --- people ----------------------------------------------------------------------

    def add_member(self, info: MemberInfo) -> MemberView:
        with self.writing() as session:
            row = schema.Member(
                household_id=self.household.id,
                name=info.name,
                role=info.role.value,
                created_at=now_utc(),
            )
            session.add(row)
            _flush_unique(session, f"a member named {info.name!r} exists already")
            return _member_view(row)

    def set_role(self, name: str, role: Role) -> MemberView:
        """Change what a member may do (a partner becomes a viewer, say)."""
        with self.writing() as session:
            row = session.scalar(
                select(schema.Member).filter_by(household_id=self.household.id, name=name)
            )
            if row is None:
                raise NotFoundError(f"no member named {name!r} in {self.household.name}")
            row.role = role.value
            return _member_view(row)

    @property
    def _rules(self) -> RuleSet:
        return rule_set(self.household.storage_rules)

    def set_storage_rules(self, key: str) -> HouseholdView:
        """Follow another milk-storage rule set: every bag is judged by it from now on."""
        rule_set(key)
        with self.writing() as session:
            row = session.get(schema.Household, self.household.id)
            if row is None:
                raise NotFoundError(f"no household named {self.household.name!r}")
            row.storage_rules = key
            self.household = _household_view(row)
            return self.household

    def choose(self, name: str, sees_private: bool) -> MemberView:
        """The nursing parent lets a member see (or no longer see) what is theirs."""
        if self.member.role is not Role.NURSING_PARENT:
            raise NotAllowedError("only the nursing parent chooses who sees what is theirs")
        with self.writing() as session:
            row = session.scalar(
                select(schema.Member).filter_by(household_id=self.household.id, name=name)
            )
            if row is None:
                raise NotFoundError(f"no member named {name!r} in {self.household.name}")
            row.sees_private = sees_private
            return _member_view(row)

    def share(self, ref: int | str, shared: bool) -> StoredEntry:
        """The nursing parent shows one private entry (a symptom, care) to every member."""
        with self.writing() as session:
            row = self._entry(session, ref, lock=True)  # 404 first: a hidden entry stays so
            if self.member.role is not Role.NURSING_PARENT:
                raise NotAllowedError("only the nursing parent shares what is theirs")
            row.shared = shared
            return self._view(session, row)

    def members(self) -> list[MemberView]:
        with self._read() as session:
            rows = session.scalars(
                select(schema.Member).filter_by(household_id=self.household.id).order_by("id")
            )
            return [_member_view(row) for row in rows]

    def add_child(self, info: ChildInfo) -> ChildInfo:
        _check_birth(info)
        with self.writing() as session:
            session.add(
                schema.Child(
                    household_id=self.household.id, name=info.name, birth_date=info.birth_date
                )
            )
            _flush_unique(session, f"a child named {info.name!r} exists already")
            return info

    def edit_child(self, name: str, info: ChildInfo) -> ChildInfo:
        """Correct a child's name or birth date; entries follow a new name."""
        _check_birth(info)
        with self.writing() as session:
            row = self._child_row(session, name)
            if info.name != row.name:
                for entry in session.scalars(select(schema.Entry).filter_by(child_id=row.id)):
                    entry.data = {**entry.data, "child": info.name}
            row.name = info.name
            row.birth_date = info.birth_date
            _flush_unique(session, f"a child named {info.name!r} exists already")
            return info

    def remove_child(self, name: str) -> None:
        """Remove a child added by mistake: only one with no entries (those would be lost)."""
        with self.writing() as session:
            row = self._child_row(session, name)
            count = session.scalar(
                select(func.count())
                .select_from(schema.Entry)
                .filter_by(child_id=row.id, deleted_at=None)
            )
            if count:
                raise InvalidEntryError(
                    f"{name} has {count} entries: rename the child instead, or delete the "
                    "entries first"
                )
            session.execute(update(schema.Entry).filter_by(child_id=row.id).values(child_id=None))
            session.delete(row)

    def _child_row(self, session: Session, name: str) -> schema.Child:
        row = session.scalar(
            select(schema.Child).filter_by(household_id=self.household.id, name=name)
        )
        if row is None:
            known = ", ".join(child.name for child in self.children()) or "none yet"
            raise NotFoundError(f"no child named {name!r} (children: {known})")
        return row

    def children(self) -> list[ChildInfo]:
        with self._read() as session:
            rows = session.scalars(
                select(schema.Child).filter_by(household_id=self.household.id).order_by("id")
            )
            return [ChildInfo(name=row.name, birth_date=row.birth_date) for row in rows]

    def add_pregnancy(self, info: PregnancyInfo) -> PregnancyInfo:
        with self.writing() as session:
            session.add(
                schema.Pregnancy(
                    household_id=self.household.id,
                    due_date=info.due_date,
                    notes=info.notes,
                    entered_by=self.member.id,
                    entered_at=now_utc(),
                )
            )
            return info

    def pregnancies(self) -> list[PregnancyInfo]:
        """The household's pregnancies: the nursing parent's own (empty for others)."""
        if not self.member.sees_private:
            return []
        with self._read() as session:
            rows = session.scalars(
                select(schema.Pregnancy)
                .filter_by(household_id=self.household.id)
                .order_by(schema.Pregnancy.due_date)
            )
            return [PregnancyInfo(due_date=row.due_date, notes=row.notes) for row in rows]

    # --- entries ---------------------------------------------------------------------

    def add(
        self,
        record: Record,
        *,
        uid: str | None = None,
        entered_at: datetime | None = None,
    ) -> StoredEntry:
        """Store a new record; a bottle's bags are drawn down in the same transaction."""
        now = _aware("entered_at", entered_at) if entered_at is not None else now_utc()
        with self.writing() as session:
            return self._add(session, record, uid, now)

    def _add(self, session: Session, record: Record, uid: str | None, now: datetime) -> StoredEntry:
        row = schema.Entry(
            uid=uid or str(uuid.uuid4()),
            household_id=self.household.id,
            kind=record.kind,
            child_id=self._child_id(session, record),
            start_at=record.start_at,
            end_at=record.end_time(),
            data=record.model_dump(mode="json"),
            version=1,
            entered_by=self.member.id,
            entered_at=now,
            updated_by=self.member.id,
            updated_at=now,
        )
        session.add(row)
        _flush_unique(session, f"an entry with uid {row.uid} exists already")
        if isinstance(record, BottleFeed):
            self._draw_bags(session, row, record)
        self._revise(session, row, "created", now)
        return self._view(session, row)

    def get(self, ref: int | str) -> StoredEntry:
        with self._read() as session:
            return self._view(session, self._entry(session, ref))

    def edit(self, ref: int | str, changes: dict[str, Any]) -> StoredEntry:
        """Change some fields of an entry; the version before is kept in its history."""
        if "kind" in changes:
            raise InvalidEntryError("kind: an entry cannot change kind; delete it and add anew")
        now = now_utc()
        with self.writing() as session:
            row = self._entry(session, ref, lock=True)
            record = parse_record({**row.data, **changes})
            if not self.member.sees_private:
                record = _keep_pain(record, parse_record(row.data))
            # Only a change of bags or time redraws the stash: a bottle's notes stay
            # editable after one of its bags has been used up or discarded.
            redraw = _draws(record) != _draws(parse_record(row.data))
            if redraw:
                self._return_bags(session, row)
            row.data = record.model_dump(mode="json")
            row.child_id = self._child_id(session, record)
            row.start_at = record.start_at
            row.end_at = record.end_time()
            row.version += 1
            row.updated_by = self.member.id
            row.updated_at = now
            if redraw and isinstance(record, BottleFeed):
                self._draw_bags(session, row, record)
            self._revise(session, row, "edited", now)
            return self._view(session, row)

    def delete(self, ref: int | str) -> None:
        """Remove an entry from the journal's views; it stays in the history."""
        now = now_utc()
        with self.writing() as session:
            row = self._entry(session, ref, lock=True)
            if row.kind == "bottle":
                self._return_bags(session, row)
            row.deleted_at = now
            row.version += 1
            row.updated_by = self.member.id
            row.updated_at = now
            self._revise(session, row, "deleted", now)

    def revisions(self, ref: int | str) -> list[RevisionView]:
        """Every version of an entry, oldest first, with who changed it and when."""
        with self._read() as session:
            row = self._entry(session, ref, deleted=True)
            rows = session.execute(
                select(schema.Revision, schema.Member.name)
                .join(schema.Member, schema.Member.id == schema.Revision.changed_by)
                .filter(schema.Revision.entry_id == row.id)
                .order_by(schema.Revision.version)
            )
            hide = not self.member.sees_private
            return [
                RevisionView(
                    rev.version,
                    rev.action,
                    without_pain(parse_record(rev.data)) if hide else parse_record(rev.data),
                    name,
                    rev.changed_at,
                )
                for rev, name in rows
            ]

    def history(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        kinds: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> list[StoredEntry]:
        """Entries that started in [since, until), newest first."""
        since = _aware("since", since) if since is not None else None
        until = _aware("until", until) if until is not None else None
        wanted = _kinds(kinds)
        if limit is not None and limit < 0:
            raise InvalidEntryError(f"limit: {limit} is negative")
        recent = self._recent(since) if since is not None or limit is not None else None
        if recent is None:
            with self._read() as session:
                return self._history(session, since, until, wanted, limit)
        sees = self.member.sees_private
        lines = [
            line
            for line in recent.lines
            if (since is None or line.start_at >= since)
            and (until is None or line.start_at < until)
            and (wanted is None or line.kind in wanted)
            and (sees or not private_entry(line.kind, line.shared))
        ]
        found = [self._shown(recent.entry(line)) for line in lines[:limit]]
        if since is not None or limit is None or len(found) >= limit:
            return found
        # Fewer than ``limit`` in the copy: the rest are older than it. (An entry moved
        # across the copy's edge since it was read is shown once.)
        older_than = recent.since if until is None else min(until, recent.since)
        with self._read() as session:
            older = self._history(session, None, older_than, wanted, limit - len(found))
        shown = {entry.id for entry in found}
        return found + [entry for entry in older if entry.id not in shown]

    def _history(
        self,
        session: Session,
        since: datetime | None,
        until: datetime | None,
        kinds: list[str] | None,
        limit: int | None,
    ) -> list[StoredEntry]:
        query = select(schema.Entry).filter(
            schema.Entry.household_id == self.household.id, schema.Entry.deleted_at.is_(None)
        )
        if since is not None:
            query = query.filter(schema.Entry.start_at >= since)
        if until is not None:
            query = query.filter(schema.Entry.start_at < until)
        if kinds is not None:
            query = query.filter(schema.Entry.kind.in_(kinds))
        if not self.member.sees_private:
            query = query.filter(
                or_(schema.Entry.kind.not_in(PRIVATE_KINDS), schema.Entry.shared.is_(True))
            )
        query = query.order_by(schema.Entry.start_at.desc(), schema.Entry.id.desc())
        if limit is not None:
            query = query.limit(limit)
        rows = list(session.scalars(query))
        names = self._member_names(session)
        return [self._shown(_entry_view(row, names)) for row in rows]

    def summary(self, since: datetime, until: datetime | None = None) -> Summary:
        """Totals per side and per kind over a span (the 24-hour and 7-day views)."""
        since = _aware("since", since)
        until = _aware("until", until) if until is not None else now_utc()
        if until < since:
            raise InvalidEntryError("until: the span ends before it starts")
        recent = self._recent(since)
        if recent is not None:
            return _summarize(
                since,
                until,
                (
                    (line.kind, line.data, line.shared)
                    for line in recent.lines
                    if since <= line.start_at < until
                ),
                private=self.member.sees_private,
            )
        query = (
            select(schema.Entry.kind, schema.Entry.data, schema.Entry.shared)
            .filter(
                schema.Entry.household_id == self.household.id,
                schema.Entry.deleted_at.is_(None),
                schema.Entry.start_at >= since,
                schema.Entry.start_at < until,
            )
            .order_by(schema.Entry.start_at.desc(), schema.Entry.id.desc())
        )
        with self._read() as session:
            rows = session.execute(query).all()
        return _summarize(
            since,
            until,
            ((kind, data, shared) for kind, data, shared in rows),
            private=self.member.sees_private,
        )

    def _recent(self, since: datetime | None) -> Recent | None:
        """The process's copy of the last weeks, if this book may answer a read from it.

        Only a book told the household's revision (the web app's, per request) uses it,
        and only until it writes; a read reaching further back than the copy goes to
        the journal.
        """
        cache, revision = self._recent_cache, self._revision
        if cache is None or revision is None:
            return None
        recent = self._fresh(cache, revision)
        if recent is None:
            with cache.building(self.household.id):
                recent = self._fresh(cache, revision)
                if recent is None:
                    recent = self._build_recent()
                    cache.put(self.household.id, recent)
        if since is not None and since < recent.since:
            return None
        return recent

    def _fresh(self, cache: RecentCache, revision: int) -> Recent | None:
        recent = cache.get(self.household.id, revision)
        if recent is None or now_utc() - recent.built_at > RECENT_MAX_AGE:
            return None
        return recent

    def _build_recent(self) -> Recent:
        built_at = now_utc()
        since = built_at - RECENT_SPAN
        with self._read() as session:
            # The revision first: the rows read after it are at least as new (a copy may
            # be newer than its number, never older).
            revision = session.scalar(
                select(schema.Household.revision).filter_by(id=self.household.id)
            )
            rows = session.execute(
                select(*_LINE_COLUMNS)
                .filter(
                    schema.Entry.household_id == self.household.id,
                    schema.Entry.deleted_at.is_(None),
                    schema.Entry.start_at >= since,
                )
                .order_by(schema.Entry.start_at.desc(), schema.Entry.id.desc())
            ).all()
            names = self._member_names(session)
            bags = self._stash(session, include_closed=False)
        return Recent(
            revision=revision or 0,
            built_at=built_at,
            since=since,
            lines=tuple(
                RecentLine(
                    id=row.id,
                    uid=row.uid,
                    kind=row.kind,
                    start_at=row.start_at,
                    data=row.data,
                    version=row.version,
                    entered_by=names.get(row.entered_by, "?"),
                    entered_at=row.entered_at,
                    updated_by=names.get(row.updated_by, "?"),
                    updated_at=row.updated_at,
                    shared=row.shared,
                )
                for row in rows
            ),
            open_bags=tuple(bags),
        )

    # --- the stash -------------------------------------------------------------------

    def stash_add(
        self,
        volume_ml: float,
        *,
        expressed_at: datetime,
        location: Location = Location.FRIDGE,
        stored_at: datetime | None = None,
        sources: Sequence[int | str] = (),
        code: str | None = None,
        notes: str = "",
        uid: str | None = None,
    ) -> BagView:
        """A new bag of expressed milk, put at ``location`` at ``stored_at``.

        ``stored_at`` defaults to ``expressed_at``: a bag entered later went where it is
        when it was pumped. Given later, the time between counts as room temperature.
        """
        if not 0 < volume_ml <= MAX_VOLUME_ML:
            raise InvalidEntryError(
                f"volume: {volume_ml:g} mL is not between 0 and {MAX_VOLUME_ML:g} mL"
            )
        expressed_at = _aware("expressed_at", expressed_at)
        stored_at = _aware("stored_at", stored_at) if stored_at is not None else expressed_at
        if stored_at < expressed_at:
            raise InvalidEntryError("stored_at: a bag cannot be stored before it was expressed")
        with self.writing() as session:
            code = (code or self._new_code(session)).strip().upper()
            if not BAG_CODE.fullmatch(code):
                raise InvalidEntryError(
                    "code: 1 to 20 letters, digits or hyphens (no spaces, slashes or dots)"
                )
            bag = schema.Bag(
                uid=uid or str(uuid.uuid4()),
                household_id=self.household.id,
                code=code,
                volume_ml=volume_ml,
                remaining_ml=volume_ml,
                expressed_at=expressed_at,
                location=location.value,
                status="stored",
                closed_at=None,
                reason="",
                notes=notes,
                entered_by=self.member.id,
                entered_at=now_utc(),
            )
            session.add(bag)
            _flush_unique(session, f"a bag labelled {code} exists already")
            source_ids: set[int] = set()
            for ref in sources:
                entry = self._entry(session, ref)
                if entry.kind != "pump":
                    raise InvalidEntryError(f"source {ref}: milk comes from a pump session")
                source_ids.add(entry.id)
            session.add_all(schema.BagSource(bag_id=bag.id, entry_id=id_) for id_ in source_ids)
            self._event(session, bag, stored_at, "stored", location=location.value)
            return self._bag_view(session, bag)

    def stash_move(self, code: str, to: Location, at: datetime | None = None) -> BagView:
        """Move a bag; thawed milk is refused a freezer (CDC: never refreeze)."""
        at = _aware("at", at) if at is not None else now_utc()
        with self.writing() as session:
            bag = self._bag(session, code, open_only=True)
            if bag.location == to.value:
                raise InvalidEntryError(f"bag {bag.code} is already in the {to.value}")
            check_move(self._stays(session, bag), to, at)
            bag.location = to.value
            self._event(session, bag, at, "moved", location=to.value)
            return self._bag_view(session, bag)

    def stash_use(
        self,
        code: str,
        *,
        child: str,
        at: datetime | None = None,
        volume_ml: float | None = None,
        notes: str = "",
    ) -> StoredEntry:
        """Feed from a bag: records the bottle and draws the bag down (all of it by default).

        One transaction, so "all of it" is what the bag holds when the bottle is written.
        """
        now = now_utc()
        at = _aware("at", at) if at is not None else now
        with self.writing() as session:
            bag = self._bag(session, code, open_only=True)
            amount_ml = bag.remaining_ml if volume_ml is None else volume_ml
            bottle = validate(
                BottleFeed,
                {
                    "start_at": at,
                    "child": child,
                    "amount_ml": amount_ml,
                    "content": BottleContent.EXPRESSED,
                    "bags": [{"bag": bag.code, "volume_ml": amount_ml}],
                    "notes": notes,
                },
            )
            return self._add(session, bottle, None, now)

    def stash_discard(self, code: str, reason: str, at: datetime | None = None) -> BagView:
        if not reason.strip():
            raise InvalidEntryError("reason: say why the bag is discarded")
        at = _aware("at", at) if at is not None else now_utc()
        with self.writing() as session:
            bag = self._bag(session, code, open_only=True)
            bag.status = "discarded"
            bag.closed_at = at
            bag.reason = reason.strip()
            self._event(session, bag, at, "discarded", reason=bag.reason)
            return self._bag_view(session, bag)

    def bag(self, code: str) -> BagView:
        with self._read() as session:
            return self._bag_view(session, self._bag(session, code))

    def stash(self, *, include_closed: bool = False) -> list[BagView]:
        """Bags in the order to use them: soonest use-by first, then oldest."""
        if not include_closed:
            recent = self._recent(None)
            if recent is not None:
                return list(recent.open_bags)
        with self._read() as session:
            return self._stash(session, include_closed=include_closed)

    def _stash(self, session: Session, *, include_closed: bool) -> list[BagView]:
        query = select(schema.Bag).filter_by(household_id=self.household.id)
        if not include_closed:
            query = query.filter_by(status="stored")
        bags = self._bag_views(session, list(session.scalars(query)))
        return sorted(
            bags,
            key=lambda bag: (bag.status != "stored", bag.expiry.use_by, bag.expressed_at, bag.code),
        )

    def use_next(self, now: datetime | None = None) -> list[BagView]:
        """Bags still good, in the order to use them (the soonest to expire first)."""
        now = _aware("now", now) if now is not None else now_utc()
        return [bag for bag in self.stash() if not bag.expired(now)]

    def expiring_today(self, now: datetime | None = None) -> list[BagView]:
        """Bags still good now that must be used before midnight in the household's zone."""
        now = _aware("now", now) if now is not None else now_utc()
        zone = ZoneInfo(self.household.time_zone)
        tomorrow = now.astimezone(zone).date() + timedelta(days=1)
        midnight = datetime.combine(tomorrow, time(0), tzinfo=zone)
        return [bag for bag in self.use_next(now) if bag.expiry.use_by < midnight]

    def leftovers(self, now: datetime | None = None) -> list[StoredEntry]:
        """Bottles whose leftover milk may still be given (CDC: within 2 hours), newest first."""
        now = _aware("now", now) if now is not None else now_utc()
        recent = self.history(since=now - LEFTOVER_LIMIT, kinds=["bottle"])
        return [
            entry
            for entry in recent
            if entry.leftover_use_by is not None
            and entry.record.start_at <= now < entry.leftover_use_by
        ]

    # --- internals -------------------------------------------------------------------

    def _entry(
        self, session: Session, ref: int | str, *, deleted: bool = False, lock: bool = False
    ) -> schema.Entry:
        """The entry, locked (``lock``) until the write ends when it is about to change."""
        query = select(schema.Entry).filter_by(household_id=self.household.id)
        if isinstance(ref, int) or (str(ref).isascii() and str(ref).isdigit()):
            if not 0 < int(ref) < 2**63:
                raise NotFoundError(f"no entry {ref} in {self.household.name}")
            query = query.filter_by(id=int(ref))
        else:
            query = query.filter_by(uid=str(ref))
        if lock:
            query = _locked(query)
        row = session.scalar(query)
        if (
            row is None
            or (row.deleted_at is not None and not deleted)
            or (private_entry(row.kind, row.shared) and not self.member.sees_private)
        ):
            raise NotFoundError(f"no entry {ref} in {self.household.name}")
        return row

    def _child_id(self, session: Session, record: Record) -> int | None:
        name = getattr(record, "child", None)
        if name is None:
            return None
        children = dict(
            session.execute(
                select(schema.Child.name, schema.Child.id)
                .filter_by(household_id=self.household.id)
                .order_by(schema.Child.id)
            ).all()
        )
        if name not in children:
            known = ", ".join(children) or "none yet"
            raise NotFoundError(f"child: no child named {name!r} (children: {known})")
        return children[name]

    def _revise(self, session: Session, row: schema.Entry, action: str, at: datetime) -> None:
        session.add(
            schema.Revision(
                entry_id=row.id,
                version=row.version,
                action=action,
                data=row.data,
                changed_by=self.member.id,
                changed_at=at,
            )
        )
        session.flush()

    def _member_names(self, session: Session) -> dict[int, str]:
        rows = session.execute(
            select(schema.Member.id, schema.Member.name).filter_by(household_id=self.household.id)
        )
        return {member_id: name for member_id, name in rows}  # noqa: C416 (a Result has keys())

    def _view(self, session: Session, row: schema.Entry) -> StoredEntry:
        return self._shown(_entry_view(row, self._member_names(session)))

    def _shown(self, entry: StoredEntry) -> StoredEntry:
        """The entry as this member may see it (pain taken off for a member not chosen)."""
        if self.member.sees_private:
            return entry
        record = without_pain(entry.record)
        return entry if record is entry.record else replace(entry, record=record)

    def _bag(self, session: Session, code: str, *, open_only: bool = False) -> schema.Bag:
        """The bag; an open one (``open_only``) is about to change, so it is locked."""
        query = select(schema.Bag).filter_by(
            household_id=self.household.id, code=code.strip().upper()
        )
        bag = session.scalar(_locked(query) if open_only else query)
        if bag is None:
            raise NotFoundError(f"no bag labelled {code!r} in the stash")
        if open_only and bag.status != "stored":
            raise StashRuleError(f"bag {bag.code} was {bag.status} already")
        return bag

    def _new_code(self, session: Session) -> str:
        taken = set(
            session.scalars(select(schema.Bag.code).filter_by(household_id=self.household.id))
        )
        for length in (3, 4, 5, 6):
            for _ in range(20):
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
                if code not in taken:
                    return code
        raise JournalError("no free bag code")

    def _event(
        self,
        session: Session,
        bag: schema.Bag,
        at: datetime,
        action: str,
        *,
        location: str | None = None,
        volume_ml: float | None = None,
        entry_id: int | None = None,
        reason: str = "",
    ) -> None:
        session.add(
            schema.BagEvent(
                bag_id=bag.id,
                at=at,
                action=action,
                location=location,
                volume_ml=volume_ml,
                entry_id=entry_id,
                reason=reason,
                member_id=self.member.id,
            )
        )
        session.flush()

    def _stays(self, session: Session, bag: schema.Bag) -> list[Stay]:
        return _stays_of(session, [bag.id])[bag.id]

    def _bag_view(self, session: Session, bag: schema.Bag) -> BagView:
        return self._bag_views(session, [bag])[0]

    def _bag_views(self, session: Session, bags: Sequence[schema.Bag]) -> list[BagView]:
        """Views of many bags in two queries, not two a bag (the stash page lists them all)."""
        ids = [bag.id for bag in bags]
        stays = _stays_of(session, ids)
        sources: dict[int, list[str]] = {bag_id: [] for bag_id in ids}
        if ids:
            linked = session.execute(
                select(schema.BagSource.bag_id, schema.Entry.uid)
                .join(schema.Entry, schema.BagSource.entry_id == schema.Entry.id)
                .filter(schema.BagSource.bag_id.in_(ids))
            )
            for bag_id, uid in linked:
                sources[bag_id].append(uid)
        return [
            BagView(
                code=bag.code,
                uid=bag.uid,
                volume_ml=bag.volume_ml,
                remaining_ml=bag.remaining_ml,
                expressed_at=bag.expressed_at,
                location=Location(bag.location),
                status=bag.status,
                stays=tuple(stays[bag.id]),
                expiry=expiry(bag.expressed_at, stays[bag.id], self._rules),
                sources=tuple(sources[bag.id]),
                closed_at=bag.closed_at,
                reason=bag.reason,
                notes=bag.notes,
            )
            for bag in bags
        ]

    def _draw_bags(self, session: Session, row: schema.Entry, record: BottleFeed) -> None:
        """Take each bag's share; the event keeps what the bag really gave, to give it back.

        A bag's expiry is judged on where it had been by the bottle's time, not on moves
        made after it.
        """
        at = record.start_at
        for use in sorted(record.bags, key=lambda use: use.bag.upper()):  # one lock order
            bag = self._bag(session, use.bag, open_only=True)
            stays = [stay for stay in self._stays(session, bag) if stay.since <= at]
            if not stays:
                raise InvalidEntryError(f"bag {bag.code} was not stored yet at the bottle's time")
            then = expiry(bag.expressed_at, stays, self._rules)
            if at >= then.use_by:
                raise StashRuleError(
                    f"bag {bag.code} expired at {then.use_by.isoformat()} ({then.rule}): discard it"
                )
            if use.volume_ml > bag.remaining_ml + VOLUME_SLACK_ML:
                raise InvalidEntryError(
                    f"bag {bag.code} holds {bag.remaining_ml:g} mL, "
                    f"not the {use.volume_ml:g} mL this bottle uses"
                )
            drawn_ml = min(use.volume_ml, bag.remaining_ml)
            bag.remaining_ml -= drawn_ml
            self._event(session, bag, at, "used", volume_ml=drawn_ml, entry_id=row.id)
            if bag.remaining_ml <= VOLUME_SLACK_ML:
                bag.status = "used"
                bag.closed_at = session.scalar(
                    select(func.max(schema.BagEvent.at)).filter_by(bag_id=bag.id, action="used")
                )

    def _return_bags(self, session: Session, row: schema.Entry) -> None:
        """Undo a bottle's draws (before it is edited or deleted)."""
        events = session.scalars(
            select(schema.BagEvent)
            .filter_by(entry_id=row.id, action="used")
            .order_by(schema.BagEvent.bag_id)
        )
        for event in list(events):
            bag = session.scalar(_locked(select(schema.Bag).filter_by(id=event.bag_id)))
            assert bag is not None
            bag.remaining_ml += event.volume_ml or 0.0
            if bag.status == "used":
                bag.status, bag.closed_at = "stored", None
            session.delete(event)
        session.flush()


def _locked(query: Select[_Row]) -> Select[_Row]:
    """Lock the rows a write is about to change (PostgreSQL; SQLite's write lock covers all).

    Without it two members under READ COMMITTED read the same version or remainder and
    both write from it. ``populate_existing`` reloads a row already read unlocked.
    """
    return query.with_for_update().execution_options(populate_existing=True)


def _stays_of(session: Session, bag_ids: Sequence[int]) -> dict[int, list[Stay]]:
    """Where each bag has been, in order: one query for one bag or a whole stash."""
    stays: dict[int, list[Stay]] = {bag_id: [] for bag_id in bag_ids}
    if not stays:
        return stays
    events = session.execute(
        select(schema.BagEvent.bag_id, schema.BagEvent.location, schema.BagEvent.at)
        .filter(schema.BagEvent.bag_id.in_(bag_ids), schema.BagEvent.location.is_not(None))
        .order_by(schema.BagEvent.at, schema.BagEvent.id)
    )
    for bag_id, location, at in events:
        if location is not None:
            stays[bag_id].append(Stay(Location(location), at))
    return stays


def _kinds(kinds: Iterable[str] | None) -> list[str] | None:
    if kinds is None:
        return None
    wanted = list(kinds)
    unknown = [kind for kind in wanted if kind not in KINDS]
    if unknown:
        raise InvalidEntryError(
            f"kinds: {', '.join(map(repr, unknown))} unknown (use {', '.join(KINDS)})"
        )
    return wanted


def _summarize(
    since: datetime,
    until: datetime,
    rows: Iterable[tuple[str, dict[str, Any], bool]],
    *,
    private: bool = True,
) -> Summary:
    """Totals; without ``private`` (a member not chosen) no pain, symptom or care counts."""
    counts = dict.fromkeys(KINDS, 0)
    pumped_ml: dict[str, float] = dict.fromkeys(SIDE_NAMES, 0.0)
    pumped_unsided_ml = 0.0
    nursed_s: dict[str, float] = dict.fromkeys(SIDE_NAMES, 0.0)
    bottle_ml = dict.fromkeys((content.value for content in BottleContent), 0.0)
    pains: dict[str, list[int]] = {side: [] for side in SIDE_NAMES}
    fevers_c: list[float] = []
    for kind, data, shared in rows:
        if not private and private_entry(kind, shared):
            continue
        counts[kind] += 1
        sides = data.get("sides", {})
        if kind == "pump":
            for side, pumped in sides.items():
                pumped_ml[side] += pumped["volume_ml"]
            pumped_unsided_ml += data.get("total_ml") or 0.0
        elif kind == "nurse":
            for side, nursed in sides.items():
                nursed_s[side] += nursed["duration_s"]
        elif kind == "bottle":
            bottle_ml[data["content"]] += data.get("amount_ml") or 0.0
        elif kind == "symptom" and data.get("fever_c") is not None:
            fevers_c.append(data["fever_c"])
        if kind in ("nurse", "pump", "symptom") and (private or kind == "symptom"):
            for side, felt in sides.items():
                if felt.get("pain") is not None:
                    pains[side].append(felt["pain"])
    return Summary(
        since=since,
        until=until,
        pump_sessions=counts["pump"],
        pumped_ml=pumped_ml,
        pumped_unsided_ml=pumped_unsided_ml,
        nurse_feeds=counts["nurse"],
        nursed_s=nursed_s,
        bottles=counts["bottle"],
        bottle_ml=bottle_ml,
        care=counts["care"],
        symptoms=counts["symptom"],
        worst_pain={side: max(pains[side], default=None) for side in SIDE_NAMES},
        highest_fever_c=max(fevers_c, default=None),
    )


def _keep_pain(record: Record, before: Record) -> Record:
    """An edit by a member who never saw the pain ratings keeps them as they were."""
    if not isinstance(record, NurseFeed | PumpSession) or not isinstance(
        before, NurseFeed | PumpSession
    ):
        return record
    sides = {
        name: side.model_copy(update={"pain": before.sides[name].pain})
        if side.pain is None and name in before.sides
        else side
        for name, side in record.sides.items()
    }
    return record.model_copy(update={"sides": sides})


def _check_birth(info: ChildInfo) -> None:
    problem = birth_date_problem(info.birth_date, now_utc().date())
    if problem is not None:
        raise InvalidEntryError(f"birth date: {problem}", fields={"birth_date": problem})


def _aware(name: str, value: datetime) -> datetime:
    """A time the caller gave, refused without its offset (the journal cannot guess a zone)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidEntryError(f"{name}: give a time with its offset, not {value.isoformat()}")
    return value


def _draws(record: Record) -> tuple[datetime, frozenset[tuple[str, float]]] | None:
    """What a bottle takes from the stash, and when: only a change here redraws its bags."""
    if not isinstance(record, BottleFeed):
        return None
    return record.start_at, frozenset((use.bag.upper(), use.volume_ml) for use in record.bags)


def _entry_view(row: schema.Entry, names: dict[int, str]) -> StoredEntry:
    return StoredEntry(
        id=row.id,
        uid=row.uid,
        record=parse_record(row.data),
        version=row.version,
        entered_by=names.get(row.entered_by, "?"),
        entered_at=row.entered_at,
        updated_by=names.get(row.updated_by, "?"),
        updated_at=row.updated_at,
    )


def _flush_unique(session: Session, message: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        raise InvalidEntryError(message) from exc


class _ReadOnlyBook(Book):
    """A book that reads as someone else would and refuses every write."""

    @contextmanager
    def writing(self) -> Iterator[Session]:
        raise NotAllowedError("this view of the journal only reads")
        yield  # pragma: no cover
