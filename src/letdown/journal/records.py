"""What a household writes down: the record kinds of the journal, validated on the way in.

Each kind is a frozen Pydantic model that rejects unknown fields and says which field is
wrong. A letdown pump session and a hand-entered one are the same ``PumpSession``: the
journal knows nothing of the controller, only of what it emits.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal, Self, TypeVar
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from letdown.errors import InvalidEntryError

M = TypeVar("M", bound=BaseModel)

Side = Literal["left", "right"]
SIDE_NAMES: tuple[Side, Side] = ("left", "right")

Pain = Annotated[int, Field(ge=0, le=10, description="0-10 numeric rating scale")]
"""Pain 0-10: the numeric rating scale, equivalent to a VAS (Coca et al. 2019, J Adv Nurs)."""

MAX_SESSION_S = 6 * 3600.0
"""No feed or pump session lasts longer than this; a longer one is a typing mistake."""

MAX_VOLUME_ML = 2000.0
"""No single session, bottle or bag holds more: a larger figure is a typing mistake."""

MAX_EJECTIONS = 1000
"""Milk ejections in one session: 3.3-3.7 in 10 minutes of pumping (Ramsay et al. 2005,
J Hum Lact 21:421), about 130 in the longest (6-hour) session, so 1000 is far past any
real one; the cap keeps an entry small."""
MAX_PHASES = 200
MAX_FAULTS = 50
MAX_BAGS = 20
"""Bags in one bottle; like the other list caps, generous, and there to bound an entry's
size (and each of its revisions)."""

LABEL_ROUNDING_ML = 0.5
"""Amounts written on a bag or a bottle may disagree by this much (rounding on a label)."""


EARLIEST_YEAR = 1900
LATEST_YEAR = 2200
"""Times outside these years are typing mistakes (and would overflow date arithmetic)."""


def _utc(value: datetime) -> datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(
            f"{value:%Y-%m-%d} is not a date between {EARLIEST_YEAR} and {LATEST_YEAR}"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is out of range") from None


UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A time with its offset, kept in UTC (shown in the household's zone)."""

VolumeMl = Annotated[float, Field(ge=0, le=MAX_VOLUME_ML, allow_inf_nan=False)]


class Role(StrEnum):
    """What a member of a household is, and so what they may do in the app."""

    NURSING_PARENT = "nursing-parent"
    PARTNER = "partner"
    CAREGIVER = "caregiver"
    VIEWER = "viewer"


class Units(StrEnum):
    ML = "ml"
    FL_OZ = "floz"


class Word(StrEnum):
    """The word the household chose for what is pumped and nursed from."""

    BREAST = "breast"
    CHEST = "chest"


class MilkKind(StrEnum):
    COLOSTRUM = "colostrum"
    TRANSITIONAL = "transitional"
    MATURE = "mature"


class BottleContent(StrEnum):
    EXPRESSED = "expressed"
    DONOR = "donor"
    FORMULA = "formula"


class CareKind(StrEnum):
    SALVE = "salve"
    COLD_COMPRESS = "cold-compress"
    WARM_COMPRESS = "warm-compress"
    CLINICIAN_VISIT = "clinician-visit"
    LACTATION_CONSULTANT_VISIT = "lactation-consultant-visit"


class Location(StrEnum):
    """Where a stash bag is kept; each has its own storage limit (see ``stash``)."""

    ROOM = "room"
    COOLER = "cooler"
    FRIDGE = "fridge"
    FREEZER = "freezer"
    DEEP_FREEZER = "deep-freezer"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """PostgreSQL cannot store NUL in text; no name or note needs one."""
        texts = value if isinstance(value, tuple) else (value,)
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise ValueError("NUL characters are not allowed")
        return value


Notes = Annotated[str, Field(max_length=4000)]


NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
"""Files beside the zones: ``localtime`` is a different zone on every machine the journal
is read on, ``posixrules`` a legacy default and ``Factory`` means "not set"."""


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) - NOT_ZONES


def check_zone(name: str) -> str:
    """An IANA time zone name, or a clear error."""
    if name not in _zone_names():
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Paris)")
    return name


StorageRules = Literal["cdc", "abm8", "nhs"]
"""The milk-storage rule set a household follows (``stash.RULE_SETS``): CDC by default."""


