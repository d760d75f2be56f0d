"""Each member's settings page: their notification channels, quiet hours, and (for the
nursing parent) who sees what is theirs.

Plain forms (the session's CSRF token in each, no JavaScript); the same as the API's
``/channels`` and ``/household/members/{name}/private`` and ``letdown notify``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from letdown import notify
from letdown.errors import LetdownError
from letdown.journal import Book, Role
from letdown.journal.accounts import Identity
from letdown.journal.records import now_utc
from letdown.web.api import MAX_ID
from letdown.web.deps import BookDep, IdentityDep, SettingsDep
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
    )


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


__all__ = ["router"]
