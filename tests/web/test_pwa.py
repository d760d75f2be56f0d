"""The installable app: manifest, icons, service worker, and quick logs sent twice."""

from __future__ import annotations

import re
import shutil
import struct
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

PAGES = ("/", "/journal", "/stash", "/history", "/charts", "/live")


def test_every_page_links_the_manifest_and_it_describes_the_app(client: TestClient) -> None:
    for path in (*PAGES, "/login"):
        page = client.get(path)
        assert page.status_code == 200, path
        link = re.search(r'<link rel="manifest" href="([^"]+)">', page.text)
        assert link is not None, path
        assert link.group(1) == "/manifest.webmanifest"
    anonymous = TestClient(client.app)
    got = anonymous.get("/manifest.webmanifest")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/manifest+json")
    manifest = got.json()
    assert manifest["name"] == "letdown" and manifest["start_url"] == "/"
    assert manifest["display"] == "standalone"
    sizes = set()
    for icon in manifest["icons"]:
        image = anonymous.get(icon["src"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = struct.unpack(">II", image.content[16:24])
        assert icon["sizes"] == f"{width}x{height}"
        sizes.add(width)
        # Not one flat colour: the drop is drawn on the background.
        idat = image.content.index(b"IDAT")
        (length,) = struct.unpack(">I", image.content[idat - 4 : idat])
        raw = zlib.decompress(image.content[idat + 4 : idat + 4 + length])
        assert len(set(raw)) > 3
    assert {192, 512} <= sizes
    assert anonymous.get("/icons/icon-77.png").status_code == 404


def test_the_service_worker_is_javascript_from_the_package(client: TestClient) -> None:
    anonymous = TestClient(client.app)
    worker = anonymous.get("/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert "__VERSION__" not in worker.text and 'addEventListener("fetch"' in worker.text
    assert "http://" not in worker.text and "https://" not in worker.text  # no CDN
    outbox = anonymous.get("/static/outbox.js")
    assert outbox.status_code == 200 and "indexedDB" in outbox.text


def test_a_changed_static_file_reaches_phones_that_kept_the_old_one(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Phones keep /static files by their stamped address and the worker names its
    # caches after the stamp: a new app.js under the same version number must change it.
    from letdown.web import templating

    def stamps() -> tuple[str, str]:
        page = client.get("/journal").text
        (address,) = re.findall(r"/static/app\.js\?v=([^\"']+)", page)
        worker = client.get("/sw.js").text
        (cache,) = re.findall(r'const VERSION = "([^"]+)"', worker)
        return address, cache

    before = stamps()
    assert before[0] == before[1]
    copy = tmp_path / "static"
    shutil.copytree(templating.STATIC, copy)
    (copy / "app.js").write_text((copy / "app.js").read_text() + "\n// changed\n")
    monkeypatch.setattr(templating, "STATIC", copy)
    templating.asset_stamp.cache_clear()
    try:
        after = stamps()
    finally:
        templating.asset_stamp.cache_clear()
    assert after[0] == after[1] != before[0]


def quick_care(client: TestClient, uid: str, **extra: str) -> None:
    csrf = client.headers["X-CSRF-Token"]
    sent = client.post(
        "/journal/care",
        data={"csrf": csrf, "care": "salve", "side": "left", "client_uid": uid, **extra},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text


def test_a_quick_log_sent_twice_is_one_entry_at_the_time_it_was_made(client: TestClient) -> None:
    uid = str(uuid.uuid4())
    quick_care(client, uid, queued_at="2026-01-01T00:00:00Z")  # too old: now instead
    quick_care(client, uid)
    entries = client.get("/api/v1/entries", params={"kind": "care"}).json()
    assert [entry["uid"] for entry in entries] == [uid]
    assert "Already saved" in client.get("/journal").text

    # A form filled in two hours ago (queued offline) and sent now keeps its own time.
    queued = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    later = str(uuid.uuid4())
    quick_care(client, later, queued_at=queued.isoformat())
    found = client.get(f"/api/v1/entries/{later}").json()
    assert datetime.fromisoformat(found["record"]["start_at"]) == queued


def test_a_stash_bag_sent_twice_is_one_bag(client: TestClient) -> None:
    uid = str(uuid.uuid4())
    csrf = client.headers["X-CSRF-Token"]
    for _ in range(2):
        sent = client.post(
            "/stash/add",
            data={"csrf": csrf, "amount": "120", "location": "fridge", "client_uid": uid},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
    bags = client.get("/api/v1/stash").json()
    assert [bag["uid"] for bag in bags] == [uid]
