"""The twin's milk ejection when one side is pumped alone (twin.md §2-3)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from letdown.device import SIDES, Side
from letdown.device.sim import SimPump
from letdown.pump.program import TWO_PHASE
from letdown.pump.runner import TickView, run_program
from letdown.twin.cohort import EjectionSpec, ParentSpec

SEED = "alone:0"
PARENT = ParentSpec(id="t", ejection=EjectionSpec(latency_s=50.0, interval_s=200.0, count_max=3))


def _left_removed_ml(sides: Sequence[Side]) -> tuple[float, list[tuple[float, float]]]:
    """When the first ejection came, and the left side's milk removed at each tick (twin time)."""
    pump = SimPump(PARENT, seed=SEED)
    ceilings = {side: pump.twin.comfort_mmhg(side) for side in SIDES}
    removed: list[tuple[float, float]] = []

    def watch(_: TickView) -> None:
        removed.append((pump.twin.now_s, pump.twin.removed_ml(Side.LEFT)))

    run_program(pump, TWO_PHASE, ceilings, sides=sides, duration_s=150.0, on_tick=watch)
    return pump.twin.ejections[0].start_s, removed


def _at(removed: list[tuple[float, float]], at_s: float) -> float:
    return next(volume_ml for now_s, volume_ml in removed if now_s >= at_s)


def test_a_side_pumped_alone_gives_less_milk_from_the_same_first_ejection() -> None:
    alone_s, alone = _left_removed_ml((Side.LEFT,))
    both_s, both = _left_removed_ml(SIDES)
    # The reflex comes as soon with one side as with two (the same parent, the same draws) ...
    assert alone_s == pytest.approx(both_s, abs=0.05)
    # ... but the side pumped alone drains less during it (Prime et al. 2012; twin.md C1).
    during_s = alone_s + 60.0
    gained_alone = _at(alone, during_s) - _at(alone, alone_s)
    gained_both = _at(both, during_s) - _at(both, both_s)
    assert gained_both > 10.0
    assert 0.7 * gained_both < gained_alone < 0.95 * gained_both
