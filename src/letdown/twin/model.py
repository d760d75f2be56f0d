"""The twin: a simulated nursing parent on a simulated double pump (twin.md §1-2).

``Twin.step(commands, dt_s)`` advances pneumatics, sensors, milk ejection, flow, pain
and the parent's hand, and returns what the sensors and buttons show. It never sees a
controller's internals; tests and benchmarks may read the truth (``true_vacuum_mmhg``,
``ejections``, ``removed_ml``) that a controller must not.

The step is plain Python on purpose: it runs 100 times a simulated second, and a
double-pump session must simulate far faster than real time (``letdown bench speed``).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from letdown.twin.cohort import ParentSpec
from letdown.twin.faults import GAIN_DRIFT_S, Fault, FaultKind
from letdown.twin.sources import (
    ASSUMPTION,
    EGNELL_1956_HOLD,
    GARDNER_2015_DURATION,
    KENT_2008_EJECTIONS,
    KENT_2008_YIELD,
    PRIME_2011_EJECTIONS,
    PRIME_2012_DOUBLE,
    TWIN_MD_HAND,
    TWIN_MD_PNEUMATICS,
    TWIN_MD_SENSORS,
    TWIN_MD_THRESHOLD,
    Source,
)
from letdown.words import SIDES, MotorLayout, Press, PressKind, Side

# --- Milk ejection -------------------------------------------------------------------
THRESHOLD_MMHG = 45.0
"""Vacuum that opens the ducts and counts as nipple stimulation (TWIN_MD_THRESHOLD)."""
STIMULATION_WINDOW_S = 4.0
"""A side counts as stimulated while it crossed the threshold upwards within this time:
covers the slowest cycle a program may use, 20 cycles/min (ASSUMPTION)."""
LATENCY_SPREAD = 0.15
"""Session-to-session spread of first-ejection latency, log scale: timing is consistent
within a parent (PRIME_2011_EJECTIONS)."""
INTERVAL_SPREAD = 0.35
"""Irregularity of the time between ejections, log scale (KENT_2008_EJECTIONS)."""
SINGLE_SIDE_RATE = 0.75
"""Stimulating one side makes the reflex accrue this much slower than both, so that 4.3
(one side, KENT_2008_EJECTIONS) and 5.1 (both, PRIME_2011_EJECTIONS) ejections hold in
15 min; simultaneous pumping gives more ejections (PRIME_2012_DOUBLE)."""
SINGLE_SIDE_STRENGTH = 0.87
"""An ejection released while one side alone is stimulated drives this fraction of the
flow: a side pumped alone drains less than one pumped with the other (PRIME_2012_DOUBLE:
simultaneous pumping removed a greater share of the available milk, and the milk left
after it was creamier, so the breast was drained further). Its size is an ASSUMPTION
chosen so that one side alone at MCV removes 65.5 % of its milk in 15 min
(KENT_2008_YIELD, row C1): at 1 (fewer ejections the only difference) the twin removed
69.6 % on 316 generated parents (seeds 1, 11, 23, 31, 37, 41, 43), the same side double
pumped 2 points more; each 0.01 less removes 0.32 points less. Checked on seed 47.
Double pumping is unchanged."""
FIRST_DURATION_S = 150.0
LATER_DURATION_S = 100.0
DURATION_SPREAD = 0.28
"""Median length of the first and later ejections and their log spread: 45 s to 3.5 min
(GARDNER_2015_DURATION)."""
LATER_STRENGTH = 0.65
LATER_STRENGTH_SPREAD = 0.2
"""Later ejections drive less flow than the first (KENT_2008_EJECTIONS); the size of the
drop is an ASSUMPTION tuned to the volume shares C4 and C5."""
RISE_S = 4.0
PLATEAU_FRACTION = 0.5
"""An ejection's flow rises within seconds, holds, then falls to nothing at its end over
the second half of it (ASSUMPTION on the shape; its length is GARDNER_2015_DURATION)."""
BASE_FLOW = 0.04
"""Flow between ejections, as a fraction of a full ejection's (ASSUMPTION)."""
MAX_DRIVE = 1.3
"""Overlapping ejections add up to at most this (ASSUMPTION)."""

