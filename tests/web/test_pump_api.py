"""The pump over REST: start, command, stop and state, with who may do what.

Sessions run on the simulated pump at ``SIM_SPEED`` times real time; tests poll the state
with a deadline rather than sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.conftest import make_parent

from letdown.journal import PumpSession, PumpSide
from letdown.pump.session import LETDOWN, AdaptiveProgram
from letdown.web.live import LEVEL_STEP_MMHG, LiveHub

PUMP = "/api/v1/pump"
QUICK = AdaptiveProgram(
    "quick",
    LETDOWN.stimulation,
    LETDOWN.expression,
    LETDOWN.restimulation,
    cap_s=30.0,
    nearly_done_s=10.0,
)
"""A session that ends at its 30-second cap (0.6 s of wall time at 50x)."""


def wait_for(
    client: TestClient, check: Callable[[dict[str, Any]], bool], timeout_s: float = 10.0
) -> dict[str, Any]:
    """The pump's state once ``check`` holds (fails after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        state: dict[str, Any] = client.get(PUMP).json()
        if check(state):
            return state
        if time.monotonic() > deadline:
            pytest.fail(f"the pump never got there; last state: {state}")
        time.sleep(0.02)


def remember_ceilings(app: FastAPI, left_mmhg: float, right_mmhg: float) -> None:
    """An earlier letdown session in Home's journal, with each side's comfort ceiling."""
    start = datetime.now(UTC) - timedelta(days=1)
    app.state.journal.book(household="Home").add(
        PumpSession(
            start_at=start,
            end_at=start + timedelta(minutes=15),
            sides={
                "left": PumpSide(volume_ml=60.0, comfort_mmhg=left_mmhg),
                "right": PumpSide(volume_ml=70.0, comfort_mmhg=right_mmhg),
            },
            device="letdown",
            program="letdown",
        )
    )


def command(client: TestClient, kind: str, side: str | None = None, command_id: str = "") -> Any:
    return client.post(
        f"{PUMP}/command",
        json={
            "command_id": command_id or f"{kind}-{time.monotonic_ns()}",
            "kind": kind,
            "side": side,
        },
    )


@pytest.fixture
def hub(app: FastAPI, client: TestClient) -> LiveHub:
    """The running app's hub, on a parent comfortable up to 190 mmHg on each side."""
    live: LiveHub = app.state.hub
    live.use_sim(make_parent(), seed="api")
    live.add_program(QUICK)
    return live


def test_the_state_before_any_session(client: TestClient, hub: LiveHub) -> None:
    state = client.get(PUMP).json()
    assert state["running"] is False
    assert state["state"] == "idle"
    assert state["left"] is None and state["right"] is None
    assert state["fault"] is None and state["journal_entry_id"] is None
    assert state["comfort"] == {"left_mmhg": None, "right_mmhg": None}
    assert state["sent_at"] == pytest.approx(time.time(), abs=5)


def test_start_runs_a_session_and_a_second_start_is_refused(
    client: TestClient, hub: LiveHub
) -> None:
    started = client.post(f"{PUMP}/start", json={"program": "letdown"})
    assert started.status_code == 201, started.text
    state = started.json()
    assert state["running"] is True and state["state"] == "stimulation"
    assert state["started_by"] == "Alex" and state["program"] == "letdown"
    for side in ("left", "right"):
        assert set(state[side]) == {
            "vacuum_mmhg",
            "volume_ml",
            "flow_ml_min",
            "level_mmhg",
            "ceiling_mmhg",
            "learning",
            "peak_mmhg",
        }
        assert state[side]["learning"] is True  # no ceilings known yet: they are learned
    again = client.post(f"{PUMP}/start", json={})
    assert again.status_code == 409
    assert "running already" in again.json()["detail"]
    moving = wait_for(client, lambda s: s["elapsed_s"] > 5.0)
    assert moving["running"] is True and moving["session_id"] == state["session_id"]


def test_ceilings_come_from_the_journal_and_soreness_starts_a_side_lower(
    app: FastAPI, client: TestClient, hub: LiveHub
) -> None:
    remember_ceilings(app, 150.0, 160.0)
    assert client.get(PUMP).json()["comfort"] == {"left_mmhg": 150.0, "right_mmhg": 160.0}
    state = client.post(f"{PUMP}/start", json={"soreness": {"left": 5}}).json()
    assert state["left"]["ceiling_mmhg"] == pytest.approx(150.0 * (1 - 0.03 * 5), abs=0.1)
    assert state["right"]["ceiling_mmhg"] == 160.0
    assert not state["left"]["learning"] and not state["right"]["learning"]


