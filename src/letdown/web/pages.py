"""The household's pages: the dashboard, quick log, stash, history and charts.

Server-rendered forms that work without JavaScript: each post redirects back (a flash
message says what was written), and a form with a mistake comes back with the mistake
next to its field, the values kept and nothing written (422). A viewer sees every page
without its forms, and any post from a viewer is refused (403).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar, cast
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from letdown.errors import InvalidEntryError, JournalError, NotFoundError
from letdown.insights import supply
from letdown.insights.report import Insights
from letdown.journal import (
    BagView,
    Book,
    BottleContent,
    BottleFeed,
    Care,
    CareKind,
    Identity,
    Location,
    NurseFeed,
    PumpSession,
    Record,
    StoredEntry,
    Symptom,
    Units,
)
from letdown.journal.parse import (
    FUTURE_SLACK,
    format_amount,
    format_time,
    parse_amount_ml,
    parse_duration_s,
    parse_fever_c,
    parse_since,
    parse_time,
)
from letdown.journal.plausible import concerns
from letdown.journal.records import (
    KINDS,
    MAX_SESSION_S,
    MAX_VOLUME_ML,
    SIDE_NAMES,
    ChildInfo,
    now_utc,
    validate,
)
from letdown.web import charts
from letdown.web.deps import BookDep, IdentityDep, SameOrigin, SettingsDep, WriterBookDep
from letdown.web.settings import Settings
from letdown.web.templating import render

router = APIRouter(include_in_schema=False)

FLASH_COOKIE = "letdown_flash"
THEME_COOKIE = "letdown_theme"
THEME_MAX_AGE_S = 400 * 24 * 3600
"""Browsers cap a cookie's life at 400 days (RFC 6265bis); the theme is kept that long."""

PAIN_MIN, PAIN_MAX = 0, 10
"""Pain and latch on the 0-10 numeric rating scale, as the journal stores them
(``records.Pain``: the NRS, equivalent to a VAS, Coca et al. 2019, J Adv Nurs)."""

HISTORY_PAGE = 50
"""Entries per history page: a bounded read, however long the journal."""

DASHBOARD_SPAN = timedelta(hours=24)
FLAGS = ("cracked", "bleeding", "engorged", "lump", "redness", "blood_in_milk")
KIND_NAMES = {
    "nurse": "Feed",
    "pump": "Pump session",
    "bottle": "Bottle",
    "care": "Care",
    "symptom": "Symptom",
}
KIND_CHOICES = (
    ("nurse", "feeds"),
    ("pump", "pump sessions"),
    ("bottle", "bottles"),
    ("care", "care"),
    ("symptom", "symptoms"),
)
SINCE_CHOICES = (
    ("", "all time"),
    ("24h", "last 24 hours"),
    ("7d", "last 7 days"),
    ("30d", "last 30 days"),
)
STASH_CHOICES = (("", "don't stash"), ("fridge", "fridge"), ("freezer", "freezer"))


# --- how the household reads things ----------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """Amounts in the household's units, times in its zone, sides in its word."""

    zone: ZoneInfo
    units: Units
    word: str
    now: datetime

    @classmethod
    def of(cls, book: Book, now: datetime | None = None) -> Shown:
        household = book.household
        return cls(
            ZoneInfo(household.time_zone), household.units, household.word.value, now or now_utc()
        )

    @property
    def unit(self) -> str:
        return "fl oz" if self.units is Units.FL_OZ else "mL"

    def amount(self, volume_ml: float) -> str:
        return format_amount(volume_ml, self.units)

    def amount_value(self, volume_ml: float) -> str:
        """The figure alone, for a form field (a bare number is in the household's units)."""
        return format_amount(volume_ml, self.units).split(" ")[0]

    def time(self, at: datetime) -> str:
        return format_time(at, self.zone)

    def clock(self, at: datetime) -> str:
        """``07:30`` today, ``yesterday 23:10``, else the date and time."""
        local = at.astimezone(self.zone)
        today = self.now.astimezone(self.zone).date()
        if local.date() == today:
            return local.strftime("%H:%M")
        if local.date() == today - timedelta(days=1):
            return local.strftime("yesterday %H:%M")
        return format_time(at, self.zone)

    def input_time(self, at: datetime) -> str:
        """For a ``datetime-local`` field, in the household's zone."""
        return at.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")

    def span(self, seconds: float) -> str:
        minutes = round(seconds / 60)
        if minutes < 60:
            return f"{minutes} min"
        hours, minutes = divmod(minutes, 60)
        if hours < 48:
            return f"{hours} h {minutes} min" if minutes else f"{hours} h"
        return f"{round(hours / 24)} days"

    def ago(self, at: datetime) -> str:
        seconds = (self.now - at).total_seconds()
        if seconds < 60:
            return "just now" if seconds >= 0 else f"in {self.span(-seconds)}"
        return f"{self.span(seconds)} ago"

    def until(self, at: datetime) -> str:
        seconds = (at - self.now).total_seconds()
        if seconds <= 0:
            return f"{self.span(-seconds)} ago"
        return f"in {self.span(seconds)}"

    def side(self, side: str) -> str:
        """``left breast`` or ``left chest``: the household's word."""
        return f"{side} {self.word}"

    def freshness(self, bag: BagView) -> str:
        """``expired``, ``today`` (use before midnight here) or ``later``: the colour."""
        if bag.expired(self.now):
            return "expired"
        tomorrow = self.now.astimezone(self.zone).date() + timedelta(days=1)
        midnight = datetime.combine(tomorrow, datetime.min.time(), tzinfo=self.zone)
        return "today" if bag.expiry.use_by < midnight else "later"


def _label(value: str) -> str:
    return value.replace("-", " ").capitalize()


