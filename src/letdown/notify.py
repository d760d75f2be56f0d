"""Notifications to each member's own phone or service, through Apprise URLs.

Events come from the household's insights: a red flag (to the nursing parent and the
members they chose only), a bag that expires today, and time to pump (the plan's next
session). Each event is queued once per channel under a key (``notices``: unique per
channel and key), so running the queue again, or retrying, never sends an event twice.
A member's quiet hours hold their notices until the quiet ends. A failing channel is
retried after ``RETRY_AFTER``; after ``DEAD_AFTER`` failures in a row it is reported
dead (``letdown notify channels``, ``GET /api/v1/channels``) and skipped. Delivery runs
apart from the pump and the journal's writes: a dead channel never blocks either.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import apprise
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid
from pywebpush import WebPushException, webpush
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from letdown.errors import InvalidEntryError, NotFoundError
from letdown.insights.household import for_book
from letdown.insights.report import Insights
from letdown.journal import schema
from letdown.journal.book import Book
from letdown.journal.records import Role

RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=5))
"""Waits before the second and third tries of a failed send (letdown's choice)."""
DEAD_AFTER = 3
"""Failures in a row after which a channel is reported dead and no longer tried."""
REMIND_AHEAD = timedelta(minutes=10)
""""Time to pump" goes out this long before the plan's next session."""

Send = Callable[[str, str, str], bool]
"""Send (url, title, body); True when the service took it."""

WEBPUSH = "webpush:"
"""A Web Push channel's URL: this prefix and the browser's subscription as JSON."""
VAPID_FILE = "vapid_private.pem"
VAPID_CLAIMS = {"sub": "mailto:letdown@localhost"}
"""Web Push needs HTTPS (or localhost) for the page that subscribes; the push service
sees this contact in the VAPID token."""


@contextmanager
def _quiet_plugins() -> Iterator[None]:
    """Apprise loads every service plugin on first use; some import modules Python has
    deprecated (imghdr): not our warning to raise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def apprise_send(url: str, title: str, body: str) -> bool:
    """Send through Apprise."""
    with _quiet_plugins():
        sender = apprise.Apprise()
        if not sender.add(url):
            return False
        return bool(sender.notify(title=title, body=body))


def vapid_keys(folder: Path) -> tuple[Path, str]:
    """The VAPID private key file (made at first start) and the public key a browser
    passes as ``applicationServerKey`` (URL-safe base64 of the raw point)."""
    path = folder / VAPID_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        made = Vapid()
        made.generate_keys()
        made.save_key(str(path))
    key = Vapid.from_file(str(path))
    raw = key.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return path, base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _subscription(url: str) -> dict[str, Any] | None:
    try:
        found = json.loads(url.removeprefix(WEBPUSH))
    except ValueError:
        return None
    keys = found.get("keys") if isinstance(found, dict) else None
    if not isinstance(found, dict) or not isinstance(keys, dict):
        return None
    if not str(found.get("endpoint", "")).startswith(("https://", "http://")):
        return None
    if not isinstance(keys.get("p256dh"), str) or not isinstance(keys.get("auth"), str):
        return None
    return found


def sender(vapid_folder: Path) -> Send:
    """Send through Web Push for ``webpush:`` channels, Apprise for the rest."""

    def send(url: str, title: str, body: str) -> bool:
        if not url.startswith(WEBPUSH):
            return apprise_send(url, title, body)
        subscription = _subscription(url)
        if subscription is None:
            return False
        key_path, _ = vapid_keys(vapid_folder)
        try:
            webpush(
                subscription,
                json.dumps({"title": title, "body": body}),
                vapid_private_key=str(key_path),
                vapid_claims=dict(VAPID_CLAIMS),
                timeout=10.0,
                ttl=3600,
            )
        except WebPushException:
            return False
        return True

    return send


@dataclass(frozen=True)
class Event:
    key: str
    title: str
    body: str
    private: bool
    """Only for the nursing parent and the members they chose (a red flag)."""
    roles: frozenset[Role] = frozenset(Role)


def events(
    insights: Insights, bags_today: Sequence[tuple[str, datetime]], now: datetime
) -> list[Event]:
    """What the household should be told now."""
    found = [
        Event(
            f"flag:{flag.kind}:{flag.side}:{flag.since.isoformat()}",
            f"letdown: {flag.kind.replace('_', ' ')}",
            f"{flag.advice} Why: {flag.why}. Source: {flag.source}.",
            private=True,
        )
        for flag in insights.flags
    ]
    found += [
        Event(
            f"bag:{code}:{use_by.date().isoformat()}",
            f"letdown: bag {code} expires today",
            f"Use bag {code} by {use_by.isoformat(timespec='minutes')} or discard it.",
            private=False,
        )
        for code, use_by in bags_today
    ]
    reminder = insights.reminder
    if reminder is not None and reminder - now <= REMIND_AHEAD:
        found.append(
            Event(
                f"pump:{reminder.isoformat()}",
                "letdown: time to pump",
                f"The plan's next session is at {reminder.strftime('%H:%M')}.",
                private=False,
                roles=frozenset({Role.NURSING_PARENT, Role.PARTNER, Role.CAREGIVER}),
            )
        )
    return found


def _clock(text: str | None) -> time | None:
    return None if text is None else time.fromisoformat(text)


def in_quiet_hours(member: schema.Member, zone: ZoneInfo, now: datetime) -> bool:
    start, end = _clock(member.quiet_from), _clock(member.quiet_until)
    if start is None or end is None:
        return False
    local = now.astimezone(zone).time()
    return start <= local < end if start <= end else local >= start or local < end


def queue(book: Book, found: Sequence[Event], now: datetime) -> int:
    """Queue each event once per live channel of each member it is for; returns how many
    were new."""
    added = 0
    with Session(book.engine) as session, session.begin():
        rows = session.execute(
            select(schema.Channel, schema.Member)
            .join(schema.Member, schema.Member.id == schema.Channel.member_id)
            .where(schema.Member.household_id == book.household.id)
            .where(schema.Channel.dead_at.is_(None))
        ).all()
        for channel, member in rows:
            role = Role(member.role)
            sees = role is Role.NURSING_PARENT or member.sees_private
            for event in found:
                if (event.private and not sees) or role not in event.roles:
                    continue
                known = session.scalar(
                    select(schema.Notice.id).filter_by(channel_id=channel.id, key=event.key)
                )
                if known is None:
                    session.add(
                        schema.Notice(
                            channel_id=channel.id,
                            key=event.key,
                            title=event.title[:200],
                            body=event.body,
                            created_at=now,
                            next_try_at=now,
                        )
                    )
                    added += 1
    return added


def deliver(engine: Engine, now: datetime, send: Send = apprise_send) -> int:
    """Send what is due, outside quiet hours; returns how many were sent."""
    sent = 0
    with Session(engine) as session, session.begin():
        due = session.execute(
            select(schema.Notice, schema.Channel, schema.Member, schema.Household.time_zone)
            .join(schema.Channel, schema.Channel.id == schema.Notice.channel_id)
            .join(schema.Member, schema.Member.id == schema.Channel.member_id)
            .join(schema.Household, schema.Household.id == schema.Member.household_id)
            .where(schema.Notice.sent_at.is_(None))
            .where(schema.Notice.next_try_at <= now)
            .where(schema.Channel.dead_at.is_(None))
            .order_by(schema.Notice.id)
        ).all()
        for notice, channel, member, zone in due:
            if channel.dead_at is not None or in_quiet_hours(member, ZoneInfo(zone), now):
                continue
            try:
                ok = send(channel.url, notice.title, notice.body)
                error = "" if ok else "the service refused or did not answer"
            except Exception as exc:  # a channel's failure is reported, never raised
                ok, error = False, f"{type(exc).__name__}: {exc}"
            notice.attempts += 1
            if ok:
                notice.sent_at = now
                channel.failures = 0
                sent += 1
                continue
            channel.failures += 1
            channel.last_error = error[:1000]
            if channel.failures >= DEAD_AFTER:
                channel.dead_at = now
            wait = RETRY_AFTER[min(notice.attempts - 1, len(RETRY_AFTER) - 1)]
            notice.next_try_at = now + wait
    return sent


@dataclass(frozen=True)
class ChannelView:
    id: int
    member: str
    url: str
    failures: int
    dead_at: datetime | None
    last_error: str


def _mine(book: Book, session: Session) -> list[tuple[schema.Channel, schema.Member]]:
    query = (
        select(schema.Channel, schema.Member)
        .join(schema.Member, schema.Member.id == schema.Channel.member_id)
        .where(schema.Member.household_id == book.household.id)
        .order_by(schema.Channel.id)
    )
    if book.member.role is not Role.NURSING_PARENT:
        query = query.where(schema.Member.id == book.member.id)
    return [(channel, member) for channel, member in session.execute(query).all()]


def channels(book: Book) -> list[ChannelView]:
    """The member's channels (the nursing parent sees the household's), dead ones too."""
    with Session(book.engine) as session:
        return [
            ChannelView(c.id, m.name, _hidden(c.url), c.failures, c.dead_at, c.last_error)
            for c, m in _mine(book, session)
        ]


def _hidden(url: str) -> str:
    """A channel's URL without what may be a secret (user, password, token)."""
    if url.startswith(WEBPUSH):
        subscription = _subscription(url) or {}
        return "webpush:" + _hidden(str(subscription.get("endpoint", "?://?")))
    scheme, _, rest = url.partition("://")
    host = rest.rsplit("@", 1)[-1].split("/", 1)[0]
    return f"{scheme}://{host}/…"


