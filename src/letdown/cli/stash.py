"""``letdown stash``: bags of milk, where they are and the order to use them."""

# Each command imports what it needs when it runs, so that `letdown --help` starts fast.

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from letdown.cli import _common
from letdown.cli._common import (
    ChildName,
    DbUrl,
    HouseholdName,
    MemberName,
    Notes,
    PrintJson,
    TimeOption,
    _choice,
    _open_desk,
    _opt,
    _say,
    _show_label,
    _stored,
)

if TYPE_CHECKING:
    from letdown.journal.book import BagView

app = typer.Typer(
    help="The milk stash: bags, where they are, when to use them.", no_args_is_help=True
)


@app.command("add")
def stash_add(
    amount: Annotated[str, typer.Argument(help="How much: 120, 120ml, 4oz.")],
    expressed: Annotated[
        str, typer.Option("--expressed", help="When it was expressed (it is stored from then).")
    ] = "now",
    where: Annotated[
        str, typer.Option("--where", help="fridge, freezer, deep-freezer, room or cooler.")
    ] = "fridge",
    sources: Annotated[
        list[str] | None,
        _opt("--from", help="The pump session's entry id it came from; repeat for more."),
    ] = None,
    code: Annotated[
        str | None, _opt("--code", help="Your own label (default: a new short code).")
    ] = None,
    notes: Notes = "",
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Put a bag of expressed milk in the stash and print its label code."""
    from letdown.journal.records import Location

    with _open_desk(db_url, household, as_member) as desk:
        expressed_at = desk.time(expressed)
        bag = desk.book.stash_add(
            desk.amount(amount),
            expressed_at=expressed_at,
            location=_choice(Location, where, "where"),
            stored_at=expressed_at,
            sources=sources or [],
            code=code,
            notes=notes,
        )
        _show_label(bag, desk)
        if bag.expired(desk.now):
            _common.err.print(
                f"[red]warning:[/] bag {escape(bag.code)} is past its use-by "
                f"({desk.show_time(bag.expiry.use_by)}, {escape(bag.expiry.rule)}): do not feed "
                "it; discard it (`letdown stash discard "
                f"{escape(bag.code)} --reason expired`)",
                highlight=False,
                soft_wrap=True,
            )


@app.command("move")
def stash_move(
    code: Annotated[str, typer.Argument(help="The bag's label code.")],
    where: Annotated[str, typer.Argument(help="fridge, freezer, deep-freezer, room or cooler.")],
    at: TimeOption = None,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Move a bag (thawing counts: thawed milk never goes back to a freezer)."""
    from letdown.journal.records import Location

    with _open_desk(db_url, household, as_member) as desk:
        bag = desk.book.stash_move(code, _choice(Location, where, "where"), desk.time(at or "now"))
        _say(
            f"bag {bag.code} is in the {bag.location.value}: use by "
            f"{desk.show_time(bag.expiry.use_by)} ({bag.expiry.rule})"
        )


@app.command("use")
def stash_use(
    code: Annotated[str, typer.Argument(help="The bag's label code.")],
    amount: Annotated[
        str | None, _opt("--amount", help="How much of it (default: all that is left).")
    ] = None,
    child: ChildName = None,
    at: TimeOption = None,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Feed from a bag: writes the bottle down and draws the bag."""
    with _open_desk(db_url, household, as_member) as desk:
        entry = desk.book.stash_use(
            code,
            child=desk.child(child),
            at=desk.time(at or "now"),
            volume_ml=None if amount is None else desk.amount(amount),
        )
        _stored(entry, desk)
        bag = desk.book.bag(code)
        _say(
            f"bag {bag.code}: {desk.show_amount(bag.remaining_ml)} left"
            if bag.status == "stored"
            else f"bag {bag.code}: used up"
        )


@app.command("discard")
def stash_discard(
    code: Annotated[str, typer.Argument(help="The bag's label code.")],
    reason: Annotated[str, typer.Option("--reason", help="Why: expired, spilled, smelled off...")],
    at: TimeOption = None,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Throw a bag away, saying why."""
    with _open_desk(db_url, household, as_member) as desk:
        bag = desk.book.stash_discard(code, reason, desk.time(at or "now"))
        _say(f"bag {bag.code} discarded ({bag.reason}): {desk.show_amount(bag.remaining_ml)}")


@app.command("list")
def stash_list(
    show_all: Annotated[bool, typer.Option("--all", help="Also bags used or discarded.")] = False,
    as_json: PrintJson = False,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """The stash in the order to use it, with each bag's use-by and the rule behind it."""
    with _open_desk(db_url, household, as_member) as desk:
        bags = desk.book.stash(include_closed=show_all)
        if as_json:
            typer.echo(json.dumps([_bag_json(bag, desk.now) for bag in bags], indent=2))
            return
        if not bags:
            _say("the stash is empty")
            return
        today = desk.now.astimezone(desk.zone).date()
        table = Table(title=f"stash of {escape(desk.book.household.name)}, in the order to use it")
        for column in ("bag", "left", "where", "expressed", "use by", "rule"):
            table.add_column(column, overflow="fold")
        if show_all:
            table.add_column("status")
        warnings: list[str] = []
        for bag in bags:
            use_by = desk.show_time(bag.expiry.use_by)
            if bag.status != "stored":
                colour = "dim"
            elif bag.expired(desk.now):
                colour = "red"
                warnings.append(
                    f"[red]warning:[/] bag {escape(bag.code)} expired at {use_by}: discard it"
                )
            elif bag.expiry.use_by.astimezone(desk.zone).date() == today:
                colour = "yellow"
                warnings.append(
                    f"[yellow]warning:[/] bag {escape(bag.code)} must be used by "
                    f"{use_by[11:]} today"
                )
            else:
                colour = "green"
            left = desk.show_amount(bag.remaining_ml)
            if bag.remaining_ml < bag.volume_ml - 0.05:
                left += f" (of {desk.show_amount(bag.volume_ml)})"
            table.add_row(
                Text(bag.code),
                left,
                bag.location.value,
                desk.show_time(bag.expressed_at),
                f"[{colour}]{use_by}[/]",
                bag.expiry.rule,
                *([bag.status] if show_all else []),
            )
        _common.console.print(table)
        stored = [bag for bag in bags if bag.status == "stored"]
        good = [bag for bag in stored if not bag.expired(desk.now)]
        gone = [bag for bag in stored if bag.expired(desk.now)]
        line = f"{len(good)} bags, {desk.show_amount(sum(b.remaining_ml for b in good))} still good"
        if gone:
            line += (
                f"; {len(gone)} past use-by ({desk.show_amount(sum(b.remaining_ml for b in gone))}"
                ", not counted)"
            )
        _say(line)
        for line in warnings:
            _say(line, markup=True)


def _bag_json(bag: BagView, now: datetime) -> dict[str, Any]:
    return {
        "code": bag.code,
        "uid": bag.uid,
        "volume_ml": bag.volume_ml,
        "remaining_ml": bag.remaining_ml,
        "location": bag.location.value,
        "status": bag.status,
        "expressed_at": bag.expressed_at.isoformat(),
        "use_by": bag.expiry.use_by.isoformat(),
        "best_by": None if bag.expiry.best_by is None else bag.expiry.best_by.isoformat(),
        "thawed_at": None if bag.expiry.thawed_at is None else bag.expiry.thawed_at.isoformat(),
        "rule": bag.expiry.rule,
        "expired": bag.expired(now),
        "sources": list(bag.sources),
        "closed_at": None if bag.closed_at is None else bag.closed_at.isoformat(),
        "reason": bag.reason,
        "notes": bag.notes,
    }
