"""Notifications through Apprise to a receiver on loopback (json://127.0.0.1:PORT).

A red flag reaches the nursing parent once however often the queue runs, and never an
unchosen partner; a failed send is retried and then arrives once; quiet hours hold a
notice until they end; a channel that keeps failing is reported dead and skipped.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from typer.testing import CliRunner

from letdown import cli
from letdown.cli import _common
from letdown.journal import Book, HouseholdInfo, Journal, MemberInfo, Role
from letdown.journal.records import Symptom, validate
from letdown.notify import (
    DEAD_AFTER,
    RETRY_AFTER,
    WEBPUSH,
    add_channel,
    channels,
    run_once,
    sender,
    set_quiet_hours,
    vapid_keys,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
"""13:00 in Paris."""


class Receiver:
    """An HTTP server on loopback that keeps what Apprise posts; fails while told to."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.pushed: list[tuple[dict[str, str], bytes]] = []
        self.failing = 0
        self.gone = False
        """Answer pushes as a push service does for a subscription that expired (410)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.failing:
                    receiver.failing -= 1
                    self.send_response(500)
                elif receiver.gone and self.headers.get("Content-Encoding") == "aes128gcm":
                    self.send_response(410)
                elif self.headers.get("Content-Encoding") == "aes128gcm":
                    headers = {key.lower(): value for key, value in self.headers.items()}
                    receiver.pushed.append((headers, body))
                    self.send_response(201)  # a push service's "created"
                else:
                    receiver.received.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/notify"

    def titles(self) -> list[str]:
        return [str(message["title"]) for message in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[str, Book]]:
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    with Journal.open(url) as journal:
        book = journal.create_household(
            HouseholdInfo(name="Home", time_zone="Europe/Paris"),
            MemberInfo(name="Alex", role=Role.NURSING_PARENT),
        )
        book.add_member(MemberInfo(name="Sam", role=Role.PARTNER))
        book.add(
            validate(
                Symptom,
                {
                    "start_at": NOW - timedelta(hours=1),
                    "fever_c": 38.8,
                    "sides": {"right": {"lump": True}},
                },
            )
        )
        yield url, book


def test_a_red_flag_reaches_the_parent_once_and_not_an_unchosen_partner(
    home: tuple[str, Book], receiver: Receiver
) -> None:
    _, alex = home
    sam = alex.as_member("Sam")
    other = Receiver()
    try:
        add_channel(alex, receiver.url, NOW)
        add_channel(sam, other.url, NOW)
        add_channel(alex, other.url, NOW)  # a second channel of Alex's gets it once too
        for minutes in (0, 1, 30):
            run_once(alex, NOW + timedelta(minutes=minutes))
        assert receiver.titles() == ["letdown: fever with breast signs"]
        assert other.titles() == ["letdown: fever with breast signs"]  # Alex's, not Sam's
        assert "clinician" in receiver.received[0]["message"]
        alex.choose("Sam", True)
        run_once(alex, NOW + timedelta(minutes=31))
        assert other.titles() == ["letdown: fever with breast signs"] * 2  # Sam's now
    finally:
        other.close()


def test_a_failed_send_is_retried_and_arrives_once(
    home: tuple[str, Book], receiver: Receiver
) -> None:
    _, alex = home
    add_channel(alex, receiver.url, NOW)
    receiver.failing = 1
    assert run_once(alex, NOW) == (1, 0)
    assert run_once(alex, NOW + timedelta(seconds=30)) == (0, 0)  # not yet due again
    assert run_once(alex, NOW + RETRY_AFTER[0]) == (0, 1)
    assert run_once(alex, NOW + 2 * RETRY_AFTER[0]) == (0, 0)
    assert receiver.titles() == ["letdown: fever with breast signs"]


def test_quiet_hours_hold_a_notice_until_they_end(
    home: tuple[str, Book], receiver: Receiver
) -> None:
    _, alex = home
    add_channel(alex, receiver.url, NOW)
    set_quiet_hours(alex, "12:30", "14:00")  # Paris time: 13:00 is inside
    assert run_once(alex, NOW) == (1, 0)
    assert receiver.received == []
    assert run_once(alex, NOW + timedelta(hours=1, minutes=5)) == (0, 1)  # 14:05
    assert receiver.titles() == ["letdown: fever with breast signs"]


def test_a_channel_that_keeps_failing_is_reported_dead_and_blocks_nothing(
    home: tuple[str, Book], receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, alex = home
    add_channel(alex, receiver.url, NOW)
    receiver.failing = 100
    at = NOW
    for _ in range(DEAD_AFTER + 2):
        run_once(alex, at)
        at += RETRY_AFTER[-1]
    [channel] = channels(alex)
    assert channel.dead_at is not None and "refused" in channel.last_error
    assert len(alex.history()) == 1  # the journal still reads and writes
    monkeypatch.setattr(_common, "_now", lambda: at)
    result = CliRunner().invoke(cli.app, ["notify", "channels", "--db", url])
    assert result.exit_code == 0, result.output
    assert "DEAD" in result.output and "127.0.0.1" in result.output


def test_a_url_apprise_cannot_read_is_refused(home: tuple[str, Book]) -> None:
    _, alex = home
    result = CliRunner().invoke(
        cli.app, ["notify", "add", "nonsense://", "--db", home[0]], catch_exceptions=False
    )
    assert result.exit_code == 2
    assert "not a notification URL" in result.output
    assert channels(alex) == []


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_web_push_reaches_the_endpoint_once_and_decrypts_to_the_flag(
    home: tuple[str, Book], receiver: Receiver, tmp_path: Path
) -> None:
    """The browser's side is played here: its key pair and auth secret decrypt the push."""
    _, alex = home
    browser_key = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    raw = browser_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    port = receiver.server.server_address[1]
    subscription = {
        "endpoint": f"http://127.0.0.1:{port}/push/alex-phone",
        "keys": {"p256dh": _b64(raw), "auth": _b64(auth)},
    }
    add_channel(alex, WEBPUSH + json.dumps(subscription), NOW)
    send = sender(tmp_path / "keys")
    run_once(alex, NOW, send)
    run_once(alex, NOW + timedelta(minutes=5), send)
    [(headers, body)] = receiver.pushed
    assert headers["authorization"].startswith("vapid t=")
    plain = http_ece.decrypt(body, private_key=browser_key, auth_secret=auth, version="aes128gcm")
    message = json.loads(plain)
    assert message["title"] == "letdown: fever with breast signs"
    assert "clinician" in message["body"]
    # What the service worker (web/static/sw.js) reads: the tag replaces an older notice of
    # the same flag on the phone, and a tap opens the dashboard, where the flag is.
    assert message["tag"].startswith("flag:") and message["url"] == "/"
    _, public = vapid_keys(tmp_path / "keys")
    assert public == vapid_keys(tmp_path / "keys")[1]  # made once, then kept


