"""Who is asking and what they may touch: the dependencies every route declares.

A browser proves itself with the session cookie, and for every unsafe method also with
the session's CSRF token (the ``X-CSRF-Token`` header, or a ``csrf`` form field); a
script uses an API token (``Authorization: Bearer ld_…``), which no other site can make
a browser send. Every route reaches the journal through the caller's own household.
"""

from __future__ import annotations

import time
from collections import deque
from functools import partial
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool

from letdown.journal import (
    Accounts,
    Book,
    HouseholdView,
    Identity,
    Journal,
    MemberView,
    Units,
    Word,
)
from letdown.web.settings import Settings

SESSION_COOKIE = "letdown_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_journal(request: Request) -> Journal:
    journal: Journal = request.app.state.journal
    return journal


async def get_accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


SettingsDep = Annotated[Settings, Depends(get_settings)]
JournalDep = Annotated[Journal, Depends(get_journal)]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]


async def optional_identity(request: Request, accounts: AccountsDep) -> Identity | None:
    """The caller, from an API token or the session cookie; None if neither is valid.

    On SQLite it asks the journal on the event loop: one indexed read that never waits
    costs less than the trip to a worker thread and back, and every request makes it.
    Where a read may wait (PostgreSQL), it goes to a worker thread, so that one slow
    lookup never holds up the live pump's feed.
    """
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        lookup = partial(accounts.token_identity, header[7:].strip())
    else:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        lookup = partial(accounts.session_identity, token)
    if accounts.reads_wait:
        return await run_in_threadpool(lookup)
    return lookup()


async def identity(
    request: Request, found: Annotated[Identity | None, Depends(optional_identity)]
) -> Identity:
    """The caller, or 401; a cookie caller's unsafe request also needs its CSRF token."""
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "log in first (or send an API token)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if found.csrf_token is not None and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            value = form.get("csrf")
            sent = value if isinstance(value, str) else None
        if sent != found.csrf_token:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
    return found


IdentityDep = Annotated[Identity, Depends(identity)]


async def writer(who: IdentityDep) -> Identity:
    """The caller, if their role lets them change things (a viewer may only look)."""
    if not who.can_write:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{who.member} is a viewer")
    return who


WriterDep = Annotated[Identity, Depends(writer)]


def book_for(who: Identity, journal: Journal) -> Book:
    """The caller's household book, built from who they are (no query per request)."""
    return Book(
        journal.engine,
        HouseholdView(
            who.household_id,
            who.household,
            who.time_zone,
            Units(who.units),
            Word(who.word),
            who.storage_rules,
        ),
        MemberView(who.member_id, who.member, who.role, who.chosen),
        recent=journal.recent,
        revision=who.revision,
    )


async def get_book(who: IdentityDep, journal: JournalDep) -> Book:
    return book_for(who, journal)


async def get_writer_book(who: WriterDep, journal: JournalDep) -> Book:
    return book_for(who, journal)


BookDep = Annotated[Book, Depends(get_book)]
WriterBookDep = Annotated[Book, Depends(get_writer_book)]


class LoginLimiter:
    """At most ``attempts`` failed logins per ``window_s`` for one login or one address."""

    def __init__(self, attempts: int, window_s: float) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now_s: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now_s - self.window_s:
            failures.popleft()
        return failures

    def retry_after_s(self, *keys: str) -> float:
        """Seconds to wait before another try (0: go ahead)."""
        now_s = time.monotonic()
        wait_s = 0.0
        for key in keys:
            failures = self._recent(key, now_s)
            if len(failures) >= self.attempts:
                wait_s = max(wait_s, failures[0] + self.window_s - now_s)
        return wait_s

    def failed(self, *keys: str) -> None:
        now_s = time.monotonic()
        for key in keys:
            self._recent(key, now_s).append(now_s)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)


async def get_limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


LimiterDep = Annotated[LoginLimiter, Depends(get_limiter)]
