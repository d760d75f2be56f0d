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
