"""The core's faults in the host's words: reasons as an enum, a message for the parent.

``Supervisor`` is the core's checks alone, driven with the commands a test says were
applied (the core itself checks against what it applied): the way to test how each
hardware fault is told apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from letdown.device.base import PumpSpec
from letdown.safety import core
from letdown.words import HardwareFault, MotorLayout, Side


class FaultReason(StrEnum):
    """Why the safety core stopped the pump."""

    OVER_CAP = core.OVER_CAP
    OVER_CEILING = core.OVER_CEILING
    PRESSURE_DROPOUT = core.PRESSURE_DROPOUT
    PRESSURE_STUCK = core.PRESSURE_STUCK
    PRESSURE_IMPLAUSIBLE = core.PRESSURE_IMPLAUSIBLE
    """A reading the hardware cannot produce that then persists, e.g. an offset."""
    PRESSURE_NOISY = core.PRESSURE_NOISY
    PRESSURE_GAIN = core.PRESSURE_GAIN
    """The vacuum rose slower or faster than the pump can pull: the sensor's gain."""
    MOTOR_STUCK = core.MOTOR_STUCK
    VENT_STUCK = core.VENT_STUCK
    LEAK = core.LEAK
    VOLUME_STUCK = core.VOLUME_STUCK
    LOOP_OVERRUN = core.LOOP_OVERRUN
    WATCHDOG = core.WATCHDOG
    """The hardware watchdog tripped, or neither side follows its commands any more."""
    CONTROLLER_SILENT = core.CONTROLLER_SILENT
    CONTROLLER_ERROR = core.CONTROLLER_ERROR
    BAD_COMMAND = core.BAD_COMMAND
    CLOCK_JUMP = core.CLOCK_JUMP
    OUTPUT_FAILURE = core.OUTPUT_FAILURE
    DEVICE_ERROR = core.DEVICE_ERROR
    LINK_LOST = "link_lost"
    """Not the core's own: the backend's link to the pump failed (the pump vented by
    itself); the core saw it as a hardware fault."""


@dataclass(frozen=True, slots=True)
class SafetyFault:
    """A fault the core latched: what, on which side (None: the whole pump), when.

    ``message`` is for the parent or partner: what happened and what to do; ``detail``
    is for a log (what the controller raised, what a write said).
    """

    reason: FaultReason
    side: Side | None
    at_s: float
    message: str
    detail: str = ""

    @classmethod
    def from_core(cls, fault: core.Fault, link_error: str | None = None) -> SafetyFault:
        """The core's fault in words. A fault that came with a failed link (``link_error``,
        the backend's why) is told as the link's loss: whatever the host's core then saw
        (the hardware's flags, a clock that jumped, readings that stopped), the pump
        itself vented, and that is what the parent needs to know."""
        if link_error:
            reason = FaultReason.LINK_LOST
            detail = f"{link_error} (the host's core: {fault.reason})"
            return cls(reason, None, fault.at_s, message(reason, None), detail)
        reason = FaultReason(fault.reason)
        side = None if fault.side is None else (Side.LEFT, Side.RIGHT)[fault.side]
        return cls(reason, side, fault.at_s, message(reason, side), fault.detail)


