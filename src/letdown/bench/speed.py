"""How fast the closed loop simulates: twin plus a 100 Hz controller tick, on one core."""

from __future__ import annotations

import importlib.util
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from letdown.device.base import SIDES, Clock
from letdown.device.sim import SimPump
from letdown.pump.program import TWO_PHASE
from letdown.pump.runner import run_program
from letdown.twin.cohort import ParentSpec


class _TimedClock:
    """Wraps the simulated clock and times each tick: controller work plus twin step."""

    def __init__(self, inner: Clock) -> None:
        self._sleep_until = inner.sleep_until
        self.now_s: Callable[[], float] = inner.now_s  # bound once: no wrapper call
        self.tick_s: list[float] = []
        self._last = time.perf_counter()

    def sleep_until(self, at_s: float) -> None:
        self._sleep_until(at_s)
        now = time.perf_counter()
        self.tick_s.append(now - self._last)
        self._last = now


class _TimedPump(SimPump):
    def __init__(self, parent: ParentSpec, seed: int) -> None:
        super().__init__(parent, seed=seed)
        self.timed = _TimedClock(self._clock)
        self._clock = self.timed


HOT_MODULES = ("letdown.safety.core", "letdown.twin.model", "letdown.pump.tracking")
"""What runs every tick: setup.py can compile these with mypyc (LETDOWN_COMPILE=1)."""


def compiled_modules() -> tuple[str, ...]:
    """Which of ``HOT_MODULES`` this install runs compiled (an extension, not source)."""
    found = []
    for name in HOT_MODULES:
        spec = importlib.util.find_spec(name)
        origin = "" if spec is None or spec.origin is None else spec.origin
        if not origin.endswith(".py"):
            found.append(name)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class SpeedResult:
    realtime_factor: float
    tick_us_p50: float
    tick_us_p99: float
    simulated_s: float
    wall_s: float
    ticks: int


def measure_speed(minutes: float = 15.0, repeat: int = 3, seed: int = 1) -> SpeedResult:
    """Run a ``minutes`` double-pump session ``repeat`` times; report the fastest run."""
    if not 0 < minutes <= 120:
        raise ValueError(f"minutes must be within (0, 120], got {minutes}")
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    parent = ParentSpec(id="bench")
    ceilings = dict.fromkeys(SIDES, parent.sides.left.comfort_mmhg)
    best: SpeedResult | None = None
    for attempt in range(repeat):
        pump = _TimedPump(parent, seed + attempt)
        with pump:
            start = time.perf_counter()
            run_program(pump, TWO_PHASE, ceilings, duration_s=minutes * 60.0)
            wall_s = time.perf_counter() - start
        ticks = sorted(pump.timed.tick_s)
        simulated_s = minutes * 60.0
        result = SpeedResult(
            realtime_factor=simulated_s / wall_s,
            tick_us_p50=statistics.median(ticks) * 1e6,
            tick_us_p99=ticks[min(len(ticks) - 1, int(0.99 * len(ticks)))] * 1e6,
            simulated_s=simulated_s,
            wall_s=wall_s,
            ticks=len(ticks),
        )
        if best is None or result.realtime_factor > best.realtime_factor:
            best = result
    assert best is not None
    return best
