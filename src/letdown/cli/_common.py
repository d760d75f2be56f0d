"""What the command modules share: the consoles, clean errors, the options and the open book.

Commands print through ``_common.console`` and ``_common.err``, looked up as they run, so a
test can swap either one.
"""

# Each command imports what it needs when it runs, so that `letdown --help` starts fast.

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from letdown.errors import LetdownError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from letdown.journal.book import BagView, Book, Journal, StoredEntry
    from letdown.journal.records import Record, Units

_E = TypeVar("_E", bound=StrEnum)

console = Console()
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {path}: {exc.strerror}") from exc


class _ProgressBar:
    """A Rich progress bar on stderr, handing out a ``(done, total)`` callback."""

    def __init__(self, label: str) -> None:
        self._progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self._task = self._progress.add_task(label, total=None)

    def __enter__(self) -> Callable[[int, int], None]:
        self._progress.start()

        def step(done: int, total: int) -> None:
            self._progress.update(self._task, completed=done, total=total)

        return step

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def _opt(*flags: str, **settings: Any) -> Any:
    """An option whose help says what leaving it out means, so no default is shown."""
    return typer.Option(*flags, show_default=False, **settings)


DbUrl = Annotated[
    str | None,
    _opt(
        "--db",
        help="Journal database URL (default: LETDOWN_DB, else letdown.sqlite in your data folder).",
    ),
]
HouseholdName = Annotated[
    str | None, _opt("--household", help="Which household (default: the only one).")
]
MemberName = Annotated[
    str | None, _opt("--as", help="Who is entering this (default: the household's first member).")
]
ChildName = Annotated[str | None, _opt("--child", help="Which child (default: the only one).")]
Notes = Annotated[str, typer.Option("--notes", help="Anything else worth writing down.")]
PrintJson = Annotated[bool, typer.Option("--json", help="Print JSON (volumes in mL, UTC times).")]
Confirm = Annotated[
    bool,
    typer.Option(
        "--yes",
        "-y",
        help="Write it even though a figure looks implausible (the error says which).",
    ),
]
TimeOption = Annotated[
    str | None, _opt("--at", help="When: now, -20m, 07:30 or ISO (default: now).")
]

AUTO_HOUSEHOLD = "Home"
AUTO_MEMBER = "me"
"""The household made on first use, before anyone ran ``household init``."""


def _local_zone() -> str:
    """The machine's IANA zone (TZ, then /etc/timezone), else UTC."""
    import os

    from letdown.journal.records import check_zone

    candidates = [os.environ.get("TZ", "").removeprefix(":")]
    with suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        with suppress(ValueError):
            return check_zone(name)
    return "UTC"


@contextmanager
def _guard() -> Iterator[None]:
    """Every journal error ends as one ``error:`` line and exit code 2, never a traceback."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from letdown.journal.records import describe_error

    try:
        yield
    except LetdownError as exc:
        raise _fail(str(exc)) from None
    except ValidationError as exc:
        raise _fail(describe_error(exc)) from None
    except SQLAlchemyError as exc:
        raise _fail(f"the journal database: {_db_problem(exc)}") from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise _fail(f"{where}{exc.strerror or exc}") from None


def _db_problem(exc: Exception) -> str:
    """The driver's own words, without SQLAlchemy's link to its error pages."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


