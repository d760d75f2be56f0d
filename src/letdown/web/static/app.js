// letdown: small conveniences on top of forms that work without this file.
// - the light/dark switch applies at once (the form posts to /theme without JS);
// - buttons with data-confirm ask first;
// - [data-timer] buttons time a feed or a session and fill in its minutes.
"use strict";

(function () {
  const root = document.documentElement;

  document.addEventListener("click", function (event) {
    const toggle = event.target.closest("[data-theme-toggle]");
    if (!toggle) return;
    event.preventDefault();
    const next = toggle.value === "light" ? "light" : "dark";
    root.dataset.theme = next;
    document.cookie = "letdown_theme=" + next + "; path=/; max-age=34560000; samesite=lax";
    toggle.value = next === "light" ? "dark" : "light";
    toggle.textContent = next === "light" ? "Dark" : "Light";
  });

  document.addEventListener("submit", function (event) {
    const button = event.submitter;
    const question = button && button.dataset ? button.dataset.confirm : null;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // --- timers: the start is kept in localStorage, so a reload or a locked phone loses nothing.
  function spoken(seconds) {
    const whole = Math.max(0, Math.round(seconds));
    const minutes = Math.floor(whole / 60);
    return minutes + "m" + (whole % 60) + "s";
  }

  function clock(seconds) {
    const whole = Math.max(0, Math.floor(seconds));
    const minutes = Math.floor(whole / 60);
    const rest = whole % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function setUp(button) {
    const form = button.form;
    const field = form.elements[button.dataset.timer];
    const key = "letdown-timer:" + form.getAttribute("action") + ":" + button.dataset.timer;
    let tick = null;
    button.hidden = false;

    function saved() {
      try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
    }
    function save(state) {
      if (state) localStorage.setItem(key, JSON.stringify(state));
      else localStorage.removeItem(key);
    }
    function show() {
      const state = saved();
      if (state && state.since) {
        const elapsed = state.done + (Date.now() - state.since) / 1000;
        button.textContent = "Stop " + clock(elapsed);
        button.classList.add("running");
      } else {
        button.textContent = state && state.done ? "Resume" : "Start";
        button.classList.remove("running");
      }
    }
    function run() {
      show();
      if (!tick) tick = window.setInterval(show, 1000);
    }

    button.addEventListener("click", function () {
      const state = saved() || { done: 0, since: null, first: null };
      if (state.since) {
        state.done += (Date.now() - state.since) / 1000;
        state.since = null;
        field.value = spoken(state.done);
        window.clearInterval(tick);
        tick = null;
        save(state);
        show();
        return;
      }
      state.since = Date.now();
      state.first = state.first || new Date().toISOString();
      const started = form.elements.timer_started;
      if (started && !started.value) started.value = state.first;
      save(state);
      run();
    });

    form.addEventListener("submit", function () { save(null); });
    const state = saved();
    if (state) {
      const started = form.elements.timer_started;
      if (started && !started.value && state.first) started.value = state.first;
      if (!state.since && state.done && !field.value) field.value = spoken(state.done);
      if (state.since) {
        const details = form.closest("details");
        if (details) details.open = true;
        run();
      } else {
        show();
      }
    }
  }

  document.querySelectorAll("[data-timer]").forEach(setUp);
})();

// --- the installable app: the service worker, and quick logs that wait for the network.
// A quick log made offline goes to the outbox (outbox.js) with the uid this page made for
// it (client_uid) and the time it was filled in (queued_at); when the phone is back it is
// sent, and the server treats a second sending of the same uid as the same entry.
(function () {
  const QUEUED = /^\/(journal\/(nurse|pump|bottle|care|symptom)|stash\/add)$/;
  const RETRY_MS = 5000;
  const outbox = self.letdownOutbox;
  const banner = document.getElementById("outbox");
  let sending = false;

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {
      // Plain HTTP to another machine: no service worker (see docs/https.md).
    });
  }

  function uuid() {
    if (self.crypto && typeof crypto.randomUUID === "function") {
      try { return crypto.randomUUID(); } catch (e) { /* not a secure context */ }
    }
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, function (b) { return (b + 256).toString(16).slice(1); });
    return [hex.slice(0, 4), hex.slice(4, 6), hex.slice(6, 8), hex.slice(8, 10), hex.slice(10)]
      .map(function (part) { return part.join(""); }).join("-");
  }

  function hidden(form, name) {
    let input = form.elements[name];
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    return input;
  }

  function queued(form) {
    return form.method.toLowerCase() === "post" &&
      QUEUED.test(new URL(form.action, location.href).pathname);
  }

  function stamp(form) {
    hidden(form, "client_uid").value = uuid();
    hidden(form, "queued_at").value = "";
  }

  function show(count, note) {
    if (!banner) return;
    const parts = [];
    if (count) {
      parts.push(count === 1 ? "1 quick log is waiting on this phone"
        : count + " quick logs are waiting on this phone");
      parts.push(navigator.onLine ? "sending…" : "they go to the journal when the phone is back online.");
    }
    if (note) parts.push(note);
    banner.textContent = parts.join(": ").replace(": sending…", ", sending…");
    banner.hidden = parts.length === 0;
    banner.dataset.waiting = String(count);
  }

  function refresh(note) {
    if (!outbox) return Promise.resolve([]);
    return outbox.all().then(function (items) {
      show(items.length, note);
      return items;
    }).catch(function () { return []; });
  }

  function send() {
    if (!outbox || sending || !navigator.onLine) return Promise.resolve();
    sending = true;
    let refused = 0;
    return outbox.all().then(function (items) {
      items.sort(function (a, b) { return a.queuedAt < b.queuedAt ? -1 : 1; });
      let chain = Promise.resolve();
      items.forEach(function (item) {
        chain = chain.then(function () {
          return fetch(item.action, {
            method: "POST",
            body: item.body,
            headers: { "Content-Type": "application/x-www-form-urlencoded" },
            credentials: "same-origin",
            redirect: "manual",
          }).then(function (response) {
            // A redirect is the journal's "saved" (or "already saved"); 422 is a form the
            // journal refused, which sending again cannot mend; anything else waits.
            if (response.type === "opaqueredirect" || response.ok) return outbox.remove(item.uid);
            if (response.status === 422) {
              refused += 1;
              return outbox.remove(item.uid);
            }
            throw new Error("not sent: " + response.status);
          });
        });
      });
      return chain;
    }).catch(function () { /* still offline, or logged out: try again later */ })
      .then(function () {
        sending = false;
        return refresh(refused ? refused + " could not be saved: please enter it again." : "");
      });
  }

  document.querySelectorAll("form").forEach(function (form) {
    if (queued(form)) stamp(form);
  });

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (event.defaultPrevented || !(form instanceof HTMLFormElement)) return;
    if (form.getAttribute("action") === "/logout" && navigator.serviceWorker &&
        navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage("forget-pages");
      return;
    }
    if (!queued(form) || !outbox) return;
    if (!form.elements.client_uid || !form.elements.client_uid.value) stamp(form);
    form.elements.queued_at.value = new Date().toISOString();
    if (navigator.onLine) return; // sent as usual; the service worker queues it if it fails
    event.preventDefault();
    const data = new URLSearchParams(new FormData(form));
    const action = new URL(form.action, location.href).pathname;
    outbox.put({
      uid: data.get("client_uid"),
      action: action,
      body: data.toString(),
      label: action.split("/").pop(),
      queuedAt: data.get("queued_at"),
    }).then(function () {
      form.reset();
      stamp(form);
      const details = form.closest("details");
      if (details) details.open = false;
      return refresh("");
    });
  });

  window.addEventListener("online", send);
  window.addEventListener("offline", function () { refresh(""); });
  // A phone on Wi-Fi with no way out says it is online and never says "online" again:
  // while quick logs wait, try again every few seconds.
  setInterval(function () {
    if (banner && banner.dataset.waiting && banner.dataset.waiting !== "0") send();
  }, RETRY_MS);
  refresh("").then(send);
})();