class HouseholdInfo(_Model):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    time_zone: Annotated[str, AfterValidator(check_zone)] = "UTC"
    units: Units = Units.ML
    word: Word = Word.BREAST
    storage_rules: StorageRules = "cdc"


class MemberInfo(_Model):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    role: Role


class ChildInfo(_Model):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    birth_date: date | None = None


class PregnancyInfo(_Model):
    """Lactating while pregnant is common and lowers supply: the journal keeps the due date."""

    due_date: date
    notes: Notes = ""


class _Timed(_Model):
    """A record with a start and, for those that last, an end."""

    start_at: UtcTime

    def end_time(self) -> datetime | None:
        return None


class _Lasting(_Timed):
    end_at: UtcTime

    def end_time(self) -> datetime | None:
        return self.end_at

    @model_validator(mode="after")
    def _end_after_start(self) -> Self:
        if self.end_at < self.start_at:
            raise FieldValueError(
                "end_at",
                f"the end ({self.end_at:%Y-%m-%d %H:%M} UTC) is before the start "
                f"({self.start_at:%Y-%m-%d %H:%M} UTC)",
            )
        if (self.end_at - self.start_at).total_seconds() > MAX_SESSION_S:
            raise FieldValueError("end_at", f"lasts more than {MAX_SESSION_S / 3600:g} hours")
        return self


def _some_sides(sides: dict[Side, Any]) -> dict[Side, Any]:
    if not sides:
        raise ValueError("give at least one side (left or right)")
    return sides


class NurseSide(_Model):
    duration_s: Annotated[float, Field(ge=0, le=MAX_SESSION_S, allow_inf_nan=False)]
    latch: Pain | None = None
    pain: Pain | None = None


class NurseFeed(_Lasting):
    """A feed at the breast or chest: which sides, how long each, how it felt."""

    kind: Literal["nurse"] = "nurse"
    child: Annotated[str, Field(min_length=1)]
    sides: Annotated[dict[Side, NurseSide], AfterValidator(_some_sides)]
    notes: Notes = ""

    @model_validator(mode="after")
    def _sides_fit(self) -> Self:
        length_s = (self.end_at - self.start_at).total_seconds()
        for name, side in self.sides.items():
            if side.duration_s > length_s + 1.0:
                raise FieldValueError(
                    f"sides.{name}.duration_s",
                    f"{side.duration_s / 60:.0f} min on the {name} is longer than the feed "
                    f"({length_s / 60:.0f} min)",
                )
        return self


class PumpSide(_Model):
    volume_ml: VolumeMl
    comfort_mmhg: Annotated[float, Field(ge=0, le=400, allow_inf_nan=False)] | None = None
    pain: Pain | None = None