def add_channel(book: Book, url: str, now: datetime) -> ChannelView:
    """A new channel for the book's member; an URL Apprise cannot read is refused."""
    if url.startswith(WEBPUSH):
        known = _subscription(url) is not None
    else:
        with _quiet_plugins():
            known = apprise.Apprise().add(url)
    if not known:
        raise InvalidEntryError(f"{_hidden(url)} is not a notification URL Apprise knows")
    with Session(book.engine) as session, session.begin():
        row = schema.Channel(member_id=book.member.id, url=url, created_at=now)
        session.add(row)
        session.flush()
        return ChannelView(row.id, book.member.name, _hidden(url), 0, None, "")


def set_quiet_hours(book: Book, start: str | None, end: str | None) -> None:
    """The book's member's quiet hours ("22:00", "07:00"), or none."""
    for text in (start, end):
        if text is not None:
            try:
                time.fromisoformat(text)
            except ValueError:
                raise InvalidEntryError(f"quiet hours: {text!r} is not a time like 22:00") from None
    if (start is None) != (end is None):
        raise InvalidEntryError("quiet hours: give both a start and an end, or neither")
    with Session(book.engine) as session, session.begin():
        row = session.get(schema.Member, book.member.id)
        if row is None:
            raise NotFoundError(f"no member {book.member.name}")
        row.quiet_from, row.quiet_until = start, end


def run_once(book: Book, now: datetime, send: Send = apprise_send) -> tuple[int, int]:
    """Queue what the household's insights say now and send what is due: (queued, sent)."""
    insights = for_book(book.as_nursing_parent(), now)
    zone = ZoneInfo(book.household.time_zone)
    today = now.astimezone(zone).date()
    bags = [
        (bag.code, bag.expiry.use_by)
        for bag in book.stash()
        if bag.status == "stored"
        and now < bag.expiry.use_by
        and bag.expiry.use_by.astimezone(zone).date() == today
    ]
    queued = queue(book, events(insights, bags, now), now)
    return queued, deliver(book.engine, now, send)
