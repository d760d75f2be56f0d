"""Fault campaigns: random faults at random times in random sessions (``bench faults``).

Each session runs the letdown controller on a generated parent who has pumped before
(a comfort profile just under each side's true comfortable maximum), injects one fault
of a kind (the kinds taken in turn), and watches the truth every tick: time above the
hard cap (260 mmHg while both sides pump), the longest run above the side's comfortable
maximum + 20 mmHg, and when the fault was detected and the vents really opened.

The kinds are the twin's hardware faults (twin.md §1, and a drifting sensor gain) and
the software faults the safety core must survive: the controller raising, a backend
write failing, the device clock jumping, and a controller that hangs before its first
watchdog kick. Figures are in the twin.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from letdown.bench.pool import map_tasks
from letdown.device.base import SIDES, Clock, Side
from letdown.device.sim import SimPump
from letdown.errors import DeviceError
from letdown.pump.comfort import MAX_CEILING_MMHG, ComfortProfile
from letdown.pump.session import LETDOWN, PumpSession
from letdown.safety.core import CAP_DOUBLE_MMHG, CAP_SINGLE_MMHG
from letdown.twin.cohort import generate_cohort
from letdown.twin.faults import FaultKind

CEILING_MARGIN_MMHG = 20.0
"""Never above the side's ceiling + 20 mmHg for more than 0.5 s (the supervisor's rule)."""
WATCH_AFTER_S = 10.0
"""How long after the fault a session is watched if nothing ends it."""


class _Watch:
    """Wraps the simulated clock and measures the truth after every tick; from
    ``jump_at_s`` on, the clock it shows is off by ``jump_s`` (a clock fault)."""

    def __init__(self, pump: SimPump, comfort_mmhg: tuple[float, float]) -> None:
        self._inner: Clock = pump.clock
        self._twin = pump.twin
        self._comfort = comfort_mmhg
        self.over_cap_s = 0.0
        self.over_ceiling_run_s = [0.0, 0.0]
        self.over_ceiling_max_s = 0.0
        self._last_s = pump.clock.now_s()
        self.jump_at_s = math.inf
        self.jump_s = 0.0

    def now_s(self) -> float:
        now_s = self._inner.now_s()
        return now_s + self.jump_s if now_s >= self.jump_at_s else now_s

    def sleep_until(self, at_s: float) -> None:
        self._inner.sleep_until(at_s)
        dt_s = at_s - self._last_s
        self._last_s = at_s
        twin = self._twin
        both = all(twin.motor_duty(side) > 0.0 or not twin.vent_open(side) for side in SIDES)
        cap_mmhg = CAP_DOUBLE_MMHG if both else CAP_SINGLE_MMHG
        for index, side in enumerate(SIDES):
            vacuum = twin.true_vacuum_mmhg(side)
            if vacuum > cap_mmhg:
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
        self.fail_writes_side: Side | None = None
        self.fail_writes_from_s = math.inf

    def _set_duty(self, side: Side, duty: float) -> None:
        if side is self.fail_writes_side and self.twin.now_s >= self.fail_writes_from_s:
            raise OSError("motor driver not answering")
        super()._set_duty(side, duty)


CONTROLLER_EXCEPTION = "controller_exception"
WRITE_FAILURE = "write_failure"
CLOCK_JUMP = "clock_jump"
HANG_BEFORE_KICK = "hang_before_kick"
SOFTWARE_KINDS = (CONTROLLER_EXCEPTION, WRITE_FAILURE, CLOCK_JUMP, HANG_BEFORE_KICK)
KINDS: tuple[str, ...] = tuple(kind.value for kind in FaultKind) + SOFTWARE_KINDS
"""Every kind a campaign injects, taken in turn."""


def _raise_after(pump: SimPump, at_s: float) -> Callable[[object], None]:
    def listener(_snapshot: object) -> None:
        if pump.twin.now_s >= at_s:
            raise RuntimeError("a bug in the controller")

    return listener


@dataclass(frozen=True, slots=True)
class FaultRun:
    kind: str
    at_s: float
    detected: bool
    reason: str | None
    over_cap_ms: float
    over_ceiling_ms: float
    vent_ms: float | None
    """From the fault to every working vent open and the motor off (None: never)."""
    detect_ms: float | None = None
    """From the fault to the supervisor naming it (None: not detected)."""


def run_fault_session(seed: int, index: int, kind: str) -> FaultRun:
    """One session with one fault of ``kind`` (one of ``KINDS``) at a random time."""
    rng = random.Random(f"faults:{seed}:{index}")
    parent = generate_cohort(1, rng.randrange(2**31), "typical").parents[0]
    comfort = (parent.sides.left.comfort_mmhg, parent.sides.right.comfort_mmhg)
    profile = ComfortProfile(
        min(MAX_CEILING_MMHG, comfort[0] - 5.0), min(MAX_CEILING_MMHG, comfort[1] - 5.0)
    )
    at_s = 0.0 if kind == HANG_BEFORE_KICK else rng.uniform(3.0, 120.0)
    side = rng.choice(SIDES)
    magnitude = None
    duration_s = None
    if kind == FaultKind.PRESSURE_OFFSET:
        magnitude = rng.uniform(20.0, 120.0)
    elif kind == FaultKind.LOOP_STALL:
        duration_s = rng.uniform(0.3, 2.0)
    elif kind == FaultKind.GAIN_DRIFT:
        # Reads 30 % low or high, drifting there over 0-10 s.
        magnitude = rng.choice((0.7, 1.3))
        duration_s = rng.uniform(0.0, 10.0)
    pump = _WatchedPump(parent, seed=f"{seed}:{index}", comfort_mmhg=comfort)
    try:
        return _watch_session(pump, kind, at_s, side, magnitude, duration_s, profile, rng)
    finally:
        # A backend whose write fails says so when closed too: it was made safe anyway.
        with contextlib.suppress(DeviceError):
            pump.close()


def _watch_session(
    pump: _WatchedPump,
    kind: str,
    at_s: float,
    side: Side,
    magnitude: float | None,
    duration_s: float | None,
    profile: ComfortProfile,
    rng: random.Random,
) -> FaultRun:
    session = PumpSession(pump, LETDOWN, profile=profile)
    if kind in SOFTWARE_KINDS:
        _software_fault(kind, pump, session, at_s, side, rng)
    else:
        pump.inject(
            kind,
            at_s,
            None if kind == FaultKind.LOOP_STALL else side,
            magnitude,
            duration_s,
        )
    session.start()
    vent_at_s: float | None = None
    if kind == HANG_BEFORE_KICK:
        # It hangs before its first kick: time goes on without it.
        while session.pump.fault is None and pump.twin.now_s < WATCH_AFTER_S:
            session.pump.clock.sleep_until(pump.twin.now_s + 0.01)
    else:
        while not session.finished and pump.twin.now_s < at_s + WATCH_AFTER_S:
            session.step()
    fault = session.pump.fault
    # A clock fault is stamped with the last good time, a tick before the jump.
    grace_s = 0.011 if kind == CLOCK_JUMP else 1e-9
    detected = fault is not None and fault.at_s >= at_s - grace_s
    if detected:
        # Watch on until every vent that can open is open and the motor is off.
        clock = pump.clock
        deadline_s = pump.twin.now_s + 2.0
        while pump.twin.now_s < deadline_s:
            if _safe(pump):
                vent_at_s = pump.twin.now_s
                break
            # Twin time: the clock it shows may have jumped.
            clock.sleep_until(pump.twin.now_s + 0.001)
    watch = pump.watch
    detect_at_s = None if not detected or fault is None else max(fault.at_s, at_s)
    return FaultRun(
        kind=kind,
        at_s=at_s,
        detected=detected,
        reason=None if fault is None else fault.reason.value,
        over_cap_ms=1000.0 * watch.over_cap_s,
        over_ceiling_ms=1000.0 * watch.over_ceiling_max_s,
        vent_ms=None if vent_at_s is None else 1000.0 * (vent_at_s - at_s),
        detect_ms=None if detect_at_s is None else 1000.0 * (detect_at_s - at_s),
    )


def _software_fault(
    kind: str,
    pump: _WatchedPump,
    session: PumpSession,
    at_s: float,
    side: Side,
    rng: random.Random,
) -> None:
    if kind == CONTROLLER_EXCEPTION:
        session.add_listener(_raise_after(pump, at_s), every_ticks=1)
    elif kind == WRITE_FAILURE:
        pump.fail_writes_side = side
        pump.fail_writes_from_s = at_s
    elif kind == CLOCK_JUMP:
        pump.watch.jump_at_s = at_s
        pump.watch.jump_s = rng.choice((-1.0, -0.05, 0.5, 5.0, 3600.0))


def _safe(pump: _WatchedPump) -> bool:
    twin = pump.twin
    stuck = {f.side for f in twin.active_faults if f.kind is FaultKind.VENT_STUCK_CLOSED}
    vents = all(twin.vent_open(side) or side in stuck for side in SIDES)
    motors = twin.watchdog_tripped or all(
        twin.motor_duty(side) == 0.0 or side is pump.fail_writes_side for side in SIDES
    )
    return vents and motors


def _run(args: tuple[int, int, str]) -> FaultRun:
    # The faults are on purpose: their log lines would drown the campaign's output.
    logging.getLogger("letdown").setLevel(logging.CRITICAL)
    return run_fault_session(*args)


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
        mine = [run for run in runs if run.kind == kind]
        if not mine:
            continue
        vents = [run.vent_ms for run in mine if run.vent_ms is not None]
        detections = [run.detect_ms for run in mine if run.detect_ms is not None]
        after_detection = [
            run.vent_ms - run.detect_ms
            for run in mine
            if run.vent_ms is not None and run.detect_ms is not None
        ]
        kinds[kind] = {
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


__all__ = ["KINDS", "FaultRun", "Side", "run_fault_session", "run_faults", "summarise_faults"]
