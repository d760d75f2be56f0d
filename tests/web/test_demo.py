"""The demo household: made once in an empty journal, its logins open the app."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from letdown.journal import (
    BottleFeed,
    HouseholdInfo,
    Journal,
    Location,
    MemberInfo,
    PumpSession,
    Role,
)
from letdown.web import Settings, create_app
from letdown.web.demo import (
    DEMO_HOUSEHOLD,
    DEMO_PASSWORD,
    ServeError,
    address,
    ensure_demo_household,
    listen,
)
from letdown.web.deps import CSRF_HEADER

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
DAYS = 7


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(f"sqlite:///{tmp_path / 'letdown.sqlite'}") as opened:
        yield opened


@pytest.fixture
def demo(journal: Journal) -> Journal:
    made = ensure_demo_household(journal, days=DAYS, now=NOW)
    assert made.created
    return journal


def test_an_empty_journal_gets_the_household_its_people_and_weeks_of_history(
    demo: Journal,
) -> None:
    book = demo.book()
    assert book.household.name == DEMO_HOUSEHOLD
    assert [(m.name, m.role) for m in book.members()] == [
        ("Alex", Role.NURSING_PARENT),
        ("Sam", Role.PARTNER),
        ("Jo", Role.VIEWER),
    ]
    [child] = book.children()
    assert child.birth_date == (NOW - timedelta(days=DAYS)).date()
    entries = book.history(limit=10_000)
    assert {entry.kind for entry in entries} == {"nurse", "pump", "bottle", "care", "symptom"}
    assert all(NOW - timedelta(days=DAYS) <= e.record.start_at < NOW for e in entries)
    assert {entry.entered_by for entry in entries} == {"Alex", "Sam"}
    devices = Counter(
        entry.record.device for entry in entries if isinstance(entry.record, PumpSession)
    )
    assert set(devices) == {"letdown", "hand pump"}
    assert devices["letdown"] > devices["hand pump"]
    letdown = [
        e.record
        for e in entries
        if isinstance(e.record, PumpSession) and e.record.device == "letdown"
    ]
    assert all(side.comfort_mmhg for record in letdown for side in record.sides.values())
    assert any(record.ejections_s for record in letdown)
    places = {bag.location for bag in book.stash()}
    assert places == {Location.FRIDGE, Location.FREEZER}
    assert any(isinstance(e.record, BottleFeed) and e.record.bags for e in entries)


def _without_bag_codes(journal: Journal) -> list[dict[str, object]]:
    """Every entry's record; bag codes are drawn at random when a bag is stored."""
    return [
        entry.record.model_dump(exclude={"bags"}) for entry in journal.book().history(limit=10_000)
    ]


def test_the_same_seed_makes_the_same_history(tmp_path: Path, demo: Journal) -> None:
    with Journal.open(f"sqlite:///{tmp_path / 'again.sqlite'}") as again:
        ensure_demo_household(again, days=DAYS, now=NOW)
        assert _without_bag_codes(again) == _without_bag_codes(demo)


def test_a_second_start_leaves_the_household_alone(demo: Journal) -> None:
    before = len(demo.book().history(limit=10_000))
    again = ensure_demo_household(demo, days=DAYS, now=NOW + timedelta(days=3))
    assert not again.created
    assert again.households == (DEMO_HOUSEHOLD,)
    assert "left as it is" in again.message
    assert [login.login for login in again.logins] == ["parent", "partner", "grandparent"]
    assert len(demo.book().history(limit=10_000)) == before


def test_a_journal_with_another_household_is_left_alone(journal: Journal) -> None:
    journal.create_household(HouseholdInfo(name="Home"), MemberInfo(name="me", role=Role.PARTNER))
    made = ensure_demo_household(journal, days=DAYS, now=NOW)
    assert not made.created
    assert made.households == ("Home",)
    assert made.logins == ()
    assert journal.household_names() == ["Home"]
    assert journal.book().history() == []


@pytest.mark.parametrize("days", [0, 731])
def test_the_history_is_one_day_to_two_years(journal: Journal, days: int) -> None:
    with pytest.raises(ValueError, match="days"):
        ensure_demo_household(journal, days=days)
    assert journal.household_names() == []


def test_every_demo_login_opens_the_app_with_its_role(demo: Journal, tmp_path: Path) -> None:
    app = create_app(Settings(db=f"sqlite:///{tmp_path / 'unused.sqlite'}"), journal=demo)
    with TestClient(app) as phone:
        for login, member, role in (
            ("parent", "Alex", "nursing-parent"),
            ("partner", "Sam", "partner"),
            ("grandparent", "Jo", "viewer"),
        ):
            answer = phone.post("/api/v1/login", json={"login": login, "password": DEMO_PASSWORD})
            assert answer.status_code == 200, answer.text
            me = answer.json()
            assert (me["member"], me["household"], me["role"]) == (member, DEMO_HOUSEHOLD, role)
        # Jo, logged in last, may look but not run the pump.
        phone.headers[CSRF_HEADER] = me["csrf_token"]
        assert phone.get("/", headers={"Accept": "text/html"}).status_code == 200
        assert phone.post("/api/v1/pump/start", json={}).status_code == 403
        wrong = phone.post("/api/v1/login", json={"login": "parent", "password": "letdown"})
        assert wrong.status_code == 401


def test_a_busy_port_is_one_clear_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(ServeError, match=f"port {port} is in use"):
            listen("127.0.0.1", port)


def test_listen_gives_the_address_to_open() -> None:
    with listen("127.0.0.1", 0) as sock:
        assert address(sock) == f"http://127.0.0.1:{sock.getsockname()[1]}"
    with listen("0.0.0.0", 0) as everywhere:
        assert address(everywhere).startswith("http://127.0.0.1:")
