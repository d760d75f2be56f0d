"""letdown's safety core: the last word on every motor and vent command.

Every controller (the adaptive session, the reference programs, the comfort search, the
benchmarks' parents) reaches the pump only through this core. Each tick it takes the
readings and the controller's latest requests and returns the outputs to apply. It
checks the readings against the hardware's declared physics and the commands against
the readings; on any fault it latches: motors off, vents open, and it says why.

It is written in the Python that MicroPython runs (plain classes, ints and floats; no
dataclasses, enum, abc, typing or f-strings at run time; nothing imported but ``math``),
so the same file runs on the host and as firmware on the pump's microcontroller, where
no host crash can weaken it. Sides are ints: 0 left, 1 right.

What it guarantees whatever the controller asks:

- the hard caps: 300 mmHg on one side, 260 mmHg while both pump (the highest maximums
  cleared for sale, Elvie Stride 2, FDA 510(k) K242125); limits are fixed when the core
  is made and can only be lowered;
- a side's comfort ceiling: anyone may lower it at any time; only the parent raises it;
  no pull above it, a release just above it, and a fault if the vacuum stays more than
  20 mmHg above it for 0.5 s;
- every suction cycle vents: no vent stays shut longer than one cycle of the slowest
  cleared rate allows, and no peak is held longer than an infant holds one;
- a start from a low level with a ramp (K191802: start at the lowest level on
  power-up), and an automatic stop after 40 minutes unless the parent extends it
  (Freemie K172772: auto-off after 40 min);
- the parent's buttons act here, at once: stop stops, "too much" lowers that side below
  the vacuum that hurt, and at the floor pauses the side;
- a controller that stops kicking, a clock that jumps, a command that is not a number,
  a sensor, motor, vent or seal that does what the hardware cannot: all latch a fault.
"""

import math

LEFT = 0
RIGHT = 1
SIDE_NAMES = ("left", "right")

CAP_SINGLE_MMHG = 300.0
"""Highest maximum vacuum cleared for sale, one side: Elvie Stride 2 (FDA 510(k) K242125)."""
CAP_DOUBLE_MMHG = 260.0
"""... and while both sides pump (the same clearance, reference.md)."""
SESSION_MAX_S = 40 * 60.0
"""Auto-off after 40 minutes unless the parent extends (Freemie, FDA 510(k) K172772)."""
EXTEND_MAX_S = 20 * 60.0
"""One extension adds at most this (letdown's choice)."""
START_MMHG = 80.0
"""Each side starts at most here (K191802: the lowest level on power-up) ..."""
RAMP_MMHG_S = 10.0
"""... and its limit rises at most this fast, to the side's ceiling (letdown's choice:
the pace of a comfort search, 10 mmHg a step)."""
FLOOR_MMHG = 60.0
"""A ceiling below this would not open the ducts (twin.md: roughly 40-50 mmHg): "too
much" at the floor pauses the side instead."""
TOO_MUCH_DROP_MMHG = 20.0
"""A "too much" press puts the side's ceiling this far under the peak that hurt."""
PRESS_LOOKBACK_S = 2.3
"""A press comes 0.5-1.5 s after the cycle that hurt (twin.md §2): the peak measured
this long before the press is the one the parent answered."""
PEAK_SLOT_S = 0.5
PEAK_SLOTS = 12
_PER_SLOT = 1.0 / PEAK_SLOT_S
"""Measured peaks are kept per half-second for the last six seconds."""
RAISE_STEP_MMHG = 10.0
"""The parent raises a ceiling by at most this at a time (one level step)."""
CEILING_MARGIN_MMHG = 20.0
OVER_CEILING_S = 0.5
"""Never above a side's ceiling + 20 mmHg for more than 0.5 s (letdown's safety
requirement; an infant holds peak suction under 1 s, Egnell 1956)."""
VENT_GATE_MMHG = 6.0
"""A reading this far above the side's ceiling opens its vent (6 noise SDs above the
controller's own 3 mmHg overshoot release)."""
MAX_CLOSED_S = 2.2
"""No vent stays shut longer: 70 % of a cycle at 20 cycles/min, the slowest cleared
rate (Ramsay et al. 2005's deep phase), plus a tick's slack."""
MAX_HOLD_S = 1.2
"""No peak is held longer (an infant holds peak suction under a second, Egnell 1956;
programs hold at most 1 s), counted from the reading within ``HOLD_BAND_MMHG``."""
HOLD_BAND_MMHG = 15.0
ACTIVE_S = 3.0
"""A side whose vent shut within this long counts as pumping (for the double cap)."""

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
break by 3 margins (~30 mmHg) 4 quiet readings settle it; after a smaller one, 10."""
SUSPECT_MAX_TICKS = 40
"""While the vent is open and the motor off, a too-fast release may be watched this long
to see whether it settles at atmosphere (lost seal) or goes below it (shifted sensor)."""
LEAK_RUN = 3
"""Falls too fast for a sealed flange, this many ticks running and smooth: a lost seal."""
STUCK_S = 0.15
"""Readings identical for this long: stuck (a healthy sensor repeats its last value
about one time in seven, so 15 repeats in a row come about once in 10^12 ticks)."""
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
60 mmHg: the flange is off."""
PULL_TICKS = 3
"""Readings outside the pull envelope this many ticks running: the sensor's gain."""
FULL_DUTY = 0.99
VOLUME_STUCK_S = 3.0
"""Bottle-scale samples identical for this long (30 samples at 10 Hz): stuck."""

