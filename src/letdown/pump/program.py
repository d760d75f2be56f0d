"""Pump programs as data: phases of cycling vacuum, checked when they are made.

A phase sets a cycle rate, a peak vacuum (absolute, or a fraction of each side's comfort
ceiling) and how long the peak is held. The shipped reference programs are those the
twin is calibrated with (twin.md §3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from letdown.errors import ProgramError

HARD_CAP_MMHG = 300.0
"""Highest maximum vacuum cleared for sale: Elvie Stride 2, single side (FDA 510(k)
K242125)."""
MIN_RATE_CPM = 20.0
MAX_RATE_CPM = 130.0
"""Cycle rates of powered pumps cleared to 2007: 30-130 cycles/min (Byrne et al., APHA
2007); 20 admits the slow deep phase of Ramsay et al. 2005's three-phase pattern."""
MAX_HOLD_S = 1.0
"""An infant holds peak suction under a second (Egnell 1956)."""


class PhaseKind(StrEnum):
    STIMULATION = "stimulation"
    EXPRESSION = "expression"
    REST = "rest"


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase: ``duration_s`` of cycles at ``rate_cpm`` up to a peak, held ``hold_s``.

    Give the peak as ``peak_mmhg`` or as ``peak_fraction`` of the side's comfort ceiling
    (never both). A rest phase has no suction.
    """

    kind: PhaseKind
    duration_s: float
    rate_cpm: float = 60.0
    peak_mmhg: float | None = None
    peak_fraction: float | None = None
    hold_s: float = 0.3

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", PhaseKind(self.kind))
        _finite("duration_s", self.duration_s)
        if self.duration_s <= 0:
            raise ProgramError(f"duration_s must be > 0, got {self.duration_s}")
        if self.kind is PhaseKind.REST:
            return
        _finite("rate_cpm", self.rate_cpm)
        if not MIN_RATE_CPM <= self.rate_cpm <= MAX_RATE_CPM:
            raise ProgramError(
                f"rate_cpm must be within {MIN_RATE_CPM:g}-{MAX_RATE_CPM:g} cycles/min,"
                f" got {self.rate_cpm:g}"
            )
        _finite("hold_s", self.hold_s)
        if not 0 <= self.hold_s <= MAX_HOLD_S:
            raise ProgramError(f"hold_s must be within 0-{MAX_HOLD_S:g} s, got {self.hold_s:g}")
        if (self.peak_mmhg is None) == (self.peak_fraction is None):
            raise ProgramError("give exactly one of peak_mmhg and peak_fraction")
        if self.peak_mmhg is not None:
            _finite("peak_mmhg", self.peak_mmhg)
            if not 0 < self.peak_mmhg <= HARD_CAP_MMHG:
                raise ProgramError(
                    f"peak_mmhg must be within 0-{HARD_CAP_MMHG:g} mmHg (the hard cap),"
                    f" got {self.peak_mmhg:g}"
                )
        if self.peak_fraction is not None:
            _finite("peak_fraction", self.peak_fraction)
            if not 0 < self.peak_fraction <= 1.0:
                raise ProgramError(
                    f"peak_fraction must be within 0-1 of the comfort ceiling,"
                    f" got {self.peak_fraction:g}"
                )

    def peak_for(self, ceiling_mmhg: float) -> float:
        """This phase's peak on a side whose comfort ceiling is ``ceiling_mmhg``."""
        if self.kind is PhaseKind.REST:
            return 0.0
        if self.peak_mmhg is not None:
            return self.peak_mmhg
        assert self.peak_fraction is not None
        return min(HARD_CAP_MMHG, self.peak_fraction * ceiling_mmhg)


@dataclass(frozen=True, slots=True)
class Program:
    """A named sequence of phases; it ends when its last phase does."""

    name: str
    phases: tuple[Phase, ...]

    def __post_init__(self) -> None:
        if not self.name:
            raise ProgramError("a program needs a name")
        if not self.phases:
            raise ProgramError(f"program {self.name!r} has no phases")

    @property
    def duration_s(self) -> float:
        return sum(phase.duration_s for phase in self.phases)

    def phase_at(self, elapsed_s: float) -> tuple[int, Phase]:
        """The phase running ``elapsed_s`` into the program (the last one after its end)."""
        end_s = 0.0
        for index, phase in enumerate(self.phases):
            end_s += phase.duration_s
            if elapsed_s < end_s:
                return index, phase
        return len(self.phases) - 1, self.phases[-1]

    def scaled(self, fraction: float) -> Program:
        """The same program at ``fraction`` of each peak (C9's softer vacuum)."""
        phases = tuple(
            phase
            if phase.kind is PhaseKind.REST
            else Phase(
                phase.kind,
                phase.duration_s,
                phase.rate_cpm,
                None if phase.peak_mmhg is None else phase.peak_mmhg * fraction,
                None if phase.peak_fraction is None else phase.peak_fraction * fraction,
                phase.hold_s,
            )
            for phase in self.phases
        )
        return Program(f"{self.name}@{fraction:g}", phases)


def _finite(name: str, value: float) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise ProgramError(f"{name} must be a finite number, got {value!r}")


STIMULATION_S = 120.0
SESSION_S = 15 * 60.0

TWO_PHASE = Program(
    "two-phase",
    (
        # twin.md §3: stimulation at 100-120 cycles/min at low vacuum for 2 minutes,
        Phase(PhaseKind.STIMULATION, STIMULATION_S, 110.0, peak_fraction=0.5, hold_s=0.1),
        # then expression at 50-70 cycles/min at the side's maximum comfortable vacuum.
        Phase(PhaseKind.EXPRESSION, SESSION_S - STIMULATION_S, 60.0, peak_fraction=1.0, hold_s=0.4),
    ),
)
"""The fixed two-phase pattern of common pumps: the twin's reference program."""

CONSTANT = Program(
    "constant",
    (Phase(PhaseKind.EXPRESSION, SESSION_S, 60.0, peak_fraction=1.0, hold_s=0.4),),
)
"""One phase throughout: 60 cycles/min at the comfort ceiling."""

CLASSIC_47 = Program(
    "classic-47",
    (Phase(PhaseKind.EXPRESSION, SESSION_S, 47.0, peak_fraction=1.0, hold_s=0.5),),
)
"""The classic pattern of Ramsay et al. 2005: 47 cycles/min throughout."""

THREE_PHASE = Program(
    "three-phase",
    (
        Phase(PhaseKind.STIMULATION, STIMULATION_S, 120.0, peak_fraction=1.0, hold_s=0.05),
        Phase(PhaseKind.EXPRESSION, 60.0, 20.0, peak_fraction=1.0, hold_s=1.0),
        Phase(PhaseKind.EXPRESSION, 180.0, 78.0, peak_fraction=1.0, hold_s=0.3),
        Phase(PhaseKind.EXPRESSION, SESSION_S - 360.0, 55.0, peak_fraction=1.0, hold_s=0.4),
    ),
)
"""Ramsay et al. 2005's three-phase pattern (120, then 20, then 55-78 cycles/min), all at
the comfort ceiling so that only the rhythm differs from CLASSIC_47 (twin.md C10). The
paper's phase lengths are not in reference.md: 2 min, 1 min, then 78 falling to 55 is
our reading."""

PROGRAMS: dict[str, Program] = {
    program.name: program for program in (TWO_PHASE, CONSTANT, CLASSIC_47, THREE_PHASE)
}
