"""Finding each side's comfort ceiling the way Kent et al. 2008 did.

Raise the vacuum step by step until the parent says "that's my limit" for a side, then
step back one: the level below the one that hurt is that side's maximum comfortable
vacuum. The two sides are found at once and never share a ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass

from letdown.device.base import SIDES, PressKind, Pump, Side
from letdown.pump.program import HARD_CAP_MMHG
from letdown.pump.tracking import CycleTracker

START_MMHG = 100.0
STEP_MMHG = 5.0
STEP_S = 6.0
RATE_CPM = 60.0
HOLD_S = 0.4


@dataclass(frozen=True, slots=True)
class LimitSearch:
    """The result for one side: ``ceiling_mmhg`` and whether the parent said so."""

    ceiling_mmhg: float
    pressed: bool


def find_limits(
    pump: Pump,
    *,
    start_mmhg: float = START_MMHG,
    step_mmhg: float = STEP_MMHG,
    step_s: float = STEP_S,
    max_mmhg: float = HARD_CAP_MMHG - 20.0,
    tick_s: float = 0.01,
) -> dict[Side, LimitSearch]:
    """Raise both sides stepwise until each says "that's my limit" (or ``max_mmhg``)."""
    if not 0 < start_mmhg <= max_mmhg <= HARD_CAP_MMHG:
        raise ValueError("need 0 < start_mmhg <= max_mmhg <= the hard cap")
    clock = pump.clock
    start_s = next_s = clock.now_s()
    trackers = {side: CycleTracker(start_s) for side in SIDES}
    level = dict.fromkeys(SIDES, start_mmhg)
    found: dict[Side, LimitSearch] = {}
    next_step_s = start_s + step_s
    try:
        while len(found) < len(SIDES):
            now_s = clock.now_s()
            if now_s >= next_step_s:
                next_step_s += step_s
                for side in SIDES:
                    if side in found:
                        continue
                    if level[side] + step_mmhg > max_mmhg:
                        found[side] = LimitSearch(level[side], pressed=False)
                    else:
                        level[side] += step_mmhg
            for side in SIDES:
                reading = pump.read_vacuum(side)
                duty, vent_open = trackers[side].command(
                    now_s,
                    None if reading is None else reading.vacuum_mmhg,
                    RATE_CPM,
                    level[side],
                    HOLD_S,
                )
                pump.set_duty(side, duty)
                pump.set_vent(side, vent_open)
            pump.kick()
            for press in pump.presses():
                pressed = press.side
                if press.kind is PressKind.LIMIT and pressed is not None and pressed not in found:
                    level[pressed] = max(step_mmhg, level[pressed] - step_mmhg)
                    found[pressed] = LimitSearch(level[pressed], pressed=True)
            if pump.faults():
                raise RuntimeError("the pump reported a fault while finding comfort limits")
            next_s += tick_s
            clock.sleep_until(next_s)
    finally:
        if not pump.closed:
            for side in SIDES:
                pump.set_duty(side, 0.0)
                pump.set_vent(side, True)
    return found