# Why the core stopped the pump (strings: MicroPython has no enum).
OVER_CAP = "over_cap"
OVER_CEILING = "over_ceiling"
PRESSURE_DROPOUT = "pressure_dropout"
PRESSURE_STUCK = "pressure_stuck"
PRESSURE_IMPLAUSIBLE = "pressure_implausible"
PRESSURE_NOISY = "pressure_noisy"
PRESSURE_GAIN = "pressure_gain"
MOTOR_STUCK = "motor_stuck"
VENT_STUCK = "vent_stuck"
LEAK = "leak"
VOLUME_STUCK = "volume_stuck"
LOOP_OVERRUN = "loop_overrun"
WATCHDOG = "watchdog"
CONTROLLER_SILENT = "controller_silent"
CONTROLLER_ERROR = "controller_error"
BAD_COMMAND = "bad_command"
CLOCK_JUMP = "clock_jump"
OUTPUT_FAILURE = "output_failure"
DEVICE_ERROR = "device_error"
REASONS = (
    OVER_CAP,
    OVER_CEILING,
    PRESSURE_DROPOUT,
    PRESSURE_STUCK,
    PRESSURE_IMPLAUSIBLE,
    PRESSURE_NOISY,
    PRESSURE_GAIN,
    MOTOR_STUCK,
    VENT_STUCK,
    LEAK,
    VOLUME_STUCK,
    LOOP_OVERRUN,
    WATCHDOG,
    CONTROLLER_SILENT,
    CONTROLLER_ERROR,
    BAD_COMMAND,
    CLOCK_JUMP,
    OUTPUT_FAILURE,
    DEVICE_ERROR,
)

# Why the core stopped without a fault.
STOP_BUTTON = "stop"
TIME_LIMIT = "time_limit"
STOP_REQUEST = "request"

_FALL = 1
_RISE = 2
_SAFE = (0.0, True, 0.0, True)