def test_too_much_on_the_left_drops_the_left_at_once_and_not_the_right(
    app: FastAPI, client: TestClient, hub: LiveHub
) -> None:
    remember_ceilings(app, 150.0, 160.0)
    client.post(f"{PUMP}/start", json={})
    wait_for(client, lambda s: s["elapsed_s"] > 3.0)
    asked = time.monotonic()
    response = command(client, "too_much", "left")
    assert response.status_code == 200, response.text
    state = response.json()["state"]
    assert time.monotonic() - asked < 1.0
    assert state["left"]["level_mmhg"] <= 130.0
    assert state["left"]["ceiling_mmhg"] <= 130.0
    assert state["right"]["level_mmhg"] == 160.0 and state["right"]["ceiling_mmhg"] == 160.0


def test_a_repeated_command_id_acts_once_from_either_phone(
    app: FastAPI, client: TestClient, partner_client: TestClient, hub: LiveHub
) -> None:
    remember_ceilings(app, 150.0, 160.0)
    client.post(f"{PUMP}/start", json={})
    first = command(client, "level_down", "right", command_id="tap-1").json()
    assert first["repeated"] is False
    assert first["state"]["right"]["level_mmhg"] == 160.0 - LEVEL_STEP_MMHG
    retry = command(client, "level_down", "right", command_id="tap-1").json()
    other_phone = command(partner_client, "level_down", "right", command_id="tap-1").json()
    assert retry["repeated"] is True and other_phone["repeated"] is True
    assert client.get(PUMP).json()["right"]["level_mmhg"] == 160.0 - LEVEL_STEP_MMHG
    # The partner's own tap acts, from their phone, at once.
    up = command(partner_client, "level_up", "right").json()
    assert up["state"]["right"]["level_mmhg"] == 160.0
    # Past the side's ceiling, a level-up is the parent asking for more: the safety core
    # raises the ceiling by one step at a time.
    raised = command(client, "level_up", "right").json()["state"]["right"]
    assert raised["level_mmhg"] == 160.0 + LEVEL_STEP_MMHG
    assert raised["ceiling_mmhg"] == 160.0 + LEVEL_STEP_MMHG


def test_pause_and_resume(app: FastAPI, client: TestClient, hub: LiveHub) -> None:
    remember_ceilings(app, 150.0, 160.0)
    client.post(f"{PUMP}/start", json={})
    wait_for(client, lambda s: s["elapsed_s"] > 1.0)
    assert command(client, "pause").json()["state"]["state"] == "paused"
    assert command(client, "resume").json()["state"]["state"] in {"stimulation", "expression"}


def test_too_much_from_a_phone_counts_in_the_session_and_the_peak_is_steady(
    app: FastAPI, client: TestClient, hub: LiveHub
) -> None:
    remember_ceilings(app, 150.0, 160.0)
    client.post(f"{PUMP}/start", json={})
    running = wait_for(client, lambda s: s["elapsed_s"] > 3.0)
    peak = running["left"]["peak_mmhg"]
    assert peak is not None and 0 < peak <= 150.0 + 20
    command(client, "too_much", "left")
    client.post(f"{PUMP}/stop")
    ended = wait_for(client, lambda s: not s["running"])
    entry = app.state.journal.book(household="Home").get(ended["journal_entry_id"])
    assert entry.record.presses == 1


def test_a_viewer_watches_but_every_command_is_refused(
    app: FastAPI, client: TestClient, viewer_client: TestClient, hub: LiveHub
) -> None:
    assert viewer_client.post(f"{PUMP}/start", json={}).status_code == 403
    assert client.get(PUMP).json()["running"] is False
    remember_ceilings(app, 150.0, 160.0)
    client.post(f"{PUMP}/start", json={})
    before = viewer_client.get(PUMP)
    assert before.status_code == 200 and before.json()["running"] is True
    for kind, side in (("too_much", "left"), ("level_down", "right"), ("pause", None)):
        refused = command(viewer_client, kind, side)
        assert refused.status_code == 403, refused.text
        assert "viewer" in refused.json()["detail"]
    assert viewer_client.post(f"{PUMP}/stop").status_code == 403
    assert viewer_client.post(f"{PUMP}/start", json={}).status_code == 403
    after = client.get(PUMP).json()
    assert after["running"] is True and after["state"] != "paused"
    assert after["left"]["level_mmhg"] == 150.0 and after["right"]["level_mmhg"] == 160.0


