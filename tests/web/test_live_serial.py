"""The web app's live hub on a real pump's backend: the firmware in the loop behind the
serial link (issue "A real pump")."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import make_parent
from tests.web.conftest import PASSWORD
from tests.web.test_pump_api import PUMP, wait_for

from letdown.device.fwpeer import PeerProcess
from letdown.device.selftest import measured_spec_path, store_measured
from letdown.journal import Role
from letdown.web import Settings, create_app

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs a pseudo-terminal")

FAILED = {
    "zero_mmhg": 0.2,
    "noise_mmhg": 1.0,
    "rise_mmhg_s": 450.0,
    "stall_mmhg": 380.0,
    "leak_per_s": 0.1,
    "vent_per_s": None,
    "problems": ["vent releases no release: the vent valve is stuck or its tube blocked"],
}
"""A self-test's figures for a side whose vent did not open."""


def test_the_hub_refuses_a_failed_pump_and_saves_a_link_loss_as_ended_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    with PeerProcess(make_parent(), seed=5, fault="cable_pulled", fault_at_ms=4000) as peer:
        settings = Settings(db=f"sqlite:///{tmp_path / 'letdown.sqlite'}", device=peer.url)
        with TestClient(create_app(settings)) as client:
            me = client.post(
                "/api/v1/setup",
                json={
                    "household": "Home",
                    "name": "Alex",
                    "role": Role.NURSING_PARENT.value,
                    "login": "alex",
                    "password": PASSWORD,
                },
            )
            assert me.status_code == 201, me.text
            client.headers["X-CSRF-Token"] = me.json()["csrf_token"]
            # A pump whose last self-test failed is refused, saying why and what to do.
            store_measured(peer.url, {"sides": {"left": FAILED, "right": FAILED}})
            refused = client.post(f"{PUMP}/start", json={})
            assert refused.status_code == 409, refused.text
            assert "will not pump with it" in refused.json()["detail"]
            assert "the vent valve is stuck" in refused.json()["detail"]
            assert "--selftest" in refused.json()["detail"]
            measured_spec_path().unlink()
            started = client.post(f"{PUMP}/start", json={})
            assert started.status_code in (200, 201), started.text
            state = wait_for(client, lambda s: not s["running"] and s["session_id"], timeout_s=60.0)
            history = client.get("/api/v1/entries", params={"kind": "pump"}).json()
        seen = peer.result()
    # The parent and partner are told in their words, and the journal keeps why.
    assert state["ended_by"] == "link_lost", state
    fault = state["fault"]
    assert fault["reason"] == "link_lost"
    assert "lost its link" in fault["what_happened"] and "vented" in fault["what_happened"]
    assert "saved as ended by a link loss" in fault["message"]
    assert state["journal_entry_id"] is not None and state["journal_error"] is None
    [entry] = history
    assert entry["id"] == state["journal_entry_id"]
    assert entry["record"]["ended_by"] == "link_lost"
    assert any("lost its link" in text for text in entry["record"]["faults"])
    # The firmware left the pump vented, with the host gone.
    assert seen["safe_ms"] is not None and seen["safe_ms"] <= 250, seen