def _number(name: str, value: object, low: float, high: float) -> float:
    """``value`` as a float within [low, high], or ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and low <= number <= high):
        raise ValueError(f"{name} must be a finite number within {low:g}-{high:g}, got {value!r}")
    return number


def _side(side: object) -> int:
    if side in {0, "left"}:
        return 0
    if side in {1, "right"}:
        return 1
    raise ValueError(f"side must be 'left' or 'right', got {side!r}")


class Limits:
    """The hardware's declared physics and the caps, checked once: the core's fixed limits.

    The physical numbers are those of ``letdown.device.PumpSpec`` (the maker declares
    them; the self-test measures them). The caps may be set lower than the absolute
    ones, never higher.
    """

    def __init__(
        self,
        max_rise_mmhg_s: float,
        stall_mmhg: float,
        vent_per_s_min: float,
        vent_per_s_max: float,
        leak_per_s_max: float,
        pressure_noise_mmhg: float,
        pressure_period_s: float,
        volume_noise_ml: float,
        volume_period_s: float,
        watchdog_s: float,
        min_rise_mmhg_s: float = 0.0,
        shared_motor: bool = False,
        tick_s: float = 0.01,
        max_late_s: float = 0.05,
        cap_single_mmhg: float = CAP_SINGLE_MMHG,
        cap_double_mmhg: float = CAP_DOUBLE_MMHG,
        session_max_s: float = SESSION_MAX_S,
    ) -> None:
        big = 1e9
        self.max_rise_mmhg_s = _number("max_rise_mmhg_s", max_rise_mmhg_s, 1e-9, big)
        self.stall_mmhg = _number("stall_mmhg", stall_mmhg, 1e-9, big)
        self.vent_per_s_min = _number("vent_per_s_min", vent_per_s_min, 1e-9, big)
        self.vent_per_s_max = _number("vent_per_s_max", vent_per_s_max, self.vent_per_s_min, big)
        self.leak_per_s_max = _number("leak_per_s_max", leak_per_s_max, 0.0, big)
        self.pressure_noise_mmhg = _number("pressure_noise_mmhg", pressure_noise_mmhg, 1e-9, big)
        self.pressure_period_s = _number("pressure_period_s", pressure_period_s, 1e-9, big)
        self.volume_noise_ml = _number("volume_noise_ml", volume_noise_ml, 0.0, big)
        self.volume_period_s = _number("volume_period_s", volume_period_s, 1e-9, big)
        self.watchdog_s = _number("watchdog_s", watchdog_s, 1e-3, 10.0)
        self.min_rise_mmhg_s = _number(
            "min_rise_mmhg_s", min_rise_mmhg_s, 0.0, self.max_rise_mmhg_s
        )
        self.shared_motor = shared_motor is True
        self.tick_s = _number("tick_s", tick_s, 1e-3, 0.1)
        if self.tick_s < self.pressure_period_s * (1.0 - 1e-6):
            raise ValueError(
                f"tick_s ({tick_s:g} s) is shorter than the pressure sensor's period"
                f" ({pressure_period_s:g} s): readings would repeat and look stuck"
            )
        self.max_late_s = _number("max_late_s", max_late_s, 0.0, 10.0)
        self.cap_single_mmhg = _number("cap_single_mmhg", cap_single_mmhg, 1.0, CAP_SINGLE_MMHG)
        self.cap_double_mmhg = _number(
            "cap_double_mmhg", cap_double_mmhg, 1.0, min(CAP_DOUBLE_MMHG, self.cap_single_mmhg)
        )
        self.session_max_s = _number("session_max_s", session_max_s, 1.0, SESSION_MAX_S)


class Fault:
    """Why the core latched: ``reason`` (one of ``REASONS``), ``side`` (0, 1 or None for
    the whole pump), ``at_s`` and ``detail`` (for a log: what the controller raised)."""

    __slots__ = ("at_s", "detail", "reason", "side")

    def __init__(self, reason: str, side: int | None, at_s: float, detail: str = "") -> None:
        self.reason = reason
        self.side = side
        self.at_s = at_s
        self.detail = detail

    def __repr__(self) -> str:
        return f"Fault({self.reason!r}, {self.side!r}, {self.at_s!r})"


class _Side:
    """One side's running state (plain attributes: the core runs 100 times a second)."""

    __slots__ = (
        "ambiguous",
        "ambiguous_now",
        "ceiling_mmhg",
        "closed_since_s",
        "duty",
        "env_count",
        "env_min",
        "env_on",
        "env_start_s",
        "env_ticks",
        "fall_run",
        "falls",
        "held_since_s",
        "hi",
        "index",
        "last_closed_s",
        "leak_s",
        "lo",
        "out_duty",
        "out_vent",
        "over_from_s",
        "paused",
        "peak_slot",
        "peaks",
        "prev_diff",
        "prev_duty",
        "prev_r",
        "prev_vent",
        "pull_full",
        "pull_hi",
        "pull_high",
        "pull_lo",
        "pull_low",
        "ramp_from_s",
        "reading",
        "release_until_s",
        "rises",
        "same",
        "scatter",
        "sealed_fall",
        "suspect",
        "u0",
        "u1",
        "vent",
        "volume_ml",
        "volume_same",
        "window",
    )

    def __init__(self, index: int, ceiling_mmhg: float) -> None:
        self.index = index
        self.ceiling_mmhg = ceiling_mmhg
        self.paused = False
        self.duty = 0.0
        self.vent = True
        self.reading: float | None = None
        self.out_duty = 0.0
        self.out_vent = True
        self.closed_since_s: float | None = None
        self.held_since_s: float | None = None
        self.release_until_s = -1e18
        self.ramp_from_s = 0.0
        self.last_closed_s = -1e9
        self.peaks = [0.0] * PEAK_SLOTS
        self.peak_slot = 0
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
        self.pull_lo = -1.0
        self.pull_hi = 0.0
        self.pull_full = False
        self.pull_low = 0
        self.pull_high = 0
        self.volume_ml: float | None = None
        self.volume_same = 0