# --- Flow ---------------------------------------------------------------------------
VACUUM_EXPONENT = 0.5
"""Flow grows with (peak vacuum - threshold) ** this, normalised at the side's
comfortable vacuum: softer vacuum removes less (KENT_2008_YIELD); the shape is an
ASSUMPTION. Flow follows each cycle's peak, not its rhythm (RAMSAY_2005_PATTERN)."""
MAX_VACUUM_GAIN = 1.25
"""Vacuum far above comfort adds at most this factor to flow (ASSUMPTION)."""

# --- Pain and the parent's hand -------------------------------------------------------
HOLD_GAIN_PER_S = 1.0
"""Pain grows with time held above comfort: x (1 + this x seconds held) (ASSUMPTION,
after EGNELL_1956_HOLD: long build-ups damage nipples)."""
PAIN_DECAY_S = 1.0
"""Pain fades with this time constant once vacuum falls (ASSUMPTION)."""
TOO_MUCH_PAIN = 3.0
TOO_MUCH_HOLD_S = 0.5
REACTION_S = (0.5, 1.5)
"""Press "too much" when pain stays above 3/10 for 0.5 s, 0.5-1.5 s later (TWIN_MD_HAND)."""
TOO_MUCH_REPEAT_S = 3.0
"""Pressed again after this while it still hurts (ASSUMPTION)."""
LIMIT_PAIN = 0.3
LIMIT_REARM_PAIN = 0.1
"""Press "that's my limit" at the first noticeable discomfort, once per rise (ASSUMPTION:
Kent 2008's mothers reported the highest vacuum that was still comfortable)."""


@dataclass(frozen=True, slots=True)
class Parameter:
    """One of the twin's fixed parameters, its unit and where it comes from."""

    name: str
    value: float
    unit: str
    source: Source


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("THRESHOLD_MMHG", THRESHOLD_MMHG, "mmHg", TWIN_MD_THRESHOLD),
    Parameter("STIMULATION_WINDOW_S", STIMULATION_WINDOW_S, "s", ASSUMPTION),
    Parameter("LATENCY_SPREAD", LATENCY_SPREAD, "log sd", PRIME_2011_EJECTIONS),
    Parameter("INTERVAL_SPREAD", INTERVAL_SPREAD, "log sd", KENT_2008_EJECTIONS),
    Parameter("SINGLE_SIDE_RATE", SINGLE_SIDE_RATE, "x", PRIME_2012_DOUBLE),
    Parameter("SINGLE_SIDE_STRENGTH", SINGLE_SIDE_STRENGTH, "x", ASSUMPTION),
    Parameter("FIRST_DURATION_S", FIRST_DURATION_S, "s", GARDNER_2015_DURATION),
    Parameter("LATER_DURATION_S", LATER_DURATION_S, "s", GARDNER_2015_DURATION),
    Parameter("DURATION_SPREAD", DURATION_SPREAD, "log sd", GARDNER_2015_DURATION),
    Parameter("LATER_STRENGTH", LATER_STRENGTH, "x first", KENT_2008_EJECTIONS),
    Parameter("LATER_STRENGTH_SPREAD", LATER_STRENGTH_SPREAD, "log sd", ASSUMPTION),
    Parameter("RISE_S", RISE_S, "s", ASSUMPTION),
    Parameter("PLATEAU_FRACTION", PLATEAU_FRACTION, "of duration", ASSUMPTION),
    Parameter("BASE_FLOW", BASE_FLOW, "x full flow", ASSUMPTION),
    Parameter("MAX_DRIVE", MAX_DRIVE, "x", ASSUMPTION),
    Parameter("VACUUM_EXPONENT", VACUUM_EXPONENT, "", KENT_2008_YIELD),
    Parameter("MAX_VACUUM_GAIN", MAX_VACUUM_GAIN, "x", ASSUMPTION),
    Parameter("HOLD_GAIN_PER_S", HOLD_GAIN_PER_S, "1/s", EGNELL_1956_HOLD),
    Parameter("PAIN_DECAY_S", PAIN_DECAY_S, "s", ASSUMPTION),
    Parameter("TOO_MUCH_PAIN", TOO_MUCH_PAIN, "/10", TWIN_MD_HAND),
    Parameter("TOO_MUCH_HOLD_S", TOO_MUCH_HOLD_S, "s", TWIN_MD_HAND),
    Parameter("REACTION_MIN_S", REACTION_S[0], "s", TWIN_MD_HAND),
    Parameter("REACTION_MAX_S", REACTION_S[1], "s", TWIN_MD_HAND),
    Parameter("TOO_MUCH_REPEAT_S", TOO_MUCH_REPEAT_S, "s", ASSUMPTION),
    Parameter("LIMIT_PAIN", LIMIT_PAIN, "/10", ASSUMPTION),
    Parameter("LIMIT_REARM_PAIN", LIMIT_REARM_PAIN, "/10", ASSUMPTION),
)
"""Every fixed physiological parameter with its source (``letdown twin params``)."""