_RESTART = " Take the flanges off and start again; if it happens again, restart the pump."
_MESSAGES: dict[FaultReason, str] = {
    FaultReason.OVER_CAP: (
        "Suction on the {side} side reached the pump's safety limit: the pump stopped and"
        " released it. Take the flanges off, and have the pump checked before using it again."
    ),
    FaultReason.OVER_CEILING: (
        "Suction on the {side} side stayed above the comfort setting for too long: the pump"
        " stopped and released it. Check the flange fit and start again."
    ),
    FaultReason.PRESSURE_DROPOUT: (
        "The {side} pressure sensor stopped giving readings: the pump stopped. Check that"
        " the {side} tubing is firmly attached, then start again."
    ),
    FaultReason.PRESSURE_STUCK: (
        "The {side} pressure sensor is stuck on one reading: the pump stopped. Check the"
        " {side} tubing, then start again; if it happens again, have the pump checked."
    ),
    FaultReason.PRESSURE_IMPLAUSIBLE: (
        "The {side} pressure sensor gave readings that cannot be right (it may read too"
        " low): the pump stopped, as it could not tell the real suction. Have the pump"
        " checked before using it again."
    ),
    FaultReason.PRESSURE_NOISY: (
        "The {side} pressure sensor's readings are jumping about: the pump stopped. Check"
        " the {side} tubing for kinks or milk in it, then start again."
    ),
    FaultReason.PRESSURE_GAIN: (
        "Suction on the {side} side rose at a pace this pump cannot give, so the {side}"
        " pressure sensor may read wrong: the pump stopped. Re-seat the {side} flange and"
        " start again; if it happens again, have the pump checked."
    ),
    FaultReason.MOTOR_STUCK: (
        "The motor kept pulling on the {side} side when told to stop: the vents are open."
        " Slide a finger under the flange to break the seal, take both flanges off and"
        " switch the pump off; have it checked before using it again."
    ),
    FaultReason.VENT_STUCK: (
        "The {side} release valve did not open, so suction may still be on: the motor is"
        " off. Slide a finger under the {side} flange to break the seal, then take it off;"
        " have the valve checked before using the pump again."
    ),
    FaultReason.LEAK: (
        "The {side} flange lost its seal: the pump stopped. Re-seat the flange and start again."
    ),
    FaultReason.VOLUME_STUCK: (
        "The {side} bottle scale stopped updating: the pump stopped. Check that the {side}"
        " bottle sits firmly on the scale, then start again."
    ),
    FaultReason.LOOP_OVERRUN: "The pump's controller fell behind: it stopped the pump to be safe."
    + _RESTART,
    FaultReason.WATCHDOG: (
        "The pump stopped following its controller, so its safety cut-out switches the"
        " motor off and opens the vents. Take the flanges off, and restart the pump before"
        " using it again."
    ),
    FaultReason.CONTROLLER_SILENT: (
        "The pump's controller stopped answering: the safety cut-out stopped the pump and"
        " opened the vents." + _RESTART
    ),
    FaultReason.CONTROLLER_ERROR: (
        "The pump's controller hit an error: the pump stopped and released the suction." + _RESTART
    ),
    FaultReason.BAD_COMMAND: (
        "The pump's controller asked for something impossible: the pump stopped and"
        " released the suction." + _RESTART
    ),
    FaultReason.CLOCK_JUMP: (
        "The pump's clock jumped: it stopped the pump to be safe, as it could not time the"
        " suction." + _RESTART
    ),
    FaultReason.OUTPUT_FAILURE: (
        "The pump did not take a command to its motor or valve: it stopped and is releasing"
        " the suction. If the flanges still pull, slide a finger under them to break the"
        " seal; have the pump checked before using it again."
    ),
    FaultReason.DEVICE_ERROR: (
        "The pump could not be read: it stopped and released the suction. Check that it is"
        " plugged in, then start again."
    ),
    FaultReason.LINK_LOST: (
        "The pump lost its link to letdown and has vented by itself: the motors are off"
        " and the suction is released. The session is saved as ended by a link loss."
        " Check the pump's USB cable, then start again."
    ),
}


def message(reason: FaultReason, side: Side | None) -> str:
    """What to tell the parent about ``reason`` on ``side`` (None: the whole pump)."""
    text = _MESSAGES[reason]
    if side is None:
        return text.replace("{side} side", "pump").replace("the {side} ", "the ")
    return text.replace("{side}", side.value)


def limits_for(
    spec: PumpSpec,
    *,
    motor_layout: MotorLayout = MotorLayout.PER_SIDE,
    tick_s: float = 0.01,
    max_late_s: float = 0.05,
    cap_mmhg: float = core.CAP_SINGLE_MMHG,
    cap_double_mmhg: float = core.CAP_DOUBLE_MMHG,
    session_max_s: float = core.SESSION_MAX_S,
) -> core.Limits:
    """The core's limits from the hardware's declared spec (ValueError if impossible)."""
    if not isinstance(spec, PumpSpec):
        raise ValueError(f"spec must be a PumpSpec, got {spec!r}")
    try:
        shared = MotorLayout(motor_layout) is MotorLayout.SHARED
    except ValueError:
        raise ValueError(
            f"motor_layout must be 'per_side' or 'shared', got {motor_layout!r}"
        ) from None
    cap_single = core._number("cap_mmhg", cap_mmhg, 1.0, core.CAP_SINGLE_MMHG)
    cap_double = core._number("cap_double_mmhg", cap_double_mmhg, 1.0, core.CAP_DOUBLE_MMHG)
    limits = core.Limits(
        max_rise_mmhg_s=spec.max_rise_mmhg_s,
        stall_mmhg=spec.stall_mmhg,
        vent_per_s_min=spec.vent_per_s_min,
        vent_per_s_max=spec.vent_per_s_max,
        leak_per_s_max=spec.leak_per_s_max,
        pressure_noise_mmhg=spec.pressure_noise_mmhg,
        pressure_period_s=spec.pressure_period_s,
        volume_noise_ml=spec.volume_noise_ml,
        volume_period_s=spec.volume_period_s,
        watchdog_s=spec.watchdog_s,
        min_rise_mmhg_s=spec.min_rise_mmhg_s,
        shared_motor=shared,
        tick_s=tick_s,
        max_late_s=max_late_s,
        cap_single_mmhg=cap_single,
        cap_double_mmhg=min(cap_double, cap_single),
        session_max_s=session_max_s,
    )
    core.Core(limits, 0.0)  # refuses caps the motor could pull past within a tick
    return limits


