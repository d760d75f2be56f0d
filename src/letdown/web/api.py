"""The journal over REST, under ``/api/v1``: every record kind, the stash and summaries.

One router per resource (entries, stash, summary, household), all included in ``router``.
Reads go through the caller's household book, writes through the writer's book (a viewer
gets 403), so nothing is reachable across households: another household's entry or bag
is simply not found. Every time sent must carry its offset; every time returned is UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Literal, cast
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Path, Query, Request, status
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from letdown import notify
from letdown.errors import InvalidEntryError, NotFoundError
from letdown.insights.report import as_json
from letdown.journal import (
    BagView,
    Book,
    ChildInfo,
    Location,
    PregnancyInfo,
    Record,
    Role,
    StoredEntry,
    Units,
    Word,
)
from letdown.journal.book import RevisionView
from letdown.journal.plausible import concerns
from letdown.journal.records import MAX_VOLUME_ML, RecordKind, StorageRules
from letdown.web.deps import BookDep, IdentityDep, WriterBookDep
from letdown.web.problems import errors as _errors

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Times the API accepts for the stash and queries: one outside is a typing mistake, and
the storage limits added to it must stay within what a ``datetime`` can hold."""

MAX_ID = 2**63 - 1
"""Entry ids are 64-bit integers: a longer number is no entry, not a database overflow."""


def _in_range(value: datetime) -> datetime:
    try:
        utc: datetime | None = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValueError(f"{value.isoformat()} is not between {EARLIEST.year} and {LATEST.year}")
    return utc


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("NUL characters are not allowed")
    return text


ApiTime = Annotated[AwareDatetime, AfterValidator(_in_range)]
"""A time with its offset (naive times are refused: the server cannot guess the zone)."""

Text = Annotated[str, AfterValidator(_no_nul)]
VolumeMl = Annotated[float, Field(gt=0, le=MAX_VOLUME_ML, allow_inf_nan=False)]
EntryRecord = Annotated[Record, Field(discriminator="kind")]


LIST_ERRORS = _errors(401, 422)
READ_ERRORS = _errors(401, 404, 422)
ADD_ERRORS = _errors(401, 403, 409, 422)
WRITE_ERRORS = _errors(401, 403, 404, 409, 422)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- entries -------------------------------------------------------------------------


class EntryOut(BaseModel):
    """A record as the journal holds it: who wrote it, when, and how often it changed."""

    id: int
    uid: str
    kind: RecordKind
    version: int
    entered_by: str
    entered_at: datetime
    updated_by: str
    updated_at: datetime
    record: EntryRecord


class RevisionOut(BaseModel):
    version: int
    action: Literal["created", "edited", "deleted"]
    record: EntryRecord
    changed_by: str
    changed_at: datetime


def entry_out(entry: StoredEntry) -> EntryOut:
    return EntryOut(
        id=entry.id,
        uid=entry.uid,
        kind=entry.record.kind,
        version=entry.version,
        entered_by=entry.entered_by,
        entered_at=entry.entered_at,
        updated_by=entry.updated_by,
        updated_at=entry.updated_at,
        record=entry.record,
    )


def _revision_out(revision: RevisionView) -> RevisionOut:
    return RevisionOut(
        version=revision.version,
        action=revision.action,
        record=revision.record,
        changed_by=revision.changed_by,
        changed_at=revision.changed_at,
    )


def entry_ref(ref: str | int, household: str) -> int | str:
    """An entry id (digits) or uid, or not found: never a number the database cannot hold."""
    if isinstance(ref, int):
        number = ref
    elif ref.isascii() and ref.isdigit():
        number = int(ref)
    elif ref.isdigit() or "\x00" in ref:
        raise NotFoundError(f"no entry {ref!r} in {household}")
    else:
        return ref
    if not 0 < number <= MAX_ID:
        raise NotFoundError(f"no entry {ref} in {household}")
    return number


@contextmanager
def _names_in_body() -> Iterator[None]:
    """A child or bag named in the body that does not exist makes the body invalid (422),
    unlike the entry or bag in the path (404)."""
    try:
        yield
    except NotFoundError as exc:
        raise InvalidEntryError(str(exc)) from exc


