// letdown: "Notify this phone" on the settings page (Web Push).
// Shown only where the browser can do it (a service worker, PushManager, Notification, a
// secure context); elsewhere the page's sentence says why not. Permission is asked only
// when the member presses the button. The phone's subscription is posted as JSON to
// /settings/push (the session's CSRF token in X-CSRF-Token), where it becomes the
// member's webpush: channel; "Stop notifying this phone" removes it and unsubscribes.
// The service worker is given a copy of the subscription that is on, so that it can
// prove which phone it is if the push service replaces it (sw.js, pushsubscriptionchange).
"use strict";

(function () {
  const box = document.getElementById("push");
  if (!box) return;
  const unavailable = document.getElementById("push-unavailable");
  const controls = document.getElementById("push-controls");
  const state = document.getElementById("push-state");
  const on = document.getElementById("push-on");
  const off = document.getElementById("push-off");
  const token = document.querySelector("meta[name=csrf-token]");

  const SAID = {
    on: "On: this phone is told when it is time to pump, when a session is nearly done " +
      "or has ended, and when a bag expires today.",
    off: "Off: this phone is not notified.",
    dismissed: "Off: the browser's question was closed without an answer. Press " +
      "\u201cNotify this phone\u201d again and choose Allow.",
    blocked: "Blocked: this browser refuses letdown's notifications, so letdown cannot " +
      "ask again. To allow them, open the site's settings (the icon left of the address, " +
      "or on an installed app: the phone's Settings \u2192 Apps \u2192 letdown \u2192 " +
      "Notifications), allow notifications, then reload this page.",
  };

  function why() {
    if (!window.isSecureContext) {
      return "Notifications on this phone need letdown served over HTTPS (or opened on " +
        "localhost): this page came over plain HTTP. See docs/https.md for a certificate " +
        "the phone trusts, or add an Apprise URL below (ntfy's app, for one).";
    }
    if (!("serviceWorker" in navigator) || !("PushManager" in window) ||
        !("Notification" in window)) {
      return "This browser cannot receive notifications from a web app. On an iPhone or " +
        "iPad, add letdown to the Home Screen (Share \u2192 Add to Home Screen) and open " +
        "it from there; elsewhere use a current Chrome, Firefox, Edge or Safari, or add " +
        "an Apprise URL below.";
    }
    return "";
  }

  function show(kind, detail) {
    box.dataset.state = kind;
    state.textContent = kind === "failed" ? detail : SAID[kind];
    state.className = kind === "blocked" || kind === "failed" ? "flash bad" : "";
    shown(on, kind !== "on" && kind !== "blocked");
    shown(off, kind === "on");
  }

  function shown(button, yes) {
    // app.css gives buttons a display of their own, which would outdo [hidden].
    button.hidden = !yes;
    button.style.display = yes ? "" : "none";
  }

  function busy(yes) {
    on.disabled = yes;
    off.disabled = yes;
    box.setAttribute("aria-busy", yes ? "true" : "false");
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRF-Token": token ? token.content : "",
      },
      body: JSON.stringify(body),
    }).catch(function () {
      throw new Error("letdown's server did not answer: check this phone's connection " +
        "and try again.");
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (response.ok) return answer;
        const error = new Error(typeof answer.detail === "string" ? answer.detail
          : "letdown's server refused it (" + response.status + ").");
        error.status = response.status;
        throw error;
      });
    });
  }

  function refreshList() {
    // The channels listed below the button: this page's own copy, fetched again.
    return fetch(window.location.pathname, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (text) {
        const fresh = new DOMParser().parseFromString(text, "text/html")
          .getElementById("channel-list");
        const here = document.getElementById("channel-list");
        if (fresh && here) here.replaceWith(fresh);
      })
      .catch(function () { /* the list is refreshed on the next visit */ });
  }

  function serverKey() {
    const text = box.dataset.key.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(text + "===".slice((text.length + 3) % 4));
    return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
  }

  function sameKey(subscription, key) {
    const had = subscription.options && subscription.options.applicationServerKey;
    if (!had) return true;
    const bytes = new Uint8Array(had);
    return bytes.length === key.length && bytes.every(function (b, i) { return b === key[i]; });
  }

  function permission() {
    // Older Safari answers through a callback, newer browsers through a promise.
    return new Promise(function (resolve) {
      const asked = Notification.requestPermission(resolve);
      if (asked && typeof asked.then === "function") asked.then(resolve);
    });
  }

  function inWords(error) {
    if (error && error.status) return error.message;
    const name = error && error.name;
    if (name === "NotAllowedError") return SAID.blocked;
    if (name === "AbortError" || name === "NotSupportedError") {
      return "the browser's push service did not accept this phone (is it online? A " +
        "private window cannot receive notifications).";
    }
    return (error && error.message) || String(error);
  }

  function worker() {
    // The service worker app.js registers; without it there is nothing to push to.
    return Promise.race([
      navigator.serviceWorker.ready,
      new Promise(function (resolve, reject) {
        setTimeout(function () {
          reject(new Error("the app's service worker is not running here: reload the " +
            "page and try again."));
        }, 10000);
      }),
    ]);
  }

  function tellWorker(registration, made) {
    // Its copy, for renewing the subscription (sw.js); null: this phone is off.
    const worker = registration && registration.active;
    if (!worker) return;
    worker.postMessage({
      kind: "push-kept",
      subscription: made ? made.toJSON() : null,
      key: box.dataset.key,
    });
  }

  function subscription() {
    return worker().then(function (registration) {
      return registration.pushManager.getSubscription().then(function (found) {
        return { registration: registration, found: found };
      });
    });
  }

  function turnOn() {
    busy(true);
    permission().then(function (answer) {
      if (answer === "denied") return "blocked";
      if (answer !== "granted") return "dismissed";
      const key = serverKey();
      let registration = null;
      return subscription().then(function (phone) {
        registration = phone.registration;
        if (phone.found && sameKey(phone.found, key)) return phone.found;
        const fresh = function () {
          return phone.registration.pushManager.subscribe({
            userVisibleOnly: true,
            applicationServerKey: key,
          });
        };
        // A subscription made with an older key of this server cannot be used: renew it.
        return phone.found ? phone.found.unsubscribe().then(fresh) : fresh();
      }).then(function (made) {
        return post("/settings/push", made.toJSON()).then(function () {
          tellWorker(registration, made);
        });
      }).then(refreshList).then(function () { return "on"; });
    }).then(function (kind) {
      show(kind);
    }).catch(function (error) {
      if (error && error.name === "NotAllowedError") show("blocked");
      else show("failed", "Not turned on: " + inWords(error));
    }).then(function () { busy(false); });
  }

  function turnOff() {
    busy(true);
    subscription().then(function (phone) {
      if (!phone.found) return null;
      return post("/settings/push/remove", { endpoint: phone.found.endpoint })
        .catch(function (error) {
          if (error.status !== 404) throw error; // already removed from the list: fine
        })
        .then(function () {
          tellWorker(phone.registration, null);
          return phone.found.unsubscribe();
        });
    }).then(refreshList).then(function () {
      show("off");
    }).catch(function (error) {
      show("failed", "Not turned off: " + inWords(error));
      shown(off, true);
    }).then(function () { busy(false); });
  }

  const reason = why();
  if (reason) {
    unavailable.textContent = reason;
    return;
  }
  unavailable.hidden = true;
  shown(on, false);
  shown(off, false);
  controls.hidden = false;
  on.addEventListener("click", turnOn);
  off.addEventListener("click", turnOff);
  if (Notification.permission === "denied") {
    show("blocked");
    return;
  }
  if (Notification.permission !== "granted") {
    show("off");
    return;
  }
  busy(true);
  subscription().then(function (phone) {
    if (!phone.found) return "off";
    return post("/settings/push/state", { endpoint: phone.found.endpoint })
      .then(function (answer) {
        if (answer.on) tellWorker(phone.registration, phone.found);
        return answer.on ? "on" : "off";
      });
  }).then(function (kind) {
    show(kind);
  }).catch(function (error) {
    show("failed", "Could not tell whether this phone is notified: " + inWords(error));
  }).then(function () { busy(false); });
})();
