"""Comfort ceilings reach the firmware's own safety core: a lowering on the host (a
"too much" from a phone, the controller's comfort search) is held on the MCU too, and a
raise only when the parent asked for it."""

from __future__ import annotations

import sys

import pytest
from tests.conftest import make_parent

from letdown.device import SIDES, Side, open_pump
from letdown.device.fwpeer import PeerProcess
from letdown.device.serial import SerialPump
from letdown.device.sim import SimPump
from letdown.safety import SafePump

LINK_TIMEOUT_S = 1.0
"""A loaded machine may not run the peer for 200 ms (as tests/device/test_serial_backend)."""


def _tick(pump: SafePump | SerialPump, seconds: float) -> None:
    start_s = pump.clock.now_s()
    for n in range(1, round(seconds / 0.01) + 1):
        pump.kick()
        pump.clock.sleep_until(start_s + n * 0.01)


def _pull(pump: SerialPump, side: Side, seconds: float) -> float:
    """Full duty, vent shut, straight to the backend (past the host's core, as a host
    bug would): the highest vacuum read."""
    pump.set_vent(side, False)
    pump.set_duty(side, 1.0)
    highest = 0.0
    start_s = pump.clock.now_s()
    for n in range(1, round(seconds / 0.01) + 1):
        pump.kick()
        pump.clock.sleep_until(start_s + n * 0.01)
        reading = pump.read_vacuum(side)
        if reading is not None:
            highest = max(highest, reading.vacuum_mmhg)
    pump.set_duty(side, 0.0)
    pump.set_vent(side, True)
    return highest


@pytest.mark.skipif(sys.platform != "linux", reason="needs a pseudo-terminal")
def test_a_ceiling_lowered_on_the_host_is_held_by_the_firmware_core() -> None:
    with PeerProcess(make_parent(), seed=8) as peer:
        raw = open_pump(peer.url, link_timeout_s=LINK_TIMEOUT_S)
        assert isinstance(raw, SerialPump)
        safe = SafePump(raw)
        # Long enough for the firmware core's start ramp (80 mmHg + 10 mmHg/s) to pass
        # 120 mmHg: only the comfort ceiling holds the pull below that then.
        _tick(safe, 4.5)
        assert safe.lower_ceiling(Side.LEFT, 70.0) == 70.0
        _tick(safe, 0.05)
        safe.release()  # the host's core is out of the way; the link stays up
        lowered = _pull(raw, Side.LEFT, 1.2)
        # The parent's own raise reaches the firmware as one: a step up, no further.
        again = SafePump(raw)
        again.lower_ceiling(Side.LEFT, 70.0)
        _tick(again, 0.05)
        assert again.raise_ceiling(Side.LEFT, 200.0) == 80.0
        _tick(again, 0.05)
        again.release()
        raised = _pull(raw, Side.LEFT, 1.2)
        right = _pull(raw, Side.RIGHT, 1.2)
        raw.close()
        seen = peer.result()
    assert lowered < 70.0 + 10.0, lowered
    assert lowered + 5.0 < raised < 80.0 + 10.0, raised
    # The other side kept the firmware's own ramp (no ceiling was lowered there).
    assert right > 110.0, right
    assert seen["over_cap_ms"] == 0


class CeilingPump(SimPump):
    """A simulated pump whose controller takes ceilings, as the serial pump's does."""

    def __init__(self) -> None:
        super().__init__(make_parent(), seed="ceilings")
        self.told: list[tuple[Side, float, bool]] = []

    def set_ceiling(self, side: Side, mmhg: float, *, parent: bool = False) -> None:
        self.told.append((side, mmhg, parent))


def test_only_a_parent_s_raise_is_forwarded_as_the_parent_s() -> None:
    backend = CeilingPump()
    with SafePump(backend) as pump:
        pump.kick()
        pump.clock.sleep_until(pump.clock.now_s() + 0.02)
        assert backend.told == []  # nothing changed, nothing said
        pump.lower_ceiling(Side.LEFT, 150.0)
        pump.clock.sleep_until(pump.clock.now_s() + 0.02)
        assert backend.told == [(Side.LEFT, 150.0, False)]
        pump.raise_ceiling(Side.LEFT, 155.0)
        pump.lower_ceiling(Side.RIGHT, 120.0)
        pump.clock.sleep_until(pump.clock.now_s() + 0.02)
        assert backend.told[1:] == [(Side.LEFT, 155.0, True), (Side.RIGHT, 120.0, False)]
        # Lowered again after the raise: a lowering, whoever asked.
        pump.lower_ceiling(Side.LEFT, 140.0)
        pump.clock.sleep_until(pump.clock.now_s() + 0.02)
        assert backend.told[3:] == [(Side.LEFT, 140.0, False)]
        assert [pump.ceiling(side) for side in SIDES] == [140.0, 120.0]
