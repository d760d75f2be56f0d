"""``letdown log``: write down a feed, a pumping session, a bottle, care or a symptom."""

# Each command imports what it needs when it runs, so that `letdown --help` starts fast.

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from letdown.cli._common import (
    ChildName,
    Confirm,
    DbUrl,
    HouseholdName,
    MemberName,
    Notes,
    TimeOption,
    _choice,
    _Desk,
    _open_desk,
    _opt,
    _say,
    _show_label,
    _span,
    _stored,
)

app = typer.Typer(
    help="Write down a feed, a pumping session, a bottle, care or a symptom.",
    no_args_is_help=True,
)

SIDES = ("left", "right")
PainLeft = Annotated[
    int | None, _opt("--pain-left", min=0, max=10, help="Pain on the left, 0 (none) to 10.")
]
PainRight = Annotated[
    int | None, _opt("--pain-right", min=0, max=10, help="Pain on the right, 0 (none) to 10.")
]


def _span_times(
    desk: _Desk, start: str | None, end: str | None, length_s: float | None, what: str
) -> tuple[datetime, datetime]:
    """Start and end from any two of start, end and length (end alone means now)."""
    from datetime import timedelta

    from letdown.errors import InvalidEntryError
    from letdown.journal.parse import FUTURE_SLACK

    if start is not None and end is not None:
        start_at, end_at = desk.time(start), desk.time(end)
    elif length_s is None:
        if start is None:
            raise InvalidEntryError(f"say when the {what} started: --start TIME or --minutes N")
        start_at, end_at = desk.time(start), desk.now
    elif start is None:
        end_at = desk.time(end or "now")
        start_at = end_at - timedelta(seconds=length_s)
    else:
        start_at = desk.time(start)
        end_at = start_at + timedelta(seconds=length_s)
        if end_at > desk.now + FUTURE_SLACK:
            raise InvalidEntryError(
                f"a {what} from {desk.show_time(start_at)} lasting {_span(length_s)} ends in "
                "the future: give --end"
            )
    if end_at < start_at:
        raise InvalidEntryError(
            f"the end ({desk.show_time(end_at)}) is before the start ({desk.show_time(start_at)})"
        )
    return start_at, end_at


