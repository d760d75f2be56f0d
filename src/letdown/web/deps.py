"""Who is asking and what they may touch: the dependencies every route declares.

A browser proves itself with the session cookie, and for every unsafe method also with
the session's CSRF token (the ``X-CSRF-Token`` header, or a ``csrf`` form field); a
script uses an API token (``Authorization: Bearer ld_…``), which no other site can make
a browser send. Every route reaches the journal through the caller's own household.
"""

from __future__ import annotations

import hmac
from functools import partial
from typing import Annotated
from urllib.parse import urlsplit

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
from letdown.web.limiter import LoginLimiter
from letdown.web.settings import Settings
from letdown.web.sockets import Credential, SocketRegistry

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


async def get_sockets(request: Request) -> SocketRegistry:
    sockets: SocketRegistry = request.app.state.sockets
    return sockets


def from_this_site(request: Request) -> bool:
    """Whether a browser sent this from one of this site's own pages.

    ``Sec-Fetch-Site`` says so in every current browser ("none": typed or bookmarked);
    an older one says where it came from in ``Origin``. A request with neither is a
    script's, not a browser's, and cannot carry another site's intent. "same-site" is
    not enough: another service on the same home server is same-site.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin != "null" and urlsplit(origin).netloc == request.headers.get("host")


async def same_origin(request: Request) -> None:
    """403 for a form posted from another site (login CSRF: being logged in as someone else)."""
    if not from_this_site(request):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this form works only from letdown's own pages"
        )


SettingsDep = Annotated[Settings, Depends(get_settings)]
SocketsDep = Annotated[SocketRegistry, Depends(get_sockets)]
SameOrigin = Depends(same_origin)
JournalDep = Annotated[Journal, Depends(get_journal)]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]


def request_credential(request: Request) -> Credential | None:
    """What the request logs in with: an API token (Bearer) or the session cookie."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return Credential("token", header[7:].strip())
    token = request.cookies.get(SESSION_COOKIE)
    return Credential("session", token) if token else None


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
        if sent is None or not hmac.compare_digest(sent.encode(), found.csrf_token.encode()):
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


async def get_limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


LimiterDep = Annotated[LoginLimiter, Depends(get_limiter)]