_TOO_MUCH = PressKind.TOO_MUCH
_INV_RISE_S = 1.0 / RISE_S
_TAIL_FRACTION = 1.0 - PLATEAU_FRACTION
_LIMIT = PressKind.LIMIT
_new_tuple = tuple.__new__


@dataclass(frozen=True, slots=True)
class PneumaticsSpec:
    """The pump hardware: motor, valves, leaks and sensors (TWIN_MD_PNEUMATICS)."""

    layout: MotorLayout = MotorLayout.PER_SIDE
    pull_per_s: float = 1.4
    """Full duty from 0 reaches 190 mmHg in about 0.5 s (0.3-0.7 s in TWIN_MD_PNEUMATICS)."""
    shared_pull_fraction: float = 0.65
    """With one motor for both sides each side gets this share of its pull."""
    stall_mmhg: float = 375.0
    """The motor can pull past 300 mmHg: only software and vents keep it below the cap."""
    leak_per_s: float = 0.1
    """A good flange seal still leaks a little."""
    vent_per_s: float = 25.0
    """An open vent releases 190 mmHg in about 0.12 s (0.1-0.2 s)."""
    pressure_noise_mmhg: float = 1.0
    pressure_step_mmhg: float = 0.5
    volume_noise_ml: float = 0.5
    volume_lag_s: float = 0.5
    volume_period_s: float = 0.1
    """Sensors as TWIN_MD_SENSORS: pressure 100 Hz, bottle scale 10 Hz, lagging 0.5 s."""
    watchdog_s: float = 0.25
    """Not kicked for this long, the board cuts the motor and opens both vents."""
    max_step_s: float = 0.01


def pneumatics_parameters(spec: PneumaticsSpec) -> tuple[Parameter, ...]:
    """The hardware model's parameters with their sources."""
    return (
        Parameter("pull_per_s", spec.pull_per_s, "1/s", TWIN_MD_PNEUMATICS),
        Parameter("shared_pull_fraction", spec.shared_pull_fraction, "x", ASSUMPTION),
        Parameter("stall_mmhg", spec.stall_mmhg, "mmHg", TWIN_MD_PNEUMATICS),
        Parameter("leak_per_s", spec.leak_per_s, "1/s", ASSUMPTION),
        Parameter("vent_per_s", spec.vent_per_s, "1/s", TWIN_MD_PNEUMATICS),
        Parameter("pressure_noise_mmhg", spec.pressure_noise_mmhg, "mmHg", TWIN_MD_SENSORS),
        Parameter("pressure_step_mmhg", spec.pressure_step_mmhg, "mmHg", TWIN_MD_SENSORS),
        Parameter("volume_noise_ml", spec.volume_noise_ml, "mL", TWIN_MD_SENSORS),
        Parameter("volume_lag_s", spec.volume_lag_s, "s", TWIN_MD_SENSORS),
        Parameter("volume_period_s", spec.volume_period_s, "s", TWIN_MD_SENSORS),
        Parameter("watchdog_s", spec.watchdog_s, "s", TWIN_MD_PNEUMATICS),
    )


class Commands:
    """What a controller asked of the hardware; the sim device fills it in."""

    __slots__ = ("duty", "kick", "vent_open")

    def __init__(self) -> None:
        self.duty = [0.0, 0.0]
        self.vent_open = [True, True]
        self.kick = False


class Readings(NamedTuple):
    """What the sensors and the parent's buttons show after a step."""

    at_s: float
    vacuum_mmhg: tuple[float | None, float | None]
    volume_ml: tuple[float | None, float | None]
    volume_at_s: float
    presses: tuple[Press, ...]
    watchdog_tripped: bool


