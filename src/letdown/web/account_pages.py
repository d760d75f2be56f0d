"""Pages for getting in: first start, log in, log out, accept an invitation; and the
member's own account: their password and API tokens.

Plain forms that work without JavaScript; the JSON API in ``auth`` does the same for
scripts.
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from letdown.errors import LetdownError
from letdown.journal import HouseholdInfo, MemberInfo, Role, Units, Word
from letdown.journal.records import describe_error
from letdown.web.auth import (
    accept_limited,
    change_password_limited,
    check_login,
    start_session,
)
from letdown.web.deps import (
    SESSION_COOKIE,
    AccountsDep,
    IdentityDep,
    LimiterDep,
    SameOrigin,
    SettingsDep,
    SocketsDep,
)
from letdown.web.templating import render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an address elsewhere (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _local_zone() -> str:
    return os.environ.get("TZ") or "UTC"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, accounts: AccountsDep, next: str = "/") -> Response:
    if not accounts.any():
        return RedirectResponse("/setup", status.HTTP_303_SEE_OTHER)
    return render(request, "login.html", next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse, dependencies=[SameOrigin])
def login_form(
    request: Request,
    accounts: AccountsDep,
    limiter: LimiterDep,
    settings: SettingsDep,
    login: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    try:
        who = check_login(accounts, limiter, request, login, password)
    except HTTPException as exc:
        return render(
            request,
            "login.html",
            status_code=exc.status_code,
            error=str(exc.detail),
            login=login,
            next=_safe_next(next),
        )
    response = RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)
    start_session(response, accounts, settings, who.member_id)
    return response


@router.post("/logout")
def logout_form(
    request: Request, who: IdentityDep, accounts: AccountsDep, sockets: SocketsDep
) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.close_session(token)
        sockets.recheck(who.member_id)
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/setup", response_class=HTMLResponse)
def setup_page(request: Request, accounts: AccountsDep) -> Response:
    if accounts.any():
        return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    return render(request, "setup.html", form={}, zone=_local_zone())


@router.post("/setup", response_class=HTMLResponse, dependencies=[SameOrigin])
def setup_form(
    request: Request,
    accounts: AccountsDep,
    settings: SettingsDep,
    household: Annotated[str, Form(max_length=100)],
    time_zone: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=100)],
    login: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=256)],
    units: Annotated[Units, Form()] = Units.ML,
    word: Annotated[Word, Form()] = Word.BREAST,
    role: Annotated[Role, Form()] = Role.NURSING_PARENT,
) -> Response:
    if accounts.any():
        return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    form = {"household": household, "time_zone": time_zone, "name": name, "login": login}
    try:
        who = accounts.create_household(
            HouseholdInfo(name=household, time_zone=time_zone, units=units, word=word),
            MemberInfo(name=name, role=role),
            login,
            password,
        )
    except ValidationError as exc:
        return render(
            request,
            "setup.html",
            status_code=422,
            error=describe_error(exc),
            form=form,
            zone=_local_zone(),
        )
    except LetdownError as exc:
        return render(
            request, "setup.html", status_code=422, error=str(exc), form=form, zone=_local_zone()
        )
    response = RedirectResponse("/", status.HTTP_303_SEE_OTHER)
    start_session(response, accounts, settings, who.member_id)
    return response


@router.get("/invite/{token}", response_class=HTMLResponse)
def invite_page(request: Request, token: str, accounts: AccountsDep) -> Response:
    found = accounts.invite_household(token)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this invitation was used or has expired")
    household, role = found
    return render(request, "invite.html", household=household, role=role, form={})


@router.post("/invite/{token}", response_class=HTMLResponse, dependencies=[SameOrigin])
def invite_form(
    request: Request,
    token: str,
    accounts: AccountsDep,
    limiter: LimiterDep,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=100)],
    login: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=256)],
) -> Response:
    found = accounts.invite_household(token)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this invitation was used or has expired")
    household, role = found
    try:
        who = accept_limited(accounts, limiter, request, token, name, login, password)
    except (LetdownError, ValidationError, HTTPException) as exc:
        code = 422
        if isinstance(exc, ValidationError):
            error = describe_error(exc)
        elif isinstance(exc, HTTPException):
            error, code = str(exc.detail), exc.status_code
        else:
            error = str(exc)
        return render(
            request,
            "invite.html",
            status_code=code,
            error=error,
            household=household,
            role=role,
            form={"name": name, "login": login},
        )
    response = RedirectResponse("/", status.HTTP_303_SEE_OTHER)
    start_session(response, accounts, settings, who.member_id)
    return response


# --- the member's own account ------------------------------------------------------------


def _account(
    request: Request,
    who: IdentityDep,
    accounts: AccountsDep,
    status_code: int = 200,
    **context: object,
) -> HTMLResponse:
    return render(
        request,
        "account.html",
        who,
        status_code=status_code,
        tokens=accounts.tokens(who.member_id),
        **context,
    )


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, who: IdentityDep, accounts: AccountsDep) -> Response:
    """Your password and your API tokens."""
    return _account(request, who, accounts)


@router.post("/account/password", response_class=HTMLResponse)
def password_form(
    request: Request,
    who: IdentityDep,
    accounts: AccountsDep,
    limiter: LimiterDep,
    sockets: SocketsDep,
    current_password: Annotated[str, Form(max_length=256)],
    new_password: Annotated[str, Form(max_length=256)],
    again: Annotated[str, Form(max_length=256)],
) -> Response:
    if new_password != again:
        return _account(request, who, accounts, 422, error="the two new passwords differ")
    try:
        ended = change_password_limited(
            accounts, limiter, request, who, current_password, new_password
        )
    except (LetdownError, HTTPException) as exc:
        error = str(exc.detail) if isinstance(exc, HTTPException) else str(exc)
        code = exc.status_code if isinstance(exc, HTTPException) else 403
        if isinstance(exc, LetdownError) and "password:" in error:
            code = 422
        return _account(request, who, accounts, code, error=error)
    sockets.recheck(who.member_id)
    others = f" {ended} other session{'' if ended == 1 else 's'} logged out." if ended else ""
    return _account(request, who, accounts, message=f"Password changed.{others}")


@router.post("/account/tokens", response_class=HTMLResponse)
def token_form(
    request: Request,
    who: IdentityDep,
    accounts: AccountsDep,
    name: Annotated[str, Form(max_length=100)],
    days: Annotated[int, Form(ge=1, le=365)] = 90,
) -> Response:
    try:
        token, info = accounts.create_token(who, name, days)
    except LetdownError as exc:
        return _account(request, who, accounts, 422, error=str(exc))
    return _account(request, who, accounts, new_token=token, new_token_name=info.name)


@router.post("/account/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke_form(
    request: Request,
    token_id: str,
    who: IdentityDep,
    accounts: AccountsDep,
    sockets: SocketsDep,
) -> Response:
    try:
        info = accounts.revoke_token(who.member_id, token_id)
    except LetdownError as exc:
        return _account(request, who, accounts, 404, error=str(exc))
    sockets.recheck(who.member_id)
    return _account(request, who, accounts, message=f"Token {info.name!r} revoked.")
