"""Accounts over the API: first start, log in and out, password, invitations, API tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from letdown.errors import LetdownError
from letdown.journal import HouseholdInfo, Identity, MemberInfo, Role, Units, Word
from letdown.journal.accounts import MAX_TOKEN_DAYS, SESSION_TTL, TokenInfo
from letdown.web.deps import (
    SESSION_COOKIE,
    AccountsDep,
    IdentityDep,
    LimiterDep,
    SameOrigin,
    SettingsDep,
    SocketsDep,
    WriterDep,
)
from letdown.web.limiter import LoginLimiter

T = TypeVar("T")

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
    days: Annotated[int, Field(ge=1, le=MAX_TOKEN_DAYS)] = Field(
        default=90, description="how long the token works"
    )


class TokenOut(BaseModel):
    """An API token as listed: its id (to revoke it), name and life; never the token."""

    id: str
    name: str
    created_at: datetime
    expires_at: datetime | None


class TokenCreated(BaseModel):
    token: str = Field(description="shown this once: send as Authorization: Bearer …")
    id: str
    name: str
    expires_at: datetime | None


class PasswordChange(_Body):
    current_password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: Annotated[str, Field(min_length=8, max_length=256)]


class PasswordChanged(BaseModel):
    sessions_ended: int = Field(description="your other sessions, now logged out")


def token_out(info: TokenInfo) -> TokenOut:
    return TokenOut(
        id=info.id, name=info.name, created_at=info.created_at, expires_at=info.expires_at
    )


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


def client_address(request: Request) -> str:
    """The caller's address: the socket's peer, or what a configured proxy says it is
    (``Settings.proxy_headers``); never a header from anyone else."""
    return request.client.host if request.client else "?"


def limited(
    limiter: LoginLimiter, request: Request, name: str, attempt: Callable[[], T | None]
) -> T:
    """``attempt()``, counted against ``name`` from this address: 429 when it must wait,
    and its None (a wrong password, say) stays counted as a failure."""
    address = client_address(request)
    wait_s = limiter.try_now(name, address)
    if wait_s > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed tries: try again in {wait_s:.0f} s",
            headers={"Retry-After": str(int(wait_s) + 1)},
        )
    result = attempt()
    if result is not None:
        limiter.succeeded(name, address)
        return result
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong login or password")


def check_login(
    accounts: AccountsDep, limiter: LimiterDep, request: Request, login: str, password: str
) -> Identity:
    """The member, or 401; 429 after too many failures for this login from this address."""
    return limited(limiter, request, login, lambda: accounts.authenticate(login, password))


def accept_limited(
    accounts: AccountsDep,
    limiter: LimiterDep,
    request: Request,
    token: str,
    name: str,
    login: str,
    password: str,
) -> Identity:
    """Join by an invitation; failed tries (a login taken, a spent link) are rate limited,
    so an invitation cannot be used to list every household's logins."""
    failure: list[Exception] = []

    def attempt() -> Identity | None:
        try:
            return accounts.accept_invite(token, name, login, password)
        except (LetdownError, ValueError) as exc:
            failure.append(exc)
            return None

    try:
        return limited(limiter, request, "(invitation)", attempt)
    except HTTPException as exc:
        if failure and exc.status_code == status.HTTP_401_UNAUTHORIZED:
            raise failure[0] from None
        raise


@router.post("/setup", status_code=status.HTTP_201_CREATED, dependencies=[SameOrigin])
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


@router.post("/login", dependencies=[SameOrigin])
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
def logout(
    request: Request,
    response: Response,
    who: IdentityDep,
    accounts: AccountsDep,
    sockets: SocketsDep,
) -> None:
    """End this session; its live sockets close too."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.close_session(token)
        sockets.recheck(who.member_id)
    response.delete_cookie(SESSION_COOKIE)


@router.post("/password")
def change_password(
    body: PasswordChange,
    request: Request,
    who: IdentityDep,
    accounts: AccountsDep,
    limiter: LimiterDep,
    sockets: SocketsDep,
) -> PasswordChanged:
    """A new password (the current one is needed); every other session of yours ends,
    and their live sockets close. API tokens stay: revoke them under ``/tokens``."""
    ended = change_password_limited(
        accounts, limiter, request, who, body.current_password, body.new_password
    )
    sockets.recheck(who.member_id)
    return PasswordChanged(sessions_ended=ended)


def change_password_limited(
    accounts: AccountsDep,
    limiter: LimiterDep,
    request: Request,
    who: Identity,
    current: str,
    new: str,
) -> int:
    """Change the password; a wrong current one counts as a failed login (403 with why)."""
    errors: list[Exception] = []

    def attempt() -> int | None:
        try:
            return accounts.change_password(
                who.member_id, current, new, keep_session=request.cookies.get(SESSION_COOKIE)
            )
        except LetdownError as exc:
            errors.append(exc)
            return None

    try:
        return limited(limiter, request, f"(password of {who.member_id})", attempt)
    except HTTPException as exc:
        if errors and exc.status_code == status.HTTP_401_UNAUTHORIZED:
            raise errors[0] from None
        raise


@router.get("/me")
def me(who: IdentityDep) -> Me:
    return _me(who)


@router.post("/invites", status_code=status.HTTP_201_CREATED)
def invite(body: InviteRequest, who: WriterDep, accounts: AccountsDep) -> InviteCreated:
    """A one-time link into your household, valid for 7 days."""
    token = accounts.create_invite(who, body.role)
    return InviteCreated(token=token, path=f"/invite/{token}", role=body.role)


@router.post(
    "/invites/{token}/accept", status_code=status.HTTP_201_CREATED, dependencies=[SameOrigin]
)
def accept(
    token: Annotated[str, Path(max_length=100)],
    body: Accept,
    request: Request,
    response: Response,
    accounts: AccountsDep,
    limiter: LimiterDep,
    settings: SettingsDep,
) -> Me:
    who = accept_limited(accounts, limiter, request, token, body.name, body.login, body.password)
    return _me(start_session(response, accounts, settings, who.member_id))


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenRequest, who: IdentityDep, accounts: AccountsDep) -> TokenCreated:
    """An API token acting as you, for scripts, for ``days`` (the token is shown once)."""
    token, info = accounts.create_token(who, body.name, body.days)
    return TokenCreated(token=token, id=info.id, name=info.name, expires_at=info.expires_at)


@router.get("/tokens")
def list_tokens(who: IdentityDep, accounts: AccountsDep) -> list[TokenOut]:
    """Your API tokens that still work, newest first (never the tokens themselves)."""
    return [token_out(info) for info in accounts.tokens(who.member_id)]


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(
    token_id: Annotated[str, Path(min_length=1, max_length=20)],
    who: IdentityDep,
    accounts: AccountsDep,
    sockets: SocketsDep,
) -> None:
    """The token stops working at once; live sockets opened with it close."""
    accounts.revoke_token(who.member_id, token_id)
    sockets.recheck(who.member_id)