@dataclass(slots=True)
class EjectionRecord:
    """One milk ejection as it really happened (truth, for tests and calibration).

    Volume counts all milk removed from this ejection's start to the next one's, as flow
    curves are split in the studies; peak flow is per side, mL/min.
    """

    start_s: float
    duration_s: float
    strength: float
    volume_ml: list[float] = field(default_factory=lambda: [0.0, 0.0])
    peak_flow_ml_min: list[float] = field(default_factory=lambda: [0.0, 0.0])


class _Noise:
    """Standard normal draws for sensor noise, made by NumPy a block at a time.

    ``random.gauss`` costs about a microsecond a call and the sensors need 220 draws per
    simulated second; a block of 16384 costs less than that in all.
    """

    __slots__ = ("_block", "_generator", "_next")

    BLOCK = 16384

    def __init__(self, seed: str) -> None:
        digest = hashlib.sha256(seed.encode()).digest()
        self._generator = np.random.default_rng(int.from_bytes(digest[:16], "little"))
        self._block: list[float] = []
        self._next = 0

    def normal(self) -> float:
        index = self._next
        if index >= len(self._block):
            self._block = self._generator.standard_normal(self.BLOCK).tolist()
            index = 0
        self._next = index + 1
        return self._block[index]

    def refill(self) -> list[float]:
        """A new block, from its first draw (``Twin._step`` draws from it inline)."""
        self._block = self._generator.standard_normal(self.BLOCK).tolist()
        self._next = 0
        return self._block


class _Side:
    """One side's state: pneumatics, sensors, milk, pain and the hand."""

    __slots__ = (
        "above_comfort_s",
        "available_ml",
        "comfort_mmhg",
        "cycle_max",
        "duty",
        "envelope",
        "flow_ml_s",
        "flow_per_s",
        "gain_drift",
        "held_s",
        "index",
        "last_cross_s",
        "leak_per_s",
        "limit_armed",
        "limit_due_s",
        "motor",
        "motor_stuck",
        "noticed_s",
        "pain",
        "pain_per_mmhg",
        "pressure",
        "pressure_dropout",
        "pressure_gain",
        "pressure_noise",
        "pressure_offset",
        "pressure_stuck",
        "prev_v",
        "remaining_ml",
        "removed_ml",
        "ring",
        "side",
        "span_mmhg",
        "too_much_due_s",
        "too_much_ready_s",
        "too_much_since_s",
        "v",
        "vent_open",
        "vent_stuck",
        "volume",
        "volume_stuck",
    )

    def __init__(self, index: int, parent: ParentSpec, spec: PneumaticsSpec) -> None:
        side = SIDES[index]
        params = parent.sides.left if side is Side.LEFT else parent.sides.right
        self.index = index
        self.side = side
        self.available_ml = params.available_ml
        self.remaining_ml = params.available_ml
        self.removed_ml = 0.0
        self.flow_per_s = params.flow_ml_min / 60.0
        self.flow_ml_s = 0.0
        self.comfort_mmhg = params.comfort_mmhg
        self.span_mmhg = max(10.0, params.comfort_mmhg - THRESHOLD_MMHG)
        self.pain_per_mmhg = params.pain_per_mmhg
        self.v = 0.0
        self.prev_v = 0.0
        self.duty = 0.0
        self.motor = 0.0
        self.vent_open = True
        self.leak_per_s = spec.leak_per_s
        self.envelope = 0.0
        self.cycle_max = 0.0
        self.last_cross_s = -math.inf
        self.held_s = 0.0
        self.above_comfort_s = 0.0
        self.noticed_s = 0.0
        self.pain = 0.0
        self.too_much_since_s: float | None = None
        self.too_much_due_s: float | None = None
        self.too_much_ready_s = 0.0
        self.limit_due_s: float | None = None
        self.limit_armed = True
        self.pressure: float | None = 0.0
        self.volume: float | None = 0.0
        self.ring: deque[float] = deque(
            [0.0] * (round(spec.volume_lag_s / spec.volume_period_s) + 1),
            maxlen=round(spec.volume_lag_s / spec.volume_period_s) + 1,
        )
        self.pressure_stuck: float | None = None
        self.pressure_offset = 0.0
        self.pressure_gain = 1.0
        self.gain_drift: tuple[float, float, float] | None = None
        """(from_s, over_s, to_gain) while the sensor's gain drifts."""
        self.pressure_noise = spec.pressure_noise_mmhg
        self.pressure_dropout = False
        self.motor_stuck = False
        self.vent_stuck = False
        self.volume_stuck = False


