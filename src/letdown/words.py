"""The shared words of a double pump: sides, motor layouts, the parent's buttons.

They live below everything that uses them (the device seam, the twin, the controllers,
the journal's recording), so no layer imports another just to say "left".
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Side(StrEnum):
    """One side of a double pump."""

    LEFT = "left"
    RIGHT = "right"


SIDES: tuple[Side, Side] = (Side.LEFT, Side.RIGHT)


class MotorLayout(StrEnum):
    """How many motors a pump has.

    ``SHARED``: one motor pulls both sides through a manifold, so the motor runs at the
    larger of the two duties asked for and a side is held back only with its vent.
    """

    PER_SIDE = "per_side"
    SHARED = "shared"


class PressKind(StrEnum):
    """The parent's buttons."""

    TOO_MUCH = "too_much"
    LIMIT = "limit"
    STOP = "stop"


class Press(NamedTuple):
    """A button press; ``side`` is None for buttons that are not per side (stop)."""

    kind: PressKind
    side: Side | None
    at_s: float


class HardwareFault(StrEnum):
    """Faults the hardware itself reports (the rest a controller must infer)."""

    WATCHDOG = "watchdog"
