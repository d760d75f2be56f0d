"""Finding each side's comfort ceiling the way Kent et al. 2008 did.

Raise the vacuum step by step until the parent says "that's my limit" for a side, then
step back one: the level below the one that hurt is that side's maximum comfortable
vacuum. The two sides are found at once and never share a ceiling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from letdown.device.base import SIDES, PressKind, Pump, Side
from letdown.errors import DeviceError
from letdown.pump.tracking import CycleTracker
from letdown.safety import core
from letdown.safety.handle import SafePump, end_supervised, supervise

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
    max_mmhg: float | None = None,
    tick_s: float = 0.01,
) -> dict[Side, LimitSearch]:
    """Raise both sides stepwise until each says "that's my limit" (or ``max_mmhg``).

    It runs under the safety core like every controller: stop ends it, "too much" counts
    as that side's limit, and a fault raises ``DeviceError``. A side's ceiling is the
    highest vacuum *measured* at the step before the press; a side that reached the top
    without a press gets ``pressed=False`` and that top, which is no one's comfort.
    """
    top = SEARCH_TOP_MMHG if max_mmhg is None else max_mmhg
    if not all(math.isfinite(v) for v in (start_mmhg, step_mmhg, step_s, top)):
        raise ValueError("the search's levels and times must be finite numbers")
    if not 0 < start_mmhg <= top <= SEARCH_TOP_MMHG:
        raise ValueError(f"need 0 < start_mmhg <= max_mmhg <= {SEARCH_TOP_MMHG:g} mmHg")
    if step_mmhg <= 0 or step_s <= 0:
        raise ValueError("step_mmhg and step_s must be > 0")
    safe = supervise(pump, tick_s=tick_s)
    clock = safe.clock
    start_s = next_s = clock.now_s()
    trackers = {side: CycleTracker(start_s) for side in SIDES}
    level = dict.fromkeys(SIDES, start_mmhg)
    step_start_s = dict.fromkeys(SIDES, start_s)
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
                    if level[side] + step_mmhg > top:
                        found[side] = LimitSearch(level[side], pressed=False)
                    else:
                        level[side] += step_mmhg
                        step_start_s[side] = now_s
            for side in SIDES:
                if side in found:
                    safe.set_duty(side, 0.0)
                    safe.set_vent(side, True)
                    continue
                reading = safe.read_vacuum(side)
                duty, vent_open = trackers[side].command(
                    now_s,
                    None if reading is None else reading.vacuum_mmhg,
                    RATE_CPM,
                    min(level[side], safe.ceiling(side)),
                    HOLD_S,
                )
                safe.set_duty(side, duty)
                safe.set_vent(side, vent_open)
            safe.kick()
            for press in safe.presses():
                pressed = press.side
                if pressed is None or pressed in found:
                    continue
                if press.kind in (PressKind.LIMIT, PressKind.TOO_MUCH):
                    # The step before the one that hurt, as measured.
                    before_s = step_start_s[pressed]
                    measured = safe.peak_between(pressed, before_s - step_s, before_s)
                    if measured <= 0.0:
                        measured = max(step_mmhg, level[pressed] - step_mmhg)
                    found[pressed] = LimitSearch(measured, pressed=True)
            if safe.fault is not None:
                raise DeviceError(f"the comfort search stopped: {safe.fault.message}")
            if safe.stopped:
                break
            next_s += tick_s
            clock.sleep_until(next_s)
    finally:
        end_supervised(safe, pump)
    return found


SORENESS_STEP = 0.03
"""Each point of soreness (0-10) reported before a session starts it this fraction lower
(ASSUMPTION: no published figure links soreness to comfortable vacuum; Kent 2008 only
says comfort is lowered by soreness)."""
MIN_CEILING_MMHG = core.FLOOR_MMHG
"""Below this a ceiling would not open the ducts (twin.md: roughly 40-50 mmHg)."""
MAX_CEILING_MMHG = core.CAP_DOUBLE_MMHG - core.CEILING_MARGIN_MMHG
"""A stored ceiling is at most 240 mmHg: 20 under the 260 mmHg cleared for double pumping
(FDA 510(k) K242125), so that a side above its ceiling by the core's margin is still
under the cap."""
SEARCH_TOP_MMHG = MAX_CEILING_MMHG
"""A comfort search goes no higher."""


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
            if value is not None and not (
                isinstance(value, int | float)
                and math.isfinite(value)
                and MIN_CEILING_MMHG <= value <= MAX_CEILING_MMHG
            ):
                raise ValueError(
                    f"{name} must be within {MIN_CEILING_MMHG:g}-{MAX_CEILING_MMHG:g} mmHg"
                    f" (the safety core's limit for a comfort ceiling), got {value!r}"
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
SEARCH_STEP_MMHG = 5.0
PROBE_EVERY_S = 3.0
PROBE_S = 1.0
"""A side's ceiling is found with probes: one cycle at the level being tried
(``PROBE_S``: one cycle at the search's 60 cycles/min), then two softer cycles, then the
next level one step up. A "that's my limit" comes 0.5-1.5 s after the pain is noticed
(twin.md §2), at most about 2.3 s after the probe began, so each press answers exactly one
probe, and the level that hurt is never held while the parent reacts (Kent et al. 2008
raised the level step by step and held each; here each step is one cycle)."""
PRESS_AFTER_PROBE_S = 0.8
"""A press this soon after a probe began answers the probe before it (the probe's peak
comes about 0.3 s in, and no parent reacts in under 0.5 s: twin.md §2)."""
REST_BELOW_PROBE_MMHG = 10.0
"""The softer cycles between probes run this far under the level being tried: a level
that did not hurt in one cycle may still sit a little above comfort unnoticed."""
PRESS_LOOKBACK_S = 2.3
"""A press comes 0.5-1.5 s after the first cycle that hurts (twin.md §2), so the level
that was running this long before a press outside the search is the last one that did
not hurt."""
SEARCH_MARGIN_MMHG = 7.0
"""Kept below the last level that did not hurt: a parent notices pain only some way above
comfort (less far the faster their pain rises), and a cycle overshoots its target by
about 1 mmHg. Chosen in the twin on 180 sides of three profiles' cohorts (seed 601, not
used to judge it): 0.6 % of ceilings end above comfort (6: 2.8 %; 5: 11 %), 4.4 mmHg
under it on average; the search this replaced (10 mmHg steps, each held two cycles)
left 6.1 % above and 4.5 under. A ceiling above comfort is pain the parent may not feel
at first but that the twin counts for the whole session, so this errs low."""
TOO_MUCH_DROP_MMHG = 20.0
STEP_BACK_MMHG = 10.0
"""A "too much" press drops the side this far at once, and its ceiling a step of Kent et
al. 2008's protocol (10 mmHg) below the level that hurt."""


