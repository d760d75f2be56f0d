"""The simulated pump: the twin behind the hardware seam, on simulated time.

``SimPump`` is a real backend (as gpiozero's ``MockFactory`` or python-can's
``VirtualBus``): a controller cannot tell it from hardware, while tests get handles on
the outside world (``inject``, ``press``, and the ``twin``'s truth). Its clock advances
only when the controller sleeps until a deadline, so a session runs as fast as the CPU
allows and never sleeps on the wall clock.
"""

from __future__ import annotations

from typing import Final

from letdown.device.base import (
    BasePump,
    HardwareFault,
    MotorLayout,
    Press,
    PressKind,
    PumpSpec,
    Side,
    SideReadings,
    VacuumReading,
    VolumeReading,
)
from letdown.twin.cohort import ParentSpec
from letdown.twin.faults import Fault, FaultKind
from letdown.twin.model import Commands, PneumaticsSpec, Readings, Twin

_LEFT = Side.LEFT
_WATCHDOG = frozenset({HardwareFault.WATCHDOG})
_NO_FAULTS: frozenset[HardwareFault] = frozenset()
_PRESSES: Final = 4
_WATCHDOG_TRIPPED: Final = 5
"""Fields of the twin's ``Readings`` read every tick, by index: CPython 3.11 does not
specialise a NamedTuple's attribute lookups (each goes the slow, generic way)."""
assert Readings._fields[_PRESSES] == "presses"
assert Readings._fields[_WATCHDOG_TRIPPED] == "watchdog_tripped"
_new_tuple = tuple.__new__
"""Makes a reading without the NamedTuple's Python-level ``__new__`` (the core reads
both sides every tick)."""


def declared_spec(pneumatics: PneumaticsSpec) -> PumpSpec:
    """The bounds a maker of this simulated pump would declare, with margins."""
    pull_per_s = pneumatics.pull_per_s * (
        pneumatics.shared_pull_fraction if pneumatics.layout is MotorLayout.SHARED else 1.0
    )
    return PumpSpec(
        max_rise_mmhg_s=1.2 * pull_per_s * pneumatics.stall_mmhg,
        min_rise_mmhg_s=0.85 * pull_per_s * pneumatics.stall_mmhg,
        stall_mmhg=pneumatics.stall_mmhg,
        vent_per_s_min=0.6 * pneumatics.vent_per_s,
        vent_per_s_max=1.4 * pneumatics.vent_per_s,
        leak_per_s_max=3.0 * pneumatics.leak_per_s,
        pressure_noise_mmhg=pneumatics.pressure_noise_mmhg,
        pressure_period_s=pneumatics.max_step_s,
        volume_noise_ml=pneumatics.volume_noise_ml,
        volume_period_s=pneumatics.volume_period_s,
        watchdog_s=pneumatics.watchdog_s,
    )


class SimClock:
    """Simulated time: ``sleep_until`` steps the twin up to the deadline."""

    def __init__(self, pump: SimPump) -> None:
        self._pump = pump

    def now_s(self) -> float:
        return self._pump.twin._now_s

    def sleep_until(self, at_s: float) -> None:
        pump = self._pump
        twin = pump.twin
        dt_s = at_s - twin._now_s
        if not dt_s > 1e-9:
            return  # (a NaN deadline too)
        if dt_s > pump._one_step_s:
            pump._advance(dt_s)
            return
        # One tick, the common case: ``_advance`` inline (the safety core sleeps every tick).
        readings = twin._step(pump._commands, dt_s)
        if readings[_PRESSES]:
            pump._presses_seen.extend(readings[_PRESSES])
        pump._readings = readings


