"""'Notify this phone' in Chromium, and the service worker showing a push.

Headless Chromium has no push service to reach offline, so the page's side stubs
``PushManager.prototype.subscribe`` and ``Notification.requestPermission`` before the
page's own script runs (``add_init_script``); everything after them is real: push.js,
the CSRF header, /settings/push, the journal. The service worker's side is real too: the
DevTools protocol delivers a push (``ServiceWorker.deliverPushMessage``, what DevTools'
"Push" button does) to the registered worker, which shows it with ``showNotification``.
The settings page is checked with axe-core (tools/axe, from npm) in each state.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from tests.web.axe import axe_violations
from tests.web.test_browser import browser, page, server, shoot, shots
from tests.web.test_push import b64

from letdown import notify

__all__ = ["browser", "page", "server", "shots"]  # the fixtures this module uses

PHONE = "http://127.0.0.1:9/push/sams-phone"
"""Port 9 (discard), on loopback: the server keeps it, nothing is ever delivered there."""
KEYS = {
    # A P-256 public key and a 16-byte secret in URL-safe base64, as a browser makes them.
    "p256dh": b64(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    ),
    "auth": b64(os.urandom(16)),
}
STUB = """
(() => {
  const answer = %(answer)s;
  let permission = "default";
  Object.defineProperty(Notification, "permission", { get: () => permission });
  Notification.requestPermission = () => {
    permission = answer;
    window.__asked = (window.__asked || 0) + 1;
    return Promise.resolve(answer);
  };
  let current = null;
  const phone = {
    endpoint: %(endpoint)s,
    options: { applicationServerKey: null, userVisibleOnly: true },
    toJSON: () => ({ endpoint: %(endpoint)s, expirationTime: null, keys: %(keys)s }),
    unsubscribe: () => {
      current = null;
      window.__unsubscribed = true;
      return Promise.resolve(true);
    },
  };
  PushManager.prototype.subscribe = function (options) {
    window.__subscribedWith = {
      key: btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey)))
        .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, ""),
      userVisibleOnly: options.userVisibleOnly,
    };
    current = phone;
    return Promise.resolve(phone);
  };
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
})();
"""


def stub_push(page: Any, answer: str, endpoint: str = PHONE) -> None:
    page.add_init_script(
        STUB
        % {"answer": json.dumps(answer), "endpoint": json.dumps(endpoint), "keys": json.dumps(KEYS)}
    )


def phone_channels(page: Any) -> list[str]:
    answer = page.request.get("/api/v1/channels")
    assert answer.ok, answer.text()
    return [channel["url"] for channel in answer.json() if channel["url"].startswith("webpush:")]


def ready(page: Any) -> None:
    page.goto("/settings")
    assert page.evaluate("navigator.serviceWorker.ready.then(r => Boolean(r.active))")


def test_notify_this_phone_posts_the_subscription_and_stops(page: Any, shots: Path) -> None:
    stub_push(page, "granted")
    ready(page)
    page.wait_for_selector("#push[data-state='off']", state="attached")
    assert page.evaluate("window.__asked") is None  # never asked before the press
    assert phone_channels(page) == []
    assert axe_violations(page) == []

    page.click("#push-on")
    page.wait_for_selector("#push[data-state='on']", state="attached")
    assert page.inner_text("#push-state").startswith("On: this phone is told")
    assert page.is_visible("#push-off") and page.is_hidden("#push-on")
    subscribed = page.evaluate("window.__subscribedWith")
    assert subscribed["userVisibleOnly"] is True
    assert subscribed["key"] == page.get_attribute("#push", "data-key")
    assert phone_channels(page) == ["webpush:http://127.0.0.1:9/…"]
    assert "webpush:http://127.0.0.1:9/…" in page.inner_text("#channel-list")  # listed
    assert axe_violations(page) == []
    shoot(page, shots, "settings-push-on")

    page.reload()  # the phone has its subscription, the server knows it: on
    page.wait_for_selector("#push-on", state="visible")  # the stub starts at "default"
    page.click("#push-on")
    page.wait_for_selector("#push[data-state='on']", state="attached")
    assert phone_channels(page) == ["webpush:http://127.0.0.1:9/…"]  # not a second one

    page.click("#push-off")
    page.wait_for_selector("#push[data-state='off']", state="attached")
    assert page.evaluate("window.__unsubscribed") is True
    assert phone_channels(page) == []
    assert "No channels yet" in page.inner_text("#channel-list")


def test_a_refused_permission_says_how_to_allow_it(page: Any, shots: Path) -> None:
    stub_push(page, "denied")
    ready(page)
    page.click("#push-on")
    page.wait_for_selector("#push[data-state='blocked']", state="attached")
    said = page.inner_text("#push-state")
    assert said.startswith("Blocked:") and "allow notifications" in said
    assert "site's settings" in said
    assert page.is_hidden("#push-on")
    assert page.evaluate("window.__subscribedWith") is None
    assert phone_channels(page) == []
    assert axe_violations(page) == []
    shoot(page, shots, "settings-push-blocked")


def test_a_subscription_the_server_refuses_is_shown_in_words(page: Any) -> None:
    stub_push(page, "granted", endpoint="http://push.example.test/send/1")
    ready(page)
    page.click("#push-on")
    page.wait_for_selector("#push[data-state='failed']", state="attached")
    assert page.inner_text("#push-state") == (
        "Not turned on: the push service's address must start with https:// "
        "(this one is http://push.example.test/…)"
    )
    assert page.is_visible("#push-on")  # pressing again is allowed
    assert phone_channels(page) == []


def test_without_a_secure_context_the_page_says_why(page: Any, server: str) -> None:
    page.add_init_script("Object.defineProperty(window, 'isSecureContext', {value: false})")
    page.goto("/settings")
    page.wait_for_function(
        "document.querySelector('#push-unavailable').textContent.includes('plain HTTP')"
    )
    said = page.inner_text("#push-unavailable")
    assert "HTTPS" in said and "docs/https.md" in said and "Apprise" in said
    assert page.is_hidden("#push-controls")


def test_the_service_worker_shows_a_push_as_notify_sends_it(page: Any, server: str) -> None:
    page.context.grant_permissions(["notifications"], origin=server)
    ready(page)
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    page.wait_for_timeout(100)
    [registration] = [
        r for r in registrations if r["scopeURL"] == server + "/" and not r["isDeleted"]
    ]
    event = notify.session_event("nearly_done", "s-42", "Alex")
    message = notify.push_message(event.title, event.body, event.key)
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": server,
            "registrationId": registration["registrationId"],
            "data": json.dumps(message),
        },
    )
    shown = page.evaluate(
        """() => navigator.serviceWorker.ready.then(async (r) => {
              for (let i = 0; i < 100; i++) {
                const found = await r.getNotifications();
                if (found.length) return found.map(n => ({title: n.title, body: n.body,
                                                           tag: n.tag, data: n.data}));
                await new Promise(done => setTimeout(done, 50));
              }
              return [];
            })"""
    )
    assert shown == [
        {
            "title": "letdown: the session is nearly done",
            "body": "The pump session Alex started is nearly done: about a minute to go.",
            "tag": "session:s-42:nearly_done",
            "data": {"url": "/live"},
        }
    ]


def test_a_tapped_notice_brings_the_open_window_to_its_page(page: Any, server: str) -> None:
    """What a tap on a notice does (``openPage``, which the service worker's
    ``notificationclick`` calls with the notice's url): the open letdown window goes to
    that page. A real tap cannot be made in headless Chromium, so the worker's function is
    called directly, in the worker."""
    ready(page)
    page.reload()  # now under the service worker
    assert page.evaluate("Boolean(navigator.serviceWorker.controller)")
    [worker] = [w for w in page.context.service_workers if w.url == server + "/sw.js"]
    worker.evaluate("openPage('/stash')")
    page.wait_for_url(server + "/stash")


RENEWED = "http://localhost:9/push/sams-phone-renewed"


def test_a_subscription_the_push_service_replaced_is_renewed_by_the_worker(
    page: Any, server: str
) -> None:
    """``pushsubscriptionchange``: the worker subscribes again with the server's key and
    posts the old and new subscription; the member's channel then holds the new one.
    Chromium never fires the event itself, so the handler's function (``renewPush``) is
    called in the worker, as the event would (Chromium's event carries no old one: the
    copy push.js gave the worker is the proof); the browser's push service is stubbed."""
    stub_push(page, "granted")
    ready(page)
    page.wait_for_selector("#push[data-state='off']", state="attached")
    page.click("#push-on")
    page.wait_for_selector("#push[data-state='on']", state="attached")
    [worker] = [w for w in page.context.service_workers if w.url == server + "/sw.js"]
    kept = worker.evaluate(
        """async () => {
             for (let i = 0; i < 100; i++) {
               const kept = await keptPush();
               if (kept) return kept;
               await new Promise(done => setTimeout(done, 50));
             }
             return null;
           }"""
    )
    assert kept == {
        "subscription": {"endpoint": PHONE, "expirationTime": None, "keys": KEYS},
        "key": page.get_attribute("#push", "data-key"),
    }
    fresh_keys = {**KEYS, "auth": b64(os.urandom(16))}
    renewed = worker.evaluate(
        """([endpoint, keys]) => {
             self.registration.pushManager.subscribe = (options) => {
               self.__renewedWith = options;
               return Promise.resolve({
                 toJSON: () => ({ endpoint: endpoint, expirationTime: null, keys: keys }),
               });
             };
             return renewPush(null, null).then((now) => ({
               now: now, key: self.__renewedWith.applicationServerKey,
               userVisibleOnly: self.__renewedWith.userVisibleOnly,
             }));
           }""",
        [RENEWED, fresh_keys],
    )
    assert renewed["now"]["endpoint"] == RENEWED
    assert renewed["key"] == kept["key"] and renewed["userVisibleOnly"] is True
    assert phone_channels(page) == ["webpush:http://localhost:9/…"]  # replaced, not added
    # The worker keeps the new one, to prove the next change with.
    assert worker.evaluate("keptPush()")["subscription"]["keys"] == fresh_keys