EntryRef = Annotated[
    str, Path(min_length=1, max_length=100, description="the entry's id or its uid")
]

entries = APIRouter(prefix="/entries", tags=["entries"])


@entries.get("", responses=LIST_ERRORS)
def list_entries(
    book: BookDep,
    since: Annotated[ApiTime | None, Query(description="entries that started at or after")] = None,
    until: Annotated[ApiTime | None, Query(description="entries that started before")] = None,
    kind: Annotated[list[RecordKind] | None, Query(description="only these kinds")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EntryOut]:
    """Entries, newest first."""
    return [entry_out(entry) for entry in book.history(since, until, kind, limit)]


@entries.post("", status_code=status.HTTP_201_CREATED, responses=ADD_ERRORS)
def add_entry(
    book: WriterBookDep,
    record: Annotated[EntryRecord, Body()],
    confirm: Annotated[
        bool,
        Query(
            description="write it although a figure looks implausible (the 422 without it "
            "names the figure); what cannot be is refused all the same"
        ),
    ] = False,
) -> EntryOut:
    """Write down a record; a bottle from stash bags draws them down."""
    child = getattr(record, "child", None)
    born = next((c.birth_date for c in book.children() if c.name == child), None)
    found = concerns(record, now=datetime.now(UTC), birth_date=born)
    if [c for c in found if c.refuses] or (found and not confirm):
        worst = [c for c in found if c.refuses] or found
        hint = "" if worst[0].refuses else " (send ?confirm=true if it is right)"
        raise InvalidEntryError(
            "; ".join(c.message for c in worst) + hint, fields={c.field: c.message for c in worst}
        )
    with _names_in_body():
        return entry_out(book.add(record))


@entries.get("/{ref}", responses=READ_ERRORS)
def get_entry(book: BookDep, ref: EntryRef) -> EntryOut:
    return entry_out(book.get(entry_ref(ref, book.household.name)))


@entries.patch("/{ref}", responses=WRITE_ERRORS)
def edit_entry(
    book: WriterBookDep,
    ref: EntryRef,
    changes: Annotated[
        dict[str, Any],
        Body(
            description="the fields to change, as in the record (a side's map is replaced "
            "whole); the kind cannot change",
            examples=[{"notes": "left side sore"}],
        ),
    ],
) -> EntryOut:
    """Change some fields; the version before is kept in the entry's revisions."""
    found = entry_ref(ref, book.household.name)
    if not changes:
        raise InvalidEntryError("body: give at least one field to change")
    book.get(found)
    with _names_in_body():
        return entry_out(book.edit(found, changes))


@entries.delete("/{ref}", status_code=status.HTTP_204_NO_CONTENT, responses=WRITE_ERRORS)
def delete_entry(book: WriterBookDep, ref: EntryRef) -> None:
    """Remove the entry (its bags get their milk back); its revisions stay."""
    book.delete(entry_ref(ref, book.household.name))


class SharedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shared: bool = Field(description="show this private entry (symptom, care) to every member")


@entries.put("/{ref}/shared", responses=WRITE_ERRORS)
def share_entry(book: WriterBookDep, ref: EntryRef, body: SharedIn) -> EntryOut:
    """The nursing parent shows one of their own entries to every member, or stops."""
    return entry_out(book.share(entry_ref(ref, book.household.name), body.shared))


@entries.get("/{ref}/revisions", responses=READ_ERRORS)
def entry_revisions(book: BookDep, ref: EntryRef) -> list[RevisionOut]:
    """Every version of the entry, oldest first, even once deleted."""
    return [_revision_out(rev) for rev in book.revisions(entry_ref(ref, book.household.name))]


# --- the stash -----------------------------------------------------------------------


class StayOut(BaseModel):
    location: Location
    since: datetime


class BagOut(BaseModel):
    """A bag now: what is left, where, and until when it keeps (the household's rules)."""

    code: str = Field(description="the label written on the bag")
    uid: str
    volume_ml: float
    remaining_ml: float
    location: Location
    status: Literal["stored", "used", "discarded"]
    expressed_at: datetime
    use_by: datetime
    best_by: datetime | None
    thawed_at: datetime | None
    rule: str = Field(description="the storage rule the use-by time comes from")
    expires_today: bool = Field(description="still good, but not past midnight (household zone)")
    expired: bool
    stays: list[StayOut]
    sources: list[str] = Field(description="uids of the pump sessions the milk came from")
    closed_at: datetime | None
    reason: str
    notes: str


class BagIn(_Body):
    volume_ml: VolumeMl
    expressed_at: ApiTime
    location: Location = Location.FRIDGE
    stored_at: ApiTime | None = Field(
        default=None, description="when it was put away (default: when it was expressed)"
    )
    sources: list[Annotated[int, Field(ge=1)] | Annotated[Text, Field(max_length=100)]] = Field(
        default_factory=list, max_length=50, description="pump sessions (ids or uids)"
    )
    code: Annotated[Text, Field(min_length=1, max_length=20)] | None = Field(
        default=None, description="a label of your own (default: a short new one)"
    )
    notes: Annotated[Text, Field(max_length=4000)] = ""


class MoveIn(_Body):
    to: Location
    at: ApiTime | None = Field(default=None, description="default: now")


class UseIn(_Body):
    child: Annotated[Text, Field(min_length=1, max_length=100)]
    volume_ml: VolumeMl | None = Field(default=None, description="default: all that is left")
    at: ApiTime | None = Field(default=None, description="when the bottle was given (default: now)")
    notes: Annotated[Text, Field(max_length=4000)] = ""


class DiscardIn(_Body):
    reason: Annotated[Text, Field(min_length=1, max_length=500)]
    at: ApiTime | None = Field(default=None, description="default: now")


def _next_midnight(now: datetime, zone: ZoneInfo) -> datetime:
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=zone)


