"""Running a fixed program on a pump: the reference controller the twin is checked with.

It follows the program's phases open loop (no let-down detection), on a 100 Hz loop
with absolute deadlines (``next += period``), under the safety core like every
controller: it stops at the program's end, on the parent's stop button, at the core's
time limit or on a fault; "too much" lowers that side's peak (the core lowers its
ceiling under the peak that hurt, and pauses the side at the floor); it always leaves
the pump with motors off and vents open.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from letdown.device.base import SIDES, Press, Pump, Side, read_volumes
from letdown.pump.program import Phase, Program
from letdown.pump.tracking import CycleTracker
from letdown.safety.handle import end_supervised, supervise

TICK_S = 0.01


@dataclass(frozen=True, slots=True)
class TickView:
    """What the loop saw on one tick (for live views); vacuum is None on dropout."""

    elapsed_s: float
    phase: Phase
    vacuum_mmhg: Mapping[Side, float | None]
    volume_ml: Mapping[Side, float | None]


@dataclass(slots=True)
class RunResult:
    """How a program run went: collected volume per side as the bottle scale read it."""

    program: str
    started_at_s: float
    ended_at_s: float
    ended_by: str
    volume_ml: dict[Side, float | None]
    presses: list[Press] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.ended_at_s - self.started_at_s


def run_program(
    pump: Pump,
    program: Program,
    ceilings_mmhg: Mapping[Side, float],
    *,
    sides: Sequence[Side] = SIDES,
    duration_s: float | None = None,
    tick_s: float = TICK_S,
    on_tick: Callable[[TickView], None] | None = None,
    view_every: int = 10,
) -> RunResult:
    """Run ``program`` on ``sides`` of ``pump``; the other side stays vented.

    ``ceilings_mmhg`` turns each phase's ``peak_fraction`` into a side's peak.
    ``on_tick`` (if given) sees a ``TickView`` every ``view_every`` ticks.
    """
    if not 0 < tick_s <= 0.1:
        raise ValueError(f"tick_s must be within (0, 0.1] s, got {tick_s}")
    active = tuple(dict.fromkeys(sides))
    if not active or any(side not in SIDES for side in active):
        raise ValueError(f"sides must be a non-empty subset of left/right, got {sides!r}")
    missing = [side for side in active if side not in ceilings_mmhg]
    if missing:
        raise ValueError(f"no comfort ceiling for {', '.join(missing)}")
    for side in active:
        value = ceilings_mmhg[side]
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ValueError(f"the {side} ceiling must be a finite number > 0, got {value!r}")
    length_s = program.duration_s if duration_s is None else duration_s
    if not (math.isfinite(length_s) and length_s > 0):
        raise ValueError(f"duration_s must be a finite number of seconds > 0, got {length_s!r}")
    safe = supervise(pump, tick_s=tick_s)
    for side in active:
        safe.lower_ceiling(side, ceilings_mmhg[side])
    clock = safe.clock
    start_s = clock.now_s()
    # Per phase, per active side: (side, tracker, peak); no dict lookups in the loop.
    trackers = [CycleTracker(start_s) for _ in active]
    plan = [
        [
            (side, tracker.command, phase.peak_for(ceilings_mmhg[side]))
            for side, tracker in zip(active, trackers, strict=True)
        ]
        for phase in program.phases
    ]
    phase_ends_s = []
    end_s = 0.0
    for phase in program.phases:
        end_s += phase.duration_s
        phase_ends_s.append(end_s)
    last = len(program.phases) - 1
    index = 0
    presses: list[Press] = []
    ended_by = "end"
    next_s = start_s
    ticks = 0
    # The handle's methods, bound once: the loop runs 100 times a simulated second.
    now = clock.now_s
    sleep_until = clock.sleep_until
    read_vacuum = safe.read_vacuum
    ceiling = safe.ceiling
    set_duty = safe.set_duty
    set_vent = safe.set_vent
    kick = safe.kick
    core = safe.core
    try:
        for side in SIDES:
            if side not in active:
                set_duty(side, 0.0)
                set_vent(side, True)
        while True:
            now_s = now()
            elapsed_s = now_s - start_s
            if elapsed_s >= length_s - 1e-9:
                break
            while index < last and elapsed_s >= phase_ends_s[index]:
                index += 1
            phase = program.phases[index]
            rate_cpm = phase.rate_cpm
            hold_s = phase.hold_s
            for side, command, peak_mmhg in plan[index]:
                reading = read_vacuum(side)
                ceiling_mmhg = ceiling(side)
                duty, vent_open = command(
                    now_s,
                    # reading[0] is its vacuum_mmhg (by index: CPython 3.11 does not
                    # specialise a NamedTuple's attribute lookups)
                    None if reading is None else reading[0],
                    rate_cpm,
                    peak_mmhg if peak_mmhg < ceiling_mmhg else ceiling_mmhg,
                    hold_s,
                )
                set_duty(side, duty)
                set_vent(side, vent_open)
            kick()
            new_presses = safe.presses()
            if new_presses:
                presses.extend(new_presses)
            if core.fault is not None or core.stopped:
                if safe.fault is not None:
                    ended_by = "fault"
                    break
                ended_by = "stop" if safe.stopped == "stop" else safe.stopped
                break
            ticks += 1
            if on_tick is not None and ticks % view_every == 0:
                on_tick(_view(safe, elapsed_s, phase))
            next_s += tick_s
            sleep_until(next_s)
    finally:
        volumes = read_volumes(safe)
        end_s = clock.now_s()
        end_supervised(safe, pump)
    return RunResult(program.name, start_s, end_s, ended_by, volumes, presses)


def _view(pump: Pump, elapsed_s: float, phase: Phase) -> TickView:
    vacuum: dict[Side, float | None] = {}
    for side in SIDES:
        pressure = pump.read_vacuum(side)
        vacuum[side] = None if pressure is None else pressure.vacuum_mmhg
    return TickView(elapsed_s, phase, vacuum, read_volumes(pump))
