"""``letdown insights``: red flags and estimates for the household, each with its source."""

# Each command imports what it needs when it runs, so that `letdown --help` starts fast.

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import time, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from letdown.cli import _common
from letdown.cli._common import (
    DbUrl,
    HouseholdName,
    MemberName,
    PrintJson,
    _open_desk,
    _opt,
    _say,
)

if TYPE_CHECKING:
    from letdown.insights.supply import Daily

app = typer.Typer()


@app.command("insights")
def insights(
    as_json: PrintJson = False,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Red flags, each side's supply, a plan and the stash: estimates, with their sources."""
    from letdown.insights import sources
    from letdown.insights.household import for_book
    from letdown.insights.report import as_json as insights_json

    with _open_desk(db_url, household, as_member) as desk:
        found = for_book(desk.book, desk.now)
        if as_json:
            typer.echo(json.dumps(insights_json(found), indent=2))
            return
        console = _common.console
        if not found.flags:
            _say("no red flags")
        for flag in found.flags:
            where = f" ({desk.side(flag.side)})" if flag.side else ""
            console.print(
                f"[bold red]{escape(flag.kind.replace('_', ' '))}[/]{escape(where)} since "
                f"{desk.show_time(flag.since)}: {escape(flag.advice)}",
                soft_wrap=True,
            )
            _say(f"  why: {flag.why}; source: {flag.source}")
        if found.pregnancy_note:
            _say(found.pregnancy_note)
        for side, seen in found.sides.items():
            fit = seen.fit
            left_out = "" if seen.total_only_note is None else f" ({seen.total_only_note})"
            if fit is None:
                _say(f"{desk.side(side)}: too few pump sessions with volumes to estimate{left_out}")
                continue
            rate, capacity, trend = fit.rate_ml_h, fit.capacity_ml, fit.trend_pct_per_week
            line = (
                f"{desk.side(side)}: refills about {rate.value:.0f} mL/h "
                f"({rate.low:.0f}-{rate.high:.0f}), holds about {capacity.value:.0f} mL "
                f"({capacity.low:.0f}-{capacity.high:.0f}), trend {trend.value:+.0f} % a week"
            )
            if seen.next_yield is not None:
                nxt = seen.next_yield
                line += (
                    f"; at {desk.show_time(nxt.at)[11:]} expect {desk.show_amount(nxt.volume_ml)}"
                    f" ({desk.show_amount(nxt.low_ml)}-{desk.show_amount(nxt.high_ml)})"
                )
            if seen.one_more is not None:
                more = seen.one_more.change_ml_day
                line += (
                    f"; one more session a day: {more.value:+.0f} mL/day "
                    f"({more.low:+.0f} to {more.high:+.0f}, short-term)"
                )
            _say(line + left_out)
        _say(_both_sides(found.daily, desk.show_amount))
        _say(f"estimates, from {sources.MODEL}")
        plan = found.plan
        if plan.hours:
            times = ", ".join(_clock(hour) for hour in plan.hours)
            _say(f"plan: {times} ({plan.why}; {plan.source})")
        stash = found.stash
        covers = "-" if stash.covers_h is None else f"about {stash.covers_h:.0f} h away"
        _say(f"stash: {desk.show_amount(stash.ml)}, {covers} ({stash.why})")


def _both_sides(found: Daily, show_amount: Callable[[float], str]) -> str:
    """The figures that need no side, so that every pump session counts in them."""
    if found.ml_day is None:
        return "both sides: no pump sessions in the last weeks"
    line = f"both sides: about {show_amount(found.ml_day)} a day pumped over the last 7 days"
    if found.before_ml_day is not None:
        change = "" if found.change_pct is None else f", {found.change_pct:+.0f} %"
        line += f" ({show_amount(found.before_ml_day)} the week before{change})"
    line += f", {found.sessions} sessions"
    if found.total_only:
        line += f", {found.total_only} of them with a total only (counted here, not per side)"
    return line


def _clock(hour: float) -> str:
    minutes = round(hour * 60)
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


@app.command("what-if")
def what_if(
    add: Annotated[list[str] | None, _opt("--add", help="A session added at HH:MM.")] = None,
    drop: Annotated[list[str] | None, _opt("--drop", help="The session nearest HH:MM.")] = None,
    move: Annotated[list[str] | None, _opt("--move", help="FROM=TO, e.g. 07:00=08:30.")] = None,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """What adding, moving or dropping sessions would change in a day's milk, per side."""
    from letdown.errors import InvalidEntryError
    from letdown.insights import plan as planning
    from letdown.insights.supply import fit_side, removals

    with _open_desk(db_url, household, as_member) as desk:
        changes = [("add", text) for text in add or []] + [("drop", text) for text in drop or []]
        changes += [("move", text) for text in move or []]
        if not changes:
            raise InvalidEntryError("give --add, --drop or --move")
        records = [e.record for e in reversed(desk.book.history(since=desk.now - _WEEKS))]
        by_side = removals(records)
        usual = planning.usual_day(by_side, desk.zone, desk.now)
        for side, schedule in usual.items():
            fit = fit_side(side, by_side[side], desk.now)
            if fit is None:
                total_only = sum(1 for r in by_side[side] if r.total_only)
                why = (
                    f" ({total_only} with a total only, no sides, cannot count)"
                    if total_only
                    else ""
                )
                _say(f"{desk.side(side)}: too few pump sessions with volumes to estimate{why}")
                continue
            after = schedule
            for verb, text in changes:
                if verb == "add":
                    after = planning.add_session(after, _hour(text))
                elif verb == "drop":
                    after = planning.drop_session(after, _hour(text))
                else:
                    start, _, end = text.partition("=")
                    after = planning.move_session(after, _hour(start), _hour(end))
            found = planning.what_if(fit, schedule, after)
            change = found.change_ml_day
            _say(
                f"{desk.side(side)}: {change.value:+.0f} mL a day "
                f"({change.low:+.0f} to {change.high:+.0f}); {found.why} ({found.source})"
            )


_WEEKS = timedelta(days=42)


def _hour(text: str) -> float:
    from letdown.errors import InvalidEntryError

    try:
        clock = time.fromisoformat(text.strip())
    except ValueError:
        raise InvalidEntryError(f"{text!r}: give a time like 07:30") from None
    return clock.hour + clock.minute / 60
