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
import hmac
import ipaddress
import json
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import apprise
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from platformdirs import user_data_path
from py_vapid import Vapid
from pywebpush import WebPushException, webpush
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from letdown.errors import InvalidEntryError, NotFoundError
from letdown.insights.household import for_book
from letdown.insights.report import Insights
from letdown.journal import db, schema
from letdown.journal.book import Book
from letdown.journal.records import Role

RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=5))
"""Waits before the second and third tries of a failed send (letdown's choice)."""
DEAD_AFTER = 3
"""Failures in a row after which a channel is reported dead and no longer tried."""
REMIND_AHEAD = timedelta(minutes=10)
""""Time to pump" goes out this long before the plan's next session."""

Send = Callable[[str, str, str, str], bool]
"""Send (url, title, body, key); True when the service took it. ``key`` is the notice's
(``pump:…``, ``session:…``): Web Push uses it to replace an older notice of the same
event on the phone and to open the page it is about."""

WEBPUSH = "webpush:"
"""A Web Push channel's URL: this prefix and the browser's subscription as JSON."""
MAX_CHANNEL_CHARS = 2000
"""The longest channel URL kept (the settings form's limit too). A browser's subscription
is a push service's address and two short keys: a few hundred characters."""
P256DH_BYTES = 65
"""An uncompressed P-256 public key (RFC 8291 section 3.1): the browser's key."""
AUTH_BYTES = 16
"""The browser's authentication secret (RFC 8291 section 3.2)."""
PAGES = {"flag": "/", "bag": "/stash", "pump": "/live", "session": "/live"}
"""The page a notice opens when tapped, by the first part of its key."""
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
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


def apprise_send(url: str, title: str, body: str, key: str = "") -> bool:
    """Send through Apprise (the key is not shown)."""
    with _quiet_plugins():
        sender = apprise.Apprise()
        if not sender.add(url):
            return False
        return bool(sender.notify(title=title, body=body))


def keys_folder() -> Path:
    """Where the Web Push keys live: ``LETDOWN_DATA_FOLDER``, else the user's data folder.
    ``letdown serve`` and ``letdown notify`` must agree: a push signed with another key
    than the one a phone subscribed with is refused by its push service."""
    chosen = os.environ.get("LETDOWN_DATA_FOLDER")
    return Path(chosen) if chosen else user_data_path("letdown", appauthor=False)


def vapid_keys(folder: Path) -> tuple[Path, str]:
    """The VAPID private key file (made at first start) and the public key a browser
    passes as ``applicationServerKey`` (URL-safe base64 of the raw point)."""
    path = folder / VAPID_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        made = Vapid()
        made.generate_keys()
        draft = folder / f".{VAPID_FILE}.{os.getpid()}.{threading.get_ident()}"
        made.save_key(str(draft))
        draft.chmod(0o600)  # the private key: its owner's only
        try:
            # The first key made wins: the app and a cron job starting together, or two
            # first visits, never sign with a key phones did not subscribe with.
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = Vapid.from_file(str(path))
    raw = key.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return path, base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _key_bytes(text: str) -> int:
    """How many bytes a URL-safe base64 key holds, or -1 when it is not one."""
    bare = text.rstrip("=")
    if not _BASE64URL.fullmatch(bare):
        return -1
    try:
        return len(base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4)))
    except ValueError:
        return -1