def describe(record: Record, shown: Shown) -> str:
    """One line saying what an entry holds, in the household's units and word."""
    if isinstance(record, NurseFeed):
        parts = []
        for side, nursed in record.sides.items():
            felt = [f"{shown.span(nursed.duration_s)}"]
            if nursed.latch is not None:
                felt.append(f"latch {nursed.latch}")
            if nursed.pain is not None:
                felt.append(f"pain {nursed.pain}")
            parts.append(f"{shown.side(side)} {', '.join(felt)}")
        return f"{record.child}: " + "; ".join(parts)
    if isinstance(record, PumpSession):
        parts = []
        for side, pumped in record.sides.items():
            felt = [shown.amount(pumped.volume_ml)]
            if pumped.comfort_mmhg is not None:
                felt.append(f"comfort {pumped.comfort_mmhg:.0f} mmHg")
            if pumped.pain is not None:
                felt.append(f"pain {pumped.pain}")
            parts.append(f"{shown.side(side)} {', '.join(felt)}")
        if record.total_ml is not None:
            parts.append("total only, no sides")
        length = shown.span((record.end_at - record.start_at).total_seconds())
        return f"{shown.amount(record.volume_ml())} in {length} ({record.device}): " + "; ".join(
            parts
        )
    if isinstance(record, BottleFeed):
        amount = "amount unknown" if record.amount_ml is None else shown.amount(record.amount_ml)
        text = f"{amount} {record.content.value} for {record.child}"
        if record.bags:
            text += " from bag " + ", ".join(use.bag for use in record.bags)
        if record.leftover_ml:
            text += f", {shown.amount(record.leftover_ml)} left over"
        return text
    if isinstance(record, Care):
        text = _label(record.care.value)
        return f"{text}, {shown.side(record.side)}" if record.side else text
    felt_sides = []
    for side, sign in record.sides.items():
        signs = [f"pain {sign.pain}"] if sign.pain is not None else []
        signs += [flag for flag in FLAGS if getattr(sign, flag)]
        felt_sides.append(f"{shown.side(side)}: {', '.join(signs) or 'fine'}")
    if record.fever_c is not None:
        felt_sides.append(f"fever {record.fever_c:.1f} °C")
    return "; ".join(felt_sides)


# --- forms -----------------------------------------------------------------------------


