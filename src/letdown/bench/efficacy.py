"""Comparing controllers on the same simulated parents (``letdown bench efficacy``).

Every controller runs every parent of a cohort with the same seed, so only the
controller differs. ``two-phase`` and ``constant`` start knowing nothing of the parent:
the parent sets their one knob as pump manuals say (after stimulation, raise the vacuum
step by step until it is just uncomfortable on either side, then one step back; a "too
much" press turns it down a step). ``letdown`` learns each side on its own. ``oracle``
knows the hidden truth (each side's comfortable maximum) and shows the limit. All
figures are in the twin.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from letdown.bench.pool import map_tasks
from letdown.device.base import SIDES, Clock, PressKind, Side
from letdown.device.sim import SimPump
from letdown.pump.program import CONSTANT, HARD_CAP_MMHG, TWO_PHASE, Phase, PhaseKind, Program
from letdown.pump.runner import run_program
from letdown.pump.session import LETDOWN, PumpSession
from letdown.pump.tracking import CycleTracker
from letdown.safety.handle import end_supervised, supervise
from letdown.twin.cohort import Cohort, ParentSpec

CONTROLLERS = ("letdown", "two-phase", "constant", "oracle")
KNOB_START_MMHG = 100.0
"""Pumps start at their lowest level on power-up (FDA 510(k) K191802)."""
KNOB_STEP_MMHG = 10.0
KNOB_STEP_S = 5.0
KNOB_MAX_MMHG = 250.0
"""A parent turns the knob one level (10 mmHg) every 5 s (ASSUMPTION), up to the pump's
maximum (powered pumps cleared to 2007: 110-250 mmHg, Byrne et al., APHA 2007)."""
ORACLE_MARGIN_MMHG = 3.0
"""The oracle runs this far under each true ceiling: within the cycle's overshoot."""
SAMPLE_S = 1.0


class _Probe:
    """Wraps the simulated clock to sample the milk removed, once a simulated second."""

    def __init__(self, pump: SimPump) -> None:
        self._inner: Clock = pump.clock
        self._twin = pump.twin
        self._available = sum(pump.twin.available_ml(side) for side in SIDES)
        self._next_s = 0.0
        self.series: list[tuple[float, float]] = []

    def now_s(self) -> float:
        return self._inner.now_s()

    def sleep_until(self, at_s: float) -> None:
        self._inner.sleep_until(at_s)
        if at_s >= self._next_s:
            self._next_s += SAMPLE_S
            removed = sum(self._twin.removed_ml(side) for side in SIDES)
            self.series.append(
                (at_s, 100.0 * removed / self._available if self._available else 0.0)
            )


class _ProbedPump(SimPump):
    def __init__(self, parent: ParentSpec, seed: str) -> None:
        super().__init__(parent, seed=seed)
        self.probe = _Probe(self)
        self._clock = self.probe


@dataclass(frozen=True, slots=True)
class Outcome:
    """One controller on one parent."""

    controller: str
    yield_pct: float
    series: tuple[tuple[float, float], ...]
    above_ceiling_s: float
    presses: int
    length_s: float

    def time_to(self, pct: float) -> float | None:
        for at_s, removed_pct in self.series:
            if removed_pct >= pct - 1e-9:
                return at_s
        if self.yield_pct >= pct - 1e-9:
            return self.length_s
        return None


def _run_letdown(pump: SimPump, length_s: float) -> None:
    PumpSession(pump, replace(LETDOWN, cap_s=length_s)).run()


def _run_knob(pump: SimPump, program: Program, length_s: float) -> None:
    """A fixed program whose one knob the parent sets by feel (see the module doc)."""
    safe = supervise(pump)
    clock = safe.clock
    start_s = next_s = clock.now_s()
    trackers = [CycleTracker(start_s), CycleTracker(start_s)]
    knob = KNOB_START_MMHG
    raising = True
    expression_s = next(
        (
            sum(p.duration_s for p in program.phases[:i])
            for i, p in enumerate(program.phases)
            if p.kind is PhaseKind.EXPRESSION
        ),
        0.0,
    )
    next_raise_s = start_s + expression_s + KNOB_STEP_S
    try:
        while clock.now_s() - start_s < length_s - 1e-9:
            now_s = clock.now_s()
            _, phase = program.phase_at(now_s - start_s)
            if raising and now_s >= next_raise_s:
                next_raise_s += KNOB_STEP_S
                if knob + KNOB_STEP_MMHG <= KNOB_MAX_MMHG:
                    knob += KNOB_STEP_MMHG
            for press in safe.presses():
                if press.kind is PressKind.LIMIT and raising and now_s >= start_s + expression_s:
                    knob -= KNOB_STEP_MMHG
                    raising = False
                elif press.kind is PressKind.TOO_MUCH:
                    knob = max(KNOB_START_MMHG, knob - KNOB_STEP_MMHG)
                    raising = False
            peak = phase.peak_for(knob)
            for index, side in enumerate(SIDES):
                reading = safe.read_vacuum(side)
                duty, vent = trackers[index].command(
                    now_s,
                    None if reading is None else reading.vacuum_mmhg,
                    phase.rate_cpm,
                    peak,
                    phase.hold_s,
                )
                safe.set_duty(side, duty)
                safe.set_vent(side, vent)
            safe.kick()
            if safe.fault is not None or safe.stopped:
                break
            next_s += 0.01
            clock.sleep_until(next_s)
    finally:
        end_supervised(safe, pump)