def bag_out(bag: BagView, now: datetime, midnight: datetime) -> BagOut:
    expired = bag.expired(now)
    return BagOut(
        code=bag.code,
        uid=bag.uid,
        volume_ml=bag.volume_ml,
        remaining_ml=bag.remaining_ml,
        location=bag.location,
        status=bag.status,
        expressed_at=bag.expressed_at,
        use_by=bag.expiry.use_by,
        best_by=bag.expiry.best_by,
        thawed_at=bag.expiry.thawed_at,
        rule=bag.expiry.rule,
        expires_today=bag.status == "stored" and not expired and bag.expiry.use_by < midnight,
        expired=expired,
        stays=[StayOut(location=stay.location, since=stay.since) for stay in bag.stays],
        sources=list(bag.sources),
        closed_at=bag.closed_at,
        reason=bag.reason,
        notes=bag.notes,
    )


def _bags_out(book: Book, bags: list[BagView]) -> list[BagOut]:
    now = datetime.now(UTC)
    midnight = _next_midnight(now, ZoneInfo(book.household.time_zone))
    return [bag_out(bag, now, midnight) for bag in bags]


def _bag_code(code: str) -> str:
    """No label holds a NUL (which PostgreSQL refuses in a query): not found."""
    if "\x00" in code:
        raise NotFoundError(f"no bag labelled {code!r} in the stash")
    return code


BagCode = Annotated[
    str, Path(min_length=1, max_length=20, description="the label written on the bag")
]

stash = APIRouter(prefix="/stash", tags=["stash"])


@stash.get("", responses=LIST_ERRORS)
def list_stash(
    book: BookDep,
    include_closed: Annotated[
        bool, Query(alias="all", description="also bags used up or discarded")
    ] = False,
) -> list[BagOut]:
    """Bags in the order to use them: the soonest to expire first."""
    return _bags_out(book, book.stash(include_closed=include_closed))


@stash.post("", status_code=status.HTTP_201_CREATED, responses=ADD_ERRORS)
def add_bag(book: WriterBookDep, bag: BagIn) -> BagOut:
    with _names_in_body():
        sources = [entry_ref(ref, book.household.name) for ref in bag.sources]
        added = book.stash_add(
            bag.volume_ml,
            expressed_at=bag.expressed_at,
            location=bag.location,
            stored_at=bag.stored_at,
            sources=sources,
            code=bag.code,
            notes=bag.notes,
        )
    return _bags_out(book, [added])[0]


@stash.get("/{code}", responses=READ_ERRORS)
def get_bag(book: BookDep, code: BagCode) -> BagOut:
    return _bags_out(book, [book.bag(_bag_code(code))])[0]