@dataclass
class FormState:
    """A form's values and the mistakes found in them, for the template."""

    id: str
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    open: bool = False

    def v(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def checked(self, name: str) -> bool:
        return bool(self.values.get(name))

    def error(self, name: str) -> str:
        return self.errors.get(name, "")


class FormError(Exception):
    """The form has mistakes; nothing was written."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


T = TypeVar("T")


class Reader:
    """Reads a posted form field by field, gathering every mistake before giving up."""

    def __init__(
        self, form: FormData, shown: Shown, kept: Mapping[str, tuple[str, Any]] | None = None
    ) -> None:
        self.form = form
        self.shown = shown
        self.errors: dict[str, str] = {}
        self.kept = kept or {}
        """Fields whose text, sent back as shown, stands for an exact value (``_rounded``)."""
        self.uid: str | None = None
        """The phone's own uid for a quick log (``client_uid``): a repeat is the same entry."""

    def _kept(self, name: str, text: str) -> Any:
        shown, exact = self.kept.get(name, (None, None))
        return exact if text == shown else None

    def values(self) -> dict[str, str]:
        kept: dict[str, str] = {}
        for key, value in self.form.multi_items():
            if isinstance(value, str) and key != "csrf":
                kept[key] = f"{kept[key]},{value}" if key in kept else value
        return kept

    def text(self, name: str) -> str:
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else ""

    def many(self, name: str) -> list[str]:
        return [v for v in self.form.getlist(name) if isinstance(v, str) and v.strip()]

    def flag(self, name: str) -> bool:
        return bool(self.text(name))

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def check(self) -> None:
        if self.errors:
            raise FormError(self.errors)

    def _read(self, name: str, parse: Callable[[str], T]) -> T | None:
        """A field through ``parse``: None when empty or wrong (the mistake kept), the exact
        value when the text is what the page showed for it (``kept``)."""
        text = self.text(name)
        if not text:
            return None
        if (exact := self._kept(name, text)) is not None:
            return cast(T, exact)
        try:
            return parse(text)
        except InvalidEntryError as exc:
            self.fail(name, str(exc))
            return None

    def amount(
        self, name: str, *, required: bool = False, allow_zero: bool = False
    ) -> float | None:
        if required and not self.text(name):
            self.fail(name, f"give an amount (in {self.shown.unit}, or say 120ml or 4oz)")
        found = self._read(
            name, lambda text: parse_amount_ml(text, self.shown.units, allow_zero=allow_zero)
        )
        return None if found is None else float(found)

    def minutes(self, name: str) -> float | None:
        """A duration in seconds: ``12`` (minutes), ``12m30s``, ``1h5m``."""
        seconds = self._read(name, parse_duration_s)
        if seconds is not None and seconds > MAX_SESSION_S:
            self.fail(name, f"more than {MAX_SESSION_S / 3600:g} hours, surely a typing mistake")
            return None
        return None if seconds is None else float(seconds)

    def rating(self, name: str) -> int | None:
        text = self.text(name)
        if not text:
            return None
        try:
            value = int(text)
        except ValueError:
            value = -1
        if not PAIN_MIN <= value <= PAIN_MAX:
            self.fail(name, f"a whole number from {PAIN_MIN} to {PAIN_MAX}")
            return None
        return value

    def time(self, name: str) -> datetime | None:
        return self._read(name, lambda text: parse_time(text, self.shown.zone, self.shown.now))

    def fever(self, name: str) -> float | None:
        found = self._read(name, parse_fever_c)
        return None if found is None else float(found)

    def choice(self, name: str, allowed: Iterable[str], default: str = "") -> str:
        text = self.text(name) or default
        options = list(allowed)
        if text not in options:
            self.fail(name, f"choose one of {', '.join(o for o in options if o)}")
        return text

    def record(self, model: type[Record], data: dict[str, Any]) -> Record:
        """The record, or the journal's own words for what is wrong, under each field."""
        self.check()
        try:
            return validate(model, data)
        except InvalidEntryError as exc:
            raise FormError(form_errors(exc.fields, str(exc))) from None

    def plausible(self, record: Record, book: Book) -> None:
        """Refuse what cannot be right; what is only implausible needs the confirmation
        box, which names the figure (and is asked again if the figure changes)."""
        child = getattr(record, "child", None)
        born = next((c.birth_date for c in book.children() if c.name == child), None)
        found = concerns(record, now=self.shown.now, birth_date=born)
        if not found:
            return
        errors = form_errors({c.field: c.message for c in found}, "")
        refused = [concern for concern in found if concern.refuses]
        if refused:
            raise FormError(errors)
        summary = "; ".join(concern.message for concern in found)
        token = hashlib.sha256(summary.encode()).hexdigest()[:16]
        if self.text("confirm") != token:
            raise FormError({**errors, "_confirm": summary, "_confirm_token": token})


RECORD_TO_FORM = {
    "start_at": "started",
    "end_at": "minutes",
    "amount_ml": "amount",
    "leftover_ml": "leftover",
    "fever_c": "fever",
    "total_ml": "volume_left",
    "bags": "bags",
    "device": "device",
    "child": "child",
    "name": "name",
    "birth_date": "birth_date",
    "sides": "volume_left",
}
"""The quick-log form field where a record field is typed (per side: ``volume_left``...)."""


def form_errors(fields: Mapping[str, str], fallback: str) -> dict[str, str]:
    """Record field problems as form field errors, each under the field it is about."""
    errors: dict[str, str] = {}
    for where, message in fields.items():
        parts = where.split(".")
        if len(parts) == 3 and parts[0] == "sides":
            name = {"volume_ml": "volume", "duration_s": "minutes", "pain": "pain"}.get(
                parts[2], parts[2]
            )
            errors.setdefault(f"{name}_{parts[1]}", message)
        elif parts[0] in RECORD_TO_FORM:
            errors.setdefault(RECORD_TO_FORM[parts[0]], message)
        else:
            errors.setdefault("_form", message)
    return errors or {"_form": fallback}


async def posted(request: Request) -> FormData:
    """The posted form (read once; the CSRF check has usually read it already)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(posted)]


def _timed(reader: Reader, total_s: float) -> tuple[datetime, datetime]:
    """Start and end of something timed: the start given (or the JS timer's), else it just
    ended; it lasts the sides' minutes added up."""
    start = reader.time("started")
    if start is None and "started" not in reader.errors:
        start = reader.time("timer_started")
    reader.check()
    now = reader.shown.now
    if start is None:
        start = now - timedelta(seconds=total_s)
    end = start + timedelta(seconds=total_s)
    if end > now + FUTURE_SLACK:
        reader.fail("started", "that would end in the future: give an earlier start, or none")
        reader.check()
    return start, end


def _child(reader: Reader, children: list[ChildInfo]) -> str:
    name = reader.text("child")
    if not children:
        reader.fail("child", "add a child first (below)")
    elif not name and len(children) == 1:
        name = children[0].name
    elif name not in {child.name for child in children}:
        reader.fail("child", "choose the child")
    return name


def _nurse_sides(reader: Reader) -> dict[str, dict[str, Any]]:
    sides: dict[str, dict[str, Any]] = {}
    for side in SIDE_NAMES:
        seconds = reader.minutes(f"minutes_{side}")
        latch = reader.rating(f"latch_{side}")
        pain = reader.rating(f"pain_{side}")
        if seconds is not None:
            sides[side] = {"duration_s": seconds, "latch": latch, "pain": pain}
        elif latch is not None or pain is not None:
            reader.fail(f"minutes_{side}", "how many minutes on this side?")
    if not sides and not reader.errors:
        reader.fail("minutes_left", "give the minutes on at least one side")
    return sides


def _pump_sides(
    reader: Reader, before: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Volume and pain per side; what the pump measured (comfort) is kept as it was."""
    sides: dict[str, dict[str, Any]] = {}
    for side in SIDE_NAMES:
        volume = reader.amount(f"volume_{side}", allow_zero=True)
        pain = reader.rating(f"pain_{side}")
        if volume is not None:
            kept = dict((before or {}).get(side, {}))
            sides[side] = {**kept, "volume_ml": volume, "pain": pain}
        elif pain is not None:
            reader.fail(f"volume_{side}", "how much from this side? (0 is fine)")
    if not sides and not reader.errors:
        reader.fail("volume_left", "give the amount from at least one side (0 is fine)")
    return sides


def _symptom_sides(reader: Reader) -> dict[str, dict[str, Any]]:
    sides: dict[str, dict[str, Any]] = {}
    for side in SIDE_NAMES:
        pain = reader.rating(f"pain_{side}")
        flags = {flag: reader.flag(f"{flag}_{side}") for flag in FLAGS}
        if pain is not None or any(flags.values()):
            sides[side] = {"pain": pain, **flags}
    return sides


def _bag_draws(
    reader: Reader, amount_ml: float | None, usable: list[BagView]
) -> list[dict[str, Any]]:
    """What each chosen bag gives, soonest to expire first, until the bottle is full.

    "Use next" (``bags_next``) takes the use-next bags in order, as many as the bottle
    needs: one tap, where ticking bags one by one is for choosing others.
    """
    chosen = {code.upper() for code in reader.many("bags")}
    auto = reader.flag("bags_next") and not chosen
    if auto:
        chosen = {bag.code for bag in usable}
    if not chosen or amount_ml is None:
        return []
    known = {bag.code for bag in usable}
    for code in sorted(chosen - known):
        reader.fail("bags", f"bag {code} is not in the stash (or has expired)")
    draws = []
    left_ml = amount_ml
    for bag in usable:
        if bag.code not in chosen:
            continue
        if left_ml <= 0:
            if not auto:
                reader.fail("bags", f"the bottle is full before bag {bag.code}: leave it unticked")
            break
        take_ml = min(bag.remaining_ml, left_ml)
        draws.append({"bag": bag.code, "volume_ml": take_ml})
        left_ml -= take_ml
    return draws


# --- rendering and redirects ------------------------------------------------------------


def _flashes(request: Request) -> list[dict[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    kind, _, text = unquote(raw).partition(":")
    return [{"kind": kind if kind in {"ok", "warn", "bad"} else "ok", "text": text[:300]}]


def page(
    request: Request,
    name: str,
    who: Identity,
    book: Book,
    shown: Shown | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page with the household's ways of showing things, and any flash message (once)."""
    flashes = _flashes(request)
    response = render(
        request,
        name,
        who,
        status_code=status_code,
        shown=shown or Shown.of(book),
        can_write=who.can_write,
        flashes=flashes,
        kind_names=KIND_NAMES,
        **context,
    )
    if flashes:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def done(to: str, message: str, settings: SettingsDep, kind: str = "ok") -> RedirectResponse:
    """Post/redirect/get, with a message (``ok`` or ``warn``) for the page redirected to."""
    response = RedirectResponse(to, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        FLASH_COOKIE,
        quote(f"{kind}:{message}"),
        max_age=60,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )
    return response


# --- the dashboard ---------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, who: IdentityDep, book: BookDep) -> Response:
    """The last 24 hours at a glance. Only bounded reads: it opens the app on every phone."""
    shown = Shown.of(book)
    summary = book.summary(shown.now - DASHBOARD_SPAN, shown.now)
    last_feed = book.history(kinds=["nurse", "bottle"], limit=1)
    bags = book.stash()
    fresh = {bag.code: shown.freshness(bag) for bag in bags}
    usable = [bag for bag in bags if fresh[bag.code] != "expired"]
    return page(
        request,
        "dashboard.html",
        who,
        book,
        shown,
        summary=summary,
        sides=SIDE_NAMES,
        last_feed=last_feed[0] if last_feed else None,
        describe=describe,
        next_bag=usable[0] if usable else None,
        expired=[bag for bag in bags if fresh[bag.code] == "expired"],
        expiring=[bag for bag in bags if fresh[bag.code] == "today"],
        leftovers=book.leftovers(shown.now),
        stashed_ml=sum(bag.remaining_ml for bag in usable),
        insights=request.app.state.insights.get(who),
        sees_private=who.sees_private,
        hour_clock=_hour_clock,
        cite=cite,
    )


def cite(source: str) -> str:
    """A source as the pages show it: without the journal's name where that name carries a
    word the household may not have chosen ("Breastfeed Med"); the code keeps it whole."""
    return re.sub(r",? Breastfeed (Med|Rev)[^;()]*", "", source)


def _hour_clock(hour: float) -> str:
    """A plan's local hour (7.5) as a clock time (07:30)."""
    minutes = round(hour * 60)
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


@router.post("/theme", dependencies=[SameOrigin])
def theme(
    settings: SettingsDep,
    choice: Annotated[str, Form(alias="theme", max_length=10)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Light or dark, kept in a cookie (no account needed: it changes nothing else)."""
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        THEME_COOKIE,
        "light" if choice == "light" else "dark",
        max_age=THEME_MAX_AGE_S,
        path="/",
        samesite="lax",
        secure=settings.secure_cookies,
    )
    return response


# --- the quick log ---------------------------------------------------------------------

QUEUED_MAX_AGE = timedelta(days=7)
"""A quick log queued on a phone longer than this takes the time it arrives instead."""
ALREADY_SAVED = "Already saved: it was sent twice, and is in the journal once."


def client_uid(form: FormData) -> str | None:
    """The uid the phone made for this quick log (None if none, or not a UUID)."""
    value = form.get("client_uid")
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None


def written_at(form: FormData, now: datetime) -> datetime:
    """When the phone's form was filled in (``queued_at``), if plausible; else ``now``."""
    value = form.get("queued_at")
    if not isinstance(value, str) or not value:
        return now
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return now
    if at.tzinfo is None or not now - QUEUED_MAX_AGE <= at <= now:
        return now
    return at.astimezone(UTC)


def _derived_uid(uid: str | None, what: str) -> str | None:
    """A second uid from the phone's (the bag a queued pump session fills)."""
    return None if uid is None else str(uuid.uuid5(uuid.UUID(uid), what))


def _entry_saved(book: Book, uid: str) -> bool:
    try:
        book.get(uid)
    except NotFoundError:
        return False
    return True


JOURNAL_FORMS = ("nurse", "pump", "bottle", "care", "symptom", "child", "child-edit")


def _journal(
    request: Request,
    who: Identity,
    book: Book,
    failed: FormState | None = None,
    add: str = "",
) -> HTMLResponse:
    shown = Shown.of(book)
    children = book.children()
    forms = {name: FormState(name, open=name == add) for name in JOURNAL_FORMS}
    if failed is not None:
        forms[failed.id] = failed
    if not children:
        forms["child"].open = True
    return page(
        request,
        "journal.html",
        who,
        book,
        shown,
        status_code=422 if failed else 200,
        forms=forms,
        children=children,
        usable=book.use_next(shown.now) if who.can_write else [],
        sides=SIDE_NAMES,
        flags=FLAGS,
        care_kinds=[(kind.value, _label(kind.value)) for kind in CareKind],
        contents=[(content.value, _label(content.value)) for content in BottleContent],
        stash_choices=STASH_CHOICES,
        pain_max=PAIN_MAX,
    )


@router.get("/journal", response_class=HTMLResponse)
def journal_page(request: Request, who: IdentityDep, book: BookDep, add: str = "") -> Response:
    return _journal(request, who, book, add=add if add in JOURNAL_FORMS else "")


Write = Callable[[Reader, Book], str]
"""Reads one quick-log form and writes what it says; returns the flash message."""


def _quick_log(
    request: Request, who: Identity, book: Book, form: FormData, settings: Settings, name: str
) -> Response:
    """Post/redirect/get for the quick log, or the form back with its mistakes (422).

    A form the phone queued offline comes with its ``client_uid`` and ``queued_at``: sent
    twice, it is the same entry (written once), and "now" is when it was filled in.
    """
    uid = client_uid(form)
    if uid is not None and _entry_saved(book, uid):
        return done("/journal", ALREADY_SAVED, settings)
    reader = Reader(form, Shown.of(book, written_at(form, now_utc())))
    reader.uid = uid
    try:
        message = QUICK_LOG[name](reader, book)
    except FormError as problem:
        errors = problem.errors
    except InvalidEntryError as exc:  # the journal refused it: say why, under the field
        errors = form_errors(exc.fields, str(exc))
    except JournalError as exc:  # the journal refused the record: say why, above the form
        if uid is not None and _entry_saved(book, uid):  # sent twice at once
            return done("/journal", ALREADY_SAVED, settings)
        errors = {"_form": str(exc)}
    else:
        return done("/journal", message, settings)
    return _journal(request, who, book, FormState(name, reader.values(), errors, open=True))


def _write_nurse(reader: Reader, book: Book) -> str:
    child = _child(reader, book.children())
    sides = _nurse_sides(reader)
    reader.check()
    start, end = _timed(reader, sum(side["duration_s"] for side in sides.values()))
    record = reader.record(
        NurseFeed,
        {
            "start_at": start,
            "end_at": end,
            "child": child,
            "sides": sides,
            "notes": reader.text("notes"),
        },
    )
    reader.plausible(record, book)
    book.add(record, uid=reader.uid)
    return f"Feed added: {describe(record, reader.shown)}"


def _write_pump(reader: Reader, book: Book) -> str:
    """A session with another pump; its milk may go into one new bag, which names it."""
    sides = _pump_sides(reader)
    total_s = reader.minutes("minutes")
    if total_s is None and "minutes" not in reader.errors:
        reader.fail("minutes", "how many minutes? (or use the timer)")
    device = reader.text("device")
    if not device:
        reader.fail("device", "which pump? (a name you will recognise)")
    where = reader.choice("stash", (value for value, _ in STASH_CHOICES))
    reader.check()
    start, end = _timed(reader, total_s or 0.0)
    record = reader.record(
        PumpSession,
        {
            "start_at": start,
            "end_at": end,
            "sides": sides,
            "device": device,
            "notes": reader.text("notes"),
        },
    )
    assert isinstance(record, PumpSession)
    reader.plausible(record, book)
    # Checked before anything is written, so that the bag cannot fail after the session.
    if where and record.volume_ml() <= 0:
        raise FormError({"stash": "nothing to stash: the session gave no milk"})
    if where and record.volume_ml() > MAX_VOLUME_ML:
        raise FormError({"stash": "more than one bag holds: add the bags on the stash page"})
    entry = book.add(record, uid=reader.uid)
    message = f"Pump session added: {describe(record, reader.shown)}"
    if where:
        bag = book.stash_add(
            record.volume_ml(),
            expressed_at=record.end_at,
            location=Location(where),
            sources=[entry.id],
            uid=_derived_uid(reader.uid, "bag"),
        )
        message += f". Bag {bag.code} is in the {where}: write {bag.code} on it."
    return message


def _write_bottle(reader: Reader, book: Book) -> str:
    shown = reader.shown
    child = _child(reader, book.children())
    amount = reader.amount("amount", required=True)
    leftover = reader.amount("leftover", allow_zero=True)
    content = reader.choice("content", (c.value for c in BottleContent), "expressed")
    at = reader.time("started") or shown.now
    bags = _bag_draws(reader, amount, book.use_next(shown.now))
    record = reader.record(
        BottleFeed,
        {
            "start_at": at,
            "child": child,
            "amount_ml": amount,
            "content": content,
            "bags": bags,
            "leftover_ml": leftover or 0.0,
            "notes": reader.text("notes"),
        },
    )
    reader.plausible(record, book)
    book.add(record, uid=reader.uid)
    return f"Bottle added: {describe(record, shown)}"


def _write_care(reader: Reader, book: Book) -> str:
    care = reader.choice("care", (kind.value for kind in CareKind))
    side = reader.choice("side", ("", *SIDE_NAMES))
    at = reader.time("started") or reader.shown.now
    record = reader.record(
        Care, {"start_at": at, "care": care, "side": side or None, "notes": reader.text("notes")}
    )
    book.add(record, uid=reader.uid)
    return f"Care added: {describe(record, reader.shown)}"


def _write_symptom(reader: Reader, book: Book) -> str:
    sides = _symptom_sides(reader)
    fever = reader.fever("fever")
    at = reader.time("started") or reader.shown.now
    if not sides and fever is None and not reader.errors:
        reader.fail("_form", "tick a sign or give a pain or a fever")
    record = reader.record(
        Symptom,
        {"start_at": at, "sides": sides, "fever_c": fever, "notes": reader.text("notes")},
    )
    book.add(record, uid=reader.uid)
    return f"Symptom added: {describe(record, reader.shown)}"


def _write_child(reader: Reader, book: Book) -> str:
    born = reader.text("birth_date") or None
    try:
        info = validate(ChildInfo, {"name": reader.text("name"), "birth_date": born})
    except InvalidEntryError as exc:
        raise FormError(form_errors(exc.fields, str(exc))) from None
    book.add_child(info)
    return f"{info.name} added."


def _edit_child(reader: Reader, book: Book) -> str:
    """Correct a child's name or birth date, or remove one added by mistake."""
    was = reader.text("was")
    if reader.text("action") == "remove":
        book.remove_child(was)
        return f"{was} removed."
    born = reader.text("birth_date") or None
    try:
        info = validate(ChildInfo, {"name": reader.text("name"), "birth_date": born})
    except InvalidEntryError as exc:
        raise FormError(form_errors(exc.fields, str(exc))) from None
    book.edit_child(was, info)
    return f"{info.name} corrected."


QUICK_LOG: dict[str, Write] = {
    "nurse": _write_nurse,
    "pump": _write_pump,
    "bottle": _write_bottle,
    "care": _write_care,
    "symptom": _write_symptom,
    "child": _write_child,
    "child-edit": _edit_child,
}


@router.post("/journal/{name}", response_class=HTMLResponse)
def quick_log(
    request: Request,
    name: str,
    who: IdentityDep,
    book: WriterBookDep,
    form: FormDep,
    settings: SettingsDep,
) -> Response:
    """One of the quick-log forms: ``nurse``, ``pump``, ``bottle``, ``care``, ``symptom``
    or ``child``."""
    if name not in QUICK_LOG:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no form {name!r}")
    return _quick_log(request, who, book, form, settings, name)


# --- the stash -------------------------------------------------------------------------


def _stash(
    request: Request,
    who: Identity,
    book: Book,
    failed: FormState | None = None,
    show_closed: bool = False,
    adding: bool = False,
) -> HTMLResponse:
    shown = Shown.of(book)
    bags = book.stash(include_closed=show_closed)
    stored = [bag for bag in bags if bag.status == "stored"]
    fresh = {bag.code: shown.freshness(bag) for bag in stored}
    usable = [bag.code for bag in stored if fresh[bag.code] != "expired"]
    return page(
        request,
        "stash.html",
        who,
        book,
        shown,
        status_code=422 if failed else 200,
        bags=stored,
        closed=[bag for bag in bags if bag.status != "stored"],
        show_closed=show_closed,
        fresh=fresh,
        next_code=usable[0] if usable else None,
        total_ml=sum(bag.remaining_ml for bag in stored if fresh[bag.code] != "expired"),
        expired=[bag for bag in stored if fresh[bag.code] == "expired"],
        add_form=failed if failed and failed.id == "add" else FormState("add", open=adding),
        failed=failed,
        children=book.children(),
        locations=[loc.value for loc in Location],
    )


def _bag_saved(book: Book, uid: str) -> bool:
    return any(bag.uid == uid for bag in book.stash(include_closed=True))


@router.get("/stash", response_class=HTMLResponse)
def stash_page(
    request: Request, who: IdentityDep, book: BookDep, closed: bool = False, add: bool = False
) -> Response:
    return _stash(request, who, book, show_closed=closed, adding=add)


@router.post("/stash/add", response_class=HTMLResponse)
def stash_add(
    request: Request, who: IdentityDep, book: WriterBookDep, form: FormDep, settings: SettingsDep
) -> Response:
    uid = client_uid(form)
    if uid is not None and _bag_saved(book, uid):
        return done("/stash", ALREADY_SAVED, settings)
    shown = Shown.of(book, written_at(form, now_utc()))
    reader = Reader(form, shown)
    try:
        volume = reader.amount("amount", required=True)
        where = reader.choice("location", (loc.value for loc in Location), "fridge")
        expressed = reader.time("expressed") or shown.now
        code = reader.text("code").upper() or None
        reader.check()
        assert volume is not None
        bag = book.stash_add(
            volume,
            expressed_at=expressed,
            location=Location(where),
            code=code,
            notes=reader.text("notes"),
            uid=uid,
        )
    except FormError as problem:
        return _stash(request, who, book, FormState("add", reader.values(), problem.errors, True))
    except JournalError as exc:
        if uid is not None and _bag_saved(book, uid):  # sent twice at once
            return done("/stash", ALREADY_SAVED, settings)
        state = FormState("add", reader.values(), {"_form": str(exc)}, True)
        return _stash(request, who, book, state)
    if bag.expired(shown.now):
        return done(
            "/stash",
            f"Bag {bag.code} added, but it is past its use-by ({shown.time(bag.expiry.use_by)}, "
            f"{bag.expiry.rule}): do not feed it; discard it.",
            settings,
            kind="warn",
        )
    return done(
        "/stash",
        f"Bag {bag.code} added ({shown.amount(bag.volume_ml)}, {where}): write {bag.code} on it.",
        settings,
    )


def _bag_failed(
    request: Request,
    who: Identity,
    book: Book,
    code: str,
    action: str,
    reader: Reader,
    message: str,
) -> HTMLResponse:
    state = FormState(f"{code.upper()}-{action}", reader.values(), {"_form": message}, True)
    return _stash(request, who, book, state)


@router.post("/stash/{code}/move", response_class=HTMLResponse)
def stash_move(
    request: Request,
    code: str,
    who: IdentityDep,
    book: WriterBookDep,
    form: FormDep,
    settings: SettingsDep,
) -> Response:
    shown = Shown.of(book)
    reader = Reader(form, shown)
    to = reader.text("to")
    if to not in {loc.value for loc in Location}:
        return _bag_failed(request, who, book, code, "move", reader, f"no place called {to!r}")
    try:
        bag = book.stash_move(code, Location(to))
    except NotFoundError:
        raise
    except JournalError as exc:  # a refused move: thawed milk back to a freezer
        return _bag_failed(request, who, book, code, "move", reader, str(exc))
    use_by = shown.time(bag.expiry.use_by)
    return done("/stash", f"Bag {bag.code} moved to the {to}: use by {use_by}.", settings)


@router.post("/stash/{code}/use", response_class=HTMLResponse)
def stash_use(
    request: Request,
    code: str,
    who: IdentityDep,
    book: WriterBookDep,
    form: FormDep,
    settings: SettingsDep,
) -> Response:
    shown = Shown.of(book)
    reader = Reader(form, shown)
    try:
        child = _child(reader, book.children())
        volume = reader.amount("amount")
        reader.check()
        entry = book.stash_use(code, child=child, volume_ml=volume)
    except FormError as problem:
        return _bag_failed(
            request, who, book, code, "use", reader, "; ".join(problem.errors.values())
        )
    except NotFoundError:
        raise
    except JournalError as exc:
        return _bag_failed(request, who, book, code, "use", reader, str(exc))
    return done("/stash", f"Bottle added: {describe(entry.record, shown)}", settings)


@router.post("/stash/{code}/discard", response_class=HTMLResponse)
def stash_discard(
    request: Request,
    code: str,
    who: IdentityDep,
    book: WriterBookDep,
    form: FormDep,
    settings: SettingsDep,
) -> Response:
    reader = Reader(form, Shown.of(book))
    try:
        bag = book.stash_discard(code, reader.text("reason"))
    except NotFoundError:
        raise
    except JournalError as exc:
        return _bag_failed(request, who, book, code, "discard", reader, str(exc))
    return done("/stash", f"Bag {bag.code} discarded ({bag.reason}).", settings)


# --- history ---------------------------------------------------------------------------


@router.get("/history", response_class=HTMLResponse)
def history_page(
    request: Request,
    who: IdentityDep,
    book: BookDep,
    kind: str = "",
    since: str = "",
    until: str = "",
) -> Response:
    shown = Shown.of(book)
    errors: dict[str, str] = {}
    start = end = None
    if kind and kind not in KINDS:
        errors["kind"] = f"choose one of {', '.join(KINDS)}"
    if since:
        try:
            start = parse_since(since, shown.zone, shown.now)
        except InvalidEntryError as exc:
            errors["since"] = str(exc)
    if until:
        try:
            end = datetime.fromisoformat(until)
            if end.tzinfo is None:
                raise ValueError(until)
            end = end.astimezone(UTC)
        except ValueError:
            errors["until"] = f"until {until!r}: not a time with its offset"
        except OverflowError:
            errors["until"] = f"until {until!r}: not a time letdown can hold"
    entries = []
    if not errors:
        entries = book.history(
            since=start, until=end, kinds=[kind] if kind else None, limit=HISTORY_PAGE + 1
        )
    more = len(entries) > HISTORY_PAGE
    entries = entries[:HISTORY_PAGE]
    older = None
    if more:
        query = {"kind": kind, "since": since, "until": entries[-1].record.start_at.isoformat()}
        older = "/history?" + "&".join(f"{k}={quote(v)}" for k, v in query.items() if v)
    return page(
        request,
        "history.html",
        who,
        book,
        shown,
        status_code=422 if errors else 200,
        entries=entries,
        describe=describe,
        kind=kind,
        since=since,
        since_choices=SINCE_CHOICES,
        errors=errors,
        older=older,
        kind_choices=KIND_CHOICES,
    )


def _rounded(entry: StoredEntry, shown: Shown) -> dict[str, tuple[str, Any]]:
    """The edit form's rounded figures, with the exact value each stands for.

    A field sent back as it was shown keeps its exact value: saving a note must not move
    a feed to the whole minute or a bottle to the shown tenth of a millilitre (a bottle
    whose time changes redraws its stash bags).
    """
    record = entry.record
    exact: dict[str, tuple[str, Any]] = {
        "started": (shown.input_time(record.start_at), record.start_at)
    }
    end = record.end_time()
    if end is not None:
        exact["ended"] = (shown.input_time(end), end)
    if isinstance(record, NurseFeed):
        for side, nursed in record.sides.items():
            exact[f"minutes_{side}"] = (f"{nursed.duration_s / 60:g}", nursed.duration_s)
    elif isinstance(record, PumpSession):
        for side, pumped in record.sides.items():
            exact[f"volume_{side}"] = (shown.amount_value(pumped.volume_ml), pumped.volume_ml)
    elif isinstance(record, BottleFeed) and record.amount_ml is not None:
        exact["amount"] = (shown.amount_value(record.amount_ml), record.amount_ml)
        if record.leftover_ml:
            exact["leftover"] = (shown.amount_value(record.leftover_ml), record.leftover_ml)
    elif isinstance(record, Symptom) and record.fever_c is not None:
        exact["fever"] = (f"{record.fever_c:.1f}", record.fever_c)
    return exact


def _entry_values(entry: StoredEntry, shown: Shown) -> dict[str, str]:
    """The edit form filled in from the entry as it is."""
    record = entry.record
    values = {"started": shown.input_time(record.start_at), "notes": record.notes}
    end = record.end_time()
    if end is not None:
        values["ended"] = shown.input_time(end)
    if isinstance(record, NurseFeed):
        values["child"] = record.child
        for side, nursed in record.sides.items():
            values[f"minutes_{side}"] = f"{nursed.duration_s / 60:g}"
            values[f"latch_{side}"] = "" if nursed.latch is None else str(nursed.latch)
            values[f"pain_{side}"] = "" if nursed.pain is None else str(nursed.pain)
    elif isinstance(record, PumpSession):
        values["device"] = record.device
        for side, pumped in record.sides.items():
            values[f"volume_{side}"] = shown.amount_value(pumped.volume_ml)
            values[f"pain_{side}"] = "" if pumped.pain is None else str(pumped.pain)
    elif isinstance(record, BottleFeed):
        values["child"] = record.child
        if record.amount_ml is not None:
            values["amount"] = shown.amount_value(record.amount_ml)
        values["content"] = record.content.value
        values["leftover"] = shown.amount_value(record.leftover_ml) if record.leftover_ml else ""
    elif isinstance(record, Care):
        values["care"] = record.care.value
        values["side"] = record.side or ""
    else:
        for side, felt in record.sides.items():
            values[f"pain_{side}"] = "" if felt.pain is None else str(felt.pain)
            for flag in FLAGS:
                values[f"{flag}_{side}"] = "on" if getattr(felt, flag) else ""
        values["fever"] = "" if record.fever_c is None else f"{record.fever_c:.1f}"
    return values


def _changes(reader: Reader, entry: StoredEntry, children: list[ChildInfo]) -> dict[str, Any]:
    """What the edit form changes, as fields of the record."""
    record = entry.record
    changes: dict[str, Any] = {"notes": reader.text("notes")}
    start = reader.time("started")
    if start is None and "started" not in reader.errors:
        reader.fail("started", "when was it?")
    changes["start_at"] = start
    if record.end_time() is not None:
        end = reader.time("ended")
        if end is None and "ended" not in reader.errors:
            reader.fail("ended", "when did it end?")
        changes["end_at"] = end
    if isinstance(record, NurseFeed):
        changes["child"] = _child(reader, children)
        changes["sides"] = _nurse_sides(reader)
    elif isinstance(record, PumpSession):
        given = any(reader.text(f"volume_{side}") for side in SIDE_NAMES)
        if record.total_ml is None or given:  # a total-only session stays so until split
            before = record.model_dump(mode="json")["sides"]
            changes["sides"] = _pump_sides(reader, before)
            changes["total_ml"] = None
        changes["device"] = reader.text("device") or record.device
    elif isinstance(record, BottleFeed):
        changes["child"] = _child(reader, children)
        changes["amount_ml"] = reader.amount("amount", required=True)
        changes["content"] = reader.choice("content", (c.value for c in BottleContent))
        changes["leftover_ml"] = reader.amount("leftover", allow_zero=True) or 0.0
    elif isinstance(record, Care):
        changes["care"] = reader.choice("care", (kind.value for kind in CareKind))
        changes["side"] = reader.choice("side", ("", *SIDE_NAMES)) or None
    else:
        changes["sides"] = _symptom_sides(reader)
        changes["fever_c"] = reader.fever("fever")
    reader.check()
    return changes


def _revision_notes(book: Book, entry: StoredEntry, shown: Shown) -> list[dict[str, Any]]:
    """Each version with who made it, when, and which fields it changed."""
    notes = []
    before: dict[str, Any] = {}
    for revision in book.revisions(entry.id):
        now = _flat(revision.record.model_dump())
        changed = []
        if revision.action == "edited":
            for key in sorted(set(before) | set(now)):
                if before.get(key) != now.get(key):
                    changed.append(
                        f"{_field_name(key, shown)}: {_shown_value(key, before.get(key), shown)}"
                        f" → {_shown_value(key, now.get(key), shown)}"
                    )
        notes.append(
            {
                "version": revision.version,
                "action": revision.action,
                "by": revision.changed_by,
                "at": shown.time(revision.changed_at),
                "changed": changed,
            }
        )
        before = now
    return notes


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flat(value, name + "."))
        else:
            flat[name] = value
    return flat


def _field_name(key: str, shown: Shown) -> str:
    parts = key.split(".")
    if parts[0] == "sides" and len(parts) == 3:
        return f"{shown.side(parts[1])} {parts[2].removesuffix('_ml').removesuffix('_s')}"
    return key.removesuffix("_at").removesuffix("_ml").removesuffix("_c").replace("_", " ")


def _shown_value(key: str, value: Any, shown: Shown) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return shown.time(value)
    if key.endswith("_ml") and isinstance(value, int | float):
        return shown.amount(float(value))
    if key.endswith("duration_s") and isinstance(value, int | float):
        return shown.span(float(value))
    if isinstance(value, float):
        return f"{value:g}"
    if hasattr(value, "value"):
        return str(value.value)
    return str(value)


def _entry_page(
    request: Request,
    who: Identity,
    book: Book,
    entry: StoredEntry,
    failed: FormState | None = None,
) -> HTMLResponse:
    shown = Shown.of(book)
    state = failed or FormState("edit", _entry_values(entry, shown))
    return page(
        request,
        "entry.html",
        who,
        book,
        shown,
        status_code=422 if failed else 200,
        entry=entry,
        record=entry.record,
        f=state,
        describe=describe,
        revisions=_revision_notes(book, entry, shown),
        children=book.children(),
        sides=SIDE_NAMES,
        flags=FLAGS,
        care_kinds=[(kind.value, _label(kind.value)) for kind in CareKind],
        contents=[(content.value, _label(content.value)) for content in BottleContent],
        pain_max=PAIN_MAX,
    )


def _found(book: Book, entry_id: int) -> StoredEntry:
    try:
        return book.get(entry_id)
    except NotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no entry {entry_id}") from None


@router.get("/history/{entry_id}", response_class=HTMLResponse)
def entry_page(request: Request, entry_id: int, who: IdentityDep, book: BookDep) -> Response:
    return _entry_page(request, who, book, _found(book, entry_id))


@router.post("/history/{entry_id}", response_class=HTMLResponse)
def edit_entry(
    request: Request,
    entry_id: int,
    who: IdentityDep,
    book: WriterBookDep,
    form: FormDep,
    settings: SettingsDep,
) -> Response:
    entry = _found(book, entry_id)
    shown = Shown.of(book)
    reader = Reader(form, shown, _rounded(entry, shown))
    try:
        changes = _changes(reader, entry, book.children())
        saved = book.edit(entry.id, changes)
    except FormError as problem:
        state = FormState("edit", reader.values(), problem.errors, True)
        return _entry_page(request, who, book, entry, state)
    except JournalError as exc:
        state = FormState("edit", reader.values(), {"_form": str(exc)}, True)
        return _entry_page(request, who, book, entry, state)
    return done(f"/history/{saved.id}", f"Saved (version {saved.version}).", settings)


@router.post("/history/{entry_id}/delete")
def delete_entry(
    entry_id: int, book: WriterBookDep, settings: SettingsDep, form: FormDep
) -> Response:
    entry = _found(book, entry_id)
    book.delete(entry.id)
    name = KIND_NAMES[entry.kind]
    return done(
        "/history", f"{name} of {Shown.of(book).time(entry.record.start_at)} deleted.", settings
    )


# --- charts ----------------------------------------------------------------------------

CHART_DAYS = (14, 30)


@router.get("/charts", response_class=HTMLResponse)
def charts_page(request: Request, who: IdentityDep, book: BookDep, days: int = 14) -> Response:
    """Three charts from one bounded read: the pump sessions of the last ``days`` days."""
    shown = Shown.of(book)
    days = days if days in CHART_DAYS else CHART_DAYS[0]
    local_today = shown.now.astimezone(shown.zone).date()
    first_day = local_today - timedelta(days=days - 1)
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=shown.zone).astimezone(UTC)
    insights = request.app.state.insights.get(who)
    key = (
        who.household_id,
        who.revision,
        insights.at,
        days,
        local_today,
        who.units,
        who.word,
        who.time_zone,
    )
    cache: charts.ChartCache = request.app.state.charts
    drawn = cache.get(key) if who.revision is not None else None
    if drawn is None:
        sessions = [
            entry.record
            for entry in book.history(since=since, until=shown.now, kinds=["pump"])
            if isinstance(entry.record, PumpSession)
        ]
        sessions.reverse()
        scale = charts.Scale(shown.zone, shown.units, shown.word)
        drawn = charts.Drawn(
            sessions=len(sessions),
            daily=charts.daily_output(sessions, first_day, local_today, scale),
            volumes=charts.session_volumes(sessions, scale),
            comfort=charts.comfort_ceilings(sessions, scale),
            model=charts.model_fit(_fit_points(insights, since), scale),
        )
        if who.revision is not None:
            cache.put(key, drawn)
    return page(
        request,
        "charts.html",
        who,
        book,
        shown,
        days=days,
        day_choices=CHART_DAYS,
        sessions=drawn.sessions,
        daily=drawn.daily,
        volumes=drawn.volumes,
        comfort=drawn.comfort,
        model=drawn.model,
    )


def _fit_points(
    insights: Insights, since: datetime
) -> dict[str, list[tuple[datetime, float, float]]]:
    """The supply model's fit to each side, from the household's kept insights."""
    return {
        side: supply.fitted(seen.fit, since)
        for side, seen in insights.sides.items()
        if seen.fit is not None
    }


__all__ = ["Shown", "describe", "router"]
