"""The demo household, and the listening socket that ``letdown serve`` and ``demo`` run on.

``ensure_demo_household`` fills an empty journal with "Demo home": Alex the nursing
parent, Sam the partner and Jo the grandparent (who may only look), their child and a
few weeks of history, so that the app has something to show the moment it opens. The
history is the generated two-year household (``letdown.journal.sample``, which the
journal bench also times) at the rates its functions give (10 feeds a day at first, 8
pump sessions, bags kept and used), with most pump sessions from letdown and the rest
from a hand pump. It is written
through the ``Book`` API on an engine that does not wait for the disk at each commit, as
the bench loads its history, so four weeks take seconds.

``listen`` binds the address before Uvicorn starts, so that a busy port is one clear
error rather than a traceback from inside the server.
"""

from __future__ import annotations

import errno
import os
import random
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from letdown.errors import LetdownError
from letdown.journal import (
    Accounts,
    Book,
    ChildInfo,
    HouseholdInfo,
    Journal,
    MemberInfo,
    PumpSession,
    Role,
    schema,
)
from letdown.journal.accounts import Account
from letdown.journal.records import check_zone, now_utc
from letdown.journal.sample import (
    CHILD,
    DAYS,
    AddStep,
    Step,
    Writer,
    entries_per_day,
    fast_engine,
    plan_household,
)
from letdown.pump.session import LETDOWN
from letdown.recording import DEVICE_NAME
from letdown.twin.cohort import generate_cohort

DEMO_HOUSEHOLD = "Demo home"
DEMO_PASSWORD = "letdown-demo"
DEMO_DAYS = 28
OTHER_PUMP = "hand pump"
OTHER_PUMP_SHARE = 0.25
"""Share of the demo's pump sessions done on another pump (the rest are letdown's)."""


@dataclass(frozen=True)
class DemoLogin:
    login: str
    member: str
    role: Role


PARENT = DemoLogin("parent", "Alex", Role.NURSING_PARENT)
PARTNER = DemoLogin("partner", "Sam", Role.PARTNER)
GRANDPARENT = DemoLogin("grandparent", "Jo", Role.VIEWER)
DEMO_LOGINS = (PARENT, PARTNER, GRANDPARENT)
"""Alex and Sam are the names the bench's generated household writes as."""


@dataclass(frozen=True)
class DemoLogins:
    """What ``ensure_demo_household`` found or made, and the logins that open it.

    ``logins`` are those that work in this journal: all three for a demo household,
    none when the journal held another household already (it is left alone).
    """

    households: tuple[str, ...]
    created: bool
    logins: tuple[DemoLogin, ...]
    password: str = DEMO_PASSWORD
    entries: int = 0
    days: int = 0

    @property
    def message(self) -> str:
        if self.created:
            return (
                f"created the demo household {DEMO_HOUSEHOLD!r}: {self.entries} entries "
                f"over {self.days} days"
            )
        names = ", ".join(repr(name) for name in self.households)
        return f"the journal has a household already ({names}): left as it is"


def _demo_entries() -> int:
    """Entries in two years at the rates the generator's functions give (scale 1)."""
    return round(sum(entries_per_day(age) for age in range(DAYS)))


def ensure_demo_household(
    journal: Journal, *, days: int = DEMO_DAYS, seed: int = 0, now: datetime | None = None
) -> DemoLogins:
    """Make the demo household in an empty journal; leave a journal with a household alone.

    ``days`` of history up to ``now`` (aware; default: the clock), the child born
    ``days`` ago (730: the two-year household of ``letdown bench web``); ``seed`` picks
    the history and the simulated parent whose comfort ceilings letdown's sessions
    remember. Three logins share ``DEMO_PASSWORD``: ``parent`` (Alex), ``partner``
    (Sam) and ``grandparent`` (Jo, a viewer).
    """
    if not 1 <= days <= DAYS:
        raise ValueError(f"days must be within [1, {DAYS}], got {days}")
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be an aware datetime (with its offset)")
    names = tuple(journal.household_names())
    if names:
        return DemoLogins(names, created=False, logins=_working_logins(journal))
    now = now or now_utc()
    zone = _zone()
    born = (now - timedelta(days=days)).astimezone(ZoneInfo(zone)).date()
    # Password hashing (Argon2, a third of a second each) runs beside the planning.
    with ThreadPoolExecutor(1) as worker:
        people = worker.submit(_create_people, journal, zone, born)
        plan = _demo_plan(days, seed, now)
        people.result()
    url = journal.engine.url.render_as_string(hide_password=False)
    with Journal(fast_engine(url)) as loading:
        book = loading.book(DEMO_HOUSEHOLD, PARENT.member)
        writer = _DemoWriter({PARENT.member: book, PARTNER.member: book.as_member(PARTNER.member)})
        entries = sum(writer.play(step) for step in plan)
    return DemoLogins((DEMO_HOUSEHOLD,), True, DEMO_LOGINS, entries=entries, days=days)


