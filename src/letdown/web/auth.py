"""Accounts over the API: first start, log in and out, invitations, API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from letdown.journal import HouseholdInfo, Identity, MemberInfo, Role, Units, Word
from letdown.journal.accounts import SESSION_TTL
from letdown.web.deps import (
    SESSION_COOKIE,
    AccountsDep,
    IdentityDep,
    LimiterDep,
    SettingsDep,
    WriterDep,
)

router = APIRouter(tags=["accounts"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Setup(_Body):
    household: Annotated[str, Field(min_length=1, max_length=100)]
    time_zone: str = "UTC"
    units: Units = Units.ML
    word: Word = Word.BREAST
    name: Annotated[str, Field(min_length=1, max_length=100, description="your name")]
    role: Role = Role.NURSING_PARENT
    login: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=8, max_length=256)]


class Login(_Body):
    login: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class Me(BaseModel):
    member: str
    household: str
    role: Role
    csrf_token: str | None = Field(
        default=None, description="send as X-CSRF-Token with every change made with the cookie"
    )


class InviteRequest(_Body):
    role: Role = Role.PARTNER


class InviteCreated(BaseModel):
    token: str
    path: str
    role: Role


class Accept(_Body):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    login: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=8, max_length=256)]


class TokenRequest(_Body):
    name: Annotated[str, Field(min_length=1, max_length=100)]


class TokenCreated(BaseModel):
    token: str
    name: str


def _me(who: Identity) -> Me:
    return Me(member=who.member, household=who.household, role=who.role, csrf_token=who.csrf_token)


def start_session(
    response: Response, accounts: AccountsDep, settings: SettingsDep, member_id: int
) -> Identity:
    token, who = accounts.open_session(member_id)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )
    return who


def client_key(request: Request) -> str:
    return f"ip:{request.client.host if request.client else '?'}"


def check_login(
    accounts: AccountsDep, limiter: LimiterDep, request: Request, login: str, password: str
) -> Identity:
    """The member, or 401; 429 after too many failures for this login or this address."""
    keys = (f"login:{login.strip().lower()}", client_key(request))
    wait_s = limiter.retry_after_s(*keys)
    if wait_s > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed logins: try again in {wait_s:.0f} s",
            headers={"Retry-After": str(int(wait_s) + 1)},
        )
    who = accounts.authenticate(login, password)
    if who is None:
        limiter.failed(*keys)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong login or password")
    limiter.succeeded(keys[0])
    return who


@router.post("/setup", status_code=status.HTTP_201_CREATED)
def setup(body: Setup, response: Response, accounts: AccountsDep, settings: SettingsDep) -> Me:
    """First start only: create the household and its first member, and log them in."""
    if accounts.any():
        raise HTTPException(status.HTTP_409_CONFLICT, "letdown is set up already: log in")
    who = accounts.create_household(
        HouseholdInfo(
            name=body.household, time_zone=body.time_zone, units=body.units, word=body.word
        ),
        MemberInfo(name=body.name, role=body.role),
        body.login,
        body.password,
    )
    return _me(start_session(response, accounts, settings, who.member_id))


@router.post("/login")
def login(
    body: Login,
    request: Request,
    response: Response,
    accounts: AccountsDep,
    limiter: LimiterDep,
    settings: SettingsDep,
) -> Me:
    who = check_login(accounts, limiter, request, body.login, body.password)
    return _me(start_session(response, accounts, settings, who.member_id))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response, who: IdentityDep, accounts: AccountsDep) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.close_session(token)
    response.delete_cookie(SESSION_COOKIE)


@router.get("/me")
def me(who: IdentityDep) -> Me:
    return _me(who)


@router.post("/invites", status_code=status.HTTP_201_CREATED)
def invite(body: InviteRequest, who: WriterDep, accounts: AccountsDep) -> InviteCreated:
    """A one-time link into your household, valid for 7 days."""
    token = accounts.create_invite(who, body.role)
    return InviteCreated(token=token, path=f"/invite/{token}", role=body.role)


@router.post("/invites/{token}/accept", status_code=status.HTTP_201_CREATED)
def accept(
    token: str, body: Accept, response: Response, accounts: AccountsDep, settings: SettingsDep
) -> Me:
    who = accounts.accept_invite(token, body.name, body.login, body.password)
    return _me(start_session(response, accounts, settings, who.member_id))


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenRequest, who: IdentityDep, accounts: AccountsDep) -> TokenCreated:
    """An API token acting as you, for scripts (shown once)."""
    return TokenCreated(token=accounts.create_token(who, body.name), name=body.name)
