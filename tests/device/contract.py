"""The backend contract test kit: what every pump backend must do, through the seam only.

A backend's test module subclasses ``BackendContract`` and says how to make a fresh,
open backend (``make_backend``) and, if it can, how to make one output's writes fail
(``break_motor_write``). The kit never looks behind the seam (no ``pump.twin``): what it
knows of the pneumatics it reads from the pump's own sensors, as a controller would.
The simulated pump passes it in ``test_sim_contract.py``; a hardware backend passes it
against its firmware.
"""

from __future__ import annotations

import math

import pytest

from letdown.device.base import Clock, Pump, VacuumReading, VolumeReading
from letdown.errors import DeviceClosedError, DeviceError
from letdown.pump.comfort import ComfortProfile
from letdown.pump.session import Command, CommandKind, PumpSession
from letdown.safety import FaultReason, SafePump
from letdown.words import SIDES, HardwareFault, MotorLayout, Side

TICK_S = 0.01
LEFT, RIGHT = Side.LEFT, Side.RIGHT


class BackendContract:
    """Subclass with ``make_backend`` (and ``break_motor_write`` where it can)."""

    def make_backend(self) -> Pump:
        raise NotImplementedError

    def break_motor_write(self, pump: Pump, side: Side) -> None:
        """Make every later motor write for ``side`` raise (a bus error, a lost link)."""
        pytest.skip("this backend cannot make a write fail on purpose")

    # --- helpers ---------------------------------------------------------------------------
    @staticmethod
    def hold(pump: Pump, seconds: float, *, kick: bool = True) -> list[VacuumReading | None]:
        """Keep the outputs as they are for ``seconds``, tick by tick; the left readings."""
        clock = pump.clock
        start_s = clock.now_s()
        seen: list[VacuumReading | None] = []
        ticks = round(seconds / TICK_S)
        for n in range(1, ticks + 1):
            if kick:
                pump.kick()
            clock.sleep_until(start_s + n * TICK_S)
            seen.append(pump.read_vacuum(LEFT))
        return seen

    @staticmethod
    def vacuum(pump: Pump, side: Side) -> float:
        reading = pump.read_vacuum(side)
        assert reading is not None, f"no {side} reading"
        return reading.vacuum_mmhg

    # --- the contract ------------------------------------------------------------------------
    def test_it_is_a_pump_with_a_clock_a_spec_and_a_layout(self) -> None:
        pump = self.make_backend()
        try:
            assert isinstance(pump, Pump)
            assert isinstance(pump.clock, Clock)
            assert pump.name
            assert pump.motor_layout in (MotorLayout.PER_SIDE, MotorLayout.SHARED)
            assert pump.spec.stall_mmhg > 0 and pump.spec.watchdog_s > 0
            assert not pump.closed
        finally:
            pump.close()

    def test_readings_are_typed_and_stamped_on_the_pumps_clock(self) -> None:
        pump = self.make_backend()
        try:
            self.hold(pump, 0.3)
            for side in SIDES:
                vacuum = pump.read_vacuum(side)
                volume = pump.read_volume(side)
                assert isinstance(vacuum, VacuumReading)
                assert isinstance(volume, VolumeReading)
                assert math.isfinite(vacuum.vacuum_mmhg) and math.isfinite(volume.volume_ml)
                now_s = pump.clock.now_s()
                assert now_s - 0.05 <= vacuum.at_s <= now_s + 1e-9
                assert now_s - 1.0 <= volume.at_s <= now_s + 1e-9
            before = pump.read_vacuum(LEFT)
            self.hold(pump, 0.1)
            after = pump.read_vacuum(LEFT)
            assert before is not None and after is not None and after.at_s > before.at_s
        finally:
            pump.close()

    def test_both_sides_read_at_once_as_each_side_reads(self) -> None:
        """``read_sides`` (one call, as a link sends one frame; the safety core reads it
        every tick) gives what the four per-side reads give, and a closed pump refuses it."""
        pump = self.make_backend()
        try:
            pump.set_duty(LEFT, 0.6)
            pump.set_vent(LEFT, False)
            for _ in range(4):
                self.hold(pump, 0.15)
                both = pump.read_sides()
                assert both == (
                    pump.read_vacuum(LEFT),
                    pump.read_vacuum(RIGHT),
                    pump.read_volume(LEFT),
                    pump.read_volume(RIGHT),
                )
                assert all(isinstance(reading, VacuumReading) for reading in both[:2])
                assert all(isinstance(reading, VolumeReading) for reading in both[2:])
            left = pump.read_vacuum(LEFT)
            assert left is not None and left.vacuum_mmhg > self.vacuum(pump, RIGHT) + 20.0
        finally:
            pump.close()
        with pytest.raises(DeviceClosedError):
            pump.read_sides()

    def test_the_motor_pulls_with_the_vent_shut_and_the_vent_releases(self) -> None:
        pump = self.make_backend()
        try:
            pump.set_duty(LEFT, 1.0)
            pump.set_vent(LEFT, False)
            self.hold(pump, 0.6)
            pulled = self.vacuum(pump, LEFT)
            assert pulled > 100.0
            # The other side stays vented (a shared motor pulls a little against its vent).
            assert self.vacuum(pump, RIGHT) < 45.0
            pump.set_duty(LEFT, 0.0)
            pump.set_vent(LEFT, True)
            self.hold(pump, 0.5)
            assert self.vacuum(pump, LEFT) < 10.0
        finally:
            pump.close()

    def test_the_watchdog_is_armed_from_power_up_and_vents_when_not_kicked(self) -> None:
        pump = self.make_backend()
        try:
            pump.set_duty(LEFT, 1.0)
            pump.set_vent(LEFT, False)
            seen = self.hold(pump, pump.spec.watchdog_s + 0.6, kick=False)
            assert HardwareFault.WATCHDOG in pump.faults()
            last = seen[-1]
            assert last is not None and last.vacuum_mmhg < 20.0
        finally:
            pump.close()

    def test_kicking_keeps_the_watchdog_quiet(self) -> None:
        pump = self.make_backend()
        try:
            self.hold(pump, 3 * pump.spec.watchdog_s)
            assert HardwareFault.WATCHDOG not in pump.faults()
        finally:
            pump.close()

    def test_bad_sides_and_duties_are_refused(self) -> None:
        pump = self.make_backend()
        try:
            for bad in (-0.1, 1.5, math.nan, math.inf):
                with pytest.raises(ValueError):
                    pump.set_duty(LEFT, bad)
            with pytest.raises(ValueError):
                pump.set_duty("middle", 0.5)  # type: ignore[arg-type]
            with pytest.raises(ValueError):
                pump.read_vacuum("both")  # type: ignore[arg-type]
        finally:
            pump.close()

    def test_close_leaves_it_safe_and_a_closed_pump_refuses_commands(self) -> None:
        pump = self.make_backend()
        pump.set_duty(LEFT, 1.0)
        pump.set_vent(LEFT, False)
        self.hold(pump, 0.3)
        pump.close()
        pump.close()  # idempotent
        assert pump.closed
        with pytest.raises(DeviceClosedError):
            pump.set_duty(LEFT, 1.0)
        with pytest.raises(DeviceClosedError):
            pump.kick()

    def test_make_safe_and_close_try_every_output_when_one_write_fails(self) -> None:
        pump = self.make_backend()
        pump.set_duty(RIGHT, 1.0)
        pump.set_vent(RIGHT, False)
        self.hold(pump, 0.4)
        assert self.vacuum(pump, RIGHT) > 60.0
        self.break_motor_write(pump, LEFT)
        with pytest.raises(DeviceError, match="left motor"):
            pump.make_safe()
        # The right side was still switched off and vented.
        self.hold(pump, 0.4)
        assert self.vacuum(pump, RIGHT) < 10.0
        with pytest.raises(DeviceError):
            pump.close()
        assert pump.closed
        with pytest.raises(DeviceError):
            pump.make_safe()  # closed is not safe: every output is tried again

    def test_under_the_safety_core_a_session_runs_and_stops_safe(self) -> None:
        pump = self.make_backend()
        safe = SafePump(pump)
        try:
            session = PumpSession(safe, profile=ComfortProfile(150.0, 150.0))
            session.start()
            while safe.clock.now_s() < 20.0 and not session.finished:
                session.step()
            assert safe.fault is None, safe.fault
            assert max(self.vacuum(safe, side) for side in SIDES) >= 0.0
            # The handle shows what its core read from the backend, in one call or four.
            assert safe.read_sides() == (
                safe.read_vacuum(LEFT),
                safe.read_vacuum(RIGHT),
                safe.read_volume(LEFT),
                safe.read_volume(RIGHT),
            )
            assert safe.read_sides()[:2] == pump.read_sides()[:2]
            session.send(Command(CommandKind.STOP))
            record = session.run()
            assert record.ended_by == "stop"
            assert all(self.vacuum(safe, side) < 30.0 for side in SIDES)
        finally:
            safe.close()
        assert pump.closed

    def test_under_the_safety_core_a_failing_write_latches_a_fault(self) -> None:
        pump = self.make_backend()
        safe = SafePump(pump)
        try:
            session = PumpSession(safe, profile=ComfortProfile(150.0, 150.0))
            session.start()
            while safe.clock.now_s() < 10.0:
                session.step()
            self.break_motor_write(pump, LEFT)
            while not session.finished and safe.clock.now_s() < 20.0:
                session.step()
            record = session.record()
            assert record.ended_by == "fault"
            assert record.faults[0].reason is FaultReason.OUTPUT_FAILURE
        finally:
            safe.close()