def _create_people(journal: Journal, zone: str, born: date) -> None:
    """The household, its members with their logins, and the child."""
    accounts = Accounts(journal.engine)
    accounts.create_household(
        HouseholdInfo(name=DEMO_HOUSEHOLD, time_zone=zone),
        MemberInfo(name=PARENT.member, role=PARENT.role),
        PARENT.login,
        DEMO_PASSWORD,
    )
    book = journal.book(DEMO_HOUSEHOLD, PARENT.member)
    for login in (PARTNER, GRANDPARENT):
        member = book.add_member(MemberInfo(name=login.member, role=login.role))
        accounts.add_login(member.id, login.login, DEMO_PASSWORD)
    book.add_child(ChildInfo(name=CHILD, birth_date=born))


class _DemoWriter(Writer):
    """The bench's writer, playing into the demo household's books."""

    def __init__(self, books: dict[str, Book]) -> None:
        self.books = books
        self.codes: dict[int, str] = {}


def _zone() -> str:
    """TZ if it names an IANA zone, else UTC."""
    name = os.environ.get("TZ", "").removeprefix(":")
    try:
        return check_zone(name)
    except ValueError:
        return "UTC"


def _demo_plan(days: int, seed: int, now: datetime) -> list[Step]:
    """The bench household's first ``days`` days, moved so that the last one ends ``now``.

    Bags whose use is planned after ``now`` stay in the fridge or freezer.
    """
    plan = plan_household(_demo_entries(), seed, now + timedelta(days=DAYS - days), days)
    return _with_devices([step for step in plan if step.at < now], seed)


def _with_devices(plan: list[Step], seed: int) -> list[Step]:
    """Most sessions on letdown, near the simulated parent's comfort; the rest by hand."""
    rng = random.Random(f"demo devices {seed}")
    sides = generate_cohort(1, seed).parents[0].sides
    comfort_mmhg = {"left": sides.left.comfort_mmhg, "right": sides.right.comfort_mmhg}
    return [
        replace(step, record=_pumped_on(step.record, rng, comfort_mmhg))
        if isinstance(step, AddStep) and isinstance(step.record, PumpSession)
        else step
        for step in plan
    ]


def _pumped_on(
    record: PumpSession, rng: random.Random, comfort_mmhg: dict[str, float]
) -> PumpSession:
    data = record.model_dump()
    if rng.random() < OTHER_PUMP_SHARE:
        data.update(device=OTHER_PUMP, program=None, presses=0)
    else:
        for side, pumped in data["sides"].items():
            # Kent's search settles a little below the true comfort limit.
            pumped["comfort_mmhg"] = round(comfort_mmhg[side] - rng.uniform(0, 15), 1)
        length_s = (record.end_at - record.start_at).total_seconds()
        data.update(
            device=DEVICE_NAME,
            program=LETDOWN.name,
            ejections_s=_ejections_s(rng, length_s),
            ended_by="flow_ended",
        )
    return PumpSession.model_validate(data)


def _ejections_s(rng: random.Random, length_s: float) -> tuple[float, ...]:
    """The first milk ejection a minute or two in, then one every few minutes."""
    times: list[float] = []
    at_s = rng.uniform(60, 150)
    while at_s < length_s - 60:
        times.append(round(at_s, 1))
        at_s += rng.uniform(100, 300)
    return tuple(times)


def _working_logins(journal: Journal) -> tuple[DemoLogin, ...]:
    """The demo logins that still open the demo household (none in another journal)."""
    query = (
        select(Account.login)
        .join(schema.Member, schema.Member.id == Account.member_id)
        .join(schema.Household, schema.Household.id == schema.Member.household_id)
        .where(schema.Household.name == DEMO_HOUSEHOLD)
    )
    with Session(journal.engine) as session:
        found = set(session.scalars(query))
    return tuple(login for login in DEMO_LOGINS if login.login in found)


# --- listening ---------------------------------------------------------------------------


class ServeError(LetdownError, OSError):
    """The app cannot listen where it was asked to (a busy port, an unknown address)."""


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` for Uvicorn to serve on, or ``ServeError``."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"cannot listen on {host!r}: {exc.strerror}") from None
    family, kind, proto, _name, address = found[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        where = f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"port {port} is in use on {host} (another letdown, or another program): "
                "stop it, or pick another port with --port"
            ) from None
        if exc.errno == errno.EACCES:
            raise ServeError(f"not allowed to listen on {where}: pick a port above 1023") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ServeError(f"{host} is not an address of this machine") from None
        raise ServeError(f"cannot listen on {where}: {exc.strerror}") from None
    return sock


def address(sock: socket.socket) -> str:
    """The URL to open for a socket from ``listen`` (this machine's, for 0.0.0.0 or ::)."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if sock.family == socket.AF_INET else "::1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


__all__ = [
    "DEMO_HOUSEHOLD",
    "DEMO_LOGINS",
    "DEMO_PASSWORD",
    "GRANDPARENT",
    "PARENT",
    "PARTNER",
    "DemoLogin",
    "DemoLogins",
    "ServeError",
    "address",
    "ensure_demo_household",
    "listen",
]
