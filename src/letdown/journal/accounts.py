"""Who may open a household's journal: logins, browser sessions, invitations, API tokens.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106). Every secret
handed out (a session cookie, an invitation link, an API token) is random, shown once,
and stored only as its SHA-256, so a stolen database opens nothing. Every one of them
ends: sessions after 30 days, invitations after 7, API tokens after the days chosen
(at most a year); a member can end their other sessions (by changing their password)
and revoke their tokens at any time.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, ForeignKey, String, bindparam, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from letdown.errors import InvalidEntryError, NotFoundError
from letdown.journal import db, schema
from letdown.journal.book import NotAllowedError, add_household
from letdown.journal.records import HouseholdInfo, MemberInfo, Role, now_utc, validate

MIN_PASSWORD = 8
"""NIST SP 800-63B §3.1.1.2: passwords of at least 8 characters, no other composition rule."""

MAX_PASSWORD = 256
SESSION_TTL = timedelta(days=30)
INVITE_TTL = timedelta(days=7)
TOKEN_DAYS = 90
"""An API token's life unless chosen; at most ``MAX_TOKEN_DAYS``."""
MAX_TOKEN_DAYS = 365
TOKEN_ID_CHARS = 12
"""A token is named in lists and revoked by the start of its hash: not a secret, and
48 bits tell a household's tokens apart."""

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password anyone has")


class Account(schema.Base):
    __tablename__ = "accounts"
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class WebSession(schema.Base):
    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Invite(schema.Base):
    __tablename__ = "invites"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ApiToken(schema.Base):
    __tablename__ = "api_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


