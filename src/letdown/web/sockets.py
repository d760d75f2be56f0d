"""Live sockets that end when their login does, and one-time tickets to open them.

A WebSocket is opened once but may stay open for hours: its login is checked again
every ``settings.socket_recheck_s`` and at once when the member logs out, changes their
password or revokes a token (``SocketRegistry.recheck``). A script that cannot set a
header on a WebSocket trades its API token for a ticket (``POST /api/v1/pump/ticket``)
and puts that in the address instead: a ticket works once, for 30 seconds, so the
access logs that keep addresses keep nothing that still opens anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from letdown.journal import Accounts, Identity

TICKET_TTL_S = 30.0
MAX_TICKETS = 10_000


@dataclass(frozen=True)
class Credential:
    """What a socket logged in with: a session cookie or an API token (kept in memory only)."""

    kind: Literal["session", "token"]
    secret: str

    def identity(self, accounts: Accounts) -> Identity | None:
        """Who it is now (None once logged out, expired or revoked)."""
        if self.kind == "session":
            return accounts.session_identity(self.secret)
        return accounts.token_identity(self.secret)


@dataclass(eq=False)
class _Watch:
    loop: asyncio.AbstractEventLoop
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class SocketRegistry:
    """The open sockets per member, so that a logout can reach them at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, set[_Watch]] = {}

    @contextmanager
    def watch(self, member_id: int) -> Iterator[asyncio.Event]:
        """An event set whenever the member's logins change (call in the socket's loop)."""
        watch = _Watch(asyncio.get_running_loop())
        with self._lock:
            self._open.setdefault(member_id, set()).add(watch)
        try:
            yield watch.wake
        finally:
            with self._lock:
                watches = self._open.get(member_id, set())
                watches.discard(watch)
                if not watches:
                    self._open.pop(member_id, None)

    def open_count(self, member_id: int) -> int:
        with self._lock:
            return len(self._open.get(member_id, ()))

    def recheck(self, member_id: int) -> None:
        """Every socket of the member checks its login now (safe from any thread)."""
        with self._lock:
            watches = list(self._open.get(member_id, ()))
        for watch in watches:
            # A socket whose loop has ended has nothing to wake.
            with contextlib.suppress(RuntimeError):
                watch.loop.call_soon_threadsafe(watch.wake.set)


class Tickets:
    """One-time tickets for a WebSocket address, each standing for a credential a moment."""

    def __init__(self, ttl_s: float = TICKET_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._tickets: OrderedDict[str, tuple[float, Credential]] = OrderedDict()

    def issue(self, credential: Credential) -> str:
        ticket = "lt_" + secrets.token_urlsafe(24)
        now_s = time.monotonic()
        with self._lock:
            while self._tickets:
                oldest = next(iter(self._tickets.values()))
                if oldest[0] > now_s and len(self._tickets) < MAX_TICKETS:
                    break
                self._tickets.popitem(last=False)
            self._tickets[_digest(ticket)] = (now_s + self.ttl_s, credential)
        return ticket

    def redeem(self, ticket: str) -> Credential | None:
        """The credential, once: a ticket used or expired opens nothing."""
        with self._lock:
            found = self._tickets.pop(_digest(ticket), None)
        if found is None or found[0] <= time.monotonic():
            return None
        return found[1]


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()