def _run_oracle(pump: SimPump, parent: ParentSpec, length_s: float) -> None:
    ceilings = {
        Side.LEFT: min(HARD_CAP_MMHG, parent.sides.left.comfort_mmhg - ORACLE_MARGIN_MMHG),
        Side.RIGHT: min(HARD_CAP_MMHG, parent.sides.right.comfort_mmhg - ORACLE_MARGIN_MMHG),
    }
    steady = Program(
        "oracle", (Phase(PhaseKind.EXPRESSION, length_s, 60.0, peak_fraction=1.0, hold_s=0.4),)
    )
    run_program(pump, steady, ceilings)


def run_controller(controller: str, parent: ParentSpec, seed: str, minutes: float) -> Outcome:
    """``controller`` on one parent for ``minutes`` (or until it ends by itself)."""
    length_s = minutes * 60.0
    pump = _ProbedPump(parent, seed)
    with pump:
        if controller == "letdown":
            _run_letdown(pump, length_s)
        elif controller == "two-phase":
            _run_knob(pump, TWO_PHASE, length_s)
        elif controller == "constant":
            _run_knob(pump, CONSTANT, length_s)
        elif controller == "oracle":
            _run_oracle(pump, parent, length_s)
        else:
            raise ValueError(f"unknown controller {controller!r}; known: {', '.join(CONTROLLERS)}")
        twin = pump.twin
        removed = sum(twin.removed_ml(side) for side in SIDES)
        available = sum(twin.available_ml(side) for side in SIDES)
        return Outcome(
            controller=controller,
            yield_pct=100.0 * removed / available if available else 0.0,
            series=tuple(pump.probe.series),
            above_ceiling_s=sum(twin.above_comfort_s(side) for side in SIDES),
            presses=twin.presses_made[PressKind.TOO_MUCH],
            length_s=twin.now_s,
        )


def _run_parent(args: tuple[ParentSpec, str, tuple[str, ...], float]) -> list[Outcome]:
    parent, seed, controllers, minutes = args
    return [run_controller(name, parent, seed, minutes) for name in controllers]


def run_efficacy(
    cohort: Cohort,
    controllers: Sequence[str] = CONTROLLERS,
    minutes: float = 15.0,
    *,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[list[Outcome]]:
    """Every controller on every parent; one list of outcomes per parent."""
    unknown = [name for name in controllers if name not in CONTROLLERS]
    if unknown:
        raise ValueError(f"unknown controller {unknown[0]!r}; known: {', '.join(CONTROLLERS)}")
    if not 0 < minutes <= 120:
        raise ValueError(f"minutes must be within (0, 120], got {minutes}")
    tasks = [
        (parent, cohort.session_seed(index), tuple(controllers), minutes)
        for index, parent in enumerate(cohort.parents)
    ]
    return map_tasks(_run_parent, tasks, jobs=jobs, progress=progress)


def _median(values: list[float | None]) -> float | None:
    """Median where a missing time counts as never (later than any reached)."""
    if not values:
        return None
    ordered = sorted(values, key=lambda v: math.inf if v is None else v)
    middle = ordered[(len(ordered) - 1) // 2]
    return None if middle is None else round(middle, 1)


def summarise(cohort: Cohort, minutes: float, results: list[list[Outcome]]) -> dict[str, Any]:
    """The ``--json`` document: means over parents; ``t80_s``/``reach_baseline_s`` medians."""
    names = [outcome.controller for outcome in results[0]] if results else []
    summary: dict[str, Any] = {}
    for position, name in enumerate(names):
        outcomes = [parent[position] for parent in results]
        baselines = [
            next((o.yield_pct for o in parent if o.controller == "two-phase"), None)
            for parent in results
        ]
        summary[name] = {
            "yield_pct": round(statistics.fmean(o.yield_pct for o in outcomes), 3),
            "t80_s": _median([o.time_to(80.0) for o in outcomes]),
            "reach_baseline_s": _median(
                [
                    None if b is None else o.time_to(b)
                    for o, b in zip(outcomes, baselines, strict=True)
                ]
            )
            if any(b is not None for b in baselines)
            else None,
            "above_ceiling_s": round(statistics.fmean(o.above_ceiling_s for o in outcomes), 3),
            "presses": round(statistics.fmean(o.presses for o in outcomes), 3),
            "length_s": round(statistics.fmean(o.length_s for o in outcomes), 1),
        }
    return {
        "cohort": cohort.name,
        "parents": len(cohort.parents),
        "minutes": minutes,
        "controllers": summary,
    }
