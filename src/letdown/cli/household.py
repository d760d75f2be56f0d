"""``letdown household``: set up the household, its members, children and pregnancies."""

# Each command imports what it needs when it runs, so that `letdown --help` starts fast.

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from letdown.cli._common import (
    AUTO_HOUSEHOLD,
    AUTO_MEMBER,
    DbUrl,
    HouseholdName,
    MemberName,
    Notes,
    _choice,
    _local_zone,
    _open_desk,
    _open_journal,
    _opt,
    _say,
)

if TYPE_CHECKING:
    from letdown.journal import Accounts
    from letdown.journal.book import Journal
    from letdown.journal.records import HouseholdInfo, MemberInfo

app = typer.Typer(
    help="The household: members, children, time zone, units and words.", no_args_is_help=True
)


@app.command("init")
def household_init(
    name: Annotated[str, typer.Option("--name", help="The household's name.")],
    member: Annotated[str, typer.Option("--member", help="Your name in the journal.")],
    role: Annotated[
        str, typer.Option("--role", help="nursing-parent, partner, caregiver or viewer.")
    ] = "nursing-parent",
    zone: Annotated[
        str | None,
        _opt("--zone", help="IANA time zone, e.g. Europe/Paris (default: this machine's)."),
    ] = None,
    units: Annotated[str, typer.Option("--units", help="ml or floz (US fluid ounces).")] = "ml",
    word: Annotated[str, typer.Option("--word", help="breast or chest.")] = "breast",
    db_url: DbUrl = None,
) -> None:
    """Set up a household and its first member.

    Run after the journal made "Home" on first use, it renames that one and keeps its entries.
    """
    from letdown.journal.records import HouseholdInfo, MemberInfo, Role, Units, Word, validate

    with _open_journal(db_url, create=True) as journal:
        units_name = {"oz": "floz", "fl oz": "floz", "fl-oz": "floz", "ml": "ml"}.get(
            units.strip().lower(), units
        )
        info = validate(
            HouseholdInfo,
            {
                "name": name,
                "time_zone": zone or _local_zone(),
                "units": _choice(Units, units_name, "units"),
                "word": _choice(Word, word, "word"),
            },
        )
        first = validate(MemberInfo, {"name": member, "role": _choice(Role, role, "role")})
        if _set_up_auto_household(journal, info, first):
            _say(f"set up household {info.name} (made on first use; its entries are kept)")
        else:
            journal.create_household(info, first)
            _say(f"created household {info.name}")
        _say(
            f"zone {info.time_zone}, units {info.units.value}, word {info.word.value}; "
            f"member {first.name} ({first.role.value})"
        )


def _set_up_auto_household(journal: Journal, info: HouseholdInfo, first: MemberInfo) -> bool:
    """Rename the household made on first use, if it is all there is and still untouched.

    The book has no call to rename a household or a member, so this writes the two rows.
    """
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from letdown.journal import schema
    from letdown.journal.book import touch

    if journal.household_names() != [AUTO_HOUSEHOLD]:
        return False
    with Session(journal.engine) as session, session.begin():
        household = session.scalar(select(schema.Household).filter_by(name=AUTO_HOUSEHOLD))
        assert household is not None
        members = list(session.scalars(select(schema.Member).filter_by(household_id=household.id)))
        if [m.name for m in members] != [AUTO_MEMBER]:
            return False
        touch(session, household.id)
        household.name = info.name
        household.time_zone = info.time_zone
        household.units = info.units.value
        household.word = info.word.value
        members[0].name = first.name
        members[0].role = first.role.value
    return True