class SideComfort:
    """One side's working level during a session, under the ceiling the safety core holds.

    Without a known ceiling it searches as Kent et al. 2008 did, one probe at a time: a
    single cycle at the level being tried, then two softer ones while the parent has time
    to say "that's my limit" (or "too much") for this side, then the next level a step up
    (to ``SEARCH_TOP_MMHG`` at most). The highest vacuum *measured* in the last probe that
    did not hurt, less a margin, becomes the ceiling. A search that reaches its top without
    a press learns nothing (``learned`` stays False) and says so. A "too much" press drops
    the level at once and lowers the ceiling under the measured peak that hurt. The core
    holds the ceiling: anyone may lower it, only the parent's level-up raises it, and the
    working level never exceeds it.
    """

    __slots__ = (
        "_passed_at_s",
        "_probe_at_s",
        "_probe_mmhg",
        "_pump",
        "ceiling_mmhg",
        "learned",
        "level_mmhg",
        "search_ended_at_top",
        "searching",
        "side",
    )

    def __init__(
        self, side: Side, now_s: float, ceiling_mmhg: float | None, pump: SafePump
    ) -> None:
        self.side = side
        self._pump = pump
        self.searching = ceiling_mmhg is None
        self.learned = ceiling_mmhg is not None
        """The ceiling came from a press (today's, or an earlier session's)."""
        self.search_ended_at_top = False
        self.ceiling_mmhg = pump.lower_ceiling(
            side, SEARCH_TOP_MMHG if ceiling_mmhg is None else ceiling_mmhg
        )
        self._probe_mmhg = min(SEARCH_START_MMHG, self.ceiling_mmhg)
        self._probe_at_s = now_s
        self._passed_at_s: float | None = None
        """When the last probe that did not hurt began (``_probe_mmhg`` - a step)."""
        self.level_mmhg = self._probe_mmhg if self.searching else self.ceiling_mmhg

    def _set(self, level_mmhg: float) -> None:
        self.level_mmhg = max(MIN_CEILING_MMHG, min(level_mmhg, self.ceiling_mmhg))

    def _lower(self, ceiling_mmhg: float) -> None:
        self.ceiling_mmhg = self._pump.lower_ceiling(self.side, ceiling_mmhg)
        self._set(self.level_mmhg)

    def sync(self) -> None:
        """Follow the core's ceiling (it may have lowered it on a button press)."""
        ceiling = self._pump.ceiling(self.side)
        if ceiling < self.ceiling_mmhg:
            self.ceiling_mmhg = ceiling
            self._set(self.level_mmhg)

    def tick(self, now_s: float) -> None:
        """Run the search: the probe's cycle, the softer cycles, the next probe."""
        if not self.searching:
            return
        if now_s >= self._probe_at_s + PROBE_EVERY_S:
            # No press answered the last probe: it did not hurt.
            self._passed_at_s = self._probe_at_s
            if self._probe_mmhg + SEARCH_STEP_MMHG > self.ceiling_mmhg:
                # The top, and no press: nothing learned (the top is no one's comfort).
                self.searching = False
                self.search_ended_at_top = True
                self._set(self._probe_mmhg)
                return
            self._probe_mmhg += SEARCH_STEP_MMHG
            # On the cycles' schedule, unless the search was held up (a pause).
            next_s = self._probe_at_s + PROBE_EVERY_S
            self._probe_at_s = next_s if now_s < next_s + PROBE_EVERY_S else now_s
        if now_s < self._probe_at_s + PROBE_S:
            self._set(self._probe_mmhg)
        else:
            self._set(self._probe_mmhg - REST_BELOW_PROBE_MMHG)

    def _measured_before(self, now_s: float) -> float:
        """The highest vacuum measured in the second before the cycle that hurt."""
        end_s = now_s - PRESS_LOOKBACK_S
        return self._pump.peak_between(self.side, end_s - 1.0, end_s)

    def limit(self, now_s: float) -> None:
        """The parent said "that's my limit" for this side."""
        if self.searching:
            self._limit_in_search(now_s)
            return
        measured = self._measured_before(now_s)
        if measured > 0.0:
            self._lower(measured - SEARCH_MARGIN_MMHG)
            self.learned = True
        else:
            self._lower(self.level_mmhg - STEP_BACK_MMHG)
        self._set(self.ceiling_mmhg)

    def _limit_in_search(self, now_s: float) -> None:
        """The press answers the last probe begun before it; the one before that did not
        hurt: its measured peak, less the margin, is the ceiling."""
        self.searching = False
        hurt_mmhg = self._probe_mmhg
        passed_at_s = self._passed_at_s
        if now_s - self._probe_at_s < PRESS_AFTER_PROBE_S:
            # It answers the probe before (already counted as passed).
            hurt_mmhg -= SEARCH_STEP_MMHG
            passed_at_s = None if passed_at_s is None else passed_at_s - PROBE_EVERY_S
        measured = 0.0
        if passed_at_s is not None and hurt_mmhg > SEARCH_START_MMHG:
            measured = self._pump.peak_between(self.side, passed_at_s, passed_at_s + PROBE_S)
        if measured <= 0.0:
            measured = hurt_mmhg - SEARCH_STEP_MMHG
        self._lower(measured - SEARCH_MARGIN_MMHG)
        self.learned = True
        self._set(self.ceiling_mmhg)

    def too_much(self, now_s: float) -> None:
        """The parent pressed "too much" for this side: drop now, and lower the ceiling."""
        hurt = self._pump.peak_between(self.side, now_s - PRESS_LOOKBACK_S - 1.0, now_s)
        if hurt <= 0.0:
            hurt = self.level_mmhg
        self._lower(
            max(
                MIN_CEILING_MMHG,
                min(hurt - STEP_BACK_MMHG, self.level_mmhg - TOO_MUCH_DROP_MMHG),
            )
        )
        self.learned = True
        self.searching = False
        self._set(self.level_mmhg - TOO_MUCH_DROP_MMHG)

    def nudge(self, now_s: float, delta_mmhg: float) -> None:
        """Someone turns this side up or down. Up past the ceiling is the parent's own
        explicit action: the core raises the ceiling by one step at most."""
        if not math.isfinite(delta_mmhg):
            raise ValueError(f"a level change must be a finite number, got {delta_mmhg!r}")
        self.searching = False
        target = self.level_mmhg + delta_mmhg
        if delta_mmhg > 0 and target > self.ceiling_mmhg:
            self.ceiling_mmhg = self._pump.raise_ceiling(self.side, target)
        self._set(target)
