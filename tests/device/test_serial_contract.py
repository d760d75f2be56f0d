"""The backend contract test kit (issue 9) on the serial backend, against the firmware in
the loop: a peer process runs the firmware with its drivers bound to the twin."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from tests.device.contract import BackendContract

from letdown.device import Pump, open_pump
from letdown.device.fwpeer import PeerProcess
from letdown.device.serial import SerialPump
from letdown.errors import DeviceError
from letdown.words import Side

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs a pseudo-terminal")


class TestSerialContract(BackendContract):
    @pytest.fixture(autouse=True)
    def _peers(self) -> Iterator[None]:
        self.peers: list[PeerProcess] = []
        yield
        for peer in self.peers:
            peer.__exit__()

    def make_backend(self) -> Pump:
        peer = PeerProcess(seed=len(self.peers))
        self.peers.append(peer)
        pump = open_pump(peer.url, link_timeout_s=1.0)
        assert isinstance(pump, SerialPump)
        pump.wait_ready()
        # The firmware's own core ramps each side's limit from 80 mmHg at 10 mmHg/s from
        # the moment it is armed (issue 9: every session ramps up from a safe start); the
        # kit pulls past 100 mmHg at once, so it gets a pump armed 2.5 s before, idle.
        self.hold(pump, 4.0)
        return pump

    def break_motor_write(self, pump: Pump, side: Side) -> None:
        """The host's write for that motor fails, as a USB write error would."""
        assert isinstance(pump, SerialPump)
        original = pump._set_duty

        def failing(which: Side, duty: float) -> None:
            if which is side:
                raise DeviceError(f"serial write failed for the {side.value} motor")
            original(which, duty)

        pump._set_duty = failing  # type: ignore[method-assign]
