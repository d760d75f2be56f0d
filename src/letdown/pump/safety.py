"""The safety supervisor: every tick, is the pump doing only what physics allows?

It is independent of the program logic: it sees the sensor readings, the commands that
were applied and what the hardware reports, and checks them against the hardware's
declared bounds (``PumpSpec``) and the first-order pneumatics every pump obeys::

    dv/dt = pull * duty * (stall - v) - (leak + vent_rate * open) * v

A reading the declared hardware cannot produce means a sensor, motor, valve or seal
fault. On the first fault it returns a ``SafetyFault`` and keeps returning it; the
controller then turns the motor off, opens both vents and puts the session in fault. It
fails to safe, never to more suction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from letdown.device.base import HardwareFault, MotorLayout, PumpSpec, Side
from letdown.pump.program import HARD_CAP_MMHG

NOISE_SIGMAS = 7.0
"""Margins are this many declared noise SDs (plus half a mmHg for the sensor's steps):
a healthy reading passes one about once in 4e11, so a 15-minute double session (180 000
readings) does not trip on noise."""
SUSPECT_SIGMAS = 4.0
"""Once a reading broke the bounds, later readings are held to this tighter margin."""
SCATTER_SIGMAS = 5.0
"""...and their change of slope to this one (a healthy sensor passes it once in 2e6)."""
SUSPECT_TICKS = 4
SUSPECT_LONG_TICKS = 10
BIG_BREAK = 3.0
"""After a reading breaks the bounds, watch the next ones: a shifted sensor (offset) is
quiet afterwards, a noisy one breaks them again, a lost seal keeps falling. After a
break by 3 margins (~30 mmHg) 4 quiet readings settle it (a sensor that noisy breaks the
tighter margin again within 4 readings 99 % of the time); after a smaller one, 10."""
SUSPECT_MAX_TICKS = 40
"""While the vent is open and the motor off, a too-fast release may be watched this long
to see whether it settles at atmosphere (lost seal) or goes below it (shifted sensor)."""
LEAK_RUN = 3
"""Falls too fast for a sealed flange, this many ticks running and smooth: a lost seal."""
STUCK_S = 0.15
"""Readings identical for this long: stuck. A healthy sensor (noise ~1 mmHg, 0.5 mmHg
steps) repeats its last value about one time in seven, so 15 repeats in a row come
about once in 10^12 ticks."""
ENVELOPE_TICKS = 4
"""Ticks above the vent's envelope before a vent or motor is called stuck."""
IN_PHASE_S = 0.1
"""The other side's vent opened at most this long before: it shows commands arrive."""
AMBIGUOUS_S = 1.0
"""Held low and flat with the vent open this long and still undecided: the motor."""
LEAK_FLOOR_MMHG = 60.0
LEAK_FULL_DUTY = 0.9
LEAK_HELD_DUTY = 0.5
LEAK_S = 0.5
"""Asked for (nearly) full duty with the vent shut for 0.5 s in all and still under
60 mmHg: the flange is off. A sealed pump passes 60 mmHg within 0.2 s at full duty; a
side held at lower duty with the vent shut shows a seal and resets the count."""
VOLUME_STUCK_S = 3.0
"""Bottle-scale samples identical for this long (30 samples at 10 Hz): stuck."""
CEILING_MARGIN_MMHG = 20.0
OVER_CEILING_S = 0.5
"""Never above a side's ceiling + 20 mmHg for more than 0.5 s (letdown's safety
requirement; an infant holds peak suction under 1 s, Egnell 1956)."""

_FALL = 1
_RISE = 2


class FaultReason(StrEnum):
    """Why the supervisor stopped the pump."""

    OVER_CAP = "over_cap"
    OVER_CEILING = "over_ceiling"
    PRESSURE_DROPOUT = "pressure_dropout"
    PRESSURE_STUCK = "pressure_stuck"
    PRESSURE_IMPLAUSIBLE = "pressure_implausible"
    """A reading the hardware cannot produce that then persists, e.g. an offset."""
    PRESSURE_NOISY = "pressure_noisy"
    MOTOR_STUCK = "motor_stuck"
    VENT_STUCK = "vent_stuck"
    LEAK = "leak"
    VOLUME_STUCK = "volume_stuck"
    LOOP_OVERRUN = "loop_overrun"
    WATCHDOG = "watchdog"
    """The hardware watchdog tripped, or neither side follows its commands any more."""


@dataclass(frozen=True, slots=True)
class SafetyFault:
    """A fault the supervisor found: what, on which side (None: the whole pump), when.

    ``message`` is for the parent or partner: what happened and what to do.
    """

    reason: FaultReason
    side: Side | None
    at_s: float
    message: str


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
    FaultReason.LOOP_OVERRUN: (
        "The pump's controller fell behind: it stopped the pump to be safe. Take the"
        " flanges off and start again; if it happens again, restart the pump."
    ),
    FaultReason.WATCHDOG: (
        "The pump stopped following its controller, so its safety cut-out switches the"
        " motor off and opens the vents. Take the flanges off, and restart the pump before"
        " using it again."
    ),
}