def test_without_logging_in_the_pump_is_out_of_reach(app: FastAPI, client: TestClient) -> None:
    stranger = TestClient(app)
    assert stranger.get(PUMP).status_code == 401
    assert stranger.post(f"{PUMP}/start", json={}).status_code == 401
    assert stranger.post(f"{PUMP}/stop").status_code == 401
    assert command(stranger, "stop").status_code == 401
    bad_token = TestClient(app, headers={"Authorization": "Bearer ld_not-a-token"})
    assert bad_token.get(PUMP).status_code == 401
    # A cookie without its CSRF token cannot run the pump.
    no_csrf = TestClient(app, cookies=dict(client.cookies))
    assert no_csrf.post(f"{PUMP}/start", json={}).status_code == 403
    assert client.get(PUMP).json()["running"] is False


def test_an_api_token_runs_the_pump(app: FastAPI, client: TestClient, hub: LiveHub) -> None:
    token = client.post("/api/v1/tokens", json={"name": "script"}).json()["token"]
    script = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert script.post(f"{PUMP}/start", json={}).status_code == 201
    assert script.post(f"{PUMP}/stop").json()["state"] in {"finishing", "done"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "too_much", "side": "left"}, ["body", "command_id"]),
        ({"command_id": "x", "kind": "too_much"}, ["body", "side"]),
        ({"command_id": "x", "kind": "level_up", "side": None}, ["body", "side"]),
        ({"command_id": "x", "kind": "pause", "side": "left"}, ["body", "side"]),
        ({"command_id": "x", "kind": "explode"}, ["body", "kind"]),
        ({"command_id": "x", "kind": "too_much", "side": "middle"}, ["body", "side"]),
        ({"command_id": "", "kind": "stop"}, ["body", "command_id"]),
        ({"command_id": "x", "kind": "stop", "speed": 3}, ["body", "speed"]),
    ],
)
def test_a_bad_command_names_its_field(
    client: TestClient, hub: LiveHub, body: dict[str, Any], field: list[str]
) -> None:
    response = client.post(f"{PUMP}/command", json=body)
    assert response.status_code == 422, response.text
    assert field in [problem["loc"] for problem in response.json()["detail"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"soreness": {"left": 11}}, ["body", "soreness", "left"]),
        ({"soreness": {"right": -1}}, ["body", "soreness", "right"]),
        ({"soreness": {"middle": 2}}, ["body", "soreness", "middle"]),
        ({"program": "turbo"}, ["body", "program"]),
        ({"calibrate": "sometimes"}, ["body", "calibrate"]),
    ],
)
def test_a_bad_start_names_its_field(
    client: TestClient, hub: LiveHub, body: dict[str, Any], field: list[str]
) -> None:
    response = client.post(f"{PUMP}/start", json=body)
    assert response.status_code == 422, response.text
    assert field in [problem["loc"] for problem in response.json()["detail"]]
    assert client.get(PUMP).json()["running"] is False


def test_commands_need_a_running_session(client: TestClient, hub: LiveHub) -> None:
    refused = command(client, "too_much", "left")
    assert refused.status_code == 409
    assert "no pump session is running" in refused.json()["detail"]
    client.post(f"{PUMP}/start", json={"program": "quick"})
    wait_for(client, lambda s: not s["running"])
    assert command(client, "pause").status_code == 409


def test_stop_is_idempotent_and_the_session_is_stored_once(
    app: FastAPI, client: TestClient, hub: LiveHub
) -> None:
    assert client.post(f"{PUMP}/stop").status_code == 200  # nothing runs: nothing to do
    client.post(f"{PUMP}/start", json={})
    wait_for(client, lambda s: s["elapsed_s"] > 2.0)
    first = client.post(f"{PUMP}/stop")
    assert first.status_code == 200 and first.json()["state"] in {"finishing", "done"}
    assert client.post(f"{PUMP}/stop").status_code == 200
    ended = wait_for(client, lambda s: not s["running"])
    assert ended["state"] == "done" and ended["ended_by"] == "stop"
    assert client.post(f"{PUMP}/stop").status_code == 200
    entries = app.state.journal.book(household="Home").history(kinds=["pump"])
    assert [entry.id for entry in entries] == [ended["journal_entry_id"]]


