"""The phone app offline, in Chromium: the service worker, quick logs queued and sent once.

Playwright's offline mode (``context.set_offline``) stands for the nursery's lost Wi-Fi.
The server and the logged-in phone-sized page come from ``test_browser``'s fixtures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.test_browser import browser, page, server, shoot, shots

__all__ = ["browser", "page", "server", "shots"]  # the fixtures this module uses

CARE_FORM = "form[action='/journal/care']"


def add_care(page: Any, kind: str, note: str) -> None:
    page.click("#care summary")
    page.select_option(f"{CARE_FORM} select[name=care]", kind)
    page.fill(f"{CARE_FORM} textarea[name=notes], {CARE_FORM} input[name=notes]", note)
    page.click(f"{CARE_FORM} button:has-text('Add care')")


def waiting(page: Any) -> str:
    value: str = page.get_attribute("#outbox", "data-waiting") or "0"
    return value


def care_entries(page: Any) -> list[dict[str, Any]]:
    answer = page.request.get("/api/v1/entries", params={"kind": "care", "limit": "50"})
    assert answer.ok
    found: list[dict[str, Any]] = answer.json()
    return found


def test_quick_logs_made_offline_land_once_when_back(page: Any, shots: Path) -> None:
    page.goto("/journal")
    assert page.evaluate("navigator.serviceWorker.ready.then(r => Boolean(r.active))")
    page.reload()  # now under the service worker, which keeps this page
    assert page.evaluate("Boolean(navigator.serviceWorker.controller)")
    page.goto("/journal")
    before = {entry["uid"] for entry in care_entries(page)}

    page.context.set_offline(True)
    add_care(page, "salve", "offline one")
    page.wait_for_function("document.getElementById('outbox').dataset.waiting === '1'")
    add_care(page, "cold-compress", "offline two")
    page.wait_for_function("document.getElementById('outbox').dataset.waiting === '2'")
    assert "waiting on this phone" in page.inner_text("#outbox")

    page.reload()  # the page comes from the phone, and the queue is still there
    page.wait_for_function("document.getElementById('outbox').dataset.waiting === '2'")
    add_care(page, "salve", "offline three")
    page.wait_for_function("document.getElementById('outbox').dataset.waiting === '3'")
    shoot(page, shots, "offline-quick-log")
    # Nothing has reached the server yet (Playwright's own requests are not offline).
    assert not [entry for entry in care_entries(page) if entry["uid"] not in before]

    page.context.set_offline(False)
    page.wait_for_function("document.getElementById('outbox').hidden")
    assert waiting(page) == "0"
    landed = [entry for entry in care_entries(page) if entry["uid"] not in before]
    assert sorted(entry["record"]["notes"] for entry in landed) == [
        "offline one",
        "offline three",
        "offline two",
    ]

    # The same uid sent again (a second tab, a retry after a lost answer): still one.
    again = landed[0]
    page.evaluate(
        """(item) => letdownOutbox.put({uid: item.uid, action: '/journal/care',
            body: new URLSearchParams({csrf: document.querySelector('meta[name=csrf-token]')
              .content, care: 'salve', notes: 'again', client_uid: item.uid}).toString(),
            label: 'care', queuedAt: new Date().toISOString()})""",
        again,
    )
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_function("document.getElementById('outbox').hidden")
    after = [entry for entry in care_entries(page) if entry["uid"] not in before]
    assert len(after) == 3 and len({entry["uid"] for entry in after}) == 3


def test_the_live_page_says_plainly_when_the_connection_is_lost(page: Any) -> None:
    page.goto("/live")
    page.wait_for_function("document.getElementById('link').textContent === 'Live'")
    assert page.is_hidden("#connection")
    page.context.set_offline(True)
    page.wait_for_selector("#connection", state="visible")
    assert "Connection lost" in page.inner_text("#connection")
    assert "not live" in page.inner_text("#connection")
    page.context.set_offline(False)
    page.wait_for_selector("#connection", state="hidden")
    page.wait_for_function("document.getElementById('link').textContent === 'Live'")


def test_a_quick_log_lost_on_the_way_waits_in_the_outbox(page: Any) -> None:
    """The phone thinks it is online, but the server does not answer: the service worker
    keeps the form, the log opens from the phone, and the form is sent later, once."""
    page.goto("/journal")
    assert page.evaluate("navigator.serviceWorker.ready.then(r => Boolean(r.active))")
    page.reload()
    assert page.evaluate("Boolean(navigator.serviceWorker.controller)")
    before = {entry["uid"] for entry in care_entries(page)}
    page.context.route("**/journal/care", lambda route: route.abort())
    add_care(page, "salve", "lost on the way")
    page.wait_for_url("**/journal?queued=1")
    page.wait_for_function("document.getElementById('outbox').dataset.waiting === '1'")
    page.context.unroute("**/journal/care")
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_function("document.getElementById('outbox').hidden")
    landed = [entry for entry in care_entries(page) if entry["uid"] not in before]
    assert [entry["record"]["notes"] for entry in landed] == ["lost on the way"]