def _message(reason: FaultReason, side: Side | None) -> str:
    text = _MESSAGES[reason]
    if side is None:
        return text.replace("{side} side", "pump").replace("the {side} ", "the ")
    return text.replace("{side}", side.value)


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _non_negative(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


class _SideState:
    """One side's running checks (plain attributes: ``check`` runs 100 times a second)."""

    __slots__ = (
        "ambiguous",
        "ambiguous_now",
        "env_count",
        "env_min",
        "env_on",
        "env_start_s",
        "env_ticks",
        "fall_run",
        "falls",
        "hi",
        "leak_s",
        "limit_mmhg",
        "lo",
        "over_from_s",
        "prev_diff",
        "prev_duty",
        "prev_r",
        "prev_vent",
        "rises",
        "same",
        "scatter",
        "sealed_fall",
        "side",
        "suspect",
        "u0",
        "u1",
        "volume_ml",
        "volume_same",
        "window",
    )

    def __init__(self, side: Side) -> None:
        self.side = side
        self.limit_mmhg = math.inf
        self.prev_r: float | None = None
        self.same = 0
        self.over_from_s: float | None = None
        self.env_on = False
        self.env_count = 0
        self.env_min = 0.0
        self.env_start_s = 0.0
        self.env_ticks = 0
        self.ambiguous = False
        self.ambiguous_now = False
        self.u0 = 0.0
        self.u1 = 0.0
        self.suspect = 0
        self.window = 0
        self.lo = 0.0
        self.hi = 0.0
        self.rises = 0
        self.falls = 0
        self.fall_run = 0
        self.prev_diff = 0.0
        self.prev_duty = 0.0
        self.prev_vent = False
        self.scatter = 0
        self.sealed_fall = 0.0
        self.leak_s = 0.0
        self.volume_ml: float | None = None
        self.volume_same = 0


class Supervisor:
    """Checks every tick that the pump does only what its declared physics allows.

    Call ``check`` once a tick with that tick's readings and the commands applied since
    the previous call. It returns the first fault found (then the same fault on every
    later call) or None. The controller must answer a fault with both motors off, both
    vents open and the session in fault.

    What it checks, per side unless said:

    - hard cap: stops before the next tick could carry the vacuum past ``cap_mmhg``
      (300 mmHg, FDA 510(k) K242125), allowing for sensor noise;
    - ceiling: never above the side's ceiling + ``ceiling_margin_mmhg`` for more than
      ``over_ceiling_s`` in all: it stops early enough for the slowest declared vent to
      bring the vacuum back under by then;
    - pressure sensor: no reading (dropout); the same reading for 0.15 s (stuck); a
      reading below atmosphere, or a change faster than the motor can pull or the vent
      and leak can release. Such a break is watched for 4-10 more readings: one break
      then lawful readings = a shifted sensor (implausible, e.g. an offset); more
      breaks = noisy; falls that keep going with the vent shut, or a release that
      settles at atmosphere rather than below it = leak;
    - vent and motor: with the vent open the vacuum must fall at least as fast as the
      slowest declared vent allows against the commanded duty. If not: still above what
      even full duty could hold = the vent (once the other side shows its own commands
      arrive, or after the watchdog's period); rising again = the motor; held low and
      flat = either, so it waits for the next release (motor if that one also holds
      up). Both sides ignoring their commands at once = the pump is not following its
      controller (``WATCHDOG``);
    - seal: full duty with the vent shut for 0.5 s and still under 60 mmHg: leak;
    - bottle scale: the same sample for 3 s: stuck;
    - loop: a tick late by more than ``max_late_s``; the hardware watchdog.

    Args:
        spec: the hardware's declared bounds (``Pump.spec``).
        cap_mmhg: the hard cap.
        ceiling_margin_mmhg, over_ceiling_s: how far and how long above a side's ceiling.
        tick_s: the control loop's period.
        max_late_s: how late a tick may start.
        motor_layout: ``SHARED`` if one motor serves both sides (it runs at the larger
            of the two duties).
    """

    __slots__ = (
        "_ambiguous_ticks",
        "_cap_mmhg",
        "_cap_trip_mmhg",
        "_eq1_mmhg",
        "_fault",
        "_in_phase_s",
        "_leak_max",
        "_left",
        "_m1",
        "_m2",
        "_m_d2",
        "_margin_mmhg",
        "_max_late_s",
        "_ms",
        "_neg_floor_mmhg",
        "_nominal",
        "_now_s",
        "_over_ceiling_s",
        "_pull_max",
        "_right",
        "_shared",
        "_stall",
        "_stuck_ticks",
        "_tick_s",
        "_vent_max",
        "_vent_min",
        "_vent_wait_ticks",
        "_volume_at_s",
        "_volume_checked",
        "_volume_stuck_n",
    )

    def __init__(
        self,
        spec: PumpSpec,
        *,
        cap_mmhg: float = HARD_CAP_MMHG,
        ceiling_margin_mmhg: float = CEILING_MARGIN_MMHG,
        over_ceiling_s: float = OVER_CEILING_S,
        tick_s: float = 0.01,
        max_late_s: float = 0.05,
        motor_layout: MotorLayout = MotorLayout.PER_SIDE,
    ) -> None:
        if not isinstance(spec, PumpSpec):
            raise ValueError(f"spec must be a PumpSpec, got {spec!r}")
        self._cap_mmhg = _positive("cap_mmhg", cap_mmhg)
        self._margin_mmhg = _non_negative("ceiling_margin_mmhg", ceiling_margin_mmhg)
        self._over_ceiling_s = _positive("over_ceiling_s", over_ceiling_s)
        self._tick_s = _positive("tick_s", tick_s)
        self._max_late_s = _non_negative("max_late_s", max_late_s)
        try:
            self._shared = MotorLayout(motor_layout) is MotorLayout.SHARED
        except ValueError:
            raise ValueError(
                f"motor_layout must be 'per_side' or 'shared', got {motor_layout!r}"
            ) from None
        max_rise = _positive("spec.max_rise_mmhg_s", spec.max_rise_mmhg_s)
        self._stall = _positive("spec.stall_mmhg", spec.stall_mmhg)
        self._vent_min = _positive("spec.vent_per_s_min", spec.vent_per_s_min)
        self._vent_max = _positive("spec.vent_per_s_max", spec.vent_per_s_max)
        if self._vent_max < self._vent_min:
            raise ValueError(
                f"spec.vent_per_s_max ({spec.vent_per_s_max!r}) is below"
                f" spec.vent_per_s_min ({spec.vent_per_s_min!r})"
            )
        self._leak_max = _non_negative("spec.leak_per_s_max", spec.leak_per_s_max)
        noise = _positive("spec.pressure_noise_mmhg", spec.pressure_noise_mmhg)
        period_s = _positive("spec.pressure_period_s", spec.pressure_period_s)
        if self._tick_s < period_s * (1.0 - 1e-6):
            raise ValueError(
                f"tick_s ({tick_s!r} s) is shorter than the pressure sensor's period"
                f" ({period_s!r} s): readings would repeat and look stuck"
            )
        volume_noise = _non_negative("spec.volume_noise_ml", spec.volume_noise_ml)
        volume_period = _positive("spec.volume_period_s", spec.volume_period_s)
        _positive("spec.watchdog_s", spec.watchdog_s)

        self._pull_max = max_rise / self._stall
        """Fastest pull rate (1/s): the declared max rise is at atmosphere."""
        self._m1 = NOISE_SIGMAS * noise + 0.5
        """Margin on one reading."""
        self._m2 = NOISE_SIGMAS * math.sqrt(2.0) * noise + 0.5
        """Margin on the difference of two readings."""
        self._ms = SUSPECT_SIGMAS * math.sqrt(2.0) * noise + 0.5
        self._m_d2 = SCATTER_SIGMAS * math.sqrt(6.0) * noise + 0.5
        """Margin on a second difference (three readings)."""
        self._neg_floor_mmhg = -self._m1
        """Vacuum cannot be below atmosphere: a reading under this is implausible."""
        k_tick = self._pull_max * self._tick_s
        cap_trip = (self._cap_mmhg - self._m1 - k_tick * self._stall) / (1.0 - k_tick)
        if not 0.0 < k_tick < 1.0 or cap_trip <= 0.0:
            raise ValueError(
                f"cap_mmhg {cap_mmhg!r} leaves no room: the motor can pull past it within"
                " one tick from atmosphere"
            )
        self._cap_trip_mmhg = cap_trip
        """Trip at or above this reading: true vacuum plus noise plus one tick's fastest
        rise would reach the cap."""
        self._eq1_mmhg = self._pull_max * self._stall / (self._pull_max + self._vent_min)
        """Highest vacuum full duty can hold against the slowest open vent."""
        self._nominal = self._factors(self._tick_s)
        self._stuck_ticks = max(3, math.ceil(STUCK_S / self._tick_s - 1e-9))
        self._ambiguous_ticks = max(ENVELOPE_TICKS, round(AMBIGUOUS_S / self._tick_s))
        self._vent_wait_ticks = ENVELOPE_TICKS + math.ceil(spec.watchdog_s / self._tick_s) + 2
        self._in_phase_s = IN_PHASE_S
        self._volume_checked = volume_noise > 0.0
        """A scale without noise repeats itself when no milk flows: not checked."""
        self._volume_stuck_n = max(3, round(VOLUME_STUCK_S / volume_period)) - 1
        self._volume_at_s: float | None = None
        self._left = _SideState(Side.LEFT)
        self._right = _SideState(Side.RIGHT)
        self._now_s = -math.inf
        self._fault: SafetyFault | None = None

    # --- set-up ---------------------------------------------------------------------------
    def set_ceiling(self, side: Side, ceiling_mmhg: float) -> None:
        """Set ``side``'s comfort ceiling; until set, only the hard cap applies there."""
        if side is not Side.LEFT and side is not Side.RIGHT:
            if not (isinstance(side, str) and side in ("left", "right")):
                raise ValueError(f"side must be 'left' or 'right', got {side!r}")
            side = Side(side)
        ceiling = _positive("ceiling_mmhg", ceiling_mmhg)
        if ceiling > self._cap_mmhg:
            raise ValueError(
                f"ceiling_mmhg must not exceed the hard cap of {self._cap_mmhg:g} mmHg,"
                f" got {ceiling_mmhg!r}"
            )
        state = self._left if side is Side.LEFT else self._right
        state.limit_mmhg = ceiling + self._margin_mmhg

    @property
    def fault(self) -> SafetyFault | None:
        """The latched fault, or None while the pump is healthy."""
        return self._fault

    # --- the per-tick check -----------------------------------------------------------------
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
        """Check one tick; the first fault found, latched, or None.

        Args:
            now_s: this tick's time (device clock); must increase from call to call.
            vacuum_mmhg: this tick's (left, right) readings; None (or not finite) is a
                dropout.
            volume_ml: the latest bottle-scale readings (left, right).
            volume_at_s: when those were sampled (they repeat between samples).
            commands: (duty, vent_open) per side, applied since the previous call.
            hardware: faults the hardware reports.
            late_s: how late this tick started against its deadline.
        """
        fault = self._fault
        if fault is not None:
            return fault
        prev_s = self._now_s
        if not prev_s < now_s < math.inf:
            raise ValueError(
                f"now_s must be finite and increase from call to call: {now_s!r} after {prev_s!r}"
            )
        (duty_l, vent_l), (duty_r, vent_r) = commands
        if not (0.0 <= duty_l <= 1.0 and 0.0 <= duty_r <= 1.0):
            raise ValueError(f"duties must be within 0..1, got {duty_l!r} and {duty_r!r}")
        if not late_s < math.inf:
            raise ValueError(f"late_s must be a finite number of seconds, got {late_s!r}")
        self._now_s = now_s
        if late_s > self._max_late_s:
            return self._trip(FaultReason.LOOP_OVERRUN, None, now_s)
        if hardware:
            return self._trip(FaultReason.WATCHDOG, None, now_s)
        dt = now_s - prev_s
        if prev_s == -math.inf:
            prev_s = now_s - self._tick_s
        factors = self._nominal if -1e-6 < dt - self._tick_s < 1e-6 else self._factors(dt)
        left, right = vacuum_mmhg
        if self._shared:
            motor = duty_l if duty_l > duty_r else duty_r
            fault = self._side(self._left, left, motor, duty_l, vent_l, now_s, prev_s, dt, factors)
            if fault is None:
                fault = self._side(
                    self._right, right, motor, duty_r, vent_r, now_s, prev_s, dt, factors
                )
        else:
            fault = self._side(self._left, left, duty_l, duty_l, vent_l, now_s, prev_s, dt, factors)
            if fault is None:
                fault = self._side(
                    self._right, right, duty_r, duty_r, vent_r, now_s, prev_s, dt, factors
                )
        if fault is not None:
            return fault
        if volume_at_s is not None and volume_at_s != self._volume_at_s:
            self._volume_at_s = volume_at_s
            if self._volume_checked:
                return self._volume(volume_ml, now_s)
        return None

    # --- internals ----------------------------------------------------------------------
    def _factors(self, dt: float) -> tuple[float, float, float, float, float]:
        """Per-interval constants: pull gain, sealed and vented decay, vent envelopes."""
        return (
            self._pull_max * dt,
            math.exp(-self._leak_max * dt),
            math.exp(-(self._leak_max + self._vent_max) * dt),
            math.exp(-self._vent_min * dt),
            math.exp(-(self._vent_min + self._pull_max) * dt),
        )

    def _trip(self, reason: FaultReason, side: Side | None, now_s: float) -> SafetyFault:
        fault = SafetyFault(reason, side, now_s, _message(reason, side))
        self._fault = fault
        return fault

    def _side(
        self,
        s: _SideState,
        r: float | None,
        duty: float,
        own_duty: float,
        vent: bool,
        now_s: float,
        prev_s: float,
        dt: float,
        factors: tuple[float, float, float, float, float],
    ) -> SafetyFault | None:
        """One side's checks; ``duty`` is what its motor ran at, ``own_duty`` its own ask."""
        if r is None or not -1e6 < r < 1e6:
            return self._trip(FaultReason.PRESSURE_DROPOUT, s.side, now_s)
        if r >= self._cap_trip_mmhg:
            return self._trip(FaultReason.OVER_CAP, s.side, now_s)
        limit = s.limit_mmhg
        if r > limit:
            if s.over_from_s is None:
                # It crossed some time after the previous reading: count from there.
                s.over_from_s = prev_s
            # The slowest vent needs this long to bring it back under the limit.
            release_s = math.log(r / limit) / self._vent_min
            if now_s - s.over_from_s + self._tick_s + release_s >= self._over_ceiling_s:
                return self._trip(FaultReason.OVER_CEILING, s.side, now_s)
        elif s.over_from_s is not None and r < limit - self._m1:
            s.over_from_s = None
        rp = s.prev_r
        s.prev_r = r
        if rp is None:
            return None
        k_pull, f_sealed, f_vented, g0, g1 = factors
        vp = rp if rp > 0.0 else 0.0
        if s.suspect:
            return self._suspect(s, r, rp, duty, vent, now_s, dt, factors)
        # Bounds for this reading from the last one and what the motor and vent could do.
        m2 = self._m2
        top = vp + k_pull * duty * (self._stall - vp) + m2
        if r > top:
            self._enter_suspect(s, r, rp, vp, duty, vent, dt, factors, _RISE, r - top)
            return None
        bottom = vp * (f_vented if vent else f_sealed) - m2
        if bottom < self._neg_floor_mmhg:
            bottom = self._neg_floor_mmhg
        if r < bottom:
            self._enter_suspect(s, r, rp, vp, duty, vent, dt, factors, _FALL, bottom - r)
            return None
        if r == rp:
            s.same += 1
            if s.same >= self._stuck_ticks:
                return self._trip(FaultReason.PRESSURE_STUCK, s.side, now_s)
        else:
            s.same = 0
        if vent:
            if not s.env_on:
                s.env_on = True
                s.env_count = 0
                s.env_ticks = 0
                s.env_start_s = prev_s
                s.env_min = r
                s.u0 = s.u1 = vp + self._m1
            elif r < s.env_min:
                s.env_min = r
            s.env_ticks += 1
            if duty == 0.0:
                u0 = s.u0 * g0
            else:
                u0 = self._vented(s.u0, duty, dt)
            eq1 = self._eq1_mmhg
            u1 = eq1 + (s.u1 - eq1) * g1
            m1 = self._m1
            if r > u0 + m1:
                s.env_count += 1
                if s.env_count >= ENVELOPE_TICKS:
                    fault = self._not_venting(s, r, u1, duty, now_s)
                    if fault is not None:
                        return fault
            else:
                s.env_count = 0
            # This reading bounds the true vacuum too: keep the tighter bound.
            top = r + m1
            s.u0 = u0 if u0 < top else top
            s.u1 = u1 if u1 < top else top
        elif s.env_on:
            s.env_on = False
            s.env_count = 0
            if s.ambiguous_now:
                s.ambiguous_now = False
                s.ambiguous = True
        if r >= LEAK_FLOOR_MMHG:
            s.leak_s = 0.0
        elif not vent:
            if own_duty >= LEAK_FULL_DUTY:
                s.leak_s += dt
                if s.leak_s >= LEAK_S - 1e-9:
                    return self._trip(FaultReason.LEAK, s.side, now_s)
            elif own_duty < LEAK_HELD_DUTY:
                s.leak_s = 0.0
        return None

    def _vented(self, u: float, duty: float, dt: float) -> float:
        """The highest vacuum can be after ``dt`` with the vent open at ``duty``."""
        pull = self._pull_max * duty
        rate = pull + self._vent_min
        eq = pull * self._stall / rate
        return eq + (u - eq) * math.exp(-rate * dt)

    def _not_venting(
        self, s: _SideState, r: float, u1: float, duty: float, now_s: float
    ) -> SafetyFault | None:
        """The vacuum stayed above what an open vent allows: which part failed?

        Above what the vent could hold even against the motor at full: the vent. Rising
        again: the motor. Held low and flat, either could explain it (a vent that stuck
        on the way down, or the motor against the vent): wait for the next release, and
        if that one also falls and then holds, the vent works and it is the motor.
        """
        if s.same >= s.env_count:
            # Not a single change while it should have been falling: the sensor.
            return self._trip(FaultReason.PRESSURE_STUCK, s.side, now_s)
        m1 = self._m1
        other = self._right if s is self._left else self._left
        rising = r > s.env_min + self._m2
        if r > u1 + m1:
            if other.env_count or (rising and duty == 0.0):
                # Both vents, or this side's vent and motor, ignored at once: one cause,
                # the commands are not reaching the pump.
                return self._trip(FaultReason.WATCHDOG, None, now_s)
            other_obeys = (
                other.env_on
                and other.env_ticks >= 2
                and other.env_start_s >= s.env_start_s - self._in_phase_s
            )
            if not (other_obeys or rising or s.env_count >= self._vent_wait_ticks):
                # Nothing yet shows the other side's commands arrive: a stalled link
                # looks the same, and the watchdog will say so within its period.
                return None
            return self._trip(FaultReason.VENT_STUCK, s.side, now_s)
        if not (rising or s.ambiguous or s.env_count >= self._ambiguous_ticks):
            s.ambiguous_now = True
            return None
        if other.env_count and not self._shared:
            # Both motors ignored at once: one cause, commands not reaching the pump.
            return self._trip(FaultReason.WATCHDOG, None, now_s)
        return self._trip(FaultReason.MOTOR_STUCK, s.side, now_s)

    def _enter_suspect(
        self,
        s: _SideState,
        r: float,
        rp: float,
        vp: float,
        duty: float,
        vent: bool,
        dt: float,
        factors: tuple[float, float, float, float, float],
        direction: int,
        excess_mmhg: float,
    ) -> None:
        """A reading broke the bounds: track where the true vacuum can be since the last
        good reading, and watch what the next ones do."""
        # lo: the lowest the true vacuum can be now, from the last good reading (taken at
        # face value: the check against it allows for both readings' noise); hi: the
        # highest, allowing for that reading's noise.
        s.lo, s.hi = self._advance(vp, vp + self._m1, duty, vent, dt, factors)
        s.suspect = 1
        # A big break then quiet readings cannot be noise; a small one needs longer.
        s.window = SUSPECT_TICKS if excess_mmhg >= BIG_BREAK * self._m2 else SUSPECT_LONG_TICKS
        s.rises = 1 if direction == _RISE else 0
        s.falls = 1 if direction == _FALL else 0
        # Only a fall between readings (not a reading below atmosphere) counts as a leak.
        s.fall_run = 1 if direction == _FALL and r >= self._neg_floor_mmhg else 0
        s.prev_diff = r - rp
        s.prev_vent = vent
        s.prev_duty = duty
        s.scatter = 0
        s.sealed_fall = 0.0
        s.env_on = False
        s.env_count = 0
        s.same = 0

    def _advance(
        self,
        lo: float,
        hi: float,
        duty: float,
        vent: bool,
        dt: float,
        factors: tuple[float, float, float, float, float],
    ) -> tuple[float, float]:
        """Bounds on the true vacuum one interval on."""
        k_pull, f_sealed, f_vented, g0, _ = factors
        if vent:
            lo *= f_vented
            hi = hi * g0 if duty == 0.0 else self._vented(hi, duty, dt)
        else:
            lo *= f_sealed
            hi += k_pull * duty * (self._stall - hi)
        return lo, hi

    def _suspect(
        self,
        s: _SideState,
        r: float,
        rp: float,
        duty: float,
        vent: bool,
        now_s: float,
        dt: float,
        factors: tuple[float, float, float, float, float],
    ) -> SafetyFault | None:
        """Tell a shifted sensor, a noisy one and a lost seal apart (``SUSPECT_TICKS``)."""
        k_pull, f_sealed, f_vented, _, _ = factors
        lo, hi = s.lo, s.hi
        diff = r - rp
        allow_up = k_pull * duty * self._stall + self._ms
        allow_down = hi * (1.0 - (f_vented if vent else f_sealed)) + self._ms
        if diff > allow_up:
            s.rises += 1
            s.fall_run = 0
        elif diff < -allow_down:
            s.falls += 1
            if r < self._neg_floor_mmhg:
                s.fall_run = 0  # a lost seal cannot take it below atmosphere
            elif s.fall_run and abs(diff - s.prev_diff) <= self._m2:
                s.fall_run += 1
            else:
                s.fall_run = 1
        else:
            s.fall_run = 0
        if s.suspect >= 2 and vent is s.prev_vent:
            # Between lawful readings the change itself changes only smoothly: by the
            # vent's or pull's own decay, and by what a new duty can add.
            prev = s.prev_diff
            curve = (1.0 - f_vented) if vent else (1.0 - f_sealed)
            allow = self._m_d2 + curve * abs(prev) + k_pull * self._stall * abs(duty - s.prev_duty)
            if abs(diff - prev) > allow:
                s.scatter += 1
        s.prev_vent = vent
        s.prev_duty = duty
        s.prev_diff = diff
        if not vent:
            # How much further it fell than a sealed flange allows, after the first break.
            s.sealed_fall -= diff + hi * (1.0 - f_sealed)
        s.lo, s.hi = self._advance(lo, hi, duty, vent, dt, factors)
        if s.rises and s.falls:
            return self._trip(FaultReason.PRESSURE_NOISY, s.side, now_s)
        if s.fall_run >= LEAK_RUN and not s.rises:
            return self._trip(FaultReason.LEAK, s.side, now_s)
        s.suspect += 1
        if s.suspect <= s.window:
            return None
        if r < self._neg_floor_mmhg:
            return self._trip(FaultReason.PRESSURE_IMPLAUSIBLE, s.side, now_s)
        if not s.rises and not s.scatter:
            if s.sealed_fall > self._m2 + self._ms:
                # It kept falling with the vent shut, not in one step: the seal.
                return self._trip(FaultReason.LEAK, s.side, now_s)
            if vent and duty == 0.0:
                # Released faster than the fastest vent: a shifted sensor will read below
                # atmosphere once the vacuum is gone, a lost seal settles at it. The vent
                # is open, so wait until the vacuum must be gone, then see.
                if s.hi > self._m1 and s.suspect <= SUSPECT_MAX_TICKS:
                    return None
                return self._trip(FaultReason.LEAK, s.side, now_s)
        if s.rises + s.falls + s.scatter > 1 or (s.rises and r <= s.hi + self._m1):
            # It broke the bounds again, or jumped up and came back: readings scattered
            # beyond the declared noise.
            return self._trip(FaultReason.PRESSURE_NOISY, s.side, now_s)
        # One break, then readings as quiet and lawful as before: the sensor shifted.
        return self._trip(FaultReason.PRESSURE_IMPLAUSIBLE, s.side, now_s)

    def _volume(
        self, volume_ml: tuple[float | None, float | None], now_s: float
    ) -> SafetyFault | None:
        """A fresh bottle-scale sample: the same value too many times running is stuck."""
        for s, value in zip((self._left, self._right), volume_ml, strict=True):
            if value is None or value != s.volume_ml:
                s.volume_ml = value
                s.volume_same = 0
            else:
                s.volume_same += 1
                if s.volume_same >= self._volume_stuck_n:
                    return self._trip(FaultReason.VOLUME_STUCK, s.side, now_s)
        return None
