"""Web fixtures: an app on a throwaway SQLite journal, and logged-in clients.

``client`` runs the app's lifespan (the journal, the accounts, the live hub) for the
test; it is Alex, the nursing parent of household "Home", logged in with the session
cookie and sending the CSRF token with every request. Other members' clients
(``member_client("partner")``, ``partner_client``, ``viewer_client``) and
``other_household_client`` share that running app: they are never entered with
``with``, which would run the lifespan a second time and replace the hub.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from letdown.journal import Accounts, HouseholdInfo, MemberInfo, Role, accounts
from letdown.web import Settings, create_app
from letdown.web import pump as pump_routes
from letdown.web.deps import CSRF_HEADER

PASSWORD = "correct horse"
SIM_SPEED = 50.0
"""Simulated seconds per wall second: sessions in tests run fast, still paced."""


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap Argon2 for tests: each login costs a millisecond instead of a second."""
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        db=f"sqlite:///{tmp_path / 'letdown.sqlite'}",
        sim_speed=SIM_SPEED,
        data_folder=tmp_path / "data",  # the Web Push keys: never the user's own
    )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    built = create_app(settings)
    if not any(getattr(route, "path", None) == "/live" for route in built.routes):
        built.include_router(pump_routes.pages_router)
    return built


def logged_in(app: FastAPI, login: str, password: str = PASSWORD) -> TestClient:
    """A client of the running app, logged in as ``login``, with its CSRF token set."""
    other = TestClient(app)
    response = other.post("/api/v1/login", json={"login": login, "password": password})
    assert response.status_code == 200, response.text
    other.headers[CSRF_HEADER] = response.json()["csrf_token"]
    return other


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """Alex (nursing parent) of "Home", logged in; the app runs for the test."""
    with TestClient(app) as alex:
        response = alex.post(
            "/api/v1/setup",
            json={
                "household": "Home",
                "name": "Alex",
                "role": Role.NURSING_PARENT.value,
                "login": "alex",
                "password": PASSWORD,
            },
        )
        assert response.status_code == 201, response.text
        alex.headers[CSRF_HEADER] = response.json()["csrf_token"]
        yield alex


@pytest.fixture
def member_client(app: FastAPI, client: TestClient) -> Callable[..., TestClient]:
    """Invite a member of Alex's household with ``role`` and log them in."""

    def make(role: str, name: str | None = None) -> TestClient:
        name = name or role.capitalize()
        invite = client.post("/api/v1/invites", json={"role": role})
        assert invite.status_code == 201, invite.text
        member = TestClient(app)
        accepted = member.post(
            f"/api/v1/invites/{invite.json()['token']}/accept",
            json={"name": name, "login": name.lower(), "password": PASSWORD},
        )
        assert accepted.status_code == 201, accepted.text
        member.headers[CSRF_HEADER] = accepted.json()["csrf_token"]
        return member

    return make


@pytest.fixture
def partner_client(member_client: Callable[..., TestClient]) -> TestClient:
    """Sam, Alex's partner."""
    return member_client(Role.PARTNER.value, "Sam")


@pytest.fixture
def viewer_client(member_client: Callable[..., TestClient]) -> TestClient:
    """Gran, who may only look."""
    return member_client(Role.VIEWER.value, "Gran")


@pytest.fixture
def other_household_client(app: FastAPI, client: TestClient) -> TestClient:
    """Jo, nursing parent of a second household, "Elsewhere"."""
    accounts: Accounts = app.state.accounts
    accounts.create_household(
        HouseholdInfo(name="Elsewhere"),
        MemberInfo(name="Jo", role=Role.NURSING_PARENT),
        "jo",
        PASSWORD,
    )
    return logged_in(app, "jo")
