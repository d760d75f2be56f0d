"""Notifications from the running app: a session nearly done or ended reaches the members
who did not start it, once; and the app runs ``letdown notify run`` by itself.

Each member's channel is an Apprise ``json://`` URL on a loopback receiver (as in
tests/test_notify.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.test_notify import Receiver
from tests.web.test_pump_api import PUMP, QUICK, wait_for

from letdown.web import notices
from letdown.web.live import LiveHub

WAIT_S = 15.0
CHANNELS = "/api/v1/channels"


@pytest.fixture
def alexs() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def sams() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def wait_titles(receiver: Receiver, count: int) -> list[str]:
    deadline = time.monotonic() + WAIT_S
    while len(receiver.received) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"only {receiver.titles()} arrived, {count} awaited")
        time.sleep(0.05)
    return receiver.titles()


def test_a_session_nearly_done_and_ended_reaches_whoever_did_not_start_it_once(
    app: FastAPI,
    client: TestClient,
    partner_client: TestClient,
    alexs: Receiver,
    sams: Receiver,
) -> None:
    hub: LiveHub = app.state.hub
    hub.add_program(QUICK)
    assert client.post(CHANNELS, json={"url": alexs.url}).status_code == 201
    assert partner_client.post(CHANNELS, json={"url": sams.url}).status_code == 201

    # Sam starts the pump: Alex hears it is nearly done, then that it ended; Sam does not.
    started = partner_client.post(f"{PUMP}/start", json={"program": "quick"})
    assert started.status_code == 201, started.text
    wait_for(client, lambda s: not s["running"] and s["journal_entry_id"] is not None)
    titles = wait_titles(alexs, 2)
    assert titles == ["letdown: the session is nearly done", "letdown: the session has ended"]
    ended = alexs.received[1]["message"]
    assert "Sam started has ended; collected left" in ended
    time.sleep(0.5)  # anything more (a duplicate, a notice to Sam) would have come by now
    assert len(alexs.received) == 2
    assert sams.received == []

    # Alex's own session: Sam is told, Alex is not.
    assert client.post(f"{PUMP}/start", json={"program": "quick"}).status_code == 201
    assert client.post(f"{PUMP}/stop").status_code == 200
    wait_for(client, lambda s: not s["running"])
    assert wait_titles(sams, 1) == ["letdown: the session has ended"]
    assert "Alex started" in sams.received[0]["message"]
    time.sleep(0.5)
    assert len(alexs.received) == 2 and len(sams.received) == 1


class SlowReceiver(Receiver):
    """A channel that takes its time to answer (a phone's service on a bad line)."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        handler = self.server.RequestHandlerClass
        original = handler.do_POST  # type: ignore[attr-defined]

        def slow(this: Any) -> None:
            time.sleep(delay_s)
            original(this)

        handler.do_POST = slow  # type: ignore[attr-defined]


def test_a_slow_channel_never_holds_the_pump_back(
    app: FastAPI, client: TestClient, partner_client: TestClient
) -> None:
    hub: LiveHub = app.state.hub
    hub.add_program(QUICK)
    slow = SlowReceiver(delay_s=3.0)
    try:
        assert client.post(CHANNELS, json={"url": slow.url}).status_code == 201
        assert partner_client.post(f"{PUMP}/start", json={"program": "quick"}).status_code == 201
        # The session (0.6 s of wall time at 50x) ends and is stored in the journal while
        # the channel still sits on its first notice (3 s to answer).
        wait_for(client, lambda s: not s["running"] and s["journal_entry_id"] is not None)
        assert slow.received == []
        assert wait_titles(slow, 2) == [
            "letdown: the session is nearly done",
            "letdown: the session has ended",
        ]
    finally:
        slow.close()


@pytest.fixture
def every_half_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's minute, shortened (set before the app starts)."""
    monkeypatch.setattr(notices, "PERIOD_S", 0.5)


def test_the_app_sends_what_notify_run_sends_by_itself(
    every_half_second: None,
    app: FastAPI,
    client: TestClient,
    partner_client: TestClient,
    alexs: Receiver,
    sams: Receiver,
) -> None:
    assert client.post(CHANNELS, json={"url": alexs.url}).status_code == 201
    assert partner_client.post(CHANNELS, json={"url": sams.url}).status_code == 201
    fever = {
        "kind": "symptom",
        "start_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "fever_c": 38.9,
        "sides": {"left": {"redness": True}},
    }
    assert client.post("/api/v1/entries", json=fever).status_code == 201
    assert wait_titles(alexs, 1) == ["letdown: fever with breast signs"]
    time.sleep(1.5)  # three more runs: the flag is not sent again, nor to Sam (not chosen)
    assert len(alexs.received) == 1
    assert sams.received == []
