"""What a letdown journal file holds, whatever its format: its items and their rows.

The JSON and CSV modules write and read these; ``exchange`` checks a file as a whole and
writes it into the journal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from letdown.errors import InvalidEntryError
from letdown.journal.records import (
    MAX_VOLUME_ML,
    ChildInfo,
    HouseholdInfo,
    Location,
    MemberInfo,
    PregnancyInfo,
    UtcTime,
    VolumeMl,
)

FORMAT = "letdown-journal"


FORMAT_VERSION = 1


RowType = Literal[
    "household",
    "member",
    "child",
    "pregnancy",
    "entry",
    "revision",
    "bag",
    "bag_event",
    "bag_source",
]


ROW_TYPES: tuple[RowType, ...] = get_args(RowType)


Name = Annotated[str, Field(min_length=1, max_length=100)]


Uid = Annotated[str, Field(min_length=1, max_length=36)]


Version = Annotated[int, Field(ge=1)]


def _bag_code(code: str) -> str:
    code = code.strip().upper()
    if not code:
        raise ValueError("a bag needs its label code")
    return code


class _Row(BaseModel):
    """Text is kept exactly as written (no stripping), so a round trip changes nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class HouseholdRow(HouseholdInfo):
    created_at: UtcTime


class MemberRow(MemberInfo):
    created_at: UtcTime
    sees_private: bool = False


class PregnancyRow(PregnancyInfo):
    entered_by: Name
    entered_at: UtcTime


class EntryRow(_Row):
    """An entry's bookkeeping; its record travels beside it."""

    uid: Uid
    version: Version
    entered_by: Name
    entered_at: UtcTime
    updated_by: Name
    updated_at: UtcTime
    deleted_at: UtcTime | None = None
    shared: bool = False


class RevisionRow(_Row):
    entry: Uid
    version: Version
    action: Literal["created", "edited", "deleted"]
    changed_by: Name
    changed_at: UtcTime


class BagRow(_Row):
    uid: Uid
    code: Annotated[str, Field(max_length=20), AfterValidator(_bag_code)]
    volume_ml: Annotated[float, Field(gt=0, le=MAX_VOLUME_ML, allow_inf_nan=False)]
    remaining_ml: VolumeMl
    expressed_at: UtcTime
    location: Location
    status: Literal["stored", "used", "discarded"]
    closed_at: UtcTime | None = None
    reason: str = ""
    notes: str = ""
    entered_by: Name
    entered_at: UtcTime


class BagEventRow(_Row):
    bag: Uid
    at: UtcTime
    action: Literal["stored", "moved", "used", "discarded"]
    location: Location | None = None
    volume_ml: VolumeMl | None = None
    entry: Uid | None = None
    reason: str = ""
    member: Name

    @model_validator(mode="after")
    def _says_enough(self) -> Self:
        if self.action in ("stored", "moved") and self.location is None:
            raise ValueError(f"location: a bag {self.action} is put somewhere")
        if self.action == "used" and (self.entry is None or self.volume_ml is None):
            raise ValueError("a bag used names its bottle (entry) and how much (volume_ml)")
        return self


class BagSourceRow(_Row):
    bag: Uid
    entry: Uid


ROW_MODELS: dict[RowType, type[BaseModel]] = {
    "household": HouseholdRow,
    "member": MemberRow,
    "child": ChildInfo,
    "pregnancy": PregnancyRow,
    "entry": EntryRow,
    "revision": RevisionRow,
    "bag": BagRow,
    "bag_event": BagEventRow,
    "bag_source": BagSourceRow,
}


WITH_RECORD: frozenset[RowType] = frozenset({"entry", "revision"})


HEADER_FIELDS = ("format", "format_version", "exported_at")


@dataclass(frozen=True)
class _Item:
    """One thing of the file, its values plain (text, numbers, None, lists, dicts)."""

    type: RowType
    values: dict[str, Any]
    record: dict[str, Any] | None = None


def _plain(value: Any) -> Any:
    """Python values as JSON holds them; times in UTC with their offset written."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(inner) for inner in value]
    return value


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class _Raw:
    """An item as read, before validation, with where it was in the file."""

    type: RowType
    where: str
    values: dict[str, Any]
    record: dict[str, Any] | None = None


def read_utf8(path: Path) -> str:
    """A file's text, or an error a person can act on (missing, empty, not UTF-8)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidEntryError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidEntryError(
            f"{path.name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}): save it as UTF-8"
        ) from None
    if not text.strip():
        raise InvalidEntryError(f"{path.name} is empty")
    return text


def load_json(text: str) -> Any:
    """A file's JSON, or where it breaks (what a cut-short download or a bad edit gives)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidEntryError(
            f"not complete JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}): "
            "the file is damaged or cut short"
        ) from None


def _check_format(values: dict[str, Any], where: str) -> None:
    found = values.get("format")
    if found != FORMAT:
        raise InvalidEntryError(
            f"{where}: format is {found!r}, not {FORMAT!r}: this is not a letdown journal export"
        )
    version = values.get("format_version")
    if str(version) != str(FORMAT_VERSION) or isinstance(version, bool):
        raise InvalidEntryError(
            f"{where}: format_version {version!r} is not one this letdown reads "
            f"({FORMAT_VERSION}): a newer letdown may have written it"
        )


def _label(base: str, kind: RowType, values: dict[str, Any]) -> str:
    """Where an item is, with what identifies it when the file says."""
    if kind == "entry" and values.get("uid"):
        return f"{base} (entry {values['uid']})"
    if kind == "revision" and values.get("entry"):
        return f"{base} (revision {values.get('version')} of entry {values['entry']})"
    if kind == "bag" and values.get("code"):
        return f"{base} (bag {values['code']})"
    return f"{base} ({kind.replace('_', ' ')})"


_BABYBUDDY_HINT = "it looks like a Baby Buddy export: import it with `letdown import babybuddy`"