@dataclass(frozen=True)
class TokenInfo:
    """An API token as its owner sees it in a list: never the token itself."""

    id: str
    name: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class Identity:
    """Who is asking: a member of one household, with the role that decides what they may do."""

    member_id: int
    member: str
    household_id: int
    household: str
    role: Role
    csrf_token: str | None = None
    time_zone: str = "UTC"
    units: str = "ml"
    word: str = "breast"
    revision: int | None = None
    """The household's revision when this was read (see ``book.RecentCache``)."""
    chosen: bool = False
    """Chosen by the nursing parent to see what is theirs (``MemberView.sees_private``)."""
    storage_rules: str = "cdc"

    @property
    def sees_private(self) -> bool:
        return self.role is Role.NURSING_PARENT or self.chosen

    @property
    def can_write(self) -> bool:
        return self.role is not Role.VIEWER


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidEntryError(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters, please")


def _check_login(login: str) -> str:
    login = login.strip().lower()
    if not 1 <= len(login) <= 100 or any(ch.isspace() for ch in login):
        raise InvalidEntryError("login: 1 to 100 characters, no spaces")
    return login


class Accounts:
    """The account store, in the journal's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reading = db.reading(engine)
        self.reads_wait = engine.dialect.name != "sqlite"
        """A read may wait here on others (PostgreSQL: locks, the network, a reconnect);
        on SQLite in WAL mode a read never waits for a writer."""

    def any(self) -> bool:
        with Session(self.engine) as session:
            return session.scalar(select(Account.member_id).limit(1)) is not None

    def create_household(
        self, info: HouseholdInfo, first: MemberInfo, login: str, password: str
    ) -> Identity:
        """A new household, its first member and their login, in one transaction."""
        login = _check_login(login)
        _check_password(password)
        now = now_utc()
        with Session(self.engine) as session, session.begin():
            self._login_free(session, login)
            _household, member = add_household(session, info, first)
            session.add(
                Account(
                    member_id=member.id,
                    login=login,
                    password_hash=_hasher.hash(password),
                    created_at=now,
                )
            )
            return self._identity(session, member.id)

    def add_login(self, member_id: int, login: str, password: str) -> None:
        """Give an existing member (one made from the CLI, say) a login."""
        login = _check_login(login)
        _check_password(password)
        with Session(self.engine) as session, session.begin():
            if session.get(schema.Member, member_id) is None:
                raise NotFoundError(f"no member {member_id}")
            self._login_free(session, login)
            session.add(
                Account(
                    member_id=member_id,
                    login=login,
                    password_hash=_hasher.hash(password),
                    created_at=now_utc(),
                )
            )

    def authenticate(self, login: str, password: str) -> Identity | None:
        """The member whose login and password these are, or None (same cost either way)."""
        with Session(self.engine) as session, session.begin():
            account = session.scalar(select(Account).filter_by(login=login.strip().lower()))
            try:
                _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                return None
            if account is None:
                return None
            if _hasher.check_needs_rehash(account.password_hash):
                account.password_hash = _hasher.hash(password)
            return self._identity(session, account.member_id)

    def open_session(self, member_id: int) -> tuple[str, Identity]:
        """A new browser session: the cookie value (shown once) and who it is."""
        token = secrets.token_urlsafe(32)
        now = now_utc()
        with Session(self.engine) as session, session.begin():
            session.execute(delete(WebSession).where(WebSession.expires_at < now))
            csrf = secrets.token_urlsafe(32)
            session.add(
                WebSession(
                    token_hash=_digest(token),
                    member_id=member_id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + SESSION_TTL,
                )
            )
            identity = self._identity(session, member_id)
        return token, replace(identity, csrf_token=csrf)

    def session_identity(self, token: str) -> Identity | None:
        """Who holds this session cookie (one prebuilt query: it runs on every request)."""
        with self._reading.connect() as connection:
            found = connection.execute(
                _SESSION_IDENTITY, {"token_hash": _digest(token), "now": now_utc()}
            ).first()
        return None if found is None else _to_identity(*found)

    def close_session(self, token: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))

    def create_invite(self, by: Identity, role: Role) -> str:
        """A one-time invitation into ``by``'s household (the link's secret, shown once)."""
        if by.role not in (Role.NURSING_PARENT, Role.PARTNER):
            raise NotAllowedError("only the nursing parent or a partner can invite")
        if role is Role.NURSING_PARENT and by.role is not Role.NURSING_PARENT:
            raise NotAllowedError("only a nursing parent can invite a nursing parent")
        token = secrets.token_urlsafe(24)
        now = now_utc()
        with Session(self.engine) as session, session.begin():
            session.add(
                Invite(
                    token_hash=_digest(token),
                    household_id=by.household_id,
                    role=role.value,
                    created_by=by.member_id,
                    created_at=now,
                    expires_at=now + INVITE_TTL,
                    used_at=None,
                )
            )
        return token

    def invite_household(self, token: str) -> tuple[str, Role] | None:
        """The household and role an unused, unexpired invitation is for."""
        with Session(self.engine) as session:
            invite = session.get(Invite, _digest(token))
            if invite is None or invite.used_at is not None or invite.expires_at <= now_utc():
                return None
            household = session.get(schema.Household, invite.household_id)
            assert household is not None
            return household.name, Role(invite.role)

    def accept_invite(self, token: str, name: str, login: str, password: str) -> Identity:
        """Join the household the invitation is for; the invitation is then spent."""
        login = _check_login(login)
        _check_password(password)
        member_info = validate(MemberInfo, {"name": name, "role": Role.VIEWER})
        now = now_utc()
        with Session(self.engine) as session, session.begin():
            invite = session.get(Invite, _digest(token), with_for_update=True)
            if invite is None or invite.used_at is not None or invite.expires_at <= now:
                raise NotFoundError("this invitation was used already or has expired")
            self._login_free(session, login)
            taken = session.scalar(
                select(schema.Member.id).filter_by(
                    household_id=invite.household_id, name=member_info.name
                )
            )
            if taken is not None:
                raise InvalidEntryError(f"a member named {member_info.name!r} exists already")
            member = schema.Member(
                household_id=invite.household_id,
                name=member_info.name,
                role=invite.role,
                created_at=now,
            )
            session.add(member)
            session.flush()
            session.add(
                Account(
                    member_id=member.id,
                    login=login,
                    password_hash=_hasher.hash(password),
                    created_at=now,
                )
            )
            invite.used_at = now
            return self._identity(session, member.id)

    def create_token(
        self, by: Identity, name: str, days: int = TOKEN_DAYS
    ) -> tuple[str, TokenInfo]:
        """An API token for scripts, acting as ``by`` for ``days`` (the token, shown once)."""
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidEntryError("name: 1 to 100 characters")
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise InvalidEntryError(f"days: 1 to {MAX_TOKEN_DAYS}")
        token = "ld_" + secrets.token_urlsafe(32)
        now = now_utc()
        row = ApiToken(
            token_hash=_digest(token),
            member_id=by.member_id,
            name=name,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        with Session(self.engine) as session, session.begin():
            session.add(row)
            info = _token_info(row)
        return token, info

    def tokens(self, member_id: int) -> list[TokenInfo]:
        """The member's API tokens that still work, newest first."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(ApiToken)
                .filter_by(member_id=member_id)
                .where(ApiToken.expires_at > now_utc())
                .order_by(ApiToken.created_at.desc())
            )
            return [_token_info(row) for row in rows]

    def revoke_token(self, member_id: int, token_id: str) -> TokenInfo:
        """End one of the member's API tokens at once (by the id ``tokens`` shows)."""
        token_id = token_id.strip().lower()
        if len(token_id) != TOKEN_ID_CHARS or not all(c in "0123456789abcdef" for c in token_id):
            raise NotFoundError(f"no API token {token_id!r}")
        with Session(self.engine) as session, session.begin():
            row = session.scalar(
                select(ApiToken)
                .filter_by(member_id=member_id)
                .where(ApiToken.token_hash.startswith(token_id))
            )
            if row is None:
                raise NotFoundError(f"no API token {token_id!r}")
            info = _token_info(row)
            session.delete(row)
        return info

    def token_identity(self, token: str) -> Identity | None:
        """Who this unexpired API token acts as (one prebuilt query, as for a session)."""
        with self._reading.connect() as connection:
            found = connection.execute(
                _TOKEN_IDENTITY, {"token_hash": _digest(token), "now": now_utc()}
            ).first()
        return None if found is None else _to_identity(*found)

    def identity(self, member_id: int) -> Identity:
        """Who a member is (for the CLI, which acts for them)."""
        with Session(self.engine) as session:
            return self._identity(session, member_id)

    def member_id(self, login: str) -> int:
        """The member who has this login."""
        with Session(self.engine) as session:
            found = session.scalar(select(Account.member_id).filter_by(login=login.strip().lower()))
        if found is None:
            raise NotFoundError(f"no login {login!r}")
        return found

    def change_password(
        self, member_id: int, old: str, new: str, *, keep_session: str | None = None
    ) -> int:
        """A new password, if ``old`` is right; every session but ``keep_session`` ends.

        Returns how many sessions ended. A wrong ``old`` raises NotAllowedError.
        """
        _check_password(new)
        with Session(self.engine) as session, session.begin():
            account = session.get(Account, member_id)
            if account is None:
                raise NotFoundError(f"no login for member {member_id}")
            try:
                _hasher.verify(account.password_hash, old)
            except (VerificationError, InvalidHashError):
                raise NotAllowedError("the current password is not right") from None
            account.password_hash = _hasher.hash(new)
            return self._end_sessions(session, member_id, keep_session)

    def set_password(self, login: str, new: str) -> int:
        """Set a login's password without the old one (the server's owner, from the CLI);
        every session of the member ends. Returns the member's id."""
        _check_password(new)
        with Session(self.engine) as session, session.begin():
            account = session.scalar(select(Account).filter_by(login=login.strip().lower()))
            if account is None:
                raise NotFoundError(f"no login {login!r}")
            account.password_hash = _hasher.hash(new)
            self._end_sessions(session, account.member_id, None)
            return account.member_id

    @staticmethod
    def _end_sessions(session: Session, member_id: int, keep: str | None) -> int:
        query = delete(WebSession).where(WebSession.member_id == member_id)
        if keep is not None:
            query = query.where(WebSession.token_hash != _digest(keep))
        ended = session.execute(query)
        return int(getattr(ended, "rowcount", 0) or 0)

    @staticmethod
    def _login_free(session: Session, login: str) -> None:
        if session.scalar(select(Account.member_id).filter_by(login=login)) is not None:
            raise InvalidEntryError(f"the login {login!r} is taken")

    @staticmethod
    def _identity(session: Session, member_id: int) -> Identity:
        found = session.execute(_MEMBER_IDENTITY, {"member_id": member_id}).first()
        if found is None:
            raise NotFoundError(f"no member {member_id}")
        return _to_identity(*found)