class Supervisor:
    """The core's checks alone, against commands the caller says were applied.

    Call ``check`` once a tick; it returns the first fault found (then the same fault on
    every later call) or None. The controller loops use ``SafePump``, whose core checks
    against what it applied itself.
    """

    def __init__(
        self,
        spec: PumpSpec,
        *,
        cap_mmhg: float = core.CAP_SINGLE_MMHG,
        cap_double_mmhg: float = core.CAP_DOUBLE_MMHG,
        tick_s: float = 0.01,
        max_late_s: float = 0.05,
        motor_layout: MotorLayout = MotorLayout.PER_SIDE,
    ) -> None:
        self._limits = limits_for(
            spec,
            motor_layout=motor_layout,
            tick_s=tick_s,
            max_late_s=max_late_s,
            cap_mmhg=cap_mmhg,
            cap_double_mmhg=cap_double_mmhg,
        )
        self._core: core.Core | None = None
        self._ceilings: dict[int, float] = {}
        self._fault: SafetyFault | None = None

    def set_ceiling(self, side: Side | str, ceiling_mmhg: float) -> None:
        """Set ``side``'s comfort ceiling; until set, only the caps apply there."""
        index = core._side(side)
        if isinstance(ceiling_mmhg, bool) or not isinstance(ceiling_mmhg, int | float):
            raise ValueError(f"ceiling_mmhg must be a number, got {ceiling_mmhg!r}")
        if not (math.isfinite(ceiling_mmhg) and ceiling_mmhg > 0):
            raise ValueError(f"ceiling_mmhg must be a finite number > 0, got {ceiling_mmhg!r}")
        top = self._limits.cap_single_mmhg
        if ceiling_mmhg > top:
            raise ValueError(
                f"ceiling_mmhg must not exceed the hard cap of {top:g} mmHg, got {ceiling_mmhg!r}"
            )
        self._ceilings[index] = float(ceiling_mmhg)
        if self._core is not None:
            self._core._sides[index].ceiling_mmhg = float(ceiling_mmhg)

    @property
    def fault(self) -> SafetyFault | None:
        return self._fault

    def check(
        self,
        now_s: float,
        vacuum_mmhg: tuple[float | None, float | None],
        volume_ml: tuple[float | None, float | None],
        volume_at_s: float | None,
        commands: tuple[tuple[float, bool], tuple[float, bool]],
        hardware: frozenset[HardwareFault],
        late_s: float = 0.0,
    ) -> SafetyFault | None:
        """Check one tick; the first fault found, latched, or None."""
        if self._fault is not None:
            return self._fault
        (duty_l, vent_l), (duty_r, vent_r) = commands
        if not (0.0 <= duty_l <= 1.0 and 0.0 <= duty_r <= 1.0):
            raise ValueError(f"duties must be within 0..1, got {duty_l!r} and {duty_r!r}")
        if self._core is None:
            start_s = now_s - self._limits.tick_s if math.isfinite(now_s) else 0.0
            self._core = core.Core(self._limits, start_s)
            for index, ceiling in self._ceilings.items():
                self._core._sides[index].ceiling_mmhg = ceiling
            for s in self._core._sides:
                if s.index not in self._ceilings:
                    s.ceiling_mmhg = math.inf
        checks = self._core
        checks.applied(duty_l, vent_l, duty_r, vent_r)
        left, right = vacuum_mmhg
        found = checks.check(
            now_s,
            left,
            right,
            volume_ml[0],
            volume_ml[1],
            volume_at_s,
            bool(hardware),
            late_s,
        )
        if found is not None:
            self._fault = SafetyFault.from_core(found)
        return self._fault