def test_a_session_ends_by_its_rules_and_its_ceilings_carry_over(
    app: FastAPI, client: TestClient, hub: LiveHub
) -> None:
    remember_ceilings(app, 150.0, 160.0)
    client.post(f"{PUMP}/start", json={"program": "quick"})
    command(client, "too_much", "left")
    ended = wait_for(client, lambda s: not s["running"])
    assert ended["ended_by"] == "cap" and ended["state"] == "done"
    assert ended["journal_entry_id"] is not None and ended["journal_error"] is None
    assert ended["comfort"]["left_mmhg"] == ended["left"]["ceiling_mmhg"] <= 130.0
    assert ended["comfort"]["right_mmhg"] == 160.0
    entry = app.state.journal.book(household="Home").get(ended["journal_entry_id"])
    assert entry.entered_by == "Alex"
    assert entry.record.device == "letdown" and entry.record.ended_by == "cap"
    assert entry.record.sides["left"].comfort_mmhg == ended["left"]["ceiling_mmhg"]
    # The next session starts from what this one learned.
    again = client.post(f"{PUMP}/start", json={}).json()
    assert again["left"]["ceiling_mmhg"] == ended["left"]["ceiling_mmhg"]
    assert again["journal_entry_id"] == ended["journal_entry_id"]


def test_calibrating_forgets_a_ceiling_and_learns_it_afresh(
    app: FastAPI, client: TestClient, hub: LiveHub
) -> None:
    remember_ceilings(app, 150.0, 160.0)
    forgot = command(client, "calibrate", "left").json()
    assert forgot["state"]["comfort"] == {"left_mmhg": None, "right_mmhg": 160.0}
    state = client.post(f"{PUMP}/start", json={}).json()
    assert state["left"]["learning"] is True and state["right"]["learning"] is False
    client.post(f"{PUMP}/stop")
    wait_for(client, lambda s: not s["running"])
    state = client.post(f"{PUMP}/start", json={"calibrate": True}).json()
    assert state["left"]["learning"] is True and state["right"]["learning"] is True
    assert state["comfort"] == {"left_mmhg": None, "right_mmhg": None}


def test_a_fault_says_what_happened_and_what_to_do(
    app: FastAPI, client: TestClient, hub: LiveHub
) -> None:
    remember_ceilings(app, 150.0, 160.0)
    hub.use_sim(
        make_parent(),
        seed="fault",
        prepare=lambda pump: pump.inject("motor_stuck_on", at_s=3.0, side="left"),
    )
    client.post(f"{PUMP}/start", json={})
    ended = wait_for(client, lambda s: not s["running"])
    assert ended["state"] == "fault" and ended["ended_by"] == "fault"
    fault = ended["fault"]
    assert fault["reason"] == "motor_stuck" and fault["side"] == "left"
    assert fault["what_happened"].startswith("The motor kept pulling on the left side")
    assert fault["what_to_do"].startswith("Slide a finger under the flange")
    assert fault["message"] == f"{fault['what_happened']} {fault['what_to_do']}"
    assert 2.9 < fault["at_s"] < 10.0
    # The journal keeps the whole message: what happened and what to do.
    entry = app.state.journal.book(household="Home").get(ended["journal_entry_id"])
    assert entry.record.faults == (fault["message"],)


def test_households_do_not_see_or_touch_each_other(
    client: TestClient, other_household_client: TestClient, hub: LiveHub
) -> None:
    client.post(f"{PUMP}/start", json={})
    theirs = other_household_client.get(PUMP).json()
    assert theirs["running"] is False and theirs["session_id"] is None
    assert command(other_household_client, "stop").status_code == 409
    assert other_household_client.post(f"{PUMP}/stop").status_code == 200
    assert client.get(PUMP).json()["running"] is True


def test_the_pump_api_is_in_the_openapi_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path in ("/api/v1/pump", "/api/v1/pump/start", "/api/v1/pump/command", "/api/v1/pump/stop"):
        assert path in document["paths"]
    schemas = document["components"]["schemas"]
    assert {"PumpState", "SideState", "FaultInfo", "CommandIn", "StartIn", "CommandOut"} <= set(
        schemas
    )
    assert "/live" not in document["paths"]