_IDENTITY = select(
    schema.Member.id,
    schema.Member.name,
    schema.Household.id,
    schema.Household.name,
    schema.Member.role,
    schema.Household.time_zone,
    schema.Household.units,
    schema.Household.word,
    schema.Household.revision,
    schema.Member.sees_private,
    schema.Household.storage_rules,
).join(schema.Household, schema.Household.id == schema.Member.household_id)
"""Who a member is, in plain columns: built once, so a request pays for no ORM objects."""

_MEMBER_IDENTITY = _IDENTITY.where(schema.Member.id == bindparam("member_id"))
_TOKEN_IDENTITY = _IDENTITY.join(ApiToken, ApiToken.member_id == schema.Member.id).where(
    ApiToken.token_hash == bindparam("token_hash"), ApiToken.expires_at > bindparam("now")
)
_SESSION_IDENTITY = (
    _IDENTITY.add_columns(WebSession.csrf_token)
    .join(WebSession, WebSession.member_id == schema.Member.id)
    .where(
        WebSession.token_hash == bindparam("token_hash"), WebSession.expires_at > bindparam("now")
    )
)


def _token_info(row: ApiToken) -> TokenInfo:
    return TokenInfo(row.token_hash[:TOKEN_ID_CHARS], row.name, row.created_at, row.expires_at)


def _to_identity(
    member_id: int,
    member: str,
    household_id: int,
    household: str,
    role: str,
    time_zone: str,
    units: str,
    word: str,
    revision: int,
    chosen: bool,
    storage_rules: str,
    csrf_token: str | None = None,
) -> Identity:
    return Identity(
        member_id,
        member,
        household_id,
        household,
        Role(role),
        csrf_token,
        time_zone,
        units,
        word,
        revision,
        bool(chosen),
        storage_rules,
    )
