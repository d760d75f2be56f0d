"""Notification channels over the API: added per member, quiet hours, dead ones reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.test_notify import Receiver

from letdown.notify import DEAD_AFTER, RETRY_AFTER, run_once

API = "/api/v1"


def _later_quiet_hours() -> dict[str, str]:
    """Quiet hours that start in three hours: the test runs outside them."""
    start = datetime.now(UTC) + timedelta(hours=3)
    return {"start": start.strftime("%H:00"), "end": (start + timedelta(hours=1)).strftime("%H:00")}


def test_a_member_adds_a_channel_and_sees_it_reported_dead(
    app: FastAPI, client: TestClient, partner_client: TestClient
) -> None:
    receiver = Receiver()
    try:
        receiver.failing = 100
        added = client.post(f"{API}/channels", json={"url": receiver.url})
        assert added.status_code == 201, added.text
        assert added.json()["url"].startswith("json://127.0.0.1:")
        bad = client.post(f"{API}/channels", json={"url": "nonsense://"})
        assert bad.status_code == 422 and "Apprise" in bad.json()["detail"]
        quiet = client.put(f"{API}/channels/quiet", json=_later_quiet_hours())
        assert quiet.status_code == 204
        wrong = client.put(f"{API}/channels/quiet", json={"start": "23:00", "end": None})
        assert wrong.status_code == 422
        assert partner_client.get(f"{API}/channels").json() == []  # Sam sees only his own
        symptom = {
            "kind": "symptom",
            "start_at": datetime.now(UTC).isoformat(),
            "fever_c": 39.0,
            "sides": {"left": {"redness": True}},
        }
        assert client.post(f"{API}/entries", json=symptom).status_code == 201
        book = app.state.journal.book()
        at = datetime.now(UTC) + timedelta(minutes=1)
        for _ in range(DEAD_AFTER):
            run_once(book, at)
            at += RETRY_AFTER[-1] + timedelta(minutes=1)
        [channel] = client.get(f"{API}/channels").json()
        assert channel["dead_at"] is not None and channel["failures"] == DEAD_AFTER
        assert receiver.received == []
    finally:
        receiver.close()
