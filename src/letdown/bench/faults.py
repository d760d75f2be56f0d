"""Fault campaigns: random faults at random times in random sessions (``bench faults``).

Each session runs the letdown controller on a generated parent who has pumped before
(a comfort profile just under each side's true comfortable maximum), injects one fault
of a kind (the kinds taken in turn), and watches the truth every tick: time above the
300 mmHg hard cap, the longest run above the side's comfortable maximum + 20 mmHg, and
when the fault was detected and the vents really opened. Figures are in the twin.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from letdown.bench.pool import map_tasks
from letdown.device.base import SIDES, Clock, Side
from letdown.device.sim import SimPump
from letdown.pump.comfort import ComfortProfile
from letdown.pump.program import HARD_CAP_MMHG
from letdown.pump.session import LETDOWN, PumpSession
from letdown.twin.cohort import generate_cohort
from letdown.twin.faults import FaultKind

CEILING_MARGIN_MMHG = 20.0
"""Never above the side's ceiling + 20 mmHg for more than 0.5 s (the supervisor's rule)."""
WATCH_AFTER_S = 10.0
"""How long after the fault a session is watched if nothing ends it."""


class _Watch:
    """Wraps the simulated clock and measures the truth after every tick."""

    def __init__(self, pump: SimPump, comfort_mmhg: tuple[float, float]) -> None:
        self._inner: Clock = pump.clock
        self._twin = pump.twin
        self._comfort = comfort_mmhg
        self.over_cap_s = 0.0
        self.over_ceiling_run_s = [0.0, 0.0]
        self.over_ceiling_max_s = 0.0
        self._last_s = pump.clock.now_s()

    def now_s(self) -> float:
        return self._inner.now_s()

    def sleep_until(self, at_s: float) -> None:
        self._inner.sleep_until(at_s)
        dt_s = at_s - self._last_s
        self._last_s = at_s
        for index, side in enumerate(SIDES):
            vacuum = self._twin.true_vacuum_mmhg(side)
            if vacuum > HARD_CAP_MMHG:
                self.over_cap_s += dt_s
            if vacuum > self._comfort[index] + CEILING_MARGIN_MMHG:
                self.over_ceiling_run_s[index] += dt_s
                self.over_ceiling_max_s = max(
                    self.over_ceiling_max_s, self.over_ceiling_run_s[index]
                )
            else:
                self.over_ceiling_run_s[index] = 0.0


class _WatchedPump(SimPump):
    def __init__(self, *args: Any, comfort_mmhg: tuple[float, float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watch = _Watch(self, comfort_mmhg)
        self._clock = self.watch


@dataclass(frozen=True, slots=True)
class FaultRun:
    kind: FaultKind
    at_s: float
    detected: bool
    reason: str | None
    over_cap_ms: float
    over_ceiling_ms: float
    vent_ms: float | None
    """From the fault to every working vent open and the motor off (None: never)."""
    detect_ms: float | None = None
    """From the fault to the supervisor naming it (None: not detected)."""


def run_fault_session(seed: int, index: int, kind: FaultKind) -> FaultRun:
    """One session with one fault of ``kind`` at a random time."""
    rng = random.Random(f"faults:{seed}:{index}")
    parent = generate_cohort(1, rng.randrange(2**31), "typical").parents[0]
    comfort = (parent.sides.left.comfort_mmhg, parent.sides.right.comfort_mmhg)
    profile = ComfortProfile(comfort[0] - 5.0, comfort[1] - 5.0)
    at_s = rng.uniform(3.0, 120.0)
    side = rng.choice(SIDES)
    magnitude = None
    duration_s = None
    if kind is FaultKind.PRESSURE_OFFSET:
        magnitude = rng.uniform(20.0, 120.0)
    elif kind is FaultKind.LOOP_STALL:
        duration_s = rng.uniform(0.3, 2.0)
    pump = _WatchedPump(parent, seed=f"{seed}:{index}", comfort_mmhg=comfort)
    with pump:
        pump.inject(
            kind,
            at_s,
            None if kind is FaultKind.LOOP_STALL else side,
            magnitude,
            duration_s,
        )
        session = PumpSession(pump, LETDOWN, profile=profile)
        session.start()
        vent_at_s: float | None = None
        while not session.finished and pump.clock.now_s() < at_s + WATCH_AFTER_S:
            session.step()
        fault = session.pump.fault
        detected = fault is not None and fault.at_s >= at_s - 1e-9
        if detected:
            # Watch on until every vent that can open is open and the motor is off.
            clock = pump.clock
            deadline_s = clock.now_s() + 2.0
            while clock.now_s() < deadline_s:
                if _safe(pump):
                    vent_at_s = clock.now_s()
                    break
                clock.sleep_until(clock.now_s() + 0.001)
        watch = pump.watch
        return FaultRun(
            kind=kind,
            at_s=at_s,
            detected=detected,
            reason=None if fault is None else fault.reason.value,
            over_cap_ms=1000.0 * watch.over_cap_s,
            over_ceiling_ms=1000.0 * watch.over_ceiling_max_s,
            vent_ms=None if vent_at_s is None else 1000.0 * (vent_at_s - at_s),
            detect_ms=1000.0 * (fault.at_s - at_s) if detected and fault is not None else None,
        )


def _safe(pump: SimPump) -> bool:
    twin = pump.twin
    stuck = {f.side for f in twin.active_faults if f.kind is FaultKind.VENT_STUCK_CLOSED}
    vents = all(twin.vent_open(side) or side in stuck for side in SIDES)
    motors = twin.watchdog_tripped or all(twin.motor_duty(side) == 0.0 for side in SIDES)
    return vents and motors


def _run(args: tuple[int, int, FaultKind]) -> FaultRun:
    return run_fault_session(*args)


KINDS = tuple(FaultKind)


def run_faults(
    sessions: int,
    seed: int,
    *,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[FaultRun]:
    if sessions < 1:
        raise ValueError(f"sessions must be at least 1, got {sessions}")
    tasks = [(seed, index, KINDS[index % len(KINDS)]) for index in range(sessions)]
    return map_tasks(_run, tasks, jobs=jobs, progress=progress, chunksize=8)


def _p99(values: list[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def summarise_faults(runs: list[FaultRun]) -> dict[str, Any]:
    """The ``--json`` document of ``letdown bench faults``."""
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        mine = [run for run in runs if run.kind is kind]
        if not mine:
            continue
        vents = [run.vent_ms for run in mine if run.vent_ms is not None]
        detections = [run.detect_ms for run in mine if run.detect_ms is not None]
        after_detection = [
            run.vent_ms - run.detect_ms
            for run in mine
            if run.vent_ms is not None and run.detect_ms is not None
        ]
        kinds[kind.value] = {
            "count": len(mine),
            "detected": sum(run.detected for run in mine),
            "over_cap_ms_max": round(max(run.over_cap_ms for run in mine), 1),
            "over_ceiling_ms_max": round(max(run.over_ceiling_ms for run in mine), 1),
            "vent_ms_p99": round(_p99(vents), 1) if vents else None,
            "detect_ms_p99": round(_p99(detections), 1) if detections else None,
            "vent_after_detect_ms_p99": round(_p99(after_detection), 1)
            if after_detection
            else None,
        }
    return {"sessions": len(runs), "kinds": kinds}


__all__ = ["FaultRun", "Side", "run_fault_session", "run_faults", "summarise_faults"]
