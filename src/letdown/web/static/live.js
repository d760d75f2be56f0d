// The live pump page: one WebSocket for the pump's state, drawn once per frame, and
// commands over fetch with a fresh command_id each tap (a retry sends the same one, so
// the pump acts once).
(() => {
  "use strict";

  const root = document.getElementById("live");
  if (!root) return;

  const API = "/api/v1/pump";
  const SIDES = ["left", "right"];
  const ML_PER_FL_OZ = 29.5735;
  const CEILING_MARGIN_MMHG = 20; // the safety limit above a side's ceiling
  const STALE_MS = 3000; // no state this long while running: the socket is dead
  const PHASES = {
    idle: "Ready",
    stimulation: "Stimulating",
    expression: "Expressing",
    restimulation: "Stimulating again",
    paused: "Paused",
    finishing: "Finishing",
    done: "Done",
    fault: "Stopped",
  };
  const ENDINGS = {
    flow_ended: "the milk stopped flowing",
    cap: "the time limit was reached",
    stop: "it was stopped",
    fault: "of a fault",
    link_lost: "the pump lost its link (it vented by itself)",
    error: "of an error",
  };
  const ACTIVE = new Set(["stimulation", "expression", "restimulation", "paused"]);
  const OLD_SESSION_MS = 5 * 60 * 1000; // an ended session older than this is history, not news

  const canControl = root.dataset.canControl === "true";
  const units = root.dataset.units;
  const program = root.dataset.program || "letdown";
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  const $ = (id) => document.getElementById(id);

  let latest = null;
  let frame = 0;
  let socket = null;
  let backoffMs = 500;
  let retryTimer = 0;
  let lastMessageMs = 0;
  let wakeLock = null;
  let busy = false;
  // Per session (reset when its id changes): time spent paused, what each side has collected.
  let sessionId = null;
  let pausedFromS = null;
  let pausedTotalS = 0;
  let collected = { left: 0, right: 0 };

  // --- state in, screen out ------------------------------------------------------------
  function accept(state, fresh) {
    if (!state || typeof state.seq !== "number") return;
    if (!fresh && latest && state.seq <= latest.seq) return;
    latest = state;
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function track(state) {
    if (state.session_id !== sessionId) {
      sessionId = state.session_id;
      pausedFromS = null;
      pausedTotalS = 0;
      collected = { left: 0, right: 0 };
    }
    if (state.state === "paused") {
      if (pausedFromS === null) pausedFromS = state.elapsed_s;
    } else if (pausedFromS !== null) {
      pausedTotalS += Math.max(0, state.elapsed_s - pausedFromS);
      pausedFromS = null;
    }
  }

  // The clock stops while paused: the pumping time, not the time since the start.
  function pumpingS(state) {
    const upTo = pausedFromS === null ? state.elapsed_s : pausedFromS;
    return Math.max(0, upTo - pausedTotalS);
  }

  // Milk collected never goes down on screen (a scale's reading wobbles by a mL).
  function collectedMl(side, view) {
    const now = view && view.volume_ml !== null && view.volume_ml !== undefined ? view.volume_ml : 0;
    collected[side] = Math.max(collected[side], now);
    return collected[side];
  }

  function span(seconds) {
    const s = Math.max(0, Math.round(seconds || 0));
    const minutes = Math.floor(s / 60);
    if (minutes === 0) return `${s} s`;
    return s % 60 ? `${minutes} min ${s % 60} s` : `${minutes} min`;
  }

  function endedLongAgo(state) {
    return !state.running && state.read_at && Date.now() - state.read_at * 1000 > OLD_SESSION_MS;
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds || 0));
    const mm = String(Math.floor(s / 60)).padStart(2, "0");
    return `${mm}:${String(s % 60).padStart(2, "0")}`;
  }

  function volume(ml) {
    if (ml === null || ml === undefined) return "–";
    return units === "floz" ? (ml / ML_PER_FL_OZ).toFixed(1) : ml.toFixed(0);
  }

  function setText(id, text) {
    const node = $(id);
    if (node && node.textContent !== text) node.textContent = text;
  }

  function point(fraction, radius) {
    const angle = ((135 + 270 * Math.min(1, Math.max(0, fraction))) * Math.PI) / 180;
    return [60 + radius * Math.cos(angle), 60 + radius * Math.sin(angle)];
  }

  function mark(line, fraction, show, inner, outer) {
    if (!show) {
      line.setAttribute("visibility", "hidden");
      return;
    }
    const [x1, y1] = point(fraction, inner);
    const [x2, y2] = point(fraction, outer);
    line.setAttribute("visibility", "visible");
    line.setAttribute("x1", x1.toFixed(1));
    line.setAttribute("y1", y1.toFixed(1));
    line.setAttribute("x2", x2.toFixed(1));
    line.setAttribute("y2", y2.toFixed(1));
  }

  function drawSide(side, view, state) {
    const gauge = $(`gauge-${side}`);
    const rememberedCeiling = state.comfort ? state.comfort[`${side}_mmhg`] : null;
    const ceiling = view ? view.ceiling_mmhg : rememberedCeiling;
    const vacuum = view ? view.vacuum_mmhg : null;
    const level = view ? view.level_mmhg : null;
    const scale = Math.min(300, Math.max(100, (ceiling || 180) + CEILING_MARGIN_MMHG));
    gauge.dataset.vacuumMmhg = vacuum === null ? "" : String(vacuum);
    gauge.dataset.levelMmhg = level === null ? "" : String(level);
    gauge.dataset.ceilingMmhg = ceiling === null || ceiling === undefined ? "" : String(ceiling);
    gauge.dataset.learning = view && view.learning && state.running ? "true" : "false";
    const pumping = state.running && state.state !== "paused";
    const peak = view && view.peak_mmhg !== null && view.peak_mmhg !== undefined ? view.peak_mmhg : vacuum;
    const shown = pumping && peak !== null ? Math.max(0, peak) : 0;
    const fill = gauge.querySelector(".gauge-fill");
    // The gap is longer than the arc, so the dash pattern never starts over at its end.
    fill.setAttribute("stroke-dasharray", `${((100 * shown) / scale).toFixed(1)} 101`);
    fill.setAttribute("visibility", shown >= 1 ? "visible" : "hidden");
    gauge.classList.toggle("over", ceiling !== null && shown > ceiling + CEILING_MARGIN_MMHG / 2);
    // The ceiling is marked outside the arc, the working level inside it.
    mark(gauge.querySelector(".gauge-ceiling"), (ceiling || 0) / scale, ceiling !== null, 51, 58);
    mark(gauge.querySelector(".gauge-level"), (level || 0) / scale, view !== null && state.running, 34, 44);
    // The big number is each cycle's peak: steady, where the vacuum now swings 0 to peak.
    gauge.querySelector(".gauge-value").textContent =
      pumping && peak !== null ? String(Math.max(0, Math.round(peak))) : "–";
    setText(`flow-${side}`, view && state.running ? view.flow_ml_min.toFixed(1) : "0.0");
    setText(`volume-${side}`, volume(collectedMl(side, view)));
    setText(`level-${side}`, level === null ? "–" : level.toFixed(0));
    setText(`ceiling-${side}`, ceiling === null || ceiling === undefined ? "–" : ceiling.toFixed(0));
    $(`learning-${side}`).hidden = !(view && view.learning && state.running && ACTIVE.has(state.state));
  }

  function draw() {
    frame = 0;
    const state = latest;
    if (!state) return;
    track(state);
    const old = endedLongAgo(state);
    root.dataset.state = old ? "idle" : state.state;
    setText("phase", old ? PHASES.idle : PHASES[state.state] || state.state);
    setText("elapsed", clock(old ? 0 : pumpingS(state)));
    for (const side of SIDES) drawSide(side, state[side], state);
    $("nearly-done").hidden = !(state.running && state.nearly_done);

    const fault = $("fault");
    const newFault = state.fault && fault.hidden;
    fault.hidden = !state.fault;
    if (newFault) fault.scrollIntoView({ block: "start", behavior: "smooth" });
    if (state.fault) {
      setText("fault-what", state.fault.what_happened);
      setText("fault-todo", state.fault.what_to_do);
    }

    const saved = $("saved");
    if (!state.running && state.ended_by && state.journal_entry_id !== null) {
      const total = collectedMl("left", state.left) + collectedMl("right", state.right);
      const unit = units === "floz" ? "fl oz" : "mL";
      const why = ENDINGS[state.ended_by] || state.ended_by;
      const what = `${volume(total)} ${unit} in ${span(pumpingS(state))}; it ended because ${why}.`;
      if (old) {
        const ended = new Date(state.read_at * 1000);
        const at = ended.toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
        saved.textContent = `The last session, ended ${at}, is in the journal: ${what}`;
      } else {
        saved.textContent = `Saved in the journal: ${what}`;
      }
      saved.dataset.entryId = String(state.journal_entry_id);
      saved.hidden = false;
    } else {
      saved.hidden = true;
    }
    if (state.journal_error) say(state.journal_error);

    const active = state.running && ACTIVE.has(state.state);
    const allow = canControl && !busy;
    $("start").disabled = !allow || state.running;
    $("calibrate").disabled = !allow || state.running;
    $("stop").disabled = !allow || !state.running;
    const pause = $("pause");
    const paused = state.state === "paused";
    pause.disabled = !allow || !active;
    pause.dataset.kind = paused ? "resume" : "pause";
    setText("pause", paused ? "Resume" : "Pause");
    for (const side of SIDES) {
      for (const id of [`too-much-${side}`, `level-down-${side}`, `level-up-${side}`]) {
        $(id).disabled = !allow || !active || (paused && !id.startsWith("too-much"));
      }
    }

    const delay = $("delay");
    if (state.running && state.read_at) {
      const delayMs = Math.max(0, Math.round(Date.now() - state.read_at * 1000));
      delay.dataset.delayMs = String(delayMs);
      delay.textContent = `${delayMs} ms`;
    } else {
      delay.dataset.delayMs = "";
      delay.textContent = "–";
    }
    keepAwake(state.running);
  }

  function say(text) {
    const message = $("message");
    message.textContent = text;
    message.hidden = !text;
  }

  // --- the live stream ---------------------------------------------------------------------
  function setLink(text) {
    setText("link", text);
  }

  // Said plainly, not only in the small link state: without the connection this page
  // shows the past and its buttons do nothing.
  function connectionLost(lost) {
    const notice = $("connection");
    if (notice) notice.hidden = !lost;
  }
  window.addEventListener("offline", () => connectionLost(true));
  window.addEventListener("online", () => reconnectNow());
  if (!navigator.onLine) connectionLost(true);

  function connect() {
    clearTimeout(retryTimer);
    if (socket) return;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(`${scheme}${location.host}${API}/live`);
    let fresh = true;
    socket = ws;
    setLink("Connecting…");
    ws.onopen = () => {
      backoffMs = 500;
      setLink("Live");
      connectionLost(false);
    };
    ws.onmessage = (event) => {
      lastMessageMs = Date.now();
      let state;
      try {
        state = JSON.parse(event.data);
      } catch {
        return;
      }
      accept(state, fresh); // the server may have restarted: its first state is the truth
      fresh = false;
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      if (event.code === 1008) {
        setLink("Logged out");
        location.assign("/login?next=/live");
        return;
      }
      setLink("Reconnecting…");
      connectionLost(true);
      retryTimer = setTimeout(connect, backoffMs + Math.random() * 250);
      backoffMs = Math.min(backoffMs * 2, 10000);
    };
    ws.onerror = () => ws.close();
  }

  function reconnectNow() {
    if (socket) {
      const old = socket;
      socket = null;
      old.onclose = null;
      old.close();
    }
    backoffMs = 500;
    connect();
  }

  setInterval(() => {
    if (latest && latest.running && socket && Date.now() - lastMessageMs > STALE_MS) reconnectNow();
  }, 1000);

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    if (!socket || socket.readyState > WebSocket.OPEN) reconnectNow();
    wakeLock = null;
    if (latest) keepAwake(latest.running);
  });

  // --- commands ------------------------------------------------------------------------------
  function newId() {
    if (window.crypto && typeof crypto.randomUUID === "function") {
      try {
        return crypto.randomUUID();
      } catch {
        // not a secure context: fall through
      }
    }
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function problem(data, status) {
    if (data && typeof data.detail === "string") return data.detail;
    if (data && Array.isArray(data.detail) && data.detail.length) {
      const first = data.detail[0];
      return `${(first.loc || []).slice(1).join(".")}: ${first.msg}`;
    }
    return `The pump did not answer (${status}).`;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function post(path, body) {
    // The same body, with the same command_id, is sent again after a network failure.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      let response;
      try {
        response = await fetch(`${API}${path}`, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify(body || {}),
        });
      } catch {
        await sleep(250 * (attempt + 1));
        continue;
      }
      let data = null;
      try {
        data = await response.json();
      } catch {
        data = null;
      }
      if (!response.ok) {
        if (response.status === 401) location.assign("/login?next=/live");
        say(problem(data, response.status));
        return null;
      }
      say("");
      return data;
    }
    say("No connection to the pump: check the Wi-Fi and try again.");
    return null;
  }

  function soreness() {
    const values = {};
    for (const side of SIDES) {
      const input = $(`soreness-${side}`);
      if (input) values[side] = Number(input.value);
    }
    return values;
  }

  async function run(action) {
    if (!canControl) return;
    busy = true;
    if (latest) draw();
    try {
      await action();
    } finally {
      busy = false;
      if (latest) draw();
    }
  }

  function command(kind, side) {
    const body = { command_id: newId(), kind, side: side || null };
    // Commands never queue behind one another: "too much" must act at once.
    return post("/command", body).then((data) => data && accept(data.state));
  }

  function start(calibrate) {
    return run(async () => {
      const state = await post("/start", { program, soreness: soreness(), calibrate });
      accept(state);
    });
  }

  $("start").addEventListener("click", () => start(false));
  $("calibrate").addEventListener("click", () => start(true));
  $("stop").addEventListener("click", () => post("/stop").then((state) => accept(state)));
  $("pause").addEventListener("click", (event) => command(event.currentTarget.dataset.kind, null));
  for (const side of SIDES) {
    $(`too-much-${side}`).addEventListener("click", () => {
      if (navigator.vibrate) navigator.vibrate(40);
      command("too_much", side);
    });
    $(`level-down-${side}`).addEventListener("click", () => command("level_down", side));
    $(`level-up-${side}`).addEventListener("click", () => command("level_up", side));
    const input = $(`soreness-${side}`);
    if (input) input.addEventListener("input", () => setText(`soreness-${side}-value`, input.value));
  }

  // --- the screen stays on while the pump runs ----------------------------------------------
  function keepAwake(running) {
    if (!("wakeLock" in navigator)) return;
    if (running && !wakeLock) {
      wakeLock = navigator.wakeLock.request("screen").catch(() => null);
    } else if (!running && wakeLock) {
      const held = wakeLock;
      wakeLock = null;
      held.then((lock) => lock && lock.release()).catch(() => {});
    }
  }

  if (!canControl) {
    for (const button of root.querySelectorAll(".pump-control")) button.disabled = true;
  }
  connect();
})();
