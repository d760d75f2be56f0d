"""The serial backend against the real firmware in the loop (a peer process whose
drivers are bound to the twin), and the errors a user gets when something is wrong."""

from __future__ import annotations

import errno
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest
import serial
from tests.conftest import make_parent

from letdown.device import SIDES, link, open_pump
from letdown.device import serial as serial_backend
from letdown.device.fwpeer import PeerProcess
from letdown.device.serial import SerialPump
from letdown.pump.session import PumpSession, State

LINK_TIMEOUT_S = 1.0
"""A loaded CI machine may not run the peer for 200 ms; the firmware still times the
host out after 200 ms of its own time, which is what the twin measures."""

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs a pseudo-terminal")


def run_session(pump: SerialPump, until_s: float, pause_every_s: float = 0.0) -> PumpSession:
    session = PumpSession(pump)
    session.start()
    next_pause_s = pump.clock.now_s() + pause_every_s
    while not session.finished and pump.clock.now_s() < until_s:
        session.step()
        if pause_every_s and pump.clock.now_s() >= next_pause_s:
            next_pause_s += pause_every_s
            time.sleep(0.03)
    return session


def test_a_session_runs_on_the_firmware_through_the_serial_link() -> None:
    with PeerProcess(make_parent(), seed=3) as peer:
        pump = open_pump(peer.url, link_timeout_s=LINK_TIMEOUT_S)
        assert isinstance(pump, SerialPump)
        assert pump.firmware_version == link.FIRMWARE_VERSION
        assert pump.spec.watchdog_s == pytest.approx(0.25)
        pump.wait_ready()
        session = run_session(pump, until_s=12.0)
        assert not session.finished, session.snapshot().fault
        peaks = [pump.read_vacuum(side) for side in SIDES]
        snapshot = session.snapshot()
        assert snapshot.state is State.STIMULATION
        pump.close()
        seen = peer.result()
    # The firmware pulled vacuum in the twin on both sides, within the cap, and the host
    # read it back through the MPRLS driver (readings stamped on the device's clock).
    assert all(p is not None and p.at_s == pytest.approx(pump.clock.now_s()) for p in peaks)
    assert 60.0 < seen["max_vacuum_mmhg"] < 260.0
    assert seen["over_cap_ms"] == 0
    assert seen["link_errors"] == 0
    # Closing told the firmware to make the pump safe and latch it.
    assert seen["mcu_fault"] == "host_safe"


@pytest.mark.parametrize(
    "fault", ["corrupt", "drop", "duplicate", "reorder", "cable_pulled", "mcu_reset"]
)
def test_a_link_fault_mid_session_is_detected_and_the_pump_is_safe_within_250_ms(
    fault: str,
) -> None:
    with PeerProcess(make_parent(), seed=5, fault=fault, fault_at_ms=2500) as peer:
        pump = open_pump(peer.url, link_timeout_s=LINK_TIMEOUT_S)
        assert isinstance(pump, SerialPump)
        pump.wait_ready()
        session = run_session(pump, until_s=6.0)
        # The host ends the session in a fault: the link's or the firmware's.
        assert session.finished and session.state is State.FAULT
        link_error = pump.link_error
        ended_by = session.record().ended_by
        pump.close()
        time.sleep(0.3)
        seen = peer.result()
    # A fault the host saw as its link's is recorded as such, for the CLI and the web app.
    assert ended_by == ("link_lost" if link_error is not None else "fault"), ended_by
    assert seen["safe_ms"] is not None and seen["safe_ms"] <= 250, seen
    assert seen["over_cap_ms"] == 0
    # Detected at one end at least: by the firmware (which vents at once) or by the
    # host (which tells it to, and says why).
    assert seen["detected_by_mcu"] is not None or link_error is not None
    if fault == "mcu_reset":
        assert link_error is not None and "restarted" in link_error and "vented" in link_error
    if fault == "cable_pulled":
        assert seen["detected_by_mcu"] in ("host_silent", "controller_silent"), str(seen)
        assert link_error is not None and "vented by itself" in link_error


