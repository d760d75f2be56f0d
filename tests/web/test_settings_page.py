"""The settings page: each member's channels (add, remove, dead ones and why), quiet
hours, and the nursing parent's choice of who sees what is theirs; plain forms with the
session's CSRF token."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from letdown import notify
from letdown.web.deps import CSRF_HEADER

RECEIVER = "json://127.0.0.1:9/notify"
"""Port 9 (discard): nothing answers there, which the dead-channel test wants."""


class Browser:
    """A member's browser: forms carry the page's CSRF token, not a header."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = client.headers.pop(CSRF_HEADER)

    def page(self) -> str:
        response = self.client.get("/settings")
        assert response.status_code == 200, response.text
        text = response.text
        forms = re.findall(r"<form method=\"post\" action=\"/settings[^\"]*\"", text)
        assert forms, "no settings form"
        assert text.count(f'name="csrf" value="{self.csrf}"') >= len(forms)
        assert "<script>" not in text  # the CSP allows no inline script
        return html.unescape(text)

    def post(self, path: str, **data: str) -> tuple[int, str]:
        response = self.client.post(path, data={"csrf": self.csrf, **data})
        return response.status_code, html.unescape(response.text)


def test_a_member_adds_and_removes_channels_and_sets_quiet_hours(
    app: FastAPI, client: TestClient, partner_client: TestClient
) -> None:
    alex = Browser(client)
    first = alex.page()
    assert "Web Push" in first and "HTTPS" in first and "localhost" in first
    assert "No channels yet" in first

    code, page = alex.post("/settings/channels", url="not a url")
    assert code == 422 and "not a notification URL Apprise knows" in page
    code, page = alex.post("/settings/channels", url=RECEIVER)
    assert code == 200 and "Channel json://127.0.0.1:9/… added." in page
    assert "working" in page and "No channels yet" not in page
    channel_id = notify.channels(app.state.journal.book("Home", "Alex"))[0].id

    # Sam cannot remove Alex's channel, nor see it on Sam's page.
    sam = Browser(partner_client)
    assert "127.0.0.1:9" not in sam.page()
    assert sam.post(f"/settings/channels/{channel_id}/remove")[0] == 404

    code, page = alex.post("/settings/quiet", start="22:00", end="07:00")
    assert code == 200 and "Quiet hours: 22:00 to 07:00." in page
    assert 'name="start" type="time" value="22:00"' in page
    code, page = alex.post("/settings/quiet", start="25:00", end="07:00")
    assert code == 422 and "is not a time like 22:00" in page
    assert alex.post("/settings/quiet")[1].count("No quiet hours.") == 1

    code, page = alex.post(f"/settings/channels/{channel_id}/remove")
    assert code == 200 and "Channel removed." in page and "No channels yet" in page
    # Without the form's token, nothing changes.
    refused = client.post("/settings/channels", data={"url": RECEIVER})
    assert refused.status_code == 403 and "No channels yet" in alex.page()


def test_a_dead_channel_is_reported_with_why(app: FastAPI, client: TestClient) -> None:
    alex = Browser(client)
    alex.post("/settings/channels", url=RECEIVER)
    book = app.state.journal.book("Home", "Alex")
    now = datetime.now(UTC)
    event = notify.Event("test:1", "letdown: a test", "a test", private=False)
    notify.queue(book, [event], now)

    def refused(url: str, title: str, body: str, key: str) -> bool:
        raise ConnectionRefusedError("connection refused by 127.0.0.1:9")

    for minutes in range(0, 30, 6):
        notify.deliver(book.engine, now + timedelta(minutes=minutes), refused)
    page = alex.page()
    assert "Not working since" in page
    assert "connection refused by 127.0.0.1:9" in page


def test_the_nursing_parent_chooses_who_sees_what_is_theirs(
    client: TestClient, partner_client: TestClient
) -> None:
    alex = Browser(client)
    assert "Sam</strong> (partner): does not see them" in alex.page()
    code, page = alex.post("/settings/private/Sam", sees="yes")
    assert code == 200 and "Sam now sees your symptoms" in page
    assert "Sam</strong> (partner): sees them" in page
    members = client.get("/api/v1/household").json()["members"]
    assert {"name": "Sam", "role": "partner", "sees_private": True} in members
    # Sam's own page has no such choice, and Sam cannot make it.
    sam = Browser(partner_client)
    assert "Who sees what is yours" not in sam.page()
    assert sam.post("/settings/private/Sam", sees="yes")[0] == 403
    code, page = alex.post("/settings/private/Sam", sees="no")
    assert "Sam no longer sees" in page