class PhaseSpan(_Model):
    name: Annotated[str, Field(min_length=1, max_length=40)]
    start_s: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    end_s: Annotated[float, Field(ge=0, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _end_after_start(self) -> Self:
        if self.end_s < self.start_s:
            raise ValueError(f"end_s {self.end_s:g} is before start_s {self.start_s:g}")
        return self


class PumpSession(_Lasting):
    """A pumping session, from letdown's controller or another pump entered by hand.

    Milk per side, or (``total_ml``, no sides) only the session's total: what a tracker
    such as Baby Buddy kept. A total is never split into made-up sides.
    """

    kind: Literal["pump"] = "pump"
    sides: dict[Side, PumpSide] = Field(default_factory=dict)
    total_ml: VolumeMl | None = None
    device: Annotated[str, Field(min_length=1, max_length=100)] = "letdown"
    program: Annotated[str, Field(max_length=100)] | None = None
    milk: MilkKind | None = None
    phases: Annotated[tuple[PhaseSpan, ...], Field(max_length=MAX_PHASES)] = ()
    ejections_s: Annotated[
        tuple[Annotated[float, Field(ge=0, allow_inf_nan=False)], ...],
        Field(max_length=MAX_EJECTIONS),
    ] = ()
    presses: Annotated[int, Field(ge=0)] = 0
    ended_by: Annotated[str, Field(max_length=40)] | None = None
    faults: Annotated[
        tuple[Annotated[str, Field(max_length=1000)], ...], Field(max_length=MAX_FAULTS)
    ] = ()
    notes: Notes = ""

    @model_validator(mode="after")
    def _sides_or_total(self) -> Self:
        if self.total_ml is not None and self.sides:
            raise FieldValueError("total_ml", "give the amount per side or the total, not both")
        if self.total_ml is None and not self.sides:
            raise FieldValueError("sides", "give at least one side (left or right)")
        return self

    def volume_ml(self) -> float:
        if self.total_ml is not None:
            return self.total_ml
        return sum(side.volume_ml for side in self.sides.values())


class BagUse(_Model):
    bag: Annotated[str, Field(min_length=1, max_length=20, description="the bag's label code")]
    volume_ml: Annotated[float, Field(gt=0, le=MAX_VOLUME_ML, allow_inf_nan=False)]


class BottleFeed(_Timed):
    """A bottle: how much, of what, which stash bags it came from; when it ended if known.

    ``amount_ml`` None is "amount unknown" (a tracker's row without one): counted as a
    bottle, adding nothing to the millilitres.
    """

    kind: Literal["bottle"] = "bottle"
    child: Annotated[str, Field(min_length=1)]
    amount_ml: Annotated[float, Field(gt=0, le=MAX_VOLUME_ML, allow_inf_nan=False)] | None = None
    end_at: UtcTime | None = None
    content: BottleContent = BottleContent.EXPRESSED
    bags: Annotated[tuple[BagUse, ...], Field(max_length=MAX_BAGS)] = ()
    leftover_ml: VolumeMl = 0.0
    notes: Notes = ""

    @field_validator("bags")
    @classmethod
    def _bags_once(cls, bags: tuple[BagUse, ...]) -> tuple[BagUse, ...]:
        codes = [use.bag.upper() for use in bags]
        if len(set(codes)) != len(codes):
            raise ValueError("a bag is listed twice: give each bag once with its total")
        return bags

    def end_time(self) -> datetime | None:
        return self.end_at

    @model_validator(mode="after")
    def _amounts_agree(self) -> Self:
        if self.end_at is not None:
            if self.end_at < self.start_at:
                raise FieldValueError("end_at", "the bottle ends before it starts")
            if (self.end_at - self.start_at).total_seconds() > MAX_SESSION_S:
                raise FieldValueError("end_at", f"lasts more than {MAX_SESSION_S / 3600:g} hours")
        if self.bags and self.content is BottleContent.FORMULA:
            raise FieldValueError("bags", "a formula bottle cannot use stash bags")
        if self.amount_ml is None:
            if self.bags or self.leftover_ml:
                raise FieldValueError(
                    "amount_ml", "give the amount when bags or a leftover are written"
                )
            return self
        from_bags_ml = sum(use.volume_ml for use in self.bags)
        if from_bags_ml > self.amount_ml + LABEL_ROUNDING_ML:
            raise FieldValueError(
                "bags",
                f"the bags give {from_bags_ml:g} mL, more than the bottle's {self.amount_ml:g} mL",
            )
        if self.leftover_ml > self.amount_ml:
            raise FieldValueError(
                "leftover_ml",
                f"{self.leftover_ml:g} mL is more than the bottle's {self.amount_ml:g} mL",
            )
        return self


class Care(_Timed):
    """Something done for comfort or healing: salve, a compress, a clinician's visit."""

    kind: Literal["care"] = "care"
    care: CareKind
    side: Side | None = None
    notes: Notes = ""


class SymptomSide(_Model):
    pain: Pain | None = None
    cracked: bool = False
    bleeding: bool = False
    engorged: bool = False
    lump: bool = False
    redness: bool = False
    blood_in_milk: bool = False


class Symptom(_Timed):
    """How each side is, and a fever if there is one."""

    kind: Literal["symptom"] = "symptom"
    sides: dict[Side, SymptomSide] = Field(default_factory=dict)
    fever_c: Annotated[float, Field(ge=34.0, le=43.0, allow_inf_nan=False)] | None = None
    notes: Notes = ""

    @model_validator(mode="after")
    def _says_something(self) -> Self:
        if not self.sides and self.fever_c is None:
            raise FieldValueError("sides", "give a side's symptoms or a fever")
        return self


Record = NurseFeed | PumpSession | BottleFeed | Care | Symptom
RecordKind = Literal["nurse", "pump", "bottle", "care", "symptom"]
KINDS: dict[str, type[NurseFeed | PumpSession | BottleFeed | Care | Symptom]] = {
    "nurse": NurseFeed,
    "pump": PumpSession,
    "bottle": BottleFeed,
    "care": Care,
    "symptom": Symptom,
}


class FieldValueError(ValueError):
    """A check across fields that knows which field is wrong (so a form shows it there)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


FIELD_WORDS: dict[str, tuple[str, str]] = {
    "start_at": ("start", ""),
    "end_at": ("end", ""),
    "amount_ml": ("amount", " mL"),
    "leftover_ml": ("left over", " mL"),
    "total_ml": ("total", " mL"),
    "volume_ml": ("amount", " mL"),
    "fever_c": ("fever", " °C"),
    "comfort_mmhg": ("comfortable vacuum", " mmHg"),
    "duration_s": ("time", " s"),
    "name": ("name", ""),
    "birth_date": ("birth date", ""),
    "due_date": ("due date", ""),
    "time_zone": ("time zone", ""),
    "notes": ("notes", ""),
    "child": ("child", ""),
    "sides": ("sides", ""),
    "bags": ("bags", ""),
    "bag": ("bag", ""),
    "device": ("pump", ""),
    "pain": ("pain", ""),
    "latch": ("latch", ""),
}
"""Each field in the user's words, and the unit its bounds are in."""

_PYDANTIC_WORDS: tuple[tuple[str, str], ...] = (
    ("Input should be greater than or equal to ", "must be at least "),
    ("Input should be greater than ", "must be more than "),
    ("Input should be less than or equal to ", "must be at most "),
    ("Input should be less than ", "must be less than "),
    ("String should have at least 1 character", "cannot be empty"),
    ("String should have at most ", "is too long: at most "),
    ("Field required", "is missing"),
    ("Input should be a finite number", "must be a number"),
    ("Input should be a valid number, unable to parse string as a number", "must be a number"),
    ("Input should be a valid integer", "must be a whole number"),
    ("Input should be a valid date or datetime", "is not a date"),
    ("Input should be a valid date", "is not a date (try 2026-11-28)"),
    ("Input should have timezone info", "needs its offset (as in 07:30+01:00)"),
    ("Extra inputs are not permitted", "is not a field of this kind of entry"),
)


def field_words(where: str) -> str:
    """``sides.left.volume_ml`` as "left amount"; ``leftover_ml`` as "left over"."""
    parts = [part for part in where.split(".") if not part.isdigit()]
    if "[key]" in parts:
        return f"{parts[0]} ({parts[-2]})" if len(parts) > 2 else parts[0]
    word, _ = FIELD_WORDS.get(parts[-1], (parts[-1].replace("_", " "), ""))
    sides = [part for part in parts[:-1] if part in SIDE_NAMES]
    return " ".join([*sides, word])


def _problem(problem: Any) -> tuple[str, str]:
    """The record field a pydantic problem is about, and what is wrong in plain words."""
    error = (problem.get("ctx") or {}).get("error")
    where = ".".join(str(part) for part in problem["loc"])
    if isinstance(error, FieldValueError):
        where = ".".join(filter(None, (where, error.field)))
    message = str(problem["msg"]).removeprefix("Value error, ")
    for theirs, ours in _PYDANTIC_WORDS:
        if message.startswith(theirs):
            message = ours + message.removeprefix(theirs)
            if ours.startswith(("must be at", "must be more", "must be less")):
                message += FIELD_WORDS.get(where.rsplit(".", 1)[-1], ("", ""))[1]
            break
    return where or "_record", message


def field_errors(error: PydanticValidationError) -> dict[str, str]:
    """Each wrong field (dotted, as in the record) and what is wrong, in the user's words."""
    found: dict[str, str] = {}
    for problem in error.errors(include_url=False):
        where, message = _problem(problem)
        found.setdefault(where, message)
    return found


def describe_error(error: PydanticValidationError) -> str:
    """One line per problem, naming the field in the user's words: what the CLI and API show."""
    lines = [
        message if where == "_record" else f"{field_words(where)}: {message}"
        for where, message in field_errors(error).items()
    ]
    return "; ".join(dict.fromkeys(lines))


def parse_record(data: dict[str, Any]) -> Record:
    """A record from plain data (an export, an API body), or ``InvalidEntryError``."""
    kind = data.get("kind")
    if kind not in KINDS:
        raise InvalidEntryError(f"kind: must be one of {', '.join(KINDS)}, not {kind!r}")
    return validate(KINDS[str(kind)], data)


def validate(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise InvalidEntryError(describe_error(exc), fields=field_errors(exc)) from None


def now_utc() -> datetime:
    return datetime.now(UTC)