def test_a_phone_whose_subscription_expired_is_reported_at_once(
    home: tuple[str, Book], receiver: Receiver, tmp_path: Path
) -> None:
    """The push service answers 410 Gone: no retries, the channel says why on its page."""
    _, alex = home
    raw = ec.generate_private_key(ec.SECP256R1()).public_key()
    port = receiver.server.server_address[1]
    subscription = {
        "endpoint": f"http://127.0.0.1:{port}/push/old-phone",
        "keys": {
            "p256dh": _b64(raw.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)),
            "auth": _b64(os.urandom(16)),
        },
    }
    add_channel(alex, WEBPUSH + json.dumps(subscription), NOW)
    receiver.gone = True
    assert run_once(alex, NOW, sender(tmp_path / "keys"))[1] == 0
    [view] = channels(alex)
    assert view.dead_at is not None and view.failures == 1
    assert "no longer knows this phone (it answered 410)" in view.last_error
    assert 'press "Notify this phone" on it again' in view.last_error


def test_the_web_push_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    made = [vapid_keys(tmp_path / "keys")[1] for _ in range(3)]
    assert len(set(made)) == 1
    path, _ = vapid_keys(tmp_path / "keys")
    assert path.stat().st_mode & 0o077 == 0  # no one else on the machine may read it
    assert [p.name for p in (tmp_path / "keys").iterdir()] == [path.name]  # no drafts left