@app.command("nurse")
def log_nurse(
    left: Annotated[
        str | None, _opt("--left", help="Time on the left: 10m, 1h5m, 90s, 10 (minutes).")
    ] = None,
    right: Annotated[str | None, _opt("--right", help="Time on the right.")] = None,
    start: Annotated[
        str | None,
        _opt("--start", help="When the feed began (default: the end less both sides' times)."),
    ] = None,
    end: Annotated[
        str | None,
        _opt("--end", help="When it ended (default: now, or the start plus both sides' times)."),
    ] = None,
    latch_left: Annotated[
        int | None, _opt("--latch-left", min=0, max=10, help="Latch 0-10.")
    ] = None,
    latch_right: Annotated[
        int | None, _opt("--latch-right", min=0, max=10, help="Latch 0-10.")
    ] = None,
    pain_left: PainLeft = None,
    pain_right: PainRight = None,
    child: ChildName = None,
    notes: Notes = "",
    yes: Confirm = False,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """A feed at the breast or chest: how long on each side.

    Give --start and --end, or one of them: the other is found from the sides' times.
    """
    from letdown.errors import InvalidEntryError
    from letdown.journal.parse import parse_duration_s
    from letdown.journal.records import NurseFeed, validate

    with _open_desk(db_url, household, as_member) as desk:
        given = {"left": (left, latch_left, pain_left), "right": (right, latch_right, pain_right)}
        sides: dict[str, dict[str, Any]] = {}
        for name, (duration, latch, pain) in given.items():
            if duration is None:
                if latch is not None or pain is not None:
                    raise InvalidEntryError(f"--{name}: give the time on the {name} too")
                continue
            sides[name] = {"duration_s": parse_duration_s(duration), "latch": latch, "pain": pain}
        if not sides:
            raise InvalidEntryError("give at least one side: --left 10m and/or --right 8m")
        length_s = sum(side["duration_s"] for side in sides.values())
        start_at, end_at = _span_times(desk, start, end, length_s, "feed")
        record = validate(
            NurseFeed,
            {
                "start_at": start_at,
                "end_at": end_at,
                "child": desk.child(child),
                "sides": sides,
                "notes": notes,
            },
        )
        desk.plausible(record, yes)
        _stored(desk.book.add(record), desk)


@app.command("pump")
def log_pump(
    left: Annotated[
        str | None,
        _opt(
            "--left",
            help="Pumped on the left: 60, 60ml, 2oz (a bare number is in the household's units).",
        ),
    ] = None,
    right: Annotated[str | None, _opt("--right", help="Pumped on the right.")] = None,
    start: Annotated[
        str | None, _opt("--start", help="When pumping began: -20m, 07:30 or ISO.")
    ] = None,
    end: Annotated[
        str | None, _opt("--end", help="When it ended (default: now, or the start plus --minutes).")
    ] = None,
    minutes: Annotated[
        float | None,
        _opt("--minutes", min=0, max=360, help="How long it lasted, instead of --start."),
    ] = None,
    device: Annotated[
        str, typer.Option("--device", help="The pump used (a hand entry is not letdown's).")
    ] = "other pump",
    program: Annotated[str | None, _opt("--program", help="The pump's program or mode.")] = None,
    milk: Annotated[str | None, _opt("--milk", help="colostrum, transitional or mature.")] = None,
    comfort_left: Annotated[
        float | None, _opt("--comfort-left", min=0, max=400, help="Comfortable vacuum, mmHg.")
    ] = None,
    comfort_right: Annotated[
        float | None, _opt("--comfort-right", min=0, max=400, help="Comfortable vacuum, mmHg.")
    ] = None,
    pain_left: PainLeft = None,
    pain_right: PainRight = None,
    stash: Annotated[
        str | None,
        _opt(
            "--stash",
            help="Also store the milk as one bag: fridge, freezer, deep-freezer, room or cooler.",
        ),
    ] = None,
    notes: Notes = "",
    yes: Confirm = False,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """A pumping session on any pump, entered by hand.

    Say when: --start (to --end, default now), or --minutes up to --end or from --start.
    The length is never guessed: a made-up 15 minutes would pass for a real one.
    """
    from letdown.errors import InvalidEntryError, LetdownError
    from letdown.journal.records import MAX_VOLUME_ML, Location, MilkKind, PumpSession, validate

    with _open_desk(db_url, household, as_member) as desk:
        given = {
            "left": (left, comfort_left, pain_left),
            "right": (right, comfort_right, pain_right),
        }
        sides: dict[str, dict[str, Any]] = {}
        for name, (amount, comfort, pain) in given.items():
            if amount is None:
                if comfort is not None or pain is not None:
                    raise InvalidEntryError(f"--{name}: give the amount on the {name} too")
                continue
            sides[name] = {
                "volume_ml": desk.amount(amount, allow_zero=True),
                "comfort_mmhg": comfort,
                "pain": pain,
            }
        if not sides:
            raise InvalidEntryError("give at least one side: --left 60ml and/or --right 2oz")
        if start is not None and end is not None and minutes is not None:
            raise InvalidEntryError("give two of --start, --end and --minutes, not all three")
        start_at, end_at = _span_times(
            desk, start, end, None if minutes is None else minutes * 60.0, "session"
        )
        record = validate(
            PumpSession,
            {
                "start_at": start_at,
                "end_at": end_at,
                "sides": sides,
                "device": device,
                "program": program,
                "milk": None if milk is None else _choice(MilkKind, milk, "milk"),
                "notes": notes,
            },
        )
        desk.plausible(record, yes)
        where = None if stash is None else _choice(Location, stash, "stash")
        total_ml = record.volume_ml()
        if where is not None and not 0 < total_ml <= MAX_VOLUME_ML:
            raise InvalidEntryError(
                f"--stash: a bag holds more than 0 and at most {MAX_VOLUME_ML:g} mL, "
                f"not {desk.show_amount(total_ml)}"
            )
        entry = desk.book.add(record)
        _stored(entry, desk)
        if where is not None:
            try:
                bag = desk.book.stash_add(
                    total_ml,
                    expressed_at=start_at,
                    location=where,
                    stored_at=end_at,
                    sources=[entry.id],
                )
            except LetdownError:
                desk.book.delete(entry.id)
                raise
            _show_label(bag, desk)


@app.command("bottle")
def log_bottle(
    amount: Annotated[str, typer.Option("--amount", help="In the bottle: 120, 120ml, 4oz.")],
    at: TimeOption = None,
    content: Annotated[
        str, typer.Option("--content", help="expressed, donor or formula.")
    ] = "expressed",
    bags: Annotated[
        list[str] | None,
        _opt(
            "--bag",
            help="A stash bag it drew from: CODE (the rest of the bottle) or CODE:AMOUNT; "
            "repeat for more.",
        ),
    ] = None,
    leftover: Annotated[
        str | None, _opt("--leftover", help="Left in the bottle after the feed.")
    ] = None,
    child: ChildName = None,
    notes: Notes = "",
    yes: Confirm = False,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """A bottle: how much, of what, and which stash bags it drew from."""
    from letdown.journal.records import BottleContent, BottleFeed, validate
    from letdown.journal.stash import LEFTOVER_LIMIT

    with _open_desk(db_url, household, as_member) as desk:
        amount_ml = desk.amount(amount)
        record = validate(
            BottleFeed,
            {
                "start_at": desk.time(at or "now"),
                "child": desk.child(child),
                "amount_ml": amount_ml,
                "content": _choice(BottleContent, content, "content"),
                "bags": _bag_uses(desk, bags or [], amount_ml),
                "leftover_ml": 0.0 if leftover is None else desk.amount(leftover, allow_zero=True),
                "notes": notes,
            },
        )
        desk.plausible(record, yes)
        entry = desk.book.add(record)
        _stored(entry, desk)
        if record.leftover_ml and record.content is not BottleContent.FORMULA:
            _say(
                f"the {desk.show_amount(record.leftover_ml)} left over keeps until "
                f"{desk.show_time(record.start_at + LEFTOVER_LIMIT)[11:]} (CDC: 2 hours after "
                "the feed), then throw it away"
            )
        for use in record.bags:
            bag = desk.book.bag(use.bag)
            _say(
                f"bag {bag.code}: {desk.show_amount(bag.remaining_ml)} left"
                if bag.status == "stored"
                else f"bag {bag.code}: {bag.status}"
            )


def _bag_uses(desk: _Desk, specs: list[str], amount_ml: float) -> list[dict[str, Any]]:
    """``CODE:AMOUNT`` as given; a bare ``CODE`` takes what the others leave of the bottle."""
    from letdown.errors import InvalidEntryError

    uses: list[dict[str, Any]] = []
    open_codes: list[int] = []
    for spec in specs:
        code, _, amount = spec.partition(":")
        code = code.strip().upper()
        if not code:
            raise InvalidEntryError(f"--bag {spec!r}: give the bag's code, as ACD or ACD:60ml")
        if amount.strip():
            uses.append({"bag": code, "volume_ml": desk.amount(amount)})
        else:
            open_codes.append(len(uses))
            uses.append({"bag": code, "volume_ml": None})
    rest_ml = amount_ml - sum(use["volume_ml"] or 0.0 for use in uses)
    if rest_ml < -0.05:
        raise InvalidEntryError(
            f"the bags give {desk.show_amount(amount_ml - rest_ml)}, more than the bottle's "
            f"{desk.show_amount(amount_ml)}"
        )
    for number, index in enumerate(open_codes):
        code = uses[index]["bag"]
        if rest_ml <= 0.05:
            raise InvalidEntryError(
                f"--bag {code}: the other bags fill the bottle already; give CODE:AMOUNT"
            )
        last = number == len(open_codes) - 1
        take_ml = rest_ml if last else min(rest_ml, desk.book.bag(code).remaining_ml)
        uses[index]["volume_ml"] = take_ml
        rest_ml -= take_ml
    return uses


@app.command("care")
def log_care(
    kind: Annotated[
        str,
        typer.Argument(
            help="salve, cold-compress, warm-compress, clinician-visit or "
            "lactation-consultant-visit."
        ),
    ],
    side: Annotated[str | None, _opt("--side", help="left or right.")] = None,
    at: TimeOption = None,
    notes: Notes = "",
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Care for comfort or healing: salve, a compress, a clinician's or consultant's visit."""
    from letdown.journal.records import Care, CareKind, validate

    with _open_desk(db_url, household, as_member) as desk:
        record = validate(
            Care,
            {
                "start_at": desk.time(at or "now"),
                "care": _choice(CareKind, kind, "care"),
                "side": None if side is None else _side(side),
                "notes": notes,
            },
        )
        _stored(desk.book.add(record), desk)


def _side(text: str) -> str:
    from letdown.errors import InvalidEntryError

    if text.strip().lower() not in SIDES:
        raise InvalidEntryError(f"side {text!r}: left or right")
    return text.strip().lower()


def _sides(text: str | None, what: str) -> tuple[str, ...]:
    from letdown.errors import InvalidEntryError

    if text is None:
        return ()
    value = text.strip().lower()
    if value == "both":
        return SIDES
    if value in SIDES:
        return (value,)
    raise InvalidEntryError(f"--{what} {text!r}: left, right or both")


SideFlag = Annotated[str | None, _opt(help="left, right or both.")]


@app.command("symptom")
def log_symptom(
    at: TimeOption = None,
    pain_left: PainLeft = None,
    pain_right: PainRight = None,
    cracked: SideFlag = None,
    bleeding: SideFlag = None,
    engorged: SideFlag = None,
    lump: SideFlag = None,
    redness: SideFlag = None,
    blood_in_milk: SideFlag = None,
    fever: Annotated[str | None, _opt("--fever", help="Temperature: 38.4 (°C) or 101.1F.")] = None,
    notes: Notes = "",
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """How each side is (pain, cracks, bleeding, engorgement, a lump, redness, blood in the
    milk) and any fever."""
    from letdown.journal.parse import parse_fever_c
    from letdown.journal.records import Symptom, validate

    with _open_desk(db_url, household, as_member) as desk:
        sides: dict[str, dict[str, Any]] = {}
        for name, pain in (("left", pain_left), ("right", pain_right)):
            if pain is not None:
                sides.setdefault(name, {})["pain"] = pain
        flags = {
            "cracked": cracked,
            "bleeding": bleeding,
            "engorged": engorged,
            "lump": lump,
            "redness": redness,
            "blood_in_milk": blood_in_milk,
        }
        for flag, where in flags.items():
            for name in _sides(where, flag):
                sides.setdefault(name, {})[flag] = True
        record = validate(
            Symptom,
            {
                "start_at": desk.time(at or "now"),
                "sides": sides,
                "fever_c": None if fever is None else parse_fever_c(fever),
                "notes": notes,
            },
        )
        _stored(desk.book.add(record), desk)
