"""``letdown notify``: each member's channels (Apprise URLs), quiet hours, and sending."""

# Each command imports what it needs when it runs, so that `letdown --help` starts fast.

from __future__ import annotations

from typing import Annotated

import typer

from letdown.cli._common import DbUrl, HouseholdName, MemberName, _open_desk, _opt, _say

app = typer.Typer(help="Notifications to each member's phone or service.", no_args_is_help=True)


@app.command("add")
def notify_add(
    url: Annotated[str, typer.Argument(help="An Apprise URL: ntfy://, mailto://, tgram://, ...")],
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Reach this member through one more channel."""
    from letdown.notify import add_channel

    with _open_desk(db_url, household, as_member) as desk:
        channel = add_channel(desk.book, url, desk.now)
        _say(f"channel {channel.id} for {channel.member}: {channel.url}")


@app.command("quiet")
def notify_quiet(
    start: Annotated[str | None, typer.Argument(help="From, e.g. 22:00.")] = None,
    end: Annotated[str | None, typer.Argument(help="Until, e.g. 07:00.")] = None,
    off: Annotated[bool, _opt("--off", help="No quiet hours.")] = False,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """This member's quiet hours (the household's time): notices wait until they end."""
    from letdown.notify import set_quiet_hours

    with _open_desk(db_url, household, as_member) as desk:
        if off:
            start = end = None
        set_quiet_hours(desk.book, start, end)
        _say(f"quiet hours for {desk.book.member.name}: " + (f"{start}-{end}" if start else "none"))


@app.command("channels")
def notify_channels(
    db_url: DbUrl = None, household: HouseholdName = None, as_member: MemberName = None
) -> None:
    """The channels, and which are dead (failed again and again) and why."""
    from letdown.notify import channels

    with _open_desk(db_url, household, as_member) as desk:
        found = channels(desk.book)
        if not found:
            _say("no channels: add one with `letdown notify add URL`")
        for channel in found:
            state = (
                f"DEAD since {desk.show_time(channel.dead_at)}: {channel.last_error}"
                if channel.dead_at
                else (
                    f"{channel.failures} failures: {channel.last_error}"
                    if channel.failures
                    else "ok"
                )
            )
            _say(f"{channel.id} {channel.member} {channel.url}: {state}")


@app.command("run")
def notify_run(
    db_url: DbUrl = None, household: HouseholdName = None, as_member: MemberName = None
) -> None:
    """Queue what the household should be told now and send what is due.

    Run it from cron or a timer, every minute or so.
    """
    from letdown.notify import keys_folder, run_once, sender

    with _open_desk(db_url, household, as_member) as desk:
        send = sender(keys_folder())
        queued, sent = run_once(desk.book, desk.now, send)
        _say(f"{queued} queued, {sent} sent")


@app.command("vapid")
def notify_vapid() -> None:
    """The Web Push public key (made at first use) a browser subscribes with.

    Web Push needs the app served over HTTPS, or on localhost.
    """
    from letdown.notify import keys_folder, vapid_keys

    _, public = vapid_keys(keys_folder())
    _say(public)
