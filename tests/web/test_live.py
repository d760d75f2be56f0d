"""Live sessions: the control thread, the WebSocket stream and the page.

The simulated pump runs at ``SIM_SPEED`` times real time; tests wait on states with a
deadline rather than sleeping.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from tests.conftest import make_parent
from tests.web.conftest import PASSWORD, SIM_SPEED, logged_in
from tests.web.test_pump_api import PUMP, QUICK, command, remember_ceilings, wait_for

from letdown.device import BACKENDS
from letdown.device.base import SIDES
from letdown.device.sim import SimPump
from letdown.journal import HouseholdInfo, Identity, Journal, MemberInfo, Role
from letdown.pump.comfort import ComfortProfile
from letdown.web import Settings, create_app
from letdown.web.live import LiveCommand, LiveHub, LiveState

LIVE = f"{PUMP}/live"


def pump_threads(timeout_s: float = 2.0) -> list[threading.Thread]:
    """Control threads still alive after ``timeout_s`` (a thread ends just after its
    session's last state is published)."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = [t for t in threading.enumerate() if t.name.startswith("letdown-pump-")]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.01)


def set_up(app: FastAPI) -> TestClient:
    """Household "Home" with Alex, on an app whose lifespan the caller runs."""
    client = TestClient(app)
    me = client.post(
        "/api/v1/setup",
        json={"household": "Home", "name": "Alex", "login": "alex", "password": PASSWORD},
    )
    assert me.status_code == 201, me.text
    client.headers["X-CSRF-Token"] = me.json()["csrf_token"]
    return client


class BrokenPump(SimPump):
    """A backend whose link to the pump fails after half a second of ticks."""

    name = "broken"

    def __init__(self) -> None:
        super().__init__(make_parent(), seed="broken")
        self.kicks = 0

    def _kick(self) -> None:
        self.kicks += 1
        if self.kicks > 50:
            raise OSError("the pump's serial link is gone")
        super()._kick()


@pytest.fixture
def hub(app: FastAPI, client: TestClient) -> LiveHub:
    live: LiveHub = app.state.hub
    live.use_sim(make_parent(), seed="live")
    live.add_program(QUICK)
    return live


def receive_for(ws: Any, seconds: float) -> list[tuple[float, dict[str, Any]]]:
    """Every state that arrives within ``seconds``, with its arrival time (epoch)."""
    got = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = ws.receive_json()
        got.append((time.time(), state))
    return got


def receive_until(ws: Any, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        state: dict[str, Any] = ws.receive_json()
        if check(state):
            return state
    pytest.fail("the stream never showed the state awaited")


def test_states_stream_often_and_soon_after_the_reading(client: TestClient, hub: LiveHub) -> None:
    client.post(f"{PUMP}/start", json={})
    with client.websocket_connect(LIVE) as ws:
        first = ws.receive_json()
        assert first["running"] is True and first["session_id"]
        got = receive_for(ws, 1.5)
    rate_per_s = len(got) / 1.5
    delays_ms = sorted(1000 * (arrived - state["read_at"]) for arrived, state in got)
    p95_ms = delays_ms[int(0.95 * (len(delays_ms) - 1))]
    median_ms = statistics.median(delays_ms)
    print(f"\n{rate_per_s:.0f} states/s; delay median {median_ms:.1f} ms, p95 {p95_ms:.1f} ms")
    assert rate_per_s >= 10
    assert p95_ms < 200
    seqs = [state["seq"] for _, state in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # The simulated pump keeps to the wall clock, times SIM_SPEED: never ahead of it (on
    # a busy machine it may fall behind).
    (t0, s0), (t1, s1) = got[0], got[-1]
    assert 0.3 * SIM_SPEED < (s1["elapsed_s"] - s0["elapsed_s"]) / (t1 - t0) < 1.2 * SIM_SPEED
    for _, state in got:
        for side in ("left", "right"):
            assert set(state[side]) >= {"vacuum_mmhg", "volume_ml", "flow_ml_min", "level_mmhg"}
            # Scale noise around an empty bottle never shows as milk below nothing.
            assert state[side]["volume_ml"] >= 0 and state[side]["flow_ml_min"] >= 0
        assert state["sent_at"] >= state["read_at"]


def test_two_phones_see_the_same_session_and_either_acts(
    app: FastAPI, client: TestClient, partner_client: TestClient, hub: LiveHub
) -> None:
    remember_ceilings(app, 150.0, 160.0)
    client.post(f"{PUMP}/start", json={})
    with client.websocket_connect(LIVE) as alex, partner_client.websocket_connect(LIVE) as sam:
        mine, theirs = alex.receive_json(), sam.receive_json()
        assert mine["session_id"] == theirs["session_id"] and mine["started_by"] == "Alex"
        assert command(partner_client, "too_much", "left").status_code == 200
        for ws in (alex, sam):
            seen = receive_until(ws, lambda s: s["left"]["level_mmhg"] < 150.0)
            assert seen["right"]["level_mmhg"] == 160.0
        assert command(client, "pause").status_code == 200
        for ws in (alex, sam):
            receive_until(ws, lambda s: s["state"] == "paused")


def test_a_viewer_may_watch_the_stream(
    client: TestClient, viewer_client: TestClient, hub: LiveHub
) -> None:
    client.post(f"{PUMP}/start", json={})
    with viewer_client.websocket_connect(LIVE) as ws:
        assert ws.receive_json()["running"] is True


def test_the_stream_refuses_strangers(app: FastAPI, client: TestClient) -> None:
    stranger = TestClient(app)
    attempts: list[tuple[TestClient, str, dict[str, str]]] = [
        (stranger, LIVE, {}),
        (stranger, f"{LIVE}?token=ld_not-a-token", {}),
        (stranger, LIVE, {"Authorization": "Bearer ld_not-a-token"}),
        # Another site's page cannot borrow the browser's cookie.
        (client, LIVE, {"Origin": "https://evil.example"}),
    ]
    for who, url, headers in attempts:
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            who.websocket_connect(url, headers=headers),
        ):
            pass
        assert refused.value.code == 1008, url


def test_the_stream_takes_an_api_token(app: FastAPI, client: TestClient, hub: LiveHub) -> None:
    token = client.post("/api/v1/tokens", json={"name": "watch"}).json()["token"]
    script = TestClient(app)
    # A token in the address would land in access logs: it is refused there...
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        script.websocket_connect(f"{LIVE}?token={token}"),
    ):
        pass
    assert refused.value.code == 1008
    # ...and traded for a one-time ticket instead, which works once.
    bearer = {"Authorization": f"Bearer {token}"}
    ticket = script.post(f"{PUMP}/ticket", headers=bearer)
    assert ticket.status_code == 201, ticket.text
    assert token not in ticket.text
    with script.websocket_connect(f"{LIVE}?ticket={ticket.json()['ticket']}") as ws:
        assert ws.receive_json()["state"] == "idle"
    with (
        pytest.raises(WebSocketDisconnect) as spent,
        script.websocket_connect(f"{LIVE}?ticket={ticket.json()['ticket']}"),
    ):
        pass
    assert spent.value.code == 1008
    with script.websocket_connect(LIVE, headers={"Authorization": f"Bearer {token}"}) as ws:
        assert ws.receive_json()["running"] is False
    with client.websocket_connect(LIVE, headers={"Origin": "http://testserver"}) as ws:
        assert ws.receive_json()["running"] is False


def test_a_phone_that_leaves_does_not_affect_the_session(
    app: FastAPI, client: TestClient, partner_client: TestClient, hub: LiveHub
) -> None:
    started = partner_client.post(f"{PUMP}/start", json={"program": "quick"}).json()
    with partner_client.websocket_connect(LIVE) as ws:
        ws.receive_json()
    ended = wait_for(client, lambda s: not s["running"])
    assert ended["session_id"] == started["session_id"]
    assert ended["ended_by"] == "cap" and ended["state"] == "done"
    assert ended["elapsed_s"] >= QUICK.cap_s
    pumped = app.state.journal.book(household="Home").history(kinds=["pump"])
    assert len(pumped) == 1
    assert pumped[0].id == ended["journal_entry_id"]
    assert pumped[0].record.device == "letdown" and pumped[0].record.program == "quick"
    assert pumped[0].entered_by == "Sam"  # the member who started it
    assert pumped[0].record.volume_ml() > 0
    assert not pump_threads()


def test_closing_the_hub_mid_session_leaves_the_pump_safe(
    app: FastAPI, client: TestClient, hub: LiveHub
) -> None:
    client.post(f"{PUMP}/start", json={})
    household = client.get("/api/v1/me").json()["household"]
    wait_for(client, lambda s: s["elapsed_s"] > 3.0 and s["left"]["vacuum_mmhg"] > 20)
    live = hub.session(1)
    assert live is not None and live.household == household
    pump = live.pump
    assert isinstance(pump._backend, SimPump)
    with client.websocket_connect(LIVE) as ws:
        ws.receive_json()
        hub.close()
        receive_until(ws, lambda s: not s["running"])
        with pytest.raises(WebSocketDisconnect) as gone:
            while True:
                ws.receive_json()
        assert gone.value.code == 1001
    assert not pump_threads()
    assert pump.closed
    for side in SIDES:
        assert pump._backend.twin.motor_duty(side) == 0.0
        assert pump._backend.twin.vent_open(side)
    state = client.get(PUMP).json()
    assert state["running"] is False and state["ended_by"] == "stop"
    assert state["journal_entry_id"] is not None
    refused = client.post(f"{PUMP}/start", json={})
    assert refused.status_code == 409 and "shutting down" in refused.json()["detail"]
    hub.close()  # idempotent


def test_shutting_the_app_down_stops_the_pump(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app):
        client = set_up(app)
        hub: LiveHub = app.state.hub
        hub.use_sim(make_parent(), seed="shutdown")
        client.post(f"{PUMP}/start", json={})
        wait_for(client, lambda s: s["elapsed_s"] > 2.0)
        live = hub.session(1)
        assert live is not None
    assert not pump_threads()
    assert live.pump.closed and not live.running
    assert isinstance(live.pump._backend, SimPump)
    for side in SIDES:
        assert live.pump._backend.twin.motor_duty(
            side
        ) == 0.0 and live.pump._backend.twin.vent_open(side)


def test_a_controller_that_fails_leaves_the_pump_off_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(BACKENDS, "broken", f"{__name__}:BrokenPump")
    app = create_app(Settings(db=f"sqlite:///{tmp_path / 'broken.sqlite'}", device="broken"))
    with TestClient(app):
        client = set_up(app)
        started = client.post(f"{PUMP}/start", json={})
        assert started.status_code == 201, started.text
        ended = wait_for(client, lambda s: not s["running"])
        # The safety core caught the failing backend: a fault, stored with the session.
        assert ended["ended_by"] == "fault"
        fault = ended["fault"]
        assert fault["reason"] == "output_failure"
        assert "did not take a command" in fault["what_happened"]
        assert "slide a finger under them" in fault["what_to_do"]
        assert any("serial link is gone" in p for p in app.state.hub.session(1).pump.problems)
        assert not pump_threads()
        live = app.state.hub.session(1)
        assert live.pump.closed
        for side in SIDES:
            assert live.pump._backend.twin.motor_duty(
                side
            ) == 0.0 and live.pump._backend.twin.vent_open(side)
        # The next session starts afresh.
        assert client.post(f"{PUMP}/start", json={}).status_code == 201


def test_a_slow_phone_gets_the_newest_state_and_never_holds_the_pump(tmp_path: Path) -> None:
    settings = Settings(db=f"sqlite:///{tmp_path / 'slow.sqlite'}", sim_speed=SIM_SPEED)
    with Journal.open(settings.db) as journal:
        journal.create_household(
            HouseholdInfo(name="Home"), MemberInfo(name="Alex", role=Role.NURSING_PARENT)
        )
        who = Identity(1, "Alex", 1, "Home", Role.NURSING_PARENT)
        hub = LiveHub(journal, settings)
        hub.use_sim(make_parent(), seed="slow")

        async def watch_slowly() -> tuple[LiveState | None, int]:
            with hub.subscribe(who) as feed:
                hub.start(who, program="letdown")
                await asyncio.sleep(1.0)  # a phone that reads nothing for a second
                newest = await feed.get()
                return newest, feed.dropped

        try:
            newest, dropped = asyncio.run(watch_slowly())
            assert newest is not None and newest.snapshot is not None
            assert dropped >= 10
            assert 0.3 * SIM_SPEED < newest.snapshot.elapsed_s < 1.2 * SIM_SPEED
            assert hub.state(who).running
        finally:
            hub.close()
        assert not pump_threads()


def test_comfort_is_kept_per_household_in_memory(tmp_path: Path) -> None:
    settings = Settings(db=f"sqlite:///{tmp_path / 'comfort.sqlite'}", sim_speed=SIM_SPEED)
    with Journal.open(settings.db) as journal:
        for name in ("Home", "Elsewhere"):
            journal.create_household(
                HouseholdInfo(name=name), MemberInfo(name="Alex", role=Role.NURSING_PARENT)
            )
        home = Identity(1, "Alex", 1, "Home", Role.NURSING_PARENT)
        elsewhere = Identity(2, "Alex", 2, "Elsewhere", Role.NURSING_PARENT)
        hub = LiveHub(journal, settings)
        hub.use_sim(make_parent(left_comfort=150.0, right_comfort=170.0), seed="comfort")
        hub.add_program(replace(QUICK, name="learn", cap_s=90.0))
        try:
            assert hub.state(home).comfort == ComfortProfile()
            hub.start(home, program="learn")
            hub.start(elsewhere, program="learn")
            deadline = time.monotonic() + 10
            while hub.state(home).running or hub.state(elsewhere).running:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            learned = {}
            for who in (home, elsewhere):
                state = hub.state(who)
                assert state.ended_by == "cap" and state.journal_entry_id is not None
                assert state.snapshot is not None
                left, right = state.snapshot.left, state.snapshot.right
                assert not left.learning and not right.learning  # the parent said when
                assert left.ceiling_mmhg < right.ceiling_mmhg < 170.0
                assert state.comfort == ComfortProfile(left.ceiling_mmhg, right.ceiling_mmhg)
                learned[who.household] = state.comfort
            assert len(journal.book(household="Home").history(kinds=["pump"])) == 1
            hub.command(home, "forget-left", LiveCommand.CALIBRATE, None)
            assert hub.state(home).comfort == ComfortProfile()
            assert hub.state(elsewhere).comfort == learned["Elsewhere"]
        finally:
            hub.close()


def test_the_live_page_fits_a_phone_and_names_sides_with_the_households_word(
    app: FastAPI, client: TestClient, viewer_client: TestClient
) -> None:
    page = client.get("/live")
    assert page.status_code == 200
    html = page.text
    for element in (
        "start",
        "pause",
        "stop",
        "too-much-left",
        "too-much-right",
        "level-down-left",
        "level-up-left",
        "level-down-right",
        "level-up-right",
        "calibrate",
        "gauge-left",
        "gauge-right",
        "volume-left",
        "volume-right",
        "phase",
        "elapsed",
        "nearly-done",
        "fault",
    ):
        assert f'id="{element}"' in html, element
    assert 'data-vacuum-mmhg="' in html and 'data-level-mmhg="' in html
    assert "Left breast" in html and "Right breast" in html
    assert 'data-can-control="true"' in html
    assert 'name="csrf-token"' in html and "live.js" in html and "live.css" in html
    assert 'id="start" class="pump-control start">' in html  # enabled for Alex
    watched = viewer_client.get("/live").text
    assert 'data-can-control="false"' in watched
    assert 'id="start" class="pump-control start" disabled' in watched
    assert client.get("/static/live.js").status_code == 200
    assert client.get("/static/live.css").status_code == 200


def test_a_household_that_says_chest_sees_chest(app: FastAPI, client: TestClient) -> None:
    app.state.accounts.create_household(
        HouseholdInfo(name="Ours", word="chest"),
        MemberInfo(name="Kit", role=Role.NURSING_PARENT),
        "kit",
        "correct horse",
    )
    html = logged_in(app, "kit").get("/live").text
    assert "Left chest" in html and "Right chest" in html and "breast" not in html


def test_the_live_page_sends_a_browser_to_log_in(app: FastAPI, client: TestClient) -> None:
    stranger = TestClient(app, follow_redirects=False)
    response = stranger.get("/live", headers={"Accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/live"
