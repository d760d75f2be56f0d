// letdown's service worker (hand-written; served at /sw.js with the version filled in).
// - Pages: from the network when it answers (and kept), else the copy kept last time, else
//   the offline page. Nothing from /api/ or the live stream is kept: those need the server.
// - Files under /static/: kept by their versioned address, so a new letdown refreshes them.
// - A quick-log form that cannot reach the server goes to the outbox (outbox.js); the page
//   then opens from its kept copy and sends it when the phone is back online.
// - A Web Push from letdown (notify.py's push_message: title, body, tag, url) is shown as
//   a notification; tapping it brings an open letdown window to that page, or opens one.
// - When the push service replaces this phone's subscription (pushsubscriptionchange), the
//   worker subscribes again with the same server key and posts the old and the new one to
//   /settings/push/renew: the old one's keys prove which phone it is (a worker has no
//   page's CSRF token, and the login may be long gone). push.js gives the worker a copy
//   of the subscription it turned on, for browsers whose event carries no old one.
"use strict";

const VERSION = "__VERSION__";
const PAGES = "letdown-pages-" + VERSION;
const FILES = "letdown-files-" + VERSION;
const OFFLINE = "/static/offline.html?v=" + VERSION;
const PRECACHE = [
  OFFLINE,
  "/static/app.css?v=" + VERSION,
  "/static/app.js?v=" + VERSION,
  "/static/outbox.js?v=" + VERSION,
  "/static/live.css?v=" + VERSION,
  "/static/live.js?v=" + VERSION,
  "/static/push.js?v=" + VERSION,
  "/manifest.webmanifest",
  "/icons/icon-192.png",
];
const QUEUED = /^\/(journal\/(nurse|pump|bottle|care|symptom)|stash\/add)$/;
const PUSH = "letdown-push";
const PUSH_KEPT = "/push-subscription";

importScripts("/static/outbox.js?v=" + VERSION);

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(FILES).then(function (cache) { return cache.addAll(PRECACHE); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.startsWith("letdown-") && name !== PAGES && name !== FILES &&
          name !== PUSH;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("message", function (event) {
  // Logging out: the pages kept on this phone go too.
  if (event.data === "forget-pages") event.waitUntil(caches.delete(PAGES));
  // push.js: the subscription this phone is notified by (null: none any more).
  if (event.data && event.data.kind === "push-kept") {
    event.waitUntil(keepPush(event.data.subscription ? event.data : null));
  }
});

self.addEventListener("pushsubscriptionchange", function (event) {
  event.waitUntil(renewPush(event.oldSubscription, event.newSubscription));
});

// The copy push.js gave: { subscription: toJSON(), key: the server's key, base64url }.
function keptPush() {
  return caches.open(PUSH).then(function (cache) { return cache.match(PUSH_KEPT); })
    .then(function (found) { return found ? found.json() : null; })
    .catch(function () { return null; });
}

function keepPush(kept) {
  return caches.open(PUSH).then(function (cache) {
    if (!kept) return cache.delete(PUSH_KEPT);
    const copy = { subscription: kept.subscription, key: kept.key };
    return cache.put(PUSH_KEPT, new Response(JSON.stringify(copy), {
      headers: { "Content-Type": "application/json" },
    }));
  });
}

function serverKey(subscription, kept) {
  const had = subscription && subscription.options &&
    subscription.options.applicationServerKey;
  return had || (kept && kept.key) || null;
}

// Subscribe again (unless the browser already did) with the key of the old subscription,
// then tell letdown, proving which phone it is with the old subscription's keys.
function renewPush(oldSubscription, newSubscription) {
  return keptPush().then(function (kept) {
    const old = oldSubscription ? oldSubscription.toJSON() : kept && kept.subscription;
    const key = serverKey(oldSubscription, kept);
    if (!old || !key) return null; // nothing proves which phone: the page must ask again
    const made = newSubscription ? Promise.resolve(newSubscription)
      : self.registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: key,
      });
    return made.then(function (fresh) {
      const now = fresh.toJSON();
      return fetch("/settings/push/renew", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ old: old, new: now }),
      }).then(function (response) {
        if (!response.ok) return null;
        const text = typeof key === "string" ? key : base64url(key);
        return keepPush({ subscription: now, key: text }).then(function () { return now; });
      });
    });
  });
}