@dataclass(frozen=True)
class _Desk:
    """An open book with the household's zone and units, and the one "now" of a command."""

    book: Book
    zone: ZoneInfo
    now: datetime

    @property
    def units(self) -> Units:
        return self.book.household.units

    @property
    def word(self) -> str:
        return self.book.household.word.value

    def time(self, text: str) -> datetime:
        from letdown.journal.parse import parse_time

        return parse_time(text, self.zone, self.now)

    def amount(self, text: str, *, allow_zero: bool = False) -> float:
        from letdown.journal.parse import parse_amount_ml

        return parse_amount_ml(text, self.units, allow_zero=allow_zero)

    def show_amount(self, volume_ml: float) -> str:
        from letdown.journal.parse import format_amount

        return format_amount(volume_ml, self.units)

    def show_time(self, at: datetime) -> str:
        from letdown.journal.parse import format_time

        return format_time(at, self.zone)

    def side(self, side: str) -> str:
        return f"{side} {self.word}"

    def plausible(self, record: Record, confirmed: bool) -> None:
        """Refuse what cannot be right; ask ``--yes`` for what is only implausible."""
        from letdown.errors import InvalidEntryError
        from letdown.journal.plausible import concerns, summary

        child = getattr(record, "child", None)
        born = next((c.birth_date for c in self.book.children() if c.name == child), None)
        found = concerns(record, now=self.now, birth_date=born)
        refused = [concern for concern in found if concern.refuses]
        if refused:
            raise InvalidEntryError(summary(refused))
        if found and not confirmed:
            raise InvalidEntryError(
                f"{summary(found)}. Nothing was written: check the figure, or pass --yes if it "
                "is right"
            )

    def child(self, name: str | None) -> str:
        """The named child, or the only one; a clear error when there is none to pick."""
        from letdown.errors import InvalidEntryError, NotFoundError

        known = [child.name for child in self.book.children()]
        hint = "add one with `letdown household child NAME`"
        if name is not None:
            if name not in known:
                listed = ", ".join(known) or "none yet"
                raise NotFoundError(f"no child named {name!r} (children: {listed}); {hint}")
            return name
        if not known:
            raise InvalidEntryError(f"no child in {self.book.household.name} yet: {hint}")
        if len(known) > 1:
            raise InvalidEntryError(f"several children ({', '.join(known)}): pass --child NAME")
        return known[0]


def _now() -> datetime:
    """The one reading of the clock per command (tests replace it)."""
    from datetime import UTC

    return datetime.now(UTC)


@contextmanager
def _open_journal(db_url: str | None, *, create: bool = False) -> Iterator[Journal]:
    """The journal at ``--db``; only the commands that set one up pass ``create``."""
    from letdown.journal.book import Journal

    with _guard():
        journal = Journal.open(db_url, create=create)
        try:
            yield journal
        finally:
            journal.close()


