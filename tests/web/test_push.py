"""'Notify this phone': a phone's Web Push subscription posted to /settings/push becomes
the member's one ``webpush:`` channel for that phone; bad ones are refused in words and
keep nothing; only the member can stop their own phone's notifications."""

from __future__ import annotations

import base64
import html
import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from letdown import cli, notify
from letdown.journal import schema
from letdown.web.deps import CSRF_HEADER

PHONE = "https://push.example.test/send/sams-phone"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def subscription(endpoint: str = PHONE) -> dict[str, Any]:
    """What ``PushSubscription.toJSON()`` gives: a push address and the browser's keys."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    raw = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": b64(raw), "auth": b64(os.urandom(16))},
    }


def push_channels(app: FastAPI, name: str) -> list[str]:
    """The member's ``webpush:`` channels as stored (the whole subscription)."""
    book = app.state.journal.book("Home", name)
    with Session(book.engine) as session:
        rows = session.scalars(select(schema.Channel).filter_by(member_id=book.member.id))
        return [row.url for row in rows if row.url.startswith(notify.WEBPUSH)]


def test_a_phone_subscribes_once_and_stops(
    app: FastAPI, client: TestClient, partner_client: TestClient
) -> None:
    first = subscription()
    added = partner_client.post("/settings/push", json=first)
    assert added.status_code == 201, added.text
    assert added.json()["on"] is True
    assert added.json()["url"] == "webpush:https://push.example.test/…"
    [stored] = push_channels(app, "Sam")
    assert json.loads(stored.removeprefix(notify.WEBPUSH))["keys"] == first["keys"]

    # The push service said the phone's subscription expired: the channel is dead...
    book = app.state.journal.book("Home", "Sam")
    with Session(book.engine) as session, session.begin():
        row = session.get(schema.Channel, added.json()["id"])
        assert row is not None
        row.dead_at, row.failures, row.last_error = datetime.now(UTC), 1, "expired"
    # ...the same phone again (a second press, a renewed key): the same channel, working.
    again = subscription()
    repeated = partner_client.post("/settings/push", json=again)
    assert repeated.status_code == 200 and repeated.json()["id"] == added.json()["id"]
    [stored] = push_channels(app, "Sam")
    assert json.loads(stored.removeprefix(notify.WEBPUSH))["keys"] == again["keys"]
    [listed] = partner_client.get("/api/v1/channels").json()
    assert listed["url"] == "webpush:https://push.example.test/…"
    assert listed["dead_at"] is None and listed["failures"] == 0 and listed["last_error"] == ""
    # Through the API's channel URL too, the same phone is one channel.
    api = partner_client.post("/api/v1/channels", json={"url": "webpush:" + json.dumps(again)})
    assert api.status_code == 201 and api.json()["id"] == added.json()["id"]
    assert len(push_channels(app, "Sam")) == 1
    state = partner_client.post("/settings/push/state", json={"endpoint": PHONE})
    assert state.json() == {"id": added.json()["id"], "on": True}

    # Alex cannot stop Sam's phone, nor see it as Alex's.
    refused = client.post("/settings/push/remove", json={"endpoint": PHONE})
    assert refused.status_code == 404
    assert refused.json()["detail"] == "this phone is not one of Alex's channels"
    assert client.post("/settings/push/state", json={"endpoint": PHONE}).json()["on"] is False
    assert len(push_channels(app, "Sam")) == 1

    stopped = partner_client.post("/settings/push/remove", json={"endpoint": PHONE})
    assert stopped.status_code == 200 and stopped.json() == {"on": False}
    assert push_channels(app, "Sam") == []
    assert partner_client.post("/settings/push/remove", json={"endpoint": PHONE}).status_code == 404