class Core:
    """The safety core of one double pump, from power-up (``now_s``) on.

    The controller calls ``request``, ``kick`` and the ceiling and pause methods at any
    time; the loop below it calls ``tick`` once a tick with that tick's readings and
    applies what it returns. Until the first ``kick`` within the watchdog period, and
    after any fault or stop, the outputs are motors off and vents open.
    """

    def __init__(self, limits: Limits, now_s: float) -> None:
        if not isinstance(limits, Limits):
            raise ValueError(f"limits must be a Limits, got {limits!r}")
        lim = limits
        self.limits = lim
        tick_s = lim.tick_s
        noise = lim.pressure_noise_mmhg
        self._stall = lim.stall_mmhg
        self._vent_min = lim.vent_per_s_min
        self._vent_max = lim.vent_per_s_max
        self._leak_max = lim.leak_per_s_max
        self._pull_max = lim.max_rise_mmhg_s / lim.stall_mmhg
        """Fastest pull rate (1/s): the declared max rise is at atmosphere."""
        self._pull_min = lim.min_rise_mmhg_s / lim.stall_mmhg
        self._m1 = NOISE_SIGMAS * noise + 0.5
        """Margin on one reading."""
        self._m2 = NOISE_SIGMAS * math.sqrt(2.0) * noise + 0.5
        """Margin on the difference of two readings."""
        self._ms = SUSPECT_SIGMAS * math.sqrt(2.0) * noise + 0.5
        self._m_d2 = SCATTER_SIGMAS * math.sqrt(6.0) * noise + 0.5
        """Margin on a second difference (three readings)."""
        self._neg_floor_mmhg = -self._m1
        self._k_tick = self._pull_max * tick_s
        if not 0.0 < self._k_tick < 1.0:
            raise ValueError("the motor can pull to its stall within one tick: no room to act")
        self._trip_single = self._cap_trip(lim.cap_single_mmhg)
        self._trip_double = self._cap_trip(lim.cap_double_mmhg)
        self._cap_now = self._trip_single
        self._eq1_mmhg = self._pull_max * self._stall / (self._pull_max + self._vent_min)
        """Highest vacuum full duty can hold against the slowest open vent."""
        self._nominal = self._factors(tick_s)
        self._tick_s = tick_s
        # The limits read every tick, as plain attributes (they never change).
        self._max_late_s = lim.max_late_s
        self._watchdog_s = lim.watchdog_s
        self._silent_s = lim.watchdog_s - 1e-9
        self._shared = lim.shared_motor
        self._slot = 0
        """This tick's peak slot (``_note_peak``)."""
        self._stuck_ticks = max(3, math.ceil(STUCK_S / tick_s - 1e-9))
        self._ambiguous_ticks = max(ENVELOPE_TICKS, round(AMBIGUOUS_S / tick_s))
        self._vent_wait_ticks = ENVELOPE_TICKS + math.ceil(lim.watchdog_s / tick_s) + 2
        self._volume_checked = lim.volume_noise_ml > 0.0
        """A scale without noise repeats itself when no milk flows: not checked."""
        self._volume_stuck_n = max(3, round(VOLUME_STUCK_S / lim.volume_period_s)) - 1
        self._volume_at_s: float | None = None
        self._max_ceiling = lim.cap_single_mmhg - CEILING_MARGIN_MMHG
        self._sides = (_Side(0, self._max_ceiling), _Side(1, self._max_ceiling))
        self._started_s = _number("now_s", now_s, -1e12, 1e12)
        for s in self._sides:
            s.ramp_from_s = self._started_s
        self._now_s = self._started_s
        self._kicked_s = self._started_s
        """The watchdog is armed from power-up: a controller that never kicks is caught."""
        self._alive = False
        self._ends_s = self._started_s + lim.session_max_s
        self.fault: Fault | None = None
        self.stopped = ""
        """Why the core stopped the pump without a fault ("" while it may run)."""
        self.events: list[tuple[str, int | None, float]] = []
        """What the core did on its own (a pause, a ceiling lowered, a stop), for the
        controller to report: (what, side, at_s); the controller empties it."""

    # --- set-up -------------------------------------------------------------------------
    def _cap_trip(self, cap_mmhg: float) -> float:
        """Trip at or above this reading: true vacuum plus noise plus one tick's fastest
        rise would reach the cap."""
        k = self._k_tick
        trip = (cap_mmhg - self._m1 - k * self._stall) / (1.0 - k)
        if trip <= 0.0:
            raise ValueError(
                f"a cap of {cap_mmhg:g} mmHg leaves no room: the motor can pull past it"
                " within one tick"
            )
        return trip

    def _factors(self, dt: float) -> tuple[float, float, float, float, float]:
        """Per-interval constants: pull gain, sealed and vented decay, vent envelopes."""
        return (
            self._pull_max * dt,
            math.exp(-self._leak_max * dt),
            math.exp(-(self._leak_max + self._vent_max) * dt),
            math.exp(-self._vent_min * dt),
            math.exp(-(self._vent_min + self._pull_max) * dt),
        )

    # --- what the controller and the parent may do ---------------------------------------
    def request(self, side: object, duty: object, vent_open: object) -> None:
        """The controller asks for ``duty`` (0..1) and the vent; applied at the next tick
        if the core allows it. A duty that is not a number in 0..1 latches a fault."""
        s = self._sides[_side(side)]
        if isinstance(duty, bool) or not isinstance(duty, (int, float)) or not 0.0 <= duty <= 1.0:
            self.trip(BAD_COMMAND, s.index, self._now_s, f"duty {duty!r}")
            raise ValueError(f"motor duty must be a number within 0..1, got {duty!r}")
        s.duty = float(duty)
        s.vent = vent_open is not False

    def kick(self) -> None:
        """The controller is alive (at least once per watchdog period)."""
        self._kicked_s = self._now_s
        self._alive = True

    def ceiling(self, side: object) -> float:
        """``side``'s comfort ceiling now."""
        return self._sides[_side(side)].ceiling_mmhg

    def lower_ceiling(self, side: object, ceiling_mmhg: object) -> float:
        """Lower ``side``'s ceiling (a higher value changes nothing); the ceiling now.

        A value that is not a finite number is refused (ValueError); under the floor it
        pauses the side instead."""
        s = self._sides[_side(side)]
        value = _number("ceiling_mmhg", ceiling_mmhg, -1e9, 1e9)
        if value < FLOOR_MMHG:
            self.pause(s.index)
            value = FLOOR_MMHG
        if value < s.ceiling_mmhg:
            s.ceiling_mmhg = value
        return s.ceiling_mmhg

    def raise_ceiling(self, side: object, ceiling_mmhg: object) -> float:
        """The parent raises ``side``'s ceiling: by one step at most, never above the
        cap less the over-ceiling margin. Only a parent's own action may call this."""
        s = self._sides[_side(side)]
        value = _number("ceiling_mmhg", ceiling_mmhg, -1e9, 1e9)
        top = s.ceiling_mmhg + RAISE_STEP_MMHG
        if value > top:
            value = top
        if value > self._max_ceiling:
            value = self._max_ceiling
        if value > s.ceiling_mmhg:
            s.ceiling_mmhg = value
        return s.ceiling_mmhg

    def peak_between(self, side: object, from_s: float, to_s: float) -> float:
        """The highest vacuum measured on ``side`` in [from_s, to_s] (half-second slots,
        the last six seconds); 0 when none."""
        s = self._sides[_side(side)]
        first = int(from_s * _PER_SLOT)
        last = int(to_s * _PER_SLOT)
        newest = s.peak_slot
        peak = 0.0
        slot = last
        while slot >= first:
            if newest - PEAK_SLOTS < slot <= newest:
                value = s.peaks[slot % PEAK_SLOTS]
                if value > peak:
                    peak = value
            slot -= 1
        return peak

    def pause(self, side: object) -> None:
        """Motor off and vent open on ``side`` until the parent resumes it."""
        s = self._sides[_side(side)]
        if not s.paused:
            s.paused = True
            self.events.append(("paused", s.index, self._now_s))

    def resume(self, side: object) -> None:
        """The parent resumes a paused side (from its ramp start)."""
        s = self._sides[_side(side)]
        if s.paused:
            s.paused = False
            s.ramp_from_s = self._now_s

    def paused(self, side: object) -> bool:
        return self._sides[_side(side)].paused

    def extend(self, seconds: object) -> float:
        """The parent extends the session; when it now ends (device clock)."""
        value = _number("seconds", seconds, 0.0, EXTEND_MAX_S)
        self._ends_s += value
        return self._ends_s

    @property
    def ends_at_s(self) -> float:
        return self._ends_s

    def press(self, kind: str, side: int | None, now_s: float) -> None:
        """A button press, acted on here at once: stop; "too much" (under the peak that
        hurt, a pause at the floor); "that's my limit" (no higher than the peak then)."""
        if kind == "stop":
            self.stop(STOP_BUTTON, now_s)
            return
        if side is None:
            return
        index = _side(side)
        peak = self.peak_between(index, now_s - PRESS_LOOKBACK_S - 1.0, now_s)
        s = self._sides[index]
        if kind == "too_much":
            if peak <= 0.0 or s.ceiling_mmhg <= FLOOR_MMHG:
                self.pause(index)
            else:
                self.lower_ceiling(index, min(s.ceiling_mmhg, peak) - TOO_MUCH_DROP_MMHG)
            self.events.append(("too_much", index, now_s))
        elif kind == "limit" and peak > 0.0:
            self.lower_ceiling(index, peak)

    def stop(self, why: str, now_s: float) -> None:
        """Stop pumping (not a fault): motors off and vents open from the next tick."""
        if not self.stopped:
            self.stopped = why
            self.events.append(("stopped", None, now_s))

    def trip(self, reason: str, side: int | None, now_s: float, detail: str = "") -> Fault:
        """Latch a fault (the first one stays): outputs safe from now on."""
        if self.fault is None:
            self.fault = Fault(reason, side, now_s, detail)
        return self.fault

    # --- the tick -----------------------------------------------------------------------
    def tick(
        self,
        now_s: float,
        vac_l: float | None,
        vac_r: float | None,
        vol_l: float | None,
        vol_r: float | None,
        vol_at_s: float | None,
        hw_watchdog: bool,
        late_s: float = 0.0,
    ) -> tuple[float, bool, float, bool]:
        """Check one tick and return the outputs to apply: (duty_l, vent_l, duty_r, vent_r).

        ``now_s`` must advance by no more than the watchdog period between ticks;
        ``vol_at_s`` is when the bottle-scale readings were sampled (they repeat between
        samples); ``late_s`` how late this tick started against its deadline.
        """
        if self.check(now_s, vac_l, vac_r, vol_l, vol_r, vol_at_s, hw_watchdog, late_s):
            return _SAFE
        if not self.stopped:
            if now_s - self._kicked_s >= self._silent_s:
                self.trip(CONTROLLER_SILENT, None, now_s)
                return _SAFE
            if now_s >= self._ends_s:
                self.stop(TIME_LIMIT, now_s)
        # The controller's requests, checked against this tick's readings: no pull past the
        # cap or the ceiling (ramped from the start), a release just above the ceiling, and
        # no vent shut past one slow cycle or a peak held past an infant's hold. (Here, not
        # in a method of its own: it runs every tick.)
        halt = bool(self.stopped) or not self._alive
        no_pull_mmhg = self._cap_now - self._k_tick * self._stall
        for s in self._sides:
            duty = s.duty
            vent = s.vent
            r = s.reading
            if halt or s.paused or r is None or now_s < s.release_until_s:
                duty = 0.0
                vent = True
            else:
                ceiling = s.ceiling_mmhg
                ramp = START_MMHG + RAMP_MMHG_S * (now_s - s.ramp_from_s)
                if ramp < ceiling:
                    ceiling = ramp
                if r >= ceiling or r >= no_pull_mmhg:
                    duty = 0.0
                if r >= ceiling + VENT_GATE_MMHG:
                    vent = True
            if vent:
                s.closed_since_s = None
                s.held_since_s = None
            else:
                if s.closed_since_s is None:
                    s.closed_since_s = now_s
                if r is not None and r >= s.ceiling_mmhg - HOLD_BAND_MMHG:
                    if s.held_since_s is None:
                        s.held_since_s = now_s
                else:
                    s.held_since_s = None
                if now_s - s.closed_since_s >= MAX_CLOSED_S or (
                    s.held_since_s is not None and now_s - s.held_since_s >= MAX_HOLD_S
                ):
                    # Every cycle vents: release for a few vent time constants.
                    s.release_until_s = now_s + 4.0 / self._vent_min
                    s.closed_since_s = None
                    s.held_since_s = None
                    duty = 0.0
                    vent = True
            s.out_duty = duty
            s.out_vent = vent
        left, right = self._sides
        return (left.out_duty, left.out_vent, right.out_duty, right.out_vent)

    def check(
        self,
        now_s: float,
        vac_l: float | None,
        vac_r: float | None,
        vol_l: float | None,
        vol_r: float | None,
        vol_at_s: float | None,
        hw_watchdog: bool,
        late_s: float = 0.0,
    ) -> Fault | None:
        """The checks alone, against the outputs last applied: the latched fault or None."""
        if self.fault is not None:
            return self.fault
        prev_s = self._now_s
        if not (
            (type(now_s) is float or isinstance(now_s, (int, float)))
            and prev_s < now_s < prev_s + 1e9
        ):
            return self.trip(CLOCK_JUMP, None, prev_s, f"clock {now_s!r} after {prev_s!r}")
        if not late_s <= self._max_late_s:
            self._now_s = now_s
            return self.trip(LOOP_OVERRUN, None, now_s)
        if now_s - prev_s > self._watchdog_s:
            return self.trip(CLOCK_JUMP, None, prev_s, f"clock {now_s!r} after {prev_s!r}")
        self._now_s = now_s
        if hw_watchdog:
            return self.trip(WATCHDOG, None, now_s)
        left, right = self._sides
        dt = now_s - prev_s
        factors = self._nominal if -1e-6 < dt - self._tick_s < 1e-6 else self._factors(dt)
        both = (
            now_s - left.last_closed_s < ACTIVE_S
            and now_s - right.last_closed_s < ACTIVE_S
            and not (left.paused or right.paused)
        )
        self._cap_now = self._trip_double if both else self._trip_single
        self._slot = int(now_s * _PER_SLOT)
        if self._shared:
            motor = left.out_duty if left.out_duty > right.out_duty else right.out_duty
            motor_l = motor_r = motor
        else:
            motor_l = left.out_duty
            motor_r = right.out_duty
        fault = self._check_side(left, vac_l, motor_l, right, now_s, prev_s, dt, factors)
        if fault is None:
            fault = self._check_side(right, vac_r, motor_r, left, now_s, prev_s, dt, factors)
        if fault is None and vol_at_s is not None and vol_at_s != self._volume_at_s:
            self._volume_at_s = vol_at_s
            if self._volume_checked:
                fault = self._volume(vol_l, vol_r, now_s)
        return fault

    def applied(self, duty_l: float, vent_l: bool, duty_r: float, vent_r: bool) -> None:
        """Record what really reached the outputs, when it was not what ``tick`` returned
        (a test, or a backend that refused a write)."""
        left, right = self._sides
        left.out_duty, left.out_vent = duty_l, vent_l
        right.out_duty, right.out_vent = duty_r, vent_r

    # --- the checks of one side ------------------------------------------------------------
    def _check_side(
        self,
        s: _Side,
        r: float | None,
        duty: float,
        other: _Side,
        now_s: float,
        prev_s: float,
        dt: float,
        factors: tuple[float, float, float, float, float],
    ) -> Fault | None:
        """One side's checks against what its outputs were; ``duty`` is what its motor
        ran at (with one motor for both sides, the larger duty)."""
        vent = s.out_vent
        own_duty = s.out_duty
        if r is None or not -1e6 < r < 1e6:
            s.reading = None
            return self.trip(PRESSURE_DROPOUT, s.index, now_s)
        s.reading = r
        slot = self._slot
        if slot == s.peak_slot:
            peaks = s.peaks
            i = slot % PEAK_SLOTS
            if r > peaks[i]:
                peaks[i] = r
        else:
            self._note_peak(s, r, now_s)
        if not vent:
            s.last_closed_s = now_s
        if r >= self._cap_now:
            return self.trip(OVER_CAP, s.index, now_s)
        limit = s.ceiling_mmhg + CEILING_MARGIN_MMHG
        if r > limit:
            if s.over_from_s is None:
                # It crossed some time after the previous reading: count from there.
                s.over_from_s = prev_s
            # The slowest vent needs this long to bring it back under the limit.
            release_s = math.log(r / limit) / self._vent_min
            if now_s - s.over_from_s + self._tick_s + release_s >= OVER_CEILING_S:
                return self.trip(OVER_CEILING, s.index, now_s)
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
                return self.trip(PRESSURE_STUCK, s.index, now_s)
        else:
            s.same = 0
        if vent:
            s.pull_lo = -1.0
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
            u0 = s.u0 * g0 if duty == 0.0 else self._vented(s.u0, duty, dt)
            eq1 = self._eq1_mmhg
            u1 = eq1 + (s.u1 - eq1) * g1
            m1 = self._m1
            if r > u0 + m1:
                s.env_count += 1
                if s.env_count >= ENVELOPE_TICKS:
                    fault = self._not_venting(s, other, r, u1, duty, now_s)
                    if fault is not None:
                        return fault
            else:
                s.env_count = 0
            # This reading bounds the true vacuum too: keep the tighter bound.
            top = r + m1
            s.u0 = u0 if u0 < top else top
            s.u1 = u1 if u1 < top else top
        else:
            if s.env_on:
                s.env_on = False
                s.env_count = 0
                if s.ambiguous_now:
                    s.ambiguous_now = False
                    s.ambiguous = True
            # While the vent stays shut, the vacuum must rise at least as fast as the
            # slowest declared pull and at most as fast as the fastest: a sensor whose gain
            # drifted (reads 30 % low, say) rises too slowly, long before the true vacuum
            # hurts. (Inline, not a method: it runs most ticks.)
            if s.pull_lo < 0.0:
                s.pull_lo = s.pull_hi = r
                s.pull_full = True
                s.pull_low = s.pull_high = 0
            else:
                stall = self._stall
                s.pull_hi += k_pull * duty * (stall - s.pull_hi)
                s.pull_lo = s.pull_lo * f_sealed + self._pull_min * dt * duty * (stall - s.pull_lo)
                if duty < FULL_DUTY:
                    s.pull_full = False
                if self._pull_min > 0.0 and r > rp and r >= LEAK_FLOOR_MMHG and r < s.pull_lo - m2:
                    s.pull_low += 1
                    if s.pull_low >= PULL_TICKS:
                        return self.trip(PRESSURE_GAIN, s.index, now_s)
                else:
                    s.pull_low = 0
                if s.pull_full and r > s.pull_hi + m2:
                    s.pull_high += 1
                    if s.pull_high >= PULL_TICKS:
                        return self.trip(PRESSURE_GAIN, s.index, now_s)
                else:
                    s.pull_high = 0
        if r >= LEAK_FLOOR_MMHG:
            s.leak_s = 0.0
        elif not vent:
            if own_duty >= LEAK_FULL_DUTY:
                s.leak_s += dt
                if s.leak_s >= LEAK_S - 1e-9:
                    return self.trip(LEAK, s.index, now_s)
            elif own_duty < LEAK_HELD_DUTY:
                s.leak_s = 0.0
        return None

    def _note_peak(self, s: _Side, r: float, now_s: float) -> None:
        slot = int(now_s * _PER_SLOT)
        gap = slot - s.peak_slot
        if gap:
            if gap < 0 or gap >= PEAK_SLOTS:
                for i in range(PEAK_SLOTS):
                    s.peaks[i] = 0.0
            else:
                for k in range(s.peak_slot + 1, slot + 1):
                    s.peaks[k % PEAK_SLOTS] = 0.0
            s.peak_slot = slot
        i = slot % PEAK_SLOTS
        if r > s.peaks[i]:
            s.peaks[i] = r

    def _vented(self, u: float, duty: float, dt: float) -> float:
        """The highest vacuum can be after ``dt`` with the vent open at ``duty``."""
        pull = self._pull_max * duty
        rate = pull + self._vent_min
        eq = pull * self._stall / rate
        return eq + (u - eq) * math.exp(-rate * dt)

    def _not_venting(
        self, s: _Side, other: _Side, r: float, u1: float, duty: float, now_s: float
    ) -> Fault | None:
        """The vacuum stayed above what an open vent allows: which part failed?

        Above what the vent could hold even against the motor at full: the vent. Rising
        again: the motor. Held low and flat, either could explain it (a vent that stuck
        on the way down, or the motor against the vent): wait for the next release, and
        if that one also falls and then holds, the vent works and it is the motor.
        """
        if s.same >= s.env_count:
            # Not a single change while it should have been falling: the sensor.
            return self.trip(PRESSURE_STUCK, s.index, now_s)
        m1 = self._m1
        rising = r > s.env_min + self._m2
        if r > u1 + m1:
            if other.env_count or (rising and duty == 0.0):
                # Both vents, or this side's vent and motor, ignored at once: one cause,
                # the commands are not reaching the pump.
                return self.trip(WATCHDOG, None, now_s)
            other_obeys = (
                other.env_on
                and other.env_ticks >= 2
                and other.env_start_s >= s.env_start_s - IN_PHASE_S
            )
            if not (other_obeys or rising or s.env_count >= self._vent_wait_ticks):
                # Nothing yet shows the other side's commands arrive: a stalled link
                # looks the same, and the watchdog will say so within its period.
                return None
            return self.trip(VENT_STUCK, s.index, now_s)
        if not (rising or s.ambiguous or s.env_count >= self._ambiguous_ticks):
            s.ambiguous_now = True
            return None
        if other.env_count and not self.limits.shared_motor:
            # Both motors ignored at once: one cause, commands not reaching the pump.
            return self.trip(WATCHDOG, None, now_s)
        return self.trip(MOTOR_STUCK, s.index, now_s)

    def _enter_suspect(
        self,
        s: _Side,
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
        s.pull_lo = -1.0

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
        s: _Side,
        r: float,
        rp: float,
        duty: float,
        vent: bool,
        now_s: float,
        dt: float,
        factors: tuple[float, float, float, float, float],
    ) -> Fault | None:
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
            return self.trip(PRESSURE_NOISY, s.index, now_s)
        if s.fall_run >= LEAK_RUN and not s.rises:
            return self.trip(LEAK, s.index, now_s)
        s.suspect += 1
        if s.suspect <= s.window:
            return None
        if r < self._neg_floor_mmhg:
            return self.trip(PRESSURE_IMPLAUSIBLE, s.index, now_s)
        if not s.rises and not s.scatter:
            if s.sealed_fall > self._m2 + self._ms:
                # It kept falling with the vent shut, not in one step: the seal.
                return self.trip(LEAK, s.index, now_s)
            if vent and duty == 0.0:
                # Released faster than the fastest vent: a shifted sensor will read below
                # atmosphere once the vacuum is gone, a lost seal settles at it. The vent
                # is open, so wait until the vacuum must be gone, then see.
                if s.hi > self._m1 and s.suspect <= SUSPECT_MAX_TICKS:
                    return None
                return self.trip(LEAK, s.index, now_s)
        if s.rises + s.falls + s.scatter > 1 or (s.rises and r <= s.hi + self._m1):
            # It broke the bounds again, or jumped up and came back: readings scattered
            # beyond the declared noise.
            return self.trip(PRESSURE_NOISY, s.index, now_s)
        # One break, then readings as quiet and lawful as before: the sensor shifted.
        return self.trip(PRESSURE_IMPLAUSIBLE, s.index, now_s)

    def _volume(self, vol_l: float | None, vol_r: float | None, now_s: float) -> Fault | None:
        """A fresh bottle-scale sample: the same value too many times running is stuck."""
        for s, value in ((self._sides[0], vol_l), (self._sides[1], vol_r)):
            if value is None or value != s.volume_ml:
                s.volume_ml = value
                s.volume_same = 0
            else:
                s.volume_same += 1
                if s.volume_same >= self._volume_stuck_n:
                    return self.trip(VOLUME_STUCK, s.index, now_s)
        return None

    # --- what reaches the hardware ----------------------------------------------------------
    def safe_outputs(self) -> tuple[float, bool, float, bool]:
        """Motors off, vents open: what a latched or stopped core applies."""
        return _SAFE