@app.command("show")
def household_show(
    db_url: DbUrl = None, household: HouseholdName = None, as_member: MemberName = None
) -> None:
    """The household: zone, units, word, members, children and pregnancies."""
    with _open_desk(db_url, household, as_member) as desk:
        place = desk.book.household
        _say(
            f"[bold]{escape(place.name)}[/]: zone {place.time_zone}, units {place.units.value}, "
            f"word {place.word.value}, storage rules {place.storage_rules}",
            markup=True,
        )
        _say("members: " + ", ".join(f"{m.name} ({m.role.value})" for m in desk.book.members()))
        children = desk.book.children()
        _say(
            "children: "
            + (
                ", ".join(
                    c.name + (f" (born {c.birth_date.isoformat()})" if c.birth_date else "")
                    for c in children
                )
                or "none yet"
            )
        )
        pregnancies = desk.book.pregnancies()
        if pregnancies:
            _say(
                "pregnancies: "
                + ", ".join(
                    f"due {p.due_date.isoformat()}" + (f" ({p.notes})" if p.notes else "")
                    for p in pregnancies
                )
            )


@app.command("member")
def household_member(
    name: Annotated[str, typer.Argument(help="The member's name.")],
    role: Annotated[
        str, typer.Option("--role", help="nursing-parent, partner, caregiver or viewer.")
    ],
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Add a member, or give an existing one another role."""
    from letdown.journal.records import MemberInfo, Role, validate

    with _open_desk(db_url, household, as_member) as desk:
        info = validate(MemberInfo, {"name": name, "role": _choice(Role, role, "role")})
        if any(m.name == info.name for m in desk.book.members()):
            desk.book.set_role(info.name, info.role)
            _say(f"{info.name} is now {info.role.value} in {desk.book.household.name}")
        else:
            desk.book.add_member(info)
            _say(f"added {info.name} ({info.role.value}) to {desk.book.household.name}")


def _date(text: str, what: str) -> date:
    from letdown.errors import InvalidEntryError

    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidEntryError(f"{what} {text!r}: give a date as 2026-09-01") from None


@app.command("child")
def household_child(
    name: Annotated[str, typer.Argument(help="The child's name.")],
    born: Annotated[str | None, _opt("--born", help="Birth date, e.g. 2026-09-01.")] = None,
    rename: Annotated[
        str | None, _opt("--rename", help="Correct the name of a child already added.")
    ] = None,
    remove: Annotated[
        bool, typer.Option("--remove", help="Remove a child added by mistake (no entries).")
    ] = False,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Add a child (feeds and bottles name one), or correct or remove one."""
    from letdown.journal.records import ChildInfo, validate

    with _open_desk(db_url, household, as_member) as desk:
        place = desk.book.household.name
        known = {child.name: child for child in desk.book.children()}
        if remove:
            desk.book.remove_child(name)
            _say(f"removed child {name} from {place}")
            return
        birth = None if born is None else _date(born, "born")
        if name in known:
            if rename is None and born is None:
                _say(f"{name} is a child of {place} already (--born or --rename to correct)")
                return
            info = validate(
                ChildInfo,
                {
                    "name": rename or name,
                    "birth_date": birth if born is not None else known[name].birth_date,
                },
            )
            desk.book.edit_child(name, info)
            shown = f", born {info.birth_date.isoformat()}" if info.birth_date else ""
            _say(f"corrected child {info.name}{shown}")
            return
        if rename is not None:
            desk.book.edit_child(name, validate(ChildInfo, {"name": rename}))  # says who is known
        info = validate(ChildInfo, {"name": name, "birth_date": birth})
        desk.book.add_child(info)
        _say(f"added child {info.name} to {place}")


@app.command("pregnancy")
def household_pregnancy(
    due: Annotated[str, typer.Option("--due", help="Due date, e.g. 2027-05-01.")],
    notes: Notes = "",
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Note a pregnancy: nursing while pregnant often lowers supply."""
    from letdown.journal.records import PregnancyInfo, validate

    with _open_desk(db_url, household, as_member) as desk:
        info = validate(PregnancyInfo, {"due_date": _date(due, "due"), "notes": notes})
        desk.book.add_pregnancy(info)
        _say(f"noted a pregnancy due {info.due_date.isoformat()}")


# --- logins: passwords and API tokens (the server's owner, who holds the database) ------

Login = Annotated[str, typer.Argument(help="The member's login.")]


@app.command("password")
def household_password(login: Login, db_url: DbUrl = None) -> None:
    """Set a login's new password (asked twice, not echoed); all its sessions end.

    For the one who runs the server, when a member forgot their password or it leaked.
    A member changes their own on the Account page or with POST /api/v1/password.
    """
    from letdown.journal import Accounts

    new = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    with _open_journal(db_url) as journal:
        Accounts(journal.engine).set_password(login, new)
    _say(f"the password of {login} is changed; every session of theirs is logged out")


@app.command("tokens")
def household_tokens(login: Login, db_url: DbUrl = None) -> None:
    """List a login's API tokens that still work (id, name, made, expires)."""
    from letdown.journal import Accounts

    with _open_journal(db_url) as journal:
        accounts = Accounts(journal.engine)
        tokens = accounts.tokens(_member_of(accounts, login))
    if not tokens:
        _say(f"{login} has no API tokens")
    for token in tokens:
        expires = token.expires_at.date().isoformat() if token.expires_at else "never"
        _say(
            f"{token.id}  {token.name}  made {token.created_at.date().isoformat()}"
            f"  expires {expires}"
        )


@app.command("token-new")
def household_token_new(
    login: Login,
    name: Annotated[str, _opt("--name", help="What the token is for (Home Assistant, …).")],
    days: Annotated[int, _opt("--days", min=1, max=365, help="How long it works.")] = 90,
    db_url: DbUrl = None,
) -> None:
    """Make an API token acting as the login, for ``days``; it is printed once."""
    from letdown.journal import Accounts

    with _open_journal(db_url) as journal:
        accounts = Accounts(journal.engine)
        member_id = _member_of(accounts, login)
        who = accounts.identity(member_id)
        token, info = accounts.create_token(who, name, days)
    expires = info.expires_at.date().isoformat() if info.expires_at else "never"
    _say(f"token {info.id} ({info.name}) for {login}, expires {expires}; shown once:")
    _say(token)


@app.command("token-revoke")
def household_token_revoke(
    login: Login,
    token_id: Annotated[str, typer.Argument(help="The token's id, as `tokens` lists it.")],
    db_url: DbUrl = None,
) -> None:
    """Revoke one of the login's API tokens: it stops working at once."""
    from letdown.journal import Accounts

    with _open_journal(db_url) as journal:
        accounts = Accounts(journal.engine)
        info = accounts.revoke_token(_member_of(accounts, login), token_id)
    _say(f"revoked token {info.id} ({info.name}) of {login}")


def _member_of(accounts: Accounts, login: str) -> int:
    return accounts.member_id(login)


@app.command("rules")
def household_rules(
    rules: Annotated[str, typer.Argument(help="cdc (the default), abm8 (ABM #8, 2017) or nhs.")],
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Follow another milk-storage rule set: every bag in the stash is judged by it."""
    from letdown.journal.stash import rule_set

    with _open_desk(db_url, household, as_member) as desk:
        chosen = rule_set(rules.strip().lower())
        desk.book.set_storage_rules(chosen.key)
        _say(f"{desk.book.household.name} follows {chosen.name} storage rules")
        if chosen.notes:
            _say(f"note: {chosen.notes}")
        for bag in desk.book.stash():
            _say(f"bag {bag.code}: use by {desk.show_time(bag.expiry.use_by)} ({bag.expiry.rule})")


@app.command("private")
def household_private(
    name: Annotated[str, typer.Argument(help="The member's name.")],
    off: Annotated[bool, typer.Option("--off", help="Stop showing them.")] = False,
    db_url: DbUrl = None,
    household: HouseholdName = None,
    as_member: MemberName = None,
) -> None:
    """Let a member see your symptoms, pain, care, pregnancy and red flags (nursing parent)."""
    with _open_desk(db_url, household, as_member) as desk:
        member = desk.book.choose(name, not off)
        _say(
            f"{member.name} {'now sees' if member.sees_private else 'no longer sees'} "
            "symptoms, pain, care, pregnancy and red flags"
        )