function base64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  bytes.forEach(function (b) { text += String.fromCharCode(b); });
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

self.addEventListener("push", function (event) {
  event.waitUntil(showPush(event.data));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  event.waitUntil(openPage((event.notification.data || {}).url));
});

// What a push says, as a notification; a push that is not letdown's JSON still shows,
// as plain text, since a phone must show something for every push it receives.
function pushNotice(data) {
  let message = {};
  if (data) {
    try {
      message = data.json();
    } catch (e) {
      message = { body: data.text() };
    }
  }
  if (!message || typeof message !== "object") message = { body: String(message) };
  const url = typeof message.url === "string" && message.url.startsWith("/") &&
    !message.url.startsWith("//") ? message.url : "/";
  return {
    title: typeof message.title === "string" && message.title ? message.title : "letdown",
    options: {
      body: typeof message.body === "string" ? message.body : "",
      tag: typeof message.tag === "string" && message.tag ? message.tag : undefined,
      renotify: Boolean(message.tag),
      icon: "/icons/icon-192.png",
      badge: "/icons/icon-192.png",
      data: { url: url },
    },
  };
}

function showPush(data) {
  const notice = pushNotice(data);
  return self.registration.showNotification(notice.title, notice.options);
}

function openPage(path) {
  const target = new URL(path || "/", self.location.origin).href;
  return self.clients.matchAll({ type: "window", includeUncontrolled: true })
    .then(function (windows) {
      const mine = windows.filter(function (client) {
        return new URL(client.url).origin === self.location.origin;
      });
      const same = mine.find(function (client) { return client.url === target; });
      if (same) return same.focus();
      const open = mine.find(function (client) { return "navigate" in client; });
      if (!open) return self.clients.openWindow(target);
      // Focus is allowed only while a tap is handled; the page changes either way.
      return open.focus().catch(function () { return open; }).then(function (client) {
        return (client || open).navigate(target);
      });
    });
}

self.addEventListener("fetch", function (event) {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  if (request.method === "POST" && request.mode === "navigate" && QUEUED.test(url.pathname)) {
    event.respondWith(postOrQueue(request, url));
    return;
  }
  if (request.method !== "GET") return;
  if (url.pathname.startsWith("/static/") || url.pathname.startsWith("/icons/")) {
    event.respondWith(keptFirst(request));
  } else if (request.mode === "navigate") {
    event.respondWith(networkFirst(request));
  }
});

function keptFirst(request) {
  return caches.match(request).then(function (kept) {
    return kept || fetch(request).then(function (response) {
      if (response.ok) {
        const copy = response.clone();
        caches.open(FILES).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    });
  });
}

function networkFirst(request) {
  return fetch(request).then(function (response) {
    if (response.ok && !response.redirected) {
      const copy = response.clone();
      caches.open(PAGES).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(request, { cacheName: PAGES }).then(function (kept) {
      return kept || keptWithoutQueued(request);
    }).then(function (kept) {
      return kept || caches.match(OFFLINE);
    });
  });
}

// "?queued=1" is where a quick log queued here lands: the kept page without it serves.
// (A phone on Wi-Fi with no way out says it is online, so the page sends the form as
// usual, and this worker queues it when the send fails.)
function keptWithoutQueued(request) {
  const url = new URL(request.url);
  if (!url.searchParams.has("queued")) return Promise.resolve(undefined);
  url.searchParams.delete("queued");
  return caches.match(url.href, { cacheName: PAGES });
}

function postOrQueue(request, url) {
  const body = request.clone().text();
  return fetch(request).catch(function () {
    return body.then(function (text) {
      const form = new URLSearchParams(text);
      const uid = form.get("client_uid");
      if (!uid) throw new Error("no client_uid: not queued");
      return letdownOutbox.put({
        uid: uid,
        action: url.pathname,
        body: text,
        label: url.pathname.split("/").pop(),
        queuedAt: form.get("queued_at") || new Date().toISOString(),
      });
    }).then(function () {
      const back = url.pathname.startsWith("/stash") ? "/stash" : "/journal";
      return Response.redirect(back + "?queued=1", 303);
    });
  });
}