@stash.post("/{code}/move", responses=WRITE_ERRORS)
def move_bag(book: WriterBookDep, code: BagCode, move: MoveIn) -> BagOut:
    """Move a bag; thawed milk is refused a freezer (CDC: never refreeze)."""
    return _bags_out(book, [book.stash_move(_bag_code(code), move.to, move.at)])[0]


@stash.post("/{code}/use", status_code=status.HTTP_201_CREATED, responses=WRITE_ERRORS)
def use_bag(book: WriterBookDep, code: BagCode, use: UseIn) -> EntryOut:
    """Feed from a bag: writes down the bottle (all that is left by default)."""
    found = book.bag(_bag_code(code)).code
    with _names_in_body():
        bottle = book.stash_use(
            found, child=use.child, at=use.at, volume_ml=use.volume_ml, notes=use.notes
        )
    return entry_out(bottle)


@stash.post("/{code}/discard", responses=WRITE_ERRORS)
def discard_bag(book: WriterBookDep, code: BagCode, discard: DiscardIn) -> BagOut:
    return _bags_out(book, [book.stash_discard(_bag_code(code), discard.reason, discard.at)])[0]


# --- summary -------------------------------------------------------------------------


class PerSide(BaseModel):
    left: float
    right: float


class PainPerSide(BaseModel):
    left: int | None
    right: int | None


class BottleMl(BaseModel):
    expressed: float
    donor: float
    formula: float


class SummaryOut(BaseModel):
    """Totals over the last ``hours`` (entries that started in that span); amounts in mL,
    shown in the household's ``units`` and with its ``household_word``."""

    since: datetime
    until: datetime
    hours: int
    household_word: Word
    units: Units
    pump_sessions: int
    pumped_ml: PerSide
    pumped_unsided_ml: float = Field(
        0.0, description="sessions that kept only their total (imported), on no side"
    )
    pumped_total_ml: float
    nurse_feeds: int
    nursed_min: PerSide
    bottles: int
    bottle_ml: BottleMl
    care: int
    symptoms: int
    worst_pain: PainPerSide = Field(description="the highest pain written per side (0-10)")
    highest_fever_c: float | None


summary = APIRouter(prefix="/summary", tags=["summary"])


def _tenths(values: dict[str, float]) -> dict[str, float]:
    """Sums to a tenth (of a mL, of a minute): no 213.20000000000002 in the answer."""
    return {name: round(value, 1) for name, value in values.items()}


@summary.get("", responses=LIST_ERRORS)
def get_summary(book: BookDep, hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24) -> SummaryOut:
    until = datetime.now(UTC)
    totals = book.summary(until - timedelta(hours=hours), until)
    pumped_ml = _tenths(totals.pumped_ml)
    return SummaryOut(
        since=totals.since,
        until=totals.until,
        hours=hours,
        household_word=book.household.word,
        units=book.household.units,
        pump_sessions=totals.pump_sessions,
        pumped_ml=PerSide(**pumped_ml),
        pumped_unsided_ml=round(totals.pumped_unsided_ml, 1),
        pumped_total_ml=round(sum(pumped_ml.values()) + totals.pumped_unsided_ml, 1),
        nurse_feeds=totals.nurse_feeds,
        nursed_min=PerSide(**_tenths({side: s / 60 for side, s in totals.nursed_s.items()})),
        bottles=totals.bottles,
        bottle_ml=BottleMl(**_tenths(totals.bottle_ml)),
        care=totals.care,
        symptoms=totals.symptoms,
        worst_pain=PainPerSide(**totals.worst_pain),
        highest_fever_c=totals.highest_fever_c,
    )


# --- household -----------------------------------------------------------------------


class MemberOut(BaseModel):
    name: str
    role: Role
    sees_private: bool = Field(
        default=False, description="sees symptoms, pain, care, pregnancy and red flags"
    )


class HouseholdOut(BaseModel):
    name: str
    time_zone: str
    units: Units
    word: Word
    storage_rules: StorageRules = Field(description="the milk-storage rule set bags follow")
    members: list[MemberOut]
    children: list[ChildInfo]
    pregnancies: list[PregnancyInfo]


household = APIRouter(prefix="/household", tags=["household"])