class SimPump(BasePump):
    """A double pump on a simulated parent.

    Args:
        parent: the simulated parent's hidden parameters; a default parent if None.
        seed: seeds every random draw of the session (same seed, same session).
        pneumatics: the hardware model (motor layout, sensor noise, watchdog).
    """

    name = "sim"

    def __init__(
        self,
        parent: ParentSpec | None = None,
        *,
        seed: int | str = 0,
        pneumatics: PneumaticsSpec | None = None,
    ) -> None:
        self.twin = Twin(parent or ParentSpec(id="default"), seed=seed, pneumatics=pneumatics)
        self.motor_layout: MotorLayout = self.twin.pneumatics.layout
        self._commands = Commands()
        self._readings = Readings(0.0, (0.0, 0.0), (0.0, 0.0), 0.0, (), False)
        self._presses_seen: list[Press] = []
        self._scales: tuple[VolumeReading | None, VolumeReading | None] = (None, None)
        self._scales_at_s = -1.0
        self._scales_ml: tuple[float | None, float | None] = (None, None)
        super().__init__(SimClock(self), declared_spec(self.twin.pneumatics))
        cls = type(self)
        self._own_reads = (
            cls._read_vacuum is SimPump._read_vacuum and cls._read_volume is SimPump._read_volume
        )
        """Whether ``read_sides`` may read the twin's readings directly (a subclass that
        changes what a side reads gets the four reads instead)."""
        self._own_kick = cls._kick is SimPump._kick
        self._own_status = cls._faults is SimPump._faults and cls._presses is SimPump._presses
        """Likewise for the kick and the status (the safety core's calls every tick)."""
        self._one_step_s = (
            self.twin.pneumatics.max_step_s * 1.000001 if cls._advance is SimPump._advance else 0.0
        )
        """A step no longer than this is the twin's single step (``Twin.step`` splits
        longer ones), taken inline by the clock (0: a subclass's own ``_advance`` takes
        every step)."""

    def inject(
        self,
        kind: FaultKind | str,
        at_s: float,
        side: Side | str | None = None,
        magnitude: float | None = None,
        duration_s: float | None = None,
    ) -> Fault:
        """Make ``kind`` happen at ``at_s`` (simulated seconds); returns the fault."""
        fault = Fault(
            FaultKind(kind),
            at_s,
            None if side is None else Side(side),
            magnitude,
            duration_s,
        )
        self.twin.inject(fault)
        return fault

    def press(self, kind: PressKind | str, side: Side | str | None = None) -> None:
        """Press one of the parent's buttons, as a person would."""
        self.twin.press(PressKind(kind), None if side is None else Side(side))

    def _advance(self, dt_s: float) -> None:
        readings = self.twin.step(self._commands, dt_s)
        if readings.presses:
            self._presses_seen.extend(readings.presses)
        self._readings = readings

    def read_sides(self) -> SideReadings:
        if self._closed or not self._own_reads:
            return super().read_sides()
        at_s, (left, right), volume_ml, scale_at_s, _, _ = self._readings
        if scale_at_s != self._scales_at_s or volume_ml != self._scales_ml:
            # The scale samples at 10 Hz: its readings are made once per sample.
            self._scales_at_s = scale_at_s
            self._scales_ml = volume_ml
            scale_l, scale_r = volume_ml
            self._scales = (
                None
                if scale_l is None or not -1e6 < scale_l < 1e6
                else _new_tuple(VolumeReading, (scale_l, scale_at_s)),
                None
                if scale_r is None or not -1e6 < scale_r < 1e6
                else _new_tuple(VolumeReading, (scale_r, scale_at_s)),
            )
        scales = self._scales
        return (
            None
            if left is None or not -1e6 < left < 1e6
            else _new_tuple(VacuumReading, (left, at_s)),
            None
            if right is None or not -1e6 < right < 1e6
            else _new_tuple(VacuumReading, (right, at_s)),
            scales[0],
            scales[1],
        )

    # The safety core's per-tick calls below answer in one call, with ``BasePump``'s
    # checks; on a closed pump, or a subclass with its own ``_kick``..., they go the
    # ``BasePump`` way.
    def kick(self) -> None:
        if self._closed or not self._own_kick:
            super().kick()
            return
        self._commands.kick = True

    def faults(self) -> frozenset[HardwareFault]:
        if self._closed or not self._own_status:
            return super().faults()
        return _WATCHDOG if self._readings[_WATCHDOG_TRIPPED] else _NO_FAULTS

    def presses(self) -> tuple[Press, ...]:
        if self._closed or not self._own_status:
            return super().presses()
        if not self._presses_seen:
            return ()
        presses = tuple(self._presses_seen)
        self._presses_seen.clear()
        return presses

    def _read_vacuum(self, side: Side) -> tuple[float, float] | None:
        readings = self._readings
        value = readings.vacuum_mmhg[0 if side is _LEFT else 1]
        return None if value is None else (value, readings.at_s)

    def _read_volume(self, side: Side) -> tuple[float, float] | None:
        readings = self._readings
        value = readings.volume_ml[0 if side is _LEFT else 1]
        return None if value is None else (value, readings.volume_at_s)

    def _set_duty(self, side: Side, duty: float) -> None:
        self._commands.duty[0 if side is _LEFT else 1] = duty

    def _set_vent(self, side: Side, open_: bool) -> None:
        self._commands.vent_open[0 if side is _LEFT else 1] = open_

    def _kick(self) -> None:
        self._commands.kick = True

    def _rearm(self) -> None:
        self.twin.rearm()
        # Outputs come back off: nothing runs until the controller commands it again.
        self._commands.duty[:] = [0.0, 0.0]
        self._commands.vent_open[:] = [True, True]
        self._readings = self._readings._replace(watchdog_tripped=False)

    def _faults(self) -> frozenset[HardwareFault]:
        return _WATCHDOG if self._readings.watchdog_tripped else _NO_FAULTS

    def _presses(self) -> tuple[Press, ...]:
        if not self._presses_seen:
            return ()
        presses = tuple(self._presses_seen)
        self._presses_seen.clear()
        return presses

    def _close(self) -> None:
        # Apply the safe commands close() just set, so the twin's truth shows them.
        self.twin.step(self._commands, 1e-3)