def test_a_bad_subscription_is_refused_in_words_and_nothing_is_kept(
    app: FastAPI, client: TestClient
) -> None:
    good = subscription()
    cases: list[tuple[Any, str]] = [
        ("not json {", "did not arrive as JSON"),
        ([1, 2], "is not what a browser sends"),
        ({"keys": good["keys"]}, "has no push service address (endpoint)"),
        ({"endpoint": PHONE}, "has no keys (p256dh and auth)"),
        (
            {"endpoint": PHONE, "keys": {"auth": good["keys"]["auth"]}},
            "has no usable p256dh key (65 bytes in URL-safe base64 expected)",
        ),
        (
            {"endpoint": PHONE, "keys": {**good["keys"], "auth": "not base64!"}},
            "has no usable auth key (16 bytes",
        ),
        (
            {**good, "endpoint": "http://push.example.test/send/1"},
            "must start with https:// (this one is http://push.example.test/…)",
        ),
        ({**good, "endpoint": "ftp://127.0.0.1/x"}, "must start with https://"),
        (
            {**good, "endpoint": PHONE + "/" + "x" * 2000},
            "too long: at most 2000 characters",
        ),
    ]
    for body, said in cases:
        raw = body if isinstance(body, str) else json.dumps(body)
        answer = client.post(
            "/settings/push", content=raw, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 422, (body, answer.text)
        assert said in answer.json()["detail"], (said, answer.json())
    assert push_channels(app, "Alex") == []

    # A push service on this machine (a test's, a self-hosted one) may use plain HTTP.
    for local in ("http://127.0.0.1:8080/push/1", "http://localhost/push/2", "http://[::1]/p"):
        assert client.post("/settings/push", json=subscription(local)).status_code == 201
    assert len(push_channels(app, "Alex")) == 3


def test_a_phone_whose_push_service_replaced_its_subscription_keeps_being_notified(
    app: FastAPI, client: TestClient, partner_client: TestClient
) -> None:
    """The service worker's pushsubscriptionchange: no login, no CSRF token, the old
    subscription's keys as proof; the member's channel then holds the new one."""
    old = subscription()
    added = partner_client.post("/settings/push", json=old).json()
    book = app.state.journal.book("Home", "Sam")
    with Session(book.engine) as session, session.begin():  # the old address expired
        row = session.get(schema.Channel, added["id"])
        assert row is not None
        row.dead_at, row.failures, row.last_error = datetime.now(UTC), 1, "410 gone"
    worker = TestClient(app)  # a service worker's fetch: no page's token, no login needed
    new = subscription("https://push.example.test/send/sams-phone-renewed")

    # Another site (or another phone) knows at most the address, never the old keys.
    guessed = {"endpoint": PHONE, "keys": subscription()["keys"]}
    refused = worker.post("/settings/push/renew", json={"old": guessed, "new": new})
    assert refused.status_code == 404
    assert 'press "Notify this phone" again' in refused.json()["detail"]
    bad = worker.post("/settings/push/renew", json={"old": old, "new": {"endpoint": PHONE}})
    assert bad.status_code == 422 and "has no keys" in bad.json()["detail"]
    [stored] = push_channels(app, "Sam")
    assert json.loads(stored.removeprefix(notify.WEBPUSH)) == {
        "endpoint": PHONE,
        "keys": old["keys"],
    }

    renewed = worker.post("/settings/push/renew", json={"old": old, "new": new})
    assert renewed.status_code == 200, renewed.text
    assert renewed.json() == {"id": added["id"], "on": True}
    [stored] = push_channels(app, "Sam")
    assert json.loads(stored.removeprefix(notify.WEBPUSH))["endpoint"] == new["endpoint"]
    [listed] = partner_client.get("/api/v1/channels").json()
    assert listed["dead_at"] is None and listed["failures"] == 0  # told again from now
    state = partner_client.post("/settings/push/state", json={"endpoint": new["endpoint"]})
    assert state.json()["on"] is True
    # The old subscription proves nothing any more: it was used up.
    again = worker.post("/settings/push/renew", json={"old": old, "new": subscription()})
    assert again.status_code == 404

    # The page subscribed the phone again before the worker got there: still one channel.
    newer = subscription("https://push.example.test/send/sams-phone-3")
    assert partner_client.post("/settings/push", json=newer).status_code == 201
    assert len(push_channels(app, "Sam")) == 2
    late = worker.post("/settings/push/renew", json={"old": new, "new": newer})
    assert late.status_code == 200
    [stored] = push_channels(app, "Sam")
    assert json.loads(stored.removeprefix(notify.WEBPUSH))["keys"] == newer["keys"]
    assert push_channels(app, "Alex") == []


def test_only_the_logged_in_member_with_the_pages_token_subscribes(
    app: FastAPI, client: TestClient
) -> None:
    token = client.headers.pop(CSRF_HEADER)
    no_token = client.post("/settings/push", json=subscription())
    assert no_token.status_code == 403
    stranger = TestClient(app).post("/settings/push", json=subscription())
    assert stranger.status_code == 401
    assert push_channels(app, "Alex") == []

    page = client.get("/settings")
    assert page.status_code == 200
    text = html.unescape(page.text)
    _, public = notify.vapid_keys(app.state.data_folder)
    assert f'data-key="{public}"' in text  # the key this server's pushes are signed with
    assert f'<meta name="csrf-token" content="{token}">' in text
    assert "/static/push.js?v=" in text and "<script>" not in text
    assert "Notify this phone" in text and "docs/https.md" in text


def test_the_cli_signs_with_the_key_the_phone_subscribed_with(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``letdown notify run`` (cron) and the app must share the keys, or every push
    ``notify run`` sends is refused: both read ``LETDOWN_DATA_FOLDER``."""
    page = html.unescape(client.get("/settings").text)
    monkeypatch.setenv("LETDOWN_DATA_FOLDER", str(app.state.data_folder))
    result = CliRunner().invoke(cli.app, ["notify", "vapid"])
    assert result.exit_code == 0, result.output
    assert f'data-key="{result.output.strip()}"' in page