def check_subscription(found: object) -> dict[str, Any]:
    """A browser's push subscription (``PushSubscription.toJSON()``) made sure of, or
    ``InvalidEntryError`` saying what is wrong with it, in words a member can act on."""
    if not isinstance(found, dict):
        raise InvalidEntryError(
            "the phone's subscription is not what a browser sends: open the settings again"
        )
    endpoint = found.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidEntryError("the phone's subscription has no push service address (endpoint)")
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if not host or not (parts.scheme == "https" or (parts.scheme == "http" and _loopback(host))):
        raise InvalidEntryError(
            f"the push service's address must start with https:// (this one is {_hidden(endpoint)})"
        )
    keys = found.get("keys")
    if not isinstance(keys, dict):
        raise InvalidEntryError("the phone's subscription has no keys (p256dh and auth)")
    for name, size in (("p256dh", P256DH_BYTES), ("auth", AUTH_BYTES)):
        value = keys.get(name)
        if not isinstance(value, str) or _key_bytes(value) != size:
            raise InvalidEntryError(
                f"the phone's subscription has no usable {name} key "
                f"({size} bytes in URL-safe base64 expected)"
            )
    kept = {"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}
    if len(web_push_url(kept)) > MAX_CHANNEL_CHARS:
        raise InvalidEntryError(
            f"the phone's subscription is too long: at most {MAX_CHANNEL_CHARS} characters"
        )
    return kept


def web_push_url(subscription: dict[str, Any]) -> str:
    """The channel URL that keeps a subscription: ``webpush:`` and its JSON."""
    return WEBPUSH + json.dumps(subscription, separators=(",", ":"))


def _subscription(url: str) -> dict[str, Any] | None:
    try:
        return check_subscription(json.loads(url.removeprefix(WEBPUSH)))
    except (ValueError, InvalidEntryError):
        return None


def push_message(title: str, body: str, key: str) -> dict[str, str]:
    """What a Web Push carries (JSON, encrypted to the phone): what the service worker
    (``web/static/sw.js``) shows, the tag that replaces an older notice of the same
    event, and the page a tap opens."""
    return {
        "title": title,
        "body": body,
        "tag": key,
        "url": PAGES.get(key.split(":", 1)[0], "/"),
    }


class ChannelGoneError(Exception):
    """The service says the address is no more: a Web Push subscription that expired or
    was withdrawn (404 or 410, RFC 8030 section 7.3). Its channel is reported dead at
    once: trying again cannot help."""


GONE_STATUSES = (404, 410)


def sender(vapid_folder: Path) -> Send:
    """Send through Web Push for ``webpush:`` channels, Apprise for the rest."""

    def send(url: str, title: str, body: str, key: str = "") -> bool:
        if not url.startswith(WEBPUSH):
            return apprise_send(url, title, body, key)
        subscription = _subscription(url)
        if subscription is None:
            return False
        key_path, _ = vapid_keys(vapid_folder)
        try:
            webpush(
                subscription,
                json.dumps(push_message(title, body, key)),
                vapid_private_key=str(key_path),
                vapid_claims=dict(VAPID_CLAIMS),
                timeout=10.0,
                ttl=3600,
            )
        except WebPushException as exc:
            answered = getattr(exc.response, "status_code", None)
            if answered in GONE_STATUSES:
                raise ChannelGoneError(
                    f"the push service no longer knows this phone (it answered {answered}): "
                    'its notifications were turned off or expired; press "Notify this '
                    'phone" on it again'
                ) from None
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
    not_for: frozenset[str] = frozenset()
    """Members (by name) not told: the one who started a session knows it is theirs."""


def session_event(what: str, session_id: str, started_by: str, detail: str = "") -> Event:
    """A live pump session is nearly done (``nearly_done``) or ended (``ended``): for
    every member but the one who started it."""
    if what == "nearly_done":
        title = "letdown: the session is nearly done"
        body = f"The pump session {started_by} started is nearly done: about a minute to go."
    else:
        title = "letdown: the session has ended"
        body = f"The pump session {started_by} started has ended{detail}."
    return Event(
        f"session:{session_id}:{what}",
        title,
        body,
        private=False,
        not_for=frozenset({started_by}),
    )


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
    return queue_for(book.engine, book.household.id, found, now)


def queue_for(engine: Engine, household_id: int, found: Sequence[Event], now: datetime) -> int:
    """``queue`` for a household known by its id (the live pump hub knows no book)."""
    added = 0
    with Session(engine) as session, session.begin():
        rows = session.execute(
            select(schema.Channel, schema.Member)
            .join(schema.Member, schema.Member.id == schema.Channel.member_id)
            .where(schema.Member.household_id == household_id)
            .where(schema.Channel.dead_at.is_(None))
        ).all()
        for channel, member in rows:
            role = Role(member.role)
            sees = role is Role.NURSING_PARENT or member.sees_private
            for event in found:
                if (
                    (event.private and not sees)
                    or role not in event.roles
                    or member.name in event.not_for
                ):
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
    """Send what is due, outside quiet hours; returns how many were sent.

    What is due is read first, and each outcome written after its send in a short
    transaction of its own: no send ever holds the journal's write lock, so a slow or
    dead channel never makes the pump's session (or anyone's entry) wait to be stored.
    """
    with Session(db.reading(engine)) as session:
        due = [
            (notice.id, channel.id, channel.url, notice.title, notice.body, notice.key)
            for notice, channel, member, zone in session.execute(
                select(schema.Notice, schema.Channel, schema.Member, schema.Household.time_zone)
                .join(schema.Channel, schema.Channel.id == schema.Notice.channel_id)
                .join(schema.Member, schema.Member.id == schema.Channel.member_id)
                .join(schema.Household, schema.Household.id == schema.Member.household_id)
                .where(schema.Notice.sent_at.is_(None))
                .where(schema.Notice.next_try_at <= now)
                .where(schema.Channel.dead_at.is_(None))
                .order_by(schema.Notice.id)
            ).all()
            if not in_quiet_hours(member, ZoneInfo(zone), now)
        ]
    sent = 0
    dead: set[int] = set()
    for notice_id, channel_id, url, title, body, key in due:
        if channel_id in dead:
            continue
        gone = False
        try:
            ok = send(url, title, body, key)
            error = "" if ok else "the service refused or did not answer"
        except ChannelGoneError as exc:
            ok, error, gone = False, str(exc), True
        except Exception as exc:  # a channel's failure is reported, never raised
            ok, error = False, f"{type(exc).__name__}: {exc}"
        with Session(engine) as session, session.begin():
            notice = session.get(schema.Notice, notice_id)
            channel = session.get(schema.Channel, channel_id)
            if notice is None or channel is None:  # the channel was removed meanwhile
                continue
            notice.attempts += 1
            if ok:
                notice.sent_at = now
                channel.failures = 0
                sent += 1
                continue
            channel.failures += 1
            channel.last_error = error[:1000]
            if channel.failures >= DEAD_AFTER or gone:
                channel.dead_at = now
                dead.add(channel_id)
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
    """A new channel for the book's member; an URL Apprise cannot read is refused. A Web
    Push subscription goes through ``add_push``: one channel per phone."""
    if url.startswith(WEBPUSH):
        try:
            found = json.loads(url.removeprefix(WEBPUSH))
        except ValueError:
            raise InvalidEntryError(
                "a webpush: channel is the browser's subscription as JSON after webpush:"
            ) from None
        return add_push(book, found, now)[0]
    with _quiet_plugins():
        known = apprise.Apprise().add(url)
    if not known:
        raise InvalidEntryError(f"{_hidden(url)} is not a notification URL Apprise knows")
    with Session(book.engine) as session, session.begin():
        row = schema.Channel(member_id=book.member.id, url=url, created_at=now)
        session.add(row)
        session.flush()
        return ChannelView(row.id, book.member.name, _hidden(url), 0, None, "")


def _push_row(book: Book, session: Session, endpoint: str) -> schema.Channel | None:
    """The book's member's Web Push channel to ``endpoint`` (one phone's browser)."""
    for row in session.scalars(
        select(schema.Channel)
        .filter_by(member_id=book.member.id)
        .where(schema.Channel.url.startswith(WEBPUSH))
    ):
        found = _subscription(row.url)
        if found is not None and found["endpoint"] == endpoint:
            return row
    return None


def add_push(book: Book, found: object, now: datetime) -> tuple[ChannelView, bool]:
    """Keep a phone's push subscription as the book's member's ``webpush:`` channel;
    (the channel, whether it is new). The same phone again (its push service address)
    updates its channel, and a dead one is tried again: never a second channel."""
    subscription = check_subscription(found)
    url = web_push_url(subscription)
    with Session(book.engine) as session, session.begin():
        row = _push_row(book, session, subscription["endpoint"])
        created = row is None
        if row is None:
            row = schema.Channel(member_id=book.member.id, url=url, created_at=now)
            session.add(row)
        else:
            row.url, row.failures, row.dead_at, row.last_error = url, 0, None, ""
        session.flush()
        return ChannelView(row.id, book.member.name, _hidden(url), 0, None, ""), created


def renew_push(engine: Engine, old: object, new: object) -> int:
    """A push service replaced a phone's subscription (``pushsubscriptionchange`` in the
    service worker): the channel that held ``old`` now holds ``new``; its id.

    The caller is a service worker, with no page's CSRF token and perhaps no login left:
    the old subscription itself is the proof. Its endpoint and keys (the ``auth`` secret
    is known only to that browser and to letdown) must match a kept channel exactly, or
    ``NotFoundError``, which says nothing of which part did not match. Where the member
    already has a channel to the new address (the page subscribed again first), the old
    channel goes and the other is kept, refreshed: still one channel per phone.
    """
    before = check_subscription(old)
    after = check_subscription(new)
    proof = json.dumps(before["keys"], sort_keys=True).encode()
    with Session(engine) as session, session.begin():
        rows = session.scalars(
            select(schema.Channel).where(schema.Channel.url.startswith(WEBPUSH))
        ).all()
        held = None
        for row in rows:
            kept = _subscription(row.url)
            if (
                kept is not None
                and kept["endpoint"] == before["endpoint"]
                and hmac.compare_digest(json.dumps(kept["keys"], sort_keys=True).encode(), proof)
            ):
                held = row
                break
        if held is None:
            raise NotFoundError(
                "letdown does not know this phone's old subscription: open letdown on it "
                'and press "Notify this phone" again'
            )
        twin = next(
            (
                row
                for row in rows
                if row is not held
                and row.member_id == held.member_id
                and (kept := _subscription(row.url)) is not None
                and kept["endpoint"] == after["endpoint"]
            ),
            None,
        )
        if twin is not None:
            for notice in session.scalars(select(schema.Notice).filter_by(channel_id=held.id)):
                session.delete(notice)
            session.flush()
            session.delete(held)
            held = twin
        held.url, held.failures, held.dead_at, held.last_error = web_push_url(after), 0, None, ""
        session.flush()
        return held.id


def push_channel(book: Book, endpoint: str) -> int | None:
    """The id of the book's member's channel to this phone's push address, if any."""
    with Session(book.engine) as session:
        row = _push_row(book, session, endpoint)
        return None if row is None else row.id


def remove_push(book: Book, endpoint: str) -> None:
    """Stop notifying one phone of the book's member (another's: ``NotFoundError``)."""
    channel_id = push_channel(book, endpoint)
    if channel_id is None:
        raise NotFoundError(f"this phone is not one of {book.member.name}'s channels")
    remove_channel(book, channel_id)


def remove_channel(book: Book, channel_id: int) -> None:
    """Remove one of the book's member's own channels, and what it still had to send."""
    with Session(book.engine) as session, session.begin():
        row = session.get(schema.Channel, channel_id)
        if row is None or row.member_id != book.member.id:
            raise NotFoundError(f"{book.member.name} has no channel {channel_id}")
        for notice in session.scalars(select(schema.Notice).filter_by(channel_id=row.id)):
            session.delete(notice)
        session.flush()
        session.delete(row)


def quiet_hours(book: Book) -> tuple[str | None, str | None]:
    """The book's member's quiet hours (start, end), or (None, None)."""
    with Session(book.engine) as session:
        row = session.get(schema.Member, book.member.id)
        return (None, None) if row is None else (row.quiet_from, row.quiet_until)


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