def test_a_host_killed_with_sigkill_leaves_the_pump_vented_within_250_ms() -> None:
    script = textwrap.dedent(
        """
        import sys
        from letdown.device import open_pump
        from letdown.pump.session import PumpSession
        pump = open_pump(sys.argv[1])
        pump.wait_ready()
        session = PumpSession(pump)
        session.start()
        while pump.clock.now_s() < 600:
            session.step()
            if pump.clock.now_s() > 3.0:
                print("pumping", flush=True)
        """
    )
    with PeerProcess(make_parent(), seed=7, clock="wall") as peer:
        host = subprocess.Popen(
            [sys.executable, "-c", script, peer.url], stdout=subprocess.PIPE, text=True
        )
        assert host.stdout is not None
        assert host.stdout.readline().strip() == "pumping"
        os.kill(host.pid, signal.SIGKILL)
        host.wait()
        host.stdout.close()
        time.sleep(0.6)
        seen = peer.result()
    # The host was pumping; the firmware timed it out and latched the pump safe: the
    # last unsafe output came at most 250 ms after the host's last frame (it may have
    # died during a release, when the outputs were safe already).
    assert seen["max_vacuum_mmhg"] > 60.0
    assert seen["mcu_fault"] in ("host_silent", "controller_silent")
    assert seen["unsafe_after_host_ms"] is not None
    assert seen["unsafe_after_host_ms"] <= 250, seen


def test_host_pauses_of_30_ms_keep_the_vacuum_within_the_programs_tolerance() -> None:
    results = {}
    for pause in (0.0, 0.25):
        # Lockstep with the board's 10 ms: a 30 ms pause of the host is 3 ticks on stale
        # commands, as on a board, while a loaded test machine cannot stretch it.
        with PeerProcess(make_parent(), seed=11, idle_step_ms=10) as peer:
            pump = open_pump(peer.url, link_timeout_s=LINK_TIMEOUT_S)
            assert isinstance(pump, SerialPump)
            pump.wait_ready()
            session = run_session(pump, until_s=12.0, pause_every_s=pause)
            assert not session.finished, session.snapshot().fault
            pump.close()
            results[pause] = peer.result()
    # No pause lets a side's vacuum run past what the host's tracker allows on its own.
    calm, paused = results[0.0], results[0.25]
    assert paused["max_vacuum_mmhg"] <= calm["max_vacuum_mmhg"] + 3.0, (calm, paused)
    assert paused["over_cap_ms"] == 0


def test_no_device_at_that_path_says_so() -> None:
    with pytest.raises(serial_backend.PumpNotFoundError, match="no pump at /dev/ttyNOPE9"):
        open_pump("serial:///dev/ttyNOPE9")


def test_permission_denied_names_the_group_to_join(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(port: str, **options: Any) -> None:
        raise serial.SerialException(errno.EACCES, f"could not open port {port}: Permission denied")

    monkeypatch.setattr(serial, "serial_for_url", refuse)
    with pytest.raises(serial_backend.PumpPermissionError) as caught:
        open_pump("serial:///dev/null")
    # /dev/null's group is root's; a real ttyACM's is dialout: the message names it.
    assert "add yourself to the 'root' group" in str(caught.value)
    assert "usermod -aG root" in str(caught.value)


class _OldFirmware:
    """A port whose firmware answers with a hello of protocol 0."""

    def __init__(self) -> None:
        hello = link.pack_hello(1, (1.0,) * len(link.SPEC_FIELDS), "0.0.1")
        hello = hello[:4] + b"\x00" + hello[5:]
        self._out = link.seal(link.HELLO, 0, hello)
        self.timeout = 0
        self.in_waiting = 0

    def write(self, data: bytes) -> None:
        self.in_waiting = len(self._out)

    def read(self, size: int = 1) -> bytes:
        data, self._out = self._out[:size], self._out[size:]
        self.in_waiting = len(self._out)
        return data

    def close(self) -> None:
        pass


def test_wrong_firmware_version_says_how_to_update() -> None:
    with pytest.raises(serial_backend.FirmwareVersionError) as caught:
        SerialPump(port=_OldFirmware())
    message = str(caught.value)
    assert "firmware 0.0.1 (link protocol 0)" in message
    assert "letdown firmware install" in message


def test_a_url_that_is_not_a_device_path_is_refused() -> None:
    with pytest.raises(serial_backend.DeviceError, match="serial:///dev/ttyACM0"):
        open_pump("serial://ttyACM0")
    assert math.isfinite(serial_backend.LINK_TIMEOUT_S)