class Twin:
    """A simulated parent and double pump, fully determined by ``parent`` and ``seed``.

    Random draws come from three streams seeded by ``seed`` (the reflex, the hand and
    sensor noise), so two runs with the same inputs give the same results, and the
    reflex's draws (latency, intervals, durations) do not depend on what a controller
    does.
    """

    def __init__(
        self,
        parent: ParentSpec,
        seed: int | str = 0,
        pneumatics: PneumaticsSpec | None = None,
    ) -> None:
        self.parent = parent
        self.pneumatics = spec = pneumatics or PneumaticsSpec()
        self._sides = (_Side(0, parent, spec), _Side(1, parent, spec))
        reflex = random.Random(f"{seed}:reflex")
        self._hand_rng = random.Random(f"{seed}:hand")
        self._noise = _Noise(f"{seed}:noise")
        ejection = parent.ejection
        self._count_max = ejection.count_max
        self._due_s = [ejection.latency_s * math.exp(reflex.gauss(0.0, LATENCY_SPREAD))]
        self._durations_s = [FIRST_DURATION_S * math.exp(reflex.gauss(0.0, DURATION_SPREAD))]
        self._strengths = [1.0]
        for _ in range(1, max(1, ejection.count_max)):
            interval_s = ejection.interval_s * math.exp(reflex.gauss(0.0, INTERVAL_SPREAD))
            self._due_s.append(self._due_s[-1] + interval_s)
            self._durations_s.append(
                LATER_DURATION_S * math.exp(reflex.gauss(0.0, DURATION_SPREAD))
            )
            self._strengths.append(
                LATER_STRENGTH * math.exp(reflex.gauss(0.0, LATER_STRENGTH_SPREAD))
            )
        self._stimulated_s = 0.0
        self.ejections: list[EjectionRecord] = []
        self._active: list[EjectionRecord] = []
        self._now_s = 0.0
        self._shared = spec.layout is MotorLayout.SHARED
        self._pull = spec.pull_per_s * (spec.shared_pull_fraction if self._shared else 1.0)
        self._stall = spec.stall_mmhg
        self._vent_rate = spec.vent_per_s
        self._inv_step = 1.0 / spec.pressure_step_mmhg
        self._volume_due_s = spec.volume_period_s
        self._volume_at_s = 0.0
        self._last_kick_s = 0.0
        self._watchdog_due_s = spec.watchdog_s - 1e-9
        """Not kicked for this long (less a nanosecond's grace), the watchdog trips."""
        self._armed = True
        """Armed from power-up: a controller that never kicks is caught within the period."""
        self._tripped = False
        self._stall_from_s = math.inf
        self._stall_until_s = -math.inf
        self._pending: list[Fault] = []
        self._next_fault_s = math.inf
        self.active_faults: list[Fault] = []
        self._presses: list[Press] = []
        self.presses_made: dict[PressKind, int] = dict.fromkeys(PressKind, 0)
        """How often the parent's own hand pressed each button (truth)."""
        self._decay_dt = -1.0
        self._pain_decay = 1.0

    # --- the outside world ------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        """Schedule ``fault`` to begin at its ``at_s`` (twin time)."""
        if fault.at_s < self._now_s:
            raise ValueError(f"fault at {fault.at_s} s is in the past (now {self._now_s:.2f} s)")
        self._pending.append(fault)
        self._pending.sort(key=lambda f: f.at_s)
        self._next_fault_s = self._pending[0].at_s

    def press(self, kind: PressKind, side: Side | None = None) -> None:
        """Someone presses a button now (the parent's hand presses on its own too)."""
        self._presses.append(
            Press(PressKind(kind), None if side is None else Side(side), self._now_s)
        )

    def rearm(self) -> None:
        """Clear a tripped watchdog, as a board's reset line does: outputs come back off."""
        self._tripped = False
        self._armed = True
        self._last_kick_s = self._now_s
        for s in self._sides:
            s.duty = 0.0
            s.motor = 0.0
            s.vent_open = True

    # --- truth, for tests and benchmarks ----------------------------------------------------
    @property
    def now_s(self) -> float:
        return self._now_s

    @property
    def watchdog_tripped(self) -> bool:
        return self._tripped

    def _state(self, side: Side) -> _Side:
        return self._sides[0] if side is Side.LEFT else self._sides[1]

    def true_vacuum_mmhg(self, side: Side) -> float:
        return self._state(side).v

    def removed_ml(self, side: Side) -> float:
        """Milk removed from ``side`` so far (at the nipple, before the bottle's lag)."""
        return self._state(side).removed_ml

    def available_ml(self, side: Side) -> float:
        return self._state(side).available_ml

    def flow_ml_min(self, side: Side) -> float:
        return self._state(side).flow_ml_s * 60.0

    def pain(self, side: Side) -> float:
        """Pain on a 0-10 scale now (ASSUMPTION: no published vacuum-pain curve)."""
        return min(10.0, self._state(side).pain)

    def comfort_mmhg(self, side: Side) -> float:
        return self._state(side).comfort_mmhg

    def above_comfort_s(self, side: Side) -> float:
        """Seconds the true vacuum on ``side`` has spent above its comfortable maximum."""
        return self._state(side).above_comfort_s

    def noticed_pain_s(self, side: Side) -> float:
        """Seconds the parent felt the vacuum on ``side`` (pain at or over the first
        noticeable discomfort, ``LIMIT_PAIN``): unlike ``above_comfort_s`` this counts only
        what a parent could say, and so what a controller can learn from."""
        return self._state(side).noticed_s

    def vent_open(self, side: Side) -> bool:
        """Whether the vent really is open (a stuck vent is not, whatever it was told)."""
        state = self._state(side)
        return self._tripped or (state.vent_open and not state.vent_stuck)

    def motor_duty(self, side: Side) -> float:
        """The duty the motor serving ``side`` really runs at."""
        return self._state(side).motor

    # --- the plant ------------------------------------------------------------------------
    def step(self, commands: Commands, dt_s: float) -> Readings:
        """Advance by ``dt_s`` with ``commands`` held; longer steps are split."""
        if not 0.0 < dt_s <= 3600.0:
            raise ValueError(f"step must be within (0, 3600] s, got {dt_s!r}")
        max_step = self.pneumatics.max_step_s
        while dt_s > max_step * 1.000001:
            self._step(commands, max_step)
            dt_s -= max_step
        return self._step(commands, dt_s)

    def _step(self, commands: Commands, dt: float) -> Readings:
        # One pass per side does pneumatics, sensor and physiology (the reflex and the
        # ejections' drive come first: they depend only on earlier steps), with the
        # side's state in locals: this runs 200 times a simulated second.
        started = self._now_s
        now = started + dt
        self._now_s = now
        if now >= self._next_fault_s:
            self._activate(now)
        left, right = sides = self._sides
        # Commands sent at the start of this step arrive unless the loop stalled by then
        # (a microsecond's grace for the float sum of many steps).
        if not self._stall_from_s <= started + 1e-6 < self._stall_until_s:
            asked_duty = commands.duty
            left.duty = asked_duty[0]
            right.duty = asked_duty[1]
            asked_vent = commands.vent_open
            left.vent_open = asked_vent[0]
            right.vent_open = asked_vent[1]
            if commands.kick:
                # The kick was sent at the start of this step.
                commands.kick = False
                self._last_kick_s = started
                self._armed = True
        if self._armed and not self._tripped and now - self._last_kick_s >= self._watchdog_due_s:
            self._tripped = True
        tripped = self._tripped

        # The reflex: stimulation (both sides' last threshold crossings) accrues to the
        # next ejection.
        stimulated = (now - left.last_cross_s <= STIMULATION_WINDOW_S) + (
            now - right.last_cross_s <= STIMULATION_WINDOW_S
        )
        ejections = self.ejections
        if stimulated:
            count = len(ejections)
            self._stimulated_s += dt if stimulated == 2 or count == 0 else dt * SINGLE_SIDE_RATE
            if count < self._count_max and self._stimulated_s >= self._due_s[count]:
                strength = self._strengths[count]
                if stimulated == 1:
                    strength *= SINGLE_SIDE_STRENGTH
                ejection = EjectionRecord(now, self._durations_s[count], strength)
                ejections.append(ejection)
                self._active.append(ejection)
        drive = BASE_FLOW
        record = None
        if self._active:
            drive = 0.0
            for ejection in self._active:
                t = now - ejection.start_s
                shape = 1.0 - math.exp(-t * _INV_RISE_S)
                tail_s = ejection.duration_s * _TAIL_FRACTION
                to_end_s = ejection.duration_s - t
                if to_end_s < tail_s:
                    shape *= to_end_s / tail_s
                drive += ejection.strength * shape
            if now - self._active[0].start_s >= self._active[0].duration_s:
                # (A loop, not a comprehension: one would make ``now`` a closure cell,
                # slower to read all through this step.)
                still: list[EjectionRecord] = []
                for e in self._active:
                    if now - e.start_s < e.duration_s:
                        still.append(e)
                self._active = still
            drive = (drive if drive < MAX_DRIVE else MAX_DRIVE) + BASE_FLOW
        if ejections:
            record = ejections[-1]
        if dt != self._decay_dt:
            self._decay_dt = dt
            self._pain_decay = math.exp(-dt / PAIN_DECAY_S)
        pain_decay = self._pain_decay

        # With one motor for both sides each runs at the larger duty.
        shared = self._shared
        shared_duty = 0.0
        if shared:
            shared_duty = left.duty if left.duty > right.duty else right.duty
            if left.motor_stuck or right.motor_stuck:
                shared_duty = 1.0
        pull = self._pull
        stall = self._stall
        vent_rate = self._vent_rate
        inv_step = self._inv_step
        exp = math.exp
        noise = self._noise
        block = noise._block
        drawn = noise._next
        for s in sides:
            # Pneumatics: dv/dt = pull*duty*(stall - v) - (leak + vent)*v, integrated
            # exactly.
            if tripped:
                duty = 0.0
            elif shared:
                duty = shared_duty
            else:
                duty = 1.0 if s.motor_stuck else s.duty
            vent = tripped or (s.vent_open and not s.vent_stuck)
            rate = pull * duty + s.leak_per_s + (vent_rate if vent else 0.0)
            v = s.v
            if rate > 0.0:
                target = pull * duty * stall / rate
                s.v = v = target + (v - target) * exp(-rate * dt)
            s.motor = duty
            if s.pressure_dropout:
                s.pressure = None
            elif s.pressure_stuck is None:
                if s.gain_drift is not None:
                    from_s, over_s, to_gain = s.gain_drift
                    done = 1.0 if over_s <= 0.0 else min(1.0, (now - from_s) / over_s)
                    s.pressure_gain = 1.0 + (to_gain - 1.0) * done
                if drawn >= len(block):
                    block = noise.refill()
                    drawn = 0
                raw = v * s.pressure_gain - s.pressure_offset + block[drawn] * s.pressure_noise
                drawn += 1
                s.pressure = round(raw * inv_step) / inv_step

            # Stimulation and the vacuum that drives flow: the peak of each cycle.
            prev_v = s.prev_v
            if v >= THRESHOLD_MMHG:
                if prev_v < THRESHOLD_MMHG:
                    s.last_cross_s = now
                if v > s.cycle_max:
                    s.cycle_max = v
                if v > s.envelope:
                    s.envelope = v
            elif prev_v >= THRESHOLD_MMHG:
                s.envelope = s.cycle_max
                s.cycle_max = 0.0
            s.prev_v = v
            if now - s.last_cross_s > STIMULATION_WINDOW_S:
                s.envelope = v if v >= THRESHOLD_MMHG else 0.0

            # Flow: ejection drive x vacuum x how full the side still is.
            flow = 0.0
            envelope = s.envelope
            remaining_ml = s.remaining_ml
            if envelope > THRESHOLD_MMHG and remaining_ml > 0.0:
                gain = math.sqrt((envelope - THRESHOLD_MMHG) / s.span_mmhg)
                if gain > MAX_VACUUM_GAIN:
                    gain = MAX_VACUUM_GAIN
                flow = s.flow_per_s * gain * (remaining_ml / s.available_ml) * drive
                removed = flow * dt
                if removed > remaining_ml:
                    removed = remaining_ml
                s.remaining_ml = remaining_ml - removed
                s.removed_ml += removed
                if record is not None:
                    record.volume_ml[s.index] += removed
                    if flow * 60.0 > record.peak_flow_ml_min[s.index]:
                        record.peak_flow_ml_min[s.index] = flow * 60.0
            s.flow_ml_s = flow

            # Pain: vacuum above comfort, worse the longer it is held.
            comfort_mmhg = s.comfort_mmhg
            if v > comfort_mmhg:
                s.held_s += dt
                s.above_comfort_s += dt
                felt = s.pain_per_mmhg * (v - comfort_mmhg) * (1.0 + HOLD_GAIN_PER_S * s.held_s)
            else:
                s.held_s = 0.0
                felt = 0.0
            pain = s.pain * pain_decay
            s.pain = pain = felt if felt > pain else pain

            # The parent's hand.
            if pain >= TOO_MUCH_PAIN:
                if s.too_much_since_s is None:
                    s.too_much_since_s = now
                elif (
                    s.too_much_due_s is None
                    and now - s.too_much_since_s >= TOO_MUCH_HOLD_S
                    and now >= s.too_much_ready_s
                ):
                    s.too_much_due_s = now + self._hand_rng.uniform(*REACTION_S)
            elif s.too_much_since_s is not None:
                s.too_much_since_s = None
            if s.too_much_due_s is not None and now >= s.too_much_due_s:
                self._presses.append(Press(_TOO_MUCH, s.side, now))
                self.presses_made[_TOO_MUCH] += 1
                s.too_much_due_s = None
                s.too_much_ready_s = now + TOO_MUCH_REPEAT_S
            if pain >= LIMIT_PAIN:
                s.noticed_s += dt
                if s.limit_armed:
                    s.limit_armed = False
                    s.limit_due_s = now + self._hand_rng.uniform(*REACTION_S)
            elif pain < LIMIT_REARM_PAIN and s.limit_due_s is None:
                s.limit_armed = True
            if s.limit_due_s is not None and now >= s.limit_due_s:
                self._presses.append(Press(_LIMIT, s.side, now))
                self.presses_made[_LIMIT] += 1
                s.limit_due_s = None
        noise._next = drawn

        if now >= self._volume_due_s - 1e-9:
            self._volume_due_s += self.pneumatics.volume_period_s
            self._volume_at_s = now
            for s in sides:
                s.ring.append(s.removed_ml)
                if not s.volume_stuck:
                    s.volume = round(
                        s.ring[0] + noise.normal() * self.pneumatics.volume_noise_ml, 1
                    )
        presses: tuple[Press, ...] = ()
        if self._presses:
            presses = tuple(self._presses)
            self._presses.clear()
        # tuple.__new__: a NamedTuple's own __new__ is a Python-level call, every step.
        return _new_tuple(
            Readings,
            (
                now,
                (left.pressure, right.pressure),
                (left.volume, right.volume),
                self._volume_at_s,
                presses,
                tripped,
            ),
        )

    def _activate(self, now: float) -> None:
        while self._pending and self._pending[0].at_s <= now:
            fault = self._pending.pop(0)
            self._next_fault_s = self._pending[0].at_s if self._pending else math.inf
            self.active_faults.append(fault)
            kind = fault.kind
            if kind is FaultKind.LOOP_STALL:
                assert fault.duration_s is not None
                self._stall_from_s = fault.at_s
                self._stall_until_s = fault.at_s + fault.duration_s
                continue
            assert fault.side is not None
            s = self._state(fault.side)
            if kind is FaultKind.PRESSURE_STUCK:
                s.pressure_stuck = s.pressure if s.pressure is not None else s.v
                s.pressure = s.pressure_stuck
            elif kind is FaultKind.PRESSURE_OFFSET:
                s.pressure_offset = fault.size
            elif kind is FaultKind.GAIN_DRIFT:
                over_s = GAIN_DRIFT_S if fault.duration_s is None else fault.duration_s
                s.gain_drift = (fault.at_s, over_s, fault.size)
            elif kind is FaultKind.PRESSURE_NOISY:
                s.pressure_noise = fault.size
            elif kind is FaultKind.PRESSURE_DROPOUT:
                s.pressure_dropout = True
            elif kind is FaultKind.MOTOR_STUCK_ON:
                s.motor_stuck = True
            elif kind is FaultKind.VENT_STUCK_CLOSED:
                s.vent_stuck = True
            elif kind is FaultKind.LEAK:
                s.leak_per_s = fault.size
            elif kind is FaultKind.VOLUME_STUCK:
                s.volume_stuck = True
