"""Each member's settings page: their notification channels, quiet hours, and (for the
nursing parent) who sees what is theirs.

Plain forms (the session's CSRF token in each, no JavaScript); the same as the API's
``/channels`` and ``/household/members/{name}/private`` and ``letdown notify``. The one
exception is "Notify this phone" (``static/push.js``): subscribing to Web Push needs the
browser's script, so it posts the phone's subscription as JSON to ``/settings/push``
(the CSRF token in the ``X-CSRF-Token`` header), where it becomes the member's
``webpush:`` channel: one per phone. When the phone's push service replaces that
subscription, the service worker (``static/sw.js``) posts the old and the new one to
``/settings/push/renew``.
"""

from __future__ import annotations

import json
from pathlib import Path as FolderPath
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from letdown import notify
from letdown.errors import InvalidEntryError, LetdownError
from letdown.journal import Book, Role
from letdown.journal.accounts import Identity
from letdown.journal.records import now_utc
from letdown.web.api import MAX_ID
from letdown.web.deps import BookDep, IdentityDep, JournalDep, SettingsDep
from letdown.web.pages import done, page

router = APIRouter(include_in_schema=False)
HERE = "/settings"


def _settings(
    request: Request,
    who: Identity,
    book: Book,
    status_code: int = 200,
    error: str | None = None,
    url: str = "",
) -> HTMLResponse:
    start, end = notify.quiet_hours(book)
    mine = [found for found in notify.channels(book) if found.member == book.member.name]
    parent = book.member.role is Role.NURSING_PARENT
    others = [m for m in book.members() if m.role is not Role.NURSING_PARENT] if parent else []
    return page(
        request,
        "settings.html",
        who,
        book,
        status_code=status_code,
        channels=mine,
        quiet_start=start or "",
        quiet_end=end or "",
        parent=parent,
        others=others,
        error=error,
        url=url,
        vapid_key=_vapid_public_key(request),
    )


def _vapid_public_key(request: Request) -> str:
    """The Web Push public key a phone subscribes with (the keys are made at first use)."""
    known: str | None = getattr(request.app.state, "vapid_public_key", None)
    if known is None:
        folder: FolderPath = request.app.state.data_folder
        known = notify.vapid_keys(folder)[1]
        request.app.state.vapid_public_key = known
    return known


@router.get(HERE, response_class=HTMLResponse)
def settings_page(request: Request, who: IdentityDep, book: BookDep) -> Response:
    """Your notification channels and quiet hours; the nursing parent's choices."""
    return _settings(request, who, book)


@router.post(f"{HERE}/channels", response_class=HTMLResponse)
def add_channel(
    request: Request,
    who: IdentityDep,
    book: BookDep,
    settings: SettingsDep,
    url: Annotated[str, Form(max_length=2000)],
) -> Response:
    try:
        added = notify.add_channel(book, url.strip(), now_utc())
    except LetdownError as exc:
        return _settings(request, who, book, 422, str(exc), url)
    return done(HERE, f"Channel {added.url} added.", settings)


@router.post(f"{HERE}/channels/{{channel_id}}/remove", response_class=HTMLResponse)
def remove_channel(
    channel_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    who: IdentityDep,
    book: BookDep,
    settings: SettingsDep,
) -> Response:
    notify.remove_channel(book, channel_id)  # someone else's: 404
    return done(HERE, "Channel removed.", settings)


@router.post(f"{HERE}/quiet", response_class=HTMLResponse)
def set_quiet(
    request: Request,
    who: IdentityDep,
    book: BookDep,
    settings: SettingsDep,
    start: Annotated[str, Form(max_length=5)] = "",
    end: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    try:
        notify.set_quiet_hours(book, start or None, end or None)
    except LetdownError as exc:
        return _settings(request, who, book, 422, str(exc))
    said = f"Quiet hours: {start} to {end}." if start and end else "No quiet hours."
    return done(HERE, said, settings)


@router.post(f"{HERE}/private/{{name}}", response_class=HTMLResponse)
def choose(
    name: str,
    who: IdentityDep,
    book: BookDep,
    settings: SettingsDep,
    sees: Annotated[str, Form(max_length=3)] = "no",
) -> Response:
    """The nursing parent lets a member see what is theirs, or no longer (403 for others)."""
    member = book.choose(name, sees == "yes")
    said = "now sees" if member.sees_private else "no longer sees"
    return done(HERE, f"{member.name} {said} your symptoms, care, pain and red flags.", settings)


async def _posted_json(request: Request) -> Any:
    """The posted JSON, or ``InvalidEntryError`` in words a member can act on."""
    try:
        return json.loads(await request.body())
    except ValueError:
        raise InvalidEntryError(
            "the phone's subscription did not arrive as JSON: reload the page and try again"
        ) from None


def _endpoint(found: Any) -> str:
    endpoint = found.get("endpoint") if isinstance(found, dict) else None
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidEntryError("say which phone: its push service address (endpoint)")
    if len(endpoint) > notify.MAX_CHANNEL_CHARS:
        raise InvalidEntryError("that is not a push service address: it is far too long")
    return endpoint


@router.post(f"{HERE}/push")
async def notify_this_phone(request: Request, who: IdentityDep, book: BookDep) -> Response:
    """Keep this phone's push subscription (``PushSubscription.toJSON()``) as the member's
    ``webpush:`` channel: 201 when new, 200 when this phone had one already."""
    found = await _posted_json(request)
    # The journal is written on a worker thread: a write may wait, the event loop never.
    added, created = await run_in_threadpool(notify.add_push, book, found, now_utc())
    return JSONResponse(
        {"id": added.id, "url": added.url, "on": True},
        status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


@router.post(f"{HERE}/push/renew")
async def renew_this_phone(request: Request, journal: JournalDep) -> Response:
    """The service worker's ``pushsubscriptionchange``: ``{"old": …, "new": …}``, two
    ``PushSubscription.toJSON()``. No login nor CSRF token (a worker has no page, and the
    push service may rotate a subscription weeks after the last login): the old
    subscription's keys are the proof (``notify.renew_push``); 404 when they prove nothing.
    Another site may post here, but cannot know those keys."""
    found = await _posted_json(request)
    if not isinstance(found, dict):
        raise InvalidEntryError('send {"old": subscription, "new": subscription}')
    renewed = await run_in_threadpool(
        notify.renew_push, journal.engine, found.get("old"), found.get("new")
    )
    return JSONResponse({"id": renewed, "on": True})


@router.post(f"{HERE}/push/state")
async def phone_state(request: Request, who: IdentityDep, book: BookDep) -> Response:
    """Whether this phone (by its push address) is one of the member's channels."""
    endpoint = _endpoint(await _posted_json(request))
    channel_id = await run_in_threadpool(notify.push_channel, book, endpoint)
    return JSONResponse({"id": channel_id, "on": channel_id is not None})


@router.post(f"{HERE}/push/remove")
async def stop_notifying_this_phone(request: Request, who: IdentityDep, book: BookDep) -> Response:
    """Remove the member's channel to this phone (a phone that is not theirs: 404)."""
    endpoint = _endpoint(await _posted_json(request))
    await run_in_threadpool(notify.remove_push, book, endpoint)
    return JSONResponse({"on": False})


__all__ = ["router"]