@household.get("", responses=_errors(401))
def get_household(book: BookDep) -> HouseholdOut:
    return HouseholdOut(
        name=book.household.name,
        time_zone=book.household.time_zone,
        units=book.household.units,
        word=book.household.word,
        storage_rules=cast(StorageRules, book.household.storage_rules),
        members=[
            MemberOut(name=m.name, role=m.role, sees_private=m.sees_private) for m in book.members()
        ],
        children=book.children(),
        pregnancies=book.pregnancies(),
    )


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    storage_rules: StorageRules = Field(description="cdc (default), abm8 (ABM #8 2017) or nhs")


@household.put("/storage-rules", responses=WRITE_ERRORS)
def set_storage_rules(book: WriterBookDep, body: RulesIn) -> HouseholdOut:
    """Follow another milk-storage rule set; every bag is judged by it from now on."""
    book.set_storage_rules(body.storage_rules)
    return get_household(book)


class PrivateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sees_private: bool = Field(
        description="let this member see symptoms, pain, care, pregnancy and red flags"
    )


MemberName = Annotated[str, Path(min_length=1, max_length=100)]


@household.put("/members/{name}/private", responses=WRITE_ERRORS)
def choose_member(book: WriterBookDep, name: MemberName, body: PrivateIn) -> MemberOut:
    """The nursing parent chooses who sees what is theirs (403 for anyone else)."""
    member = book.choose(name, body.sees_private)
    return MemberOut(name=member.name, role=member.role, sees_private=member.sees_private)


@household.post("/children", status_code=status.HTTP_201_CREATED, responses=ADD_ERRORS)
def add_child(book: WriterBookDep, child: ChildInfo) -> ChildInfo:
    return book.add_child(child)


@household.post("/pregnancies", status_code=status.HTTP_201_CREATED, responses=ADD_ERRORS)
def add_pregnancy(book: WriterBookDep, pregnancy: PregnancyInfo) -> PregnancyInfo:
    """Lactating while pregnant lowers supply: the due date explains the charts."""
    return book.add_pregnancy(pregnancy)


insights = APIRouter(prefix="/insights", tags=["insights"])


@insights.get("", responses=_errors(401))
def get_insights(request: Request, who: IdentityDep) -> dict[str, Any]:
    """Red flags and estimates, as ``letdown insights --json`` gives them; red flags only
    for the nursing parent and the members they chose."""
    found = as_json(request.app.state.insights.get(who))
    if not who.sees_private:
        found["flags"] = []
        for side in found["supply"].values():
            side["expected_drop"] = None
    return found


channels = APIRouter(prefix="/channels", tags=["notifications"])


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[str, Field(min_length=3, max_length=2000)] = Field(
        description="an Apprise URL (ntfy://, mailto://, tgram://, json://, ...)"
    )


class ChannelOut(BaseModel):
    id: int
    member: str
    url: str = Field(description="the URL without what may be a secret")
    failures: int
    dead_at: datetime | None = Field(description="set once it failed again and again")
    last_error: str


class QuietIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: Annotated[str, Field(max_length=5)] | None = Field(description="e.g. 22:00")
    end: Annotated[str, Field(max_length=5)] | None = Field(description="e.g. 07:00")


@channels.get("", responses=_errors(401))
def list_channels(book: BookDep) -> list[ChannelOut]:
    """The caller's channels (the nursing parent's: the household's), dead ones too."""
    return [ChannelOut(**vars(found)) for found in notify.channels(book)]


@channels.post("", status_code=status.HTTP_201_CREATED, responses=ADD_ERRORS)
def add_channel(book: BookDep, body: ChannelIn) -> ChannelOut:
    """Reach the caller through one more channel (a viewer may be told things too)."""
    return ChannelOut(**vars(notify.add_channel(book, body.url, datetime.now(UTC))))


@channels.put("/quiet", status_code=status.HTTP_204_NO_CONTENT, responses=ADD_ERRORS)
def set_quiet(book: BookDep, body: QuietIn) -> None:
    """The caller's quiet hours, in the household's time (null and null: none)."""
    notify.set_quiet_hours(book, body.start, body.end)


router = APIRouter()
for _resource in (entries, stash, summary, household, insights, channels):
    router.include_router(_resource)
