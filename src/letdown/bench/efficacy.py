"""Comparing controllers on the same simulated parents (``letdown bench efficacy``).

Every controller runs every parent of a cohort with the same seed, so only the
controller differs.

- ``two-phase`` and ``constant``: the parent sets a fixed program as pump manuals say.
  Before it, they find their maximum comfortable vacuum (MCV) the way Kent et al. 2008
  did (``find_limits``: raise step by step until "that's my limit", then one step back),
  and set the pump's one knob there: the lower of the two sides' MCV, since one knob
  serves both. The program then runs at that knob, stimulation included (the two-phase
  program stimulates at its own fraction of the knob).
- ``two-phase-sides``: the same, with one knob per side (each side at its own MCV).
- ``letdown``: the adaptive controller, learning each side on its own; it stops by itself
  and its yield is what it removed when it stopped.
- ``oracle``: the zero-pain limit: knowing the hidden truth (each side's comfortable
  maximum), it pumps throughout at the highest vacuum that never goes above comfort.
  No controller that keeps the parent out of pain can remove more in the same time.

With two sessions a parent runs twice on the same draws; ``letdown``'s second session
starts from the comfort profile it learned in the first. All figures are in the twin.
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
from letdown.pump.comfort import ComfortProfile, find_limits
from letdown.pump.program import CONSTANT, HARD_CAP_MMHG, TWO_PHASE, Phase, PhaseKind, Program
from letdown.pump.runner import run_program
from letdown.pump.session import LETDOWN, PumpSession
from letdown.twin.cohort import Cohort, ParentSpec

CONTROLLERS = ("letdown", "two-phase", "two-phase-sides", "constant", "oracle")
ORACLE_MARGINS_MMHG = (2.0, 3.0, 4.0, 6.0, 9.0, 14.0)
"""The oracle runs this far under each true ceiling, the smallest that keeps the true
vacuum at or under comfort all session (a cycle overshoots its target by a little)."""
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
    """One controller on one parent (one session)."""

    controller: str
    yield_pct: float
    series: tuple[tuple[float, float], ...]
    above_ceiling_s: float
    noticed_pain_s: float
    presses: int
    length_s: float
    session: int = 1
    profile: ComfortProfile | None = None
    """What the session learned (``letdown``), to start the next one from."""

    def time_to(self, pct: float) -> float | None:
        for at_s, removed_pct in self.series:
            if removed_pct >= pct - 1e-9:
                return at_s
        if self.yield_pct >= pct - 1e-9:
            return self.length_s
        return None


def kent_mcv(parent: ParentSpec, seed: str) -> dict[Side, float]:
    """Each side's MCV as Kent et al. 2008's stepwise protocol finds it (its own session).

    A side that reached the search's top without a press keeps that top (the parent
    never said it hurt).
    """
    with SimPump(parent, seed=f"{seed}:mcv") as pump:
        limits = find_limits(pump)
    return {side: limits[side].ceiling_mmhg for side in SIDES if side in limits}


def _knobs(controller: str, mcv: dict[Side, float]) -> dict[Side, float]:
    if controller == "two-phase-sides":
        return dict(mcv)
    knob = min(mcv.values())
    return dict.fromkeys(SIDES, knob)


def _oracle_program(length_s: float) -> Program:
    return Program(
        "oracle", (Phase(PhaseKind.EXPRESSION, length_s, 60.0, peak_fraction=1.0, hold_s=0.4),)
    )


def _finish(
    controller: str, pump: _ProbedPump, session: int, profile: ComfortProfile | None = None
) -> Outcome:
    twin = pump.twin
    removed = sum(twin.removed_ml(side) for side in SIDES)
    available = sum(twin.available_ml(side) for side in SIDES)
    return Outcome(
        controller=controller,
        yield_pct=100.0 * removed / available if available else 0.0,
        series=tuple(pump.probe.series),
        above_ceiling_s=sum(twin.above_comfort_s(side) for side in SIDES),
        noticed_pain_s=sum(twin.noticed_pain_s(side) for side in SIDES),
        presses=twin.presses_made[PressKind.TOO_MUCH],
        length_s=twin.now_s,
        session=session,
        profile=profile,
    )


def _run_oracle(parent: ParentSpec, seed: str, length_s: float) -> Outcome:
    """The zero-pain limit: the smallest margin under the truth that never hurts."""
    outcome: Outcome | None = None
    for margin in ORACLE_MARGINS_MMHG:
        ceilings = {
            Side.LEFT: min(HARD_CAP_MMHG, parent.sides.left.comfort_mmhg - margin),
            Side.RIGHT: min(HARD_CAP_MMHG, parent.sides.right.comfort_mmhg - margin),
        }
        with _ProbedPump(parent, seed) as pump:
            run_program(pump, _oracle_program(length_s), ceilings)
            outcome = _finish("oracle", pump, 1)
        if outcome.above_ceiling_s == 0.0:
            break
    assert outcome is not None
    return outcome


def run_controller(
    controller: str,
    parent: ParentSpec,
    seed: str,
    minutes: float,
    *,
    profile: ComfortProfile | None = None,
    session: int = 1,
    mcv: dict[Side, float] | None = None,
) -> Outcome:
    """``controller`` on one parent for ``minutes`` (or until it ends by itself).

    ``profile`` starts ``letdown`` from ceilings learned before (its second session);
    ``mcv`` is what ``kent_mcv`` found for this parent, if already known.
    """
    length_s = minutes * 60.0
    if controller == "oracle":
        return replace(_run_oracle(parent, seed, length_s), session=session)
    if controller in ("two-phase", "two-phase-sides", "constant"):
        knobs = _knobs(controller, kent_mcv(parent, seed) if mcv is None else mcv)
        program = CONSTANT if controller == "constant" else TWO_PHASE
        with _ProbedPump(parent, seed) as pump:
            run_program(pump, program, knobs, duration_s=length_s)
            return _finish(controller, pump, session)
    if controller == "letdown":
        with _ProbedPump(parent, seed) as pump:
            record = PumpSession(pump, replace(LETDOWN, cap_s=length_s), profile=profile).run()
            return _finish(controller, pump, session, record.comfort_profile())
    raise ValueError(f"unknown controller {controller!r}; known: {', '.join(CONTROLLERS)}")


def _run_parent(args: tuple[ParentSpec, str, tuple[str, ...], float, int]) -> list[Outcome]:
    """Every controller on one parent; with two sessions, the second ones follow."""
    parent, seed, controllers, minutes, sessions = args
    knob_users = {"two-phase", "two-phase-sides", "constant"}
    mcv = kent_mcv(parent, seed) if knob_users & set(controllers) else None
    first = [run_controller(name, parent, seed, minutes, mcv=mcv) for name in controllers]
    if sessions < 2:
        return first
    # Only letdown learns; a fixed program and the oracle run the same way again, on
    # the same draws, so their second session is their first.
    second = [
        run_controller(o.controller, parent, seed, minutes, profile=o.profile, session=2)
        if o.controller == "letdown"
        else replace(o, session=2)
        for o in first
    ]
    return first + second


def run_efficacy(
    cohort: Cohort,
    controllers: Sequence[str] = CONTROLLERS,
    minutes: float = 15.0,
    *,
    sessions: int = 1,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[list[Outcome]]:
    """Every controller on every parent; one list of outcomes per parent (by session)."""
    unknown = [name for name in controllers if name not in CONTROLLERS]
    if unknown:
        raise ValueError(f"unknown controller {unknown[0]!r}; known: {', '.join(CONTROLLERS)}")
    if not 0 < minutes <= 120:
        raise ValueError(f"minutes must be within (0, 120], got {minutes}")
    if sessions not in (1, 2):
        raise ValueError(f"sessions must be 1 or 2, got {sessions}")
    tasks = [
        (parent, cohort.session_seed(index), tuple(controllers), minutes, sessions)
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


def _row(outcomes: list[Outcome], baselines: list[float | None]) -> dict[str, Any]:
    return {
        "yield_pct": round(statistics.fmean(o.yield_pct for o in outcomes), 3),
        "t80_s": _median([o.time_to(80.0) for o in outcomes]),
        "reach_baseline_s": _median(
            [None if b is None else o.time_to(b) for o, b in zip(outcomes, baselines, strict=True)]
        )
        if any(b is not None for b in baselines)
        else None,
        "above_ceiling_s": round(statistics.fmean(o.above_ceiling_s for o in outcomes), 3),
        "above_ceiling_s_median": round(statistics.median(o.above_ceiling_s for o in outcomes), 3),
        "noticed_pain_s": round(statistics.fmean(o.noticed_pain_s for o in outcomes), 3),
        "presses": round(statistics.fmean(o.presses for o in outcomes), 3),
        "length_s": round(statistics.fmean(o.length_s for o in outcomes), 1),
    }


def summarise(cohort: Cohort, minutes: float, results: list[list[Outcome]]) -> dict[str, Any]:
    """The ``--json`` document: means over parents; ``t80_s``/``reach_baseline_s`` medians.

    Each controller's row is its first session; ``controllers.letdown.learned`` (with two
    sessions) holds the same figures for letdown's second session.
    """
    names = [o.controller for o in results[0] if o.session == 1] if results else []

    def pick(parent: list[Outcome], name: str, session: int) -> Outcome | None:
        return next((o for o in parent if o.controller == name and o.session == session), None)

    baselines = [
        None if (b := pick(parent, "two-phase", 1)) is None else b.yield_pct for parent in results
    ]
    summary: dict[str, Any] = {}
    for name in names:
        outcomes = [o for parent in results if (o := pick(parent, name, 1)) is not None]
        summary[name] = _row(outcomes, baselines)
        learned = [o for parent in results if (o := pick(parent, name, 2)) is not None]
        if name == "letdown" and learned:
            summary[name]["learned"] = _row(learned, baselines)
    return {
        "cohort": cohort.name,
        "parents": len(cohort.parents),
        "minutes": minutes,
        "controllers": summary,
    }
