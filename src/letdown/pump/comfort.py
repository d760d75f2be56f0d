"""Finding each side's comfort ceiling the way Kent et al. 2008 did.

Raise the vacuum step by step until the parent says "that's my limit" for a side, then
step back one: the level below the one that hurt is that side's maximum comfortable
vacuum. The two sides are found at once and never share a ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass

from letdown.device.base import SIDES, PressKind, Pump, Side, make_safe
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
        make_safe(pump)
    return found


SORENESS_STEP = 0.03
"""Each point of soreness (0-10) reported before a session starts it this fraction lower
(ASSUMPTION: no published figure links soreness to comfortable vacuum; Kent 2008 only
says comfort is lowered by soreness)."""
MIN_CEILING_MMHG = 60.0
"""Below this a ceiling would not open the ducts (twin.md: roughly 40-50 mmHg)."""


@dataclass(frozen=True, slots=True)
class ComfortProfile:
    """Each side's learned comfort ceiling, carried from one session to the next.

    A plain object that serialises to and from a dict (``to_dict``/``from_dict``); the two
    sides never share a ceiling.
    """

    left_mmhg: float | None = None
    right_mmhg: float | None = None

    def __post_init__(self) -> None:
        for name in ("left_mmhg", "right_mmhg"):
            value = getattr(self, name)
            if value is not None and not (MIN_CEILING_MMHG <= value <= HARD_CAP_MMHG):
                raise ValueError(
                    f"{name} must be within {MIN_CEILING_MMHG:g}-{HARD_CAP_MMHG:g} mmHg,"
                    f" got {value!r}"
                )

    def ceiling(self, side: Side) -> float | None:
        return self.left_mmhg if side is Side.LEFT else self.right_mmhg

    def starting_ceiling(self, side: Side, soreness: float = 0.0) -> float | None:
        """Where today's session starts on ``side``, lower if the side is sore (0-10)."""
        if not 0.0 <= soreness <= 10.0:
            raise ValueError(f"soreness is a 0-10 score, got {soreness!r}")
        ceiling = self.ceiling(side)
        if ceiling is None:
            return None
        return max(MIN_CEILING_MMHG, ceiling * (1.0 - SORENESS_STEP * soreness))

    def with_ceiling(self, side: Side, ceiling_mmhg: float) -> ComfortProfile:
        if side is Side.LEFT:
            return ComfortProfile(ceiling_mmhg, self.right_mmhg)
        return ComfortProfile(self.left_mmhg, ceiling_mmhg)

    def to_dict(self) -> dict[str, float | None]:
        return {"left_mmhg": self.left_mmhg, "right_mmhg": self.right_mmhg}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ComfortProfile:
        unknown = set(data) - {"left_mmhg", "right_mmhg"}
        if unknown:
            raise ValueError(f"unknown comfort profile keys: {', '.join(sorted(unknown))}")
        values: dict[str, float | None] = {}
        for key in ("left_mmhg", "right_mmhg"):
            value = data.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise ValueError(f"{key} must be a number of mmHg or null, got {value!r}")
            values[key] = None if value is None else float(value)
        return cls(**values)


SEARCH_START_MMHG = 80.0
SEARCH_STEP_MMHG = 10.0
SEARCH_STEP_S = 2.0
PRESS_LOOKBACK_S = 2.3
"""A "that's my limit" comes 0.5-1.5 s after the first cycle that hurts (twin.md §2), so
the level that was running this long before the press is the last one that did not hurt."""
SEARCH_MARGIN_MMHG = 5.0
"""Kept below the last comfortable step so that cycle overshoot does not hurt."""
TOO_MUCH_DROP_MMHG = 20.0
"""A "too much" press drops the side this far at once, and its ceiling below the level
that hurt."""


class SideComfort:
    """One side's ceiling and working level during a session.

    Without a known ceiling it searches as Kent et al. 2008 did, but quickly: the level
    rises a step every ``SEARCH_STEP_S`` until the parent says "that's my limit" (or
    "too much") for this side; the last level that did not hurt, less a margin, becomes
    the ceiling. A "too much" press at any time drops the level at once and lowers the
    ceiling. The working level never exceeds the ceiling.
    """

    __slots__ = ("_history", "_next_step_s", "ceiling_mmhg", "level_mmhg", "searching", "side")

    def __init__(self, side: Side, now_s: float, ceiling_mmhg: float | None) -> None:
        self.side = side
        self.searching = ceiling_mmhg is None
        self.ceiling_mmhg = HARD_CAP_MMHG - 20.0 if ceiling_mmhg is None else ceiling_mmhg
        self.level_mmhg = SEARCH_START_MMHG if ceiling_mmhg is None else ceiling_mmhg
        self._next_step_s = now_s + SEARCH_STEP_S
        self._history: list[tuple[float, float]] = [(now_s, self.level_mmhg)]

    def _level_at(self, at_s: float) -> float:
        level = self._history[0][1]
        for since_s, value in self._history:
            if since_s > at_s:
                break
            level = value
        return level

    def _set(self, now_s: float, level_mmhg: float) -> None:
        self.level_mmhg = max(MIN_CEILING_MMHG, min(level_mmhg, self.ceiling_mmhg))
        self._history.append((now_s, self.level_mmhg))

    def tick(self, now_s: float) -> None:
        """Step the search when its time comes."""
        if self.searching and now_s >= self._next_step_s:
            self._next_step_s += SEARCH_STEP_S
            if self.level_mmhg + SEARCH_STEP_MMHG > self.ceiling_mmhg:
                self.searching = False
            else:
                self._set(now_s, self.level_mmhg + SEARCH_STEP_MMHG)

    def limit(self, now_s: float) -> None:
        """The parent said "that's my limit" for this side."""
        comfortable = self._level_at(now_s - PRESS_LOOKBACK_S) - SEARCH_MARGIN_MMHG
        self.ceiling_mmhg = max(MIN_CEILING_MMHG, min(self.ceiling_mmhg, comfortable))
        self.searching = False
        self._set(now_s, self.ceiling_mmhg)

    def too_much(self, now_s: float) -> None:
        """The parent pressed "too much" for this side: drop now, and lower the ceiling."""
        hurt = self._level_at(now_s - PRESS_LOOKBACK_S)
        self.ceiling_mmhg = max(
            MIN_CEILING_MMHG,
            min(self.ceiling_mmhg, hurt - SEARCH_STEP_MMHG, self.level_mmhg - TOO_MUCH_DROP_MMHG),
        )
        self.searching = False
        self._set(now_s, self.level_mmhg - TOO_MUCH_DROP_MMHG)

    def nudge(self, now_s: float, delta_mmhg: float) -> None:
        """A partner turns this side up or down (never above its ceiling)."""
        self.searching = False
        self._set(now_s, self.level_mmhg + delta_mmhg)
