"""The pump controller side: programs as data, vacuum tracking and program runs.

Drives hardware only through ``letdown.device``; never imports the twin.
"""

from letdown.pump.comfort import LimitSearch, find_limits
from letdown.pump.program import (
    CLASSIC_47,
    CONSTANT,
    HARD_CAP_MMHG,
    PROGRAMS,
    THREE_PHASE,
    TWO_PHASE,
    Phase,
    PhaseKind,
    Program,
)
from letdown.pump.runner import RunResult, TickView, run_program
from letdown.pump.tracking import CycleTracker

__all__ = [
    "CLASSIC_47",
    "CONSTANT",
    "HARD_CAP_MMHG",
    "PROGRAMS",
    "THREE_PHASE",
    "TWO_PHASE",
    "CycleTracker",
    "LimitSearch",
    "Phase",
    "PhaseKind",
    "Program",
    "RunResult",
    "TickView",
    "find_limits",
    "run_program",
]
