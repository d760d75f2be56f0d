"""``letdown pump --device URL --selftest`` against the firmware in the loop."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import serial.tools.list_ports
from tests.conftest import make_parent
from typer.testing import CliRunner

from letdown.cli import app
from letdown.device import Side, open_pump
from letdown.device.fwpeer import PeerProcess
from letdown.device.selftest import MeasuredSpecError, device_key, run_selftest
from letdown.device.sim import SimPump
from letdown.pump.session import PumpSession
from letdown.safety import FaultReason, SafePump
from letdown.twin.faults import Fault, FaultKind

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs a pseudo-terminal")


def test_the_selftest_measures_each_side_and_stores_a_passing_pump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "120")
    with PeerProcess(make_parent(), seed=4) as peer:
        result = CliRunner().invoke(app, ["pump", "--device", peer.url, "--selftest"])
    assert result.exit_code == 0, result.output
    assert "passed its self-test" in result.output
    stored = json.loads((tmp_path / "letdown" / "measured-spec.json").read_text())
    sides = stored[peer.url]
    # The twin's pump: stall 375 mmHg, vent 25/s, leak 0.1/s (twin.md §2).
    for side in ("left", "right"):
        assert abs(sides[side]["zero_mmhg"]) < 2.0
        assert 300.0 < sides[side]["stall_mmhg"] < 450.0
        assert 15.0 <= sides[side]["vent_per_s"] <= 35.0
        assert sides[side]["leak_per_s"] < 0.3


def test_the_selftest_needs_a_device_and_says_when_there_is_none() -> None:
    result = CliRunner().invoke(app, ["pump", "--sim", "--selftest"])
    assert result.exit_code != 0 and "--device URL" in result.output
    result = CliRunner().invoke(app, ["pump", "--device", "serial:///dev/ttyNOPE7", "--selftest"])
    assert result.exit_code != 0 and "no pump at /dev/ttyNOPE7" in result.output


def test_the_measured_spec_is_what_the_next_session_s_safety_core_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pump's declared spec has no slowest pull; its self-test measures one, and the
    next session's core then catches a pressure sensor whose gain drifts low (it reads
    30 % under the true vacuum from 14 s on), which without it pumps on unnoticed."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "120")
    drift = Fault(FaultKind.GAIN_DRIFT, 14.0, Side.LEFT, magnitude=0.7, duration_s=0.5)
    with PeerProcess(make_parent(), seed=4, twin_faults=(drift,)) as peer:
        result = CliRunner().invoke(app, ["pump", "--device", peer.url, "--selftest"])
        assert result.exit_code == 0, result.output
        measured = json.loads((tmp_path / "letdown" / "measured-spec.json").read_text())
        rise = min(measured[peer.url][side]["rise_mmhg_s"] for side in ("left", "right"))
        pump = open_pump(peer.url)
        safe = SafePump(pump)
        # The declared spec (the hello's) has none; the measured pull, less a margin.
        assert pump.declared_spec.min_rise_mmhg_s == 0.0  # type: ignore[attr-defined]
        assert 0.8 * rise < safe.core.limits.min_rise_mmhg_s < rise
        assert safe.core.limits.cap_single_mmhg == 300.0
        assert safe.core.limits.cap_double_mmhg == 260.0
        session = PumpSession(safe)
        session.start()
        while not session.finished and safe.clock.now_s() < 20.0:
            session.step()
            if safe.clock.now_s() < 14.0:
                assert session.snapshot().fault is None  # a healthy sensor pumps on
        fault = session.snapshot().fault
        safe.close()
        seen = peer.result()
    assert fault is not None and fault.reason is FaultReason.PRESSURE_GAIN, fault
    assert fault.side is Side.LEFT
    assert seen["over_cap_ms"] == 0


def test_a_pump_whose_self_test_is_out_of_bounds_is_refused_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    store = tmp_path / "letdown" / "measured-spec.json"
    with PeerProcess(make_parent(), seed=6) as peer:
        result = CliRunner().invoke(app, ["pump", "--device", peer.url, "--selftest"])
        assert result.exit_code == 0, result.output
        passed = store.read_text()
        figures = json.loads(passed)
        # A pull faster than the pump can give, a sensor off zero: figures that would
        # loosen the core are refused, never used.
        figures[peer.url]["left"]["zero_mmhg"] = 12.0
        figures[peer.url]["right"]["rise_mmhg_s"] = 5000.0
        store.write_text(json.dumps(figures))
        with pytest.raises(MeasuredSpecError) as refused:
            open_pump(peer.url)
        message = str(refused.value)
        assert "out of bounds" in message and "at atmosphere" in message
        assert "faster than the declared" in message and "--selftest" in message
        result = CliRunner().invoke(app, ["pump", "--device", peer.url])
        assert result.exit_code != 0 and "will not pump with it" in result.output
        # A self-test that failed is kept as well: the pump is refused until one passes.
        figures = json.loads(passed)
        figures[peer.url]["left"]["problems"] = ["left vent releases no release: stuck"]
        store.write_text(json.dumps(figures))
        with pytest.raises(MeasuredSpecError, match="left vent releases no release"):
            open_pump(peer.url)
        # The self-test itself still opens it (on the declared spec alone)...
        declared = open_pump(peer.url, measured=False)
        assert declared.spec.min_rise_mmhg_s == 0.0
        declared.close()
        # ...and once one passes, the pump runs on what it measured.
        store.write_text(passed)
        pump = open_pump(peer.url)
        assert pump.spec.min_rise_mmhg_s > 0.0
        pump.close()


def test_a_usb_pump_is_known_by_its_serial_number_wherever_it_is_plugged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Port:
        device = "/dev/ttyACM3"
        vid, pid, serial_number = 0x2E8A, 0x0005, "E6614103E7452D2F"

    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: [Port()])
    assert device_key("serial:///dev/ttyACM3") == "usb:2e8a:0005:E6614103E7452D2F"
    assert device_key("serial:///dev/ttyACM9") == "serial:///dev/ttyACM9"


def test_healthy_pumps_pass_their_self_test_whatever_the_sensor_noise_did() -> None:
    # A self-test that fails refuses the pump, so it must not fail a healthy one by chance.
    for seed in range(1, 25):
        with SimPump(make_parent(), seed=seed) as pump:
            report = run_selftest(pump, 600.0)
        assert report["passed"], (seed, report["sides"])


def test_a_sensor_that_cannot_read_what_the_pump_can_pull_is_refused() -> None:
    with SimPump(make_parent(), seed=1) as pump:
        report = run_selftest(pump, 300.0)
    assert not report["passed"]
    assert "fit a sensor with a wider range" in " ".join(report["sides"]["left"]["problems"])
