"""Faults the twin can be made to suffer, each from a given time (twin.md §1)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from letdown.words import Side


class FaultKind(StrEnum):
    """Every hardware fault of twin.md §1."""

    PRESSURE_STUCK = "pressure_stuck"
    """The pressure sensor repeats the value it read when the fault began."""
    PRESSURE_OFFSET = "pressure_offset"
    """The pressure sensor reads low by ``magnitude`` mmHg: the dangerous one."""
    PRESSURE_NOISY = "pressure_noisy"
    """The pressure sensor's noise grows to ``magnitude`` mmHg (standard deviation)."""
    PRESSURE_DROPOUT = "pressure_dropout"
    """The pressure sensor gives no reading."""
    MOTOR_STUCK_ON = "motor_stuck_on"
    """The motor serving the side runs at full power whatever it is told."""
    VENT_STUCK_CLOSED = "vent_stuck_closed"
    """The side's vent valve stays closed whatever it is told."""
    LEAK = "leak"
    """A large leak: the flange came off the breast (``magnitude`` = leak rate, 1/s)."""
    VOLUME_STUCK = "volume_stuck"
    """The bottle scale repeats the value it read when the fault began."""
    LOOP_STALL = "loop_stall"
    """The control loop stalls: no commands and no watchdog kicks for ``duration_s``."""
    GAIN_DRIFT = "gain_drift"
    """The pressure sensor's gain drifts from 1 to ``magnitude`` (0.7: reads 30 % low)
    over ``duration_s`` (default 5 s), then stays there."""


PER_SIDE_KINDS = frozenset(FaultKind) - {FaultKind.LOOP_STALL}

DEFAULT_MAGNITUDE = {
    FaultKind.PRESSURE_OFFSET: 60.0,
    FaultKind.PRESSURE_NOISY: 15.0,
    FaultKind.LEAK: 15.0,
    FaultKind.GAIN_DRIFT: 0.7,
}
GAIN_DRIFT_S = 5.0
"""How long a gain drift takes to reach its magnitude, unless told."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault: what, from when (twin time), on which side, how bad, how long."""

    kind: FaultKind
    at_s: float
    side: Side | None = None
    magnitude: float | None = None
    duration_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", FaultKind(self.kind))
        if not math.isfinite(self.at_s) or self.at_s < 0:
            raise ValueError(f"fault time must be a finite time >= 0 s, got {self.at_s!r}")
        if self.kind in PER_SIDE_KINDS:
            if self.side is None:
                raise ValueError(f"fault {self.kind} needs a side (left or right)")
            object.__setattr__(self, "side", Side(self.side))
        elif self.side is not None:
            raise ValueError(f"fault {self.kind} is not per side; give no side")
        if self.magnitude is not None and (not math.isfinite(self.magnitude) or self.magnitude < 0):
            raise ValueError(f"fault magnitude must be finite and >= 0, got {self.magnitude!r}")
        if self.kind is FaultKind.LOOP_STALL:
            if self.duration_s is None or not (0 < self.duration_s < math.inf):
                raise ValueError("a loop stall needs a finite duration_s > 0")
        elif self.kind is FaultKind.GAIN_DRIFT:
            if self.duration_s is not None and not (0 <= self.duration_s < math.inf):
                raise ValueError("a gain drift's duration_s must be a finite time >= 0")
            if self.magnitude is not None and not 0 < self.magnitude <= 5:
                raise ValueError(f"a gain must be within (0, 5], got {self.magnitude!r}")
        elif self.duration_s is not None:
            raise ValueError(f"fault {self.kind} lasts until the end; give no duration_s")

    @property
    def size(self) -> float:
        """The magnitude, or the kind's default."""
        if self.magnitude is not None:
            return self.magnitude
        return DEFAULT_MAGNITUDE.get(self.kind, 0.0)