@contextmanager
def _open_desk(db_url: str | None, household: str | None, member: str | None) -> Iterator[_Desk]:
    """The member's book of the household; in a journal set up with no household yet (by
    ``serve`` before its setup page, or an import), one is made: "Home", member "me"."""
    from zoneinfo import ZoneInfo

    from letdown.errors import NotFoundError
    from letdown.journal.records import HouseholdInfo, MemberInfo, Role, validate

    with _open_journal(db_url) as journal:
        names = journal.household_names()
        if not names:
            book = journal.create_household(
                validate(
                    HouseholdInfo, {"name": household or AUTO_HOUSEHOLD, "time_zone": _local_zone()}
                ),
                validate(MemberInfo, {"name": member or AUTO_MEMBER, "role": Role.NURSING_PARENT}),
            )
            place = book.household
            err.print(
                f"created household {place.name} (zone {place.time_zone}, {place.units.value}, "
                f"{place.word.value}) with member {book.member.name} (nursing parent); set it up "
                "with `letdown household init --name NAME --member NAME --zone ZONE`",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
        else:
            if household is None and len(names) > 1:
                raise NotFoundError(f"several households ({', '.join(names)}): pass --household")
            try:
                book = journal.book(household, member)
            except NotFoundError as exc:
                if member is None or household not in (None, *names):
                    raise
                known = ", ".join(m.name for m in journal.book(household).members())
                raise NotFoundError(f"{exc} (members: {known})") from None
        yield _Desk(book, ZoneInfo(book.household.time_zone), _now())


def _choice(kind: type[_E], text: str, what: str) -> _E:
    from letdown.errors import InvalidEntryError

    try:
        return kind(text.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidEntryError(f"{what} {text!r}: one of {allowed}") from None


def _say(message: str, *, markup: bool = False) -> None:
    """One line of output; markup only where asked, as names and notes may hold brackets."""
    console.print(message, highlight=False, soft_wrap=True, markup=markup)


def _span(seconds: float) -> str:
    """``45 s``, ``10 min``, ``1 h 5 min``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _when(record: Record, desk: _Desk) -> str:
    start = desk.show_time(record.start_at)
    end = record.end_time()
    if end is None:
        return start
    shown = desk.show_time(end)
    return f"{start}–{shown[11:] if shown[:10] == start[:10] else shown}"


def _describe(record: Record, desk: _Desk) -> str:
    """One line saying what an entry holds, in the household's units and words."""
    from letdown.journal.records import BottleFeed, Care, NurseFeed, PumpSession, Symptom

    parts: list[str] = []
    if isinstance(record, NurseFeed):
        for name, nursed in record.sides.items():
            extra = [
                f"{label} {value}"
                for label, value in (("latch", nursed.latch), ("pain", nursed.pain))
                if value is not None
            ]
            parts.append(
                f"{desk.side(name)} {_span(nursed.duration_s)}"
                + (f" ({', '.join(extra)})" if extra else "")
            )
        parts = [", ".join(parts), record.child]
    elif isinstance(record, PumpSession):
        sides = []
        for name, pumped in record.sides.items():
            extra = []
            if pumped.comfort_mmhg is not None:
                extra.append(f"comfort {pumped.comfort_mmhg:g} mmHg")
            if pumped.pain is not None:
                extra.append(f"pain {pumped.pain}")
            sides.append(
                f"{desk.side(name)} {desk.show_amount(pumped.volume_ml)}"
                + (f" ({', '.join(extra)})" if extra else "")
            )
        if record.total_ml is not None:
            sides.append(f"{desk.show_amount(record.total_ml)} total (no sides)")
        parts.append(", ".join(sides))
        if len(record.sides) > 1:
            parts.append(f"{desk.show_amount(record.volume_ml())} in all")
        parts.append(record.device)
        parts.extend(value for value in (record.program, record.milk) if value)
    elif isinstance(record, BottleFeed):
        amount = (
            "amount unknown" if record.amount_ml is None else desk.show_amount(record.amount_ml)
        )
        parts.append(f"{amount} {record.content.value}")
        if record.bags:
            parts.append(
                "from "
                + ", ".join(
                    f"bag {use.bag} ({desk.show_amount(use.volume_ml)})" for use in record.bags
                )
            )
        if record.leftover_ml:
            parts.append(f"{desk.show_amount(record.leftover_ml)} left over")
        parts.append(record.child)
    elif isinstance(record, Care):
        parts.append(record.care.value + (f", {desk.side(record.side)}" if record.side else ""))
    elif isinstance(record, Symptom):
        for name, symptoms in record.sides.items():
            found = [
                flag
                for flag in ("cracked", "bleeding", "engorged", "lump", "redness", "blood_in_milk")
                if getattr(symptoms, flag)
            ]
            if symptoms.pain is not None:
                found.insert(0, f"pain {symptoms.pain}")
            parts.append(f"{desk.side(name)}: {', '.join(found) or 'nothing'}")
        if record.fever_c is not None:
            parts.append(f"fever {record.fever_c:.1f} °C")
    if record.notes:
        parts.append(f'"{record.notes}"')
    return " · ".join(parts)


def _stored(entry: StoredEntry, desk: _Desk) -> None:
    _say(
        f"{entry.kind} #{entry.id} by {entry.entered_by}: {_when(entry.record, desk)}, "
        f"{_describe(entry.record, desk)}"
    )


def _show_label(bag: BagView, desk: _Desk) -> None:
    from rich.text import Text

    console.print(Panel.fit(Text("  ".join(bag.code), style="bold"), title="label", padding=(1, 4)))
    _say(
        f"bag {bag.code}: {desk.show_amount(bag.remaining_ml)} in the {bag.location.value}, "
        f"expressed {desk.show_time(bag.expressed_at)}; use by "
        f"{desk.show_time(bag.expiry.use_by)} ({bag.expiry.rule})"
    )
