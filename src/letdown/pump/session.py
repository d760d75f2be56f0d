"""The letdown controller: one adaptive double-pumping session on a ``Pump``.

Each side runs on its own: its own comfort ceiling (learned from the parent's presses,
or carried in a ``ComfortProfile``), its own working level and its own suction cycle.
The session stimulates until milk flows, expresses while it flows, stimulates again in
the lulls between ejections, and ends when the flow has stopped for good, at the session
cap, or when someone presses stop. It reaches the pump only through the safety core
(``letdown.safety``), which checks every tick whatever the controller does; on any
fault, and on any exception in the controller itself, the motors stop, the vents open
and the session ends in ``fault`` with the reason recorded.

Time is the device's clock: on the simulated pump a session runs as fast as the CPU
allows; on hardware, at 100 Hz with absolute deadlines (``next += period``).
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from letdown.device.base import (
    SIDES,
    HardwareFault,
    PressKind,
    Pump,
    Side,
    read_volumes,
)
from letdown.pump.comfort import ComfortProfile, SideComfort
from letdown.pump.detection import FlowEstimator, LetdownDetector, MilkEvent
from letdown.pump.machine import Event, SessionMachine, State
from letdown.pump.program import HARD_CAP_MMHG, Phase, PhaseKind
from letdown.pump.tracking import CycleTracker
from letdown.safety import core
from letdown.safety.faults import FaultReason, SafetyFault
from letdown.safety.handle import SafePump, supervise

log = logging.getLogger(__name__)

TICK_S = 0.01
MINUTE_SAMPLES = 600
"""A minute of scale readings at 10 Hz (twin.md §1), for the flow that ends a session."""
SEARCH_RATE_CPM = 60.0
SEARCH_HOLD_S = 0.3
"""While a side's ceiling is being found its cycles are slow enough to reach each level."""


@dataclass(frozen=True, slots=True)
class AdaptiveProgram:
    """The letdown program as data: which cycle to run in each state, and when to end.

    ``stimulation.duration_s`` is the timer fallback if no let-down is seen;
    ``restimulation.duration_s`` how long to stimulate in a lull before expressing again.
    Peaks are fractions of each side's working level.
    """

    name: str
    stimulation: Phase
    expression: Phase
    restimulation: Phase
    quiet_s: float = 240.0
    """The session ends once milk has only trickled for this long (in the twin, 150 s
    cost 2 points of yield at 15 min against 240 s: later, weaker ejections still come) ..."""
    quiet_interval_factor: float = 2.0
    """... or for this many times the parent's own mean interval between the ejections
    seen, if longer: the reflex recurs at a rhythm that is the parent's own (Prime et al.
    2011), so a gap twice as long as usual means it has stopped; until two ejections have
    been seen that rhythm is unknown, and the quiet must last this many times
    ``quiet_s`` (a slow parent's ejections come 5-7 min apart: mean intervals of 70-400 s
    in twin.md's cohorts, each drawn up to twice its mean; the low-supply parents of an
    outside check lost most by a stop at 8 min after one ejection) ..."""
    end_flow_fraction: float = 0.08
    """... where milk "only trickles" while the two sides' flow over the last minute
    stays under this fraction of the highest flow of the session's ejections. Relative,
    so that it holds for a parent whose flow is weak (low supply: later ejections at a
    third of the first one's flow are still milk coming; the flow between ejections is
    a few per cent of an ejection's, twin.md §2) ..."""
    end_flow_ml_min: float = 0.3
    """... and never under this (scale noise over a minute is well below it); ..."""
    milk_again_ml_min: float = 2.0
    """... and the quiet ends when the last minute's flow climbs this far over its lowest
    since the quiet began: a later ejection can flow at a tenth of the first one's peak
    once the sides are nearly empty, yet many times the trickle between ejections (4 % of
    an ejection's, twin.md §2); many times the noise of a minute's flow (0.1 mL/min)."""
    nearly_done_s: float = 60.0
    """The "nearly done" notice comes this long before the predicted end."""
    finishing_s: float = 2.0
    """Vents open and motor off this long before the session is done."""
    cap_s: float = 30 * 60.0
    """Session cap (auto-off after 40 min or a user timer in cleared pumps, e.g. Freemie
    K172772; 30 min by default here)."""

    def __post_init__(self) -> None:
        for name in ("quiet_s", "nearly_done_s", "finishing_s", "cap_s"):
            value = getattr(self, name)
            if not 0 < value < 24 * 3600:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        for name, low, high in (
            ("quiet_interval_factor", 0.0, 10.0),
            ("end_flow_fraction", 0.0, 1.0),
            ("end_flow_ml_min", 0.0, 100.0),
            ("milk_again_ml_min", 0.0, 100.0),
        ):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name} must be within {low:g}-{high:g}, got {value!r}")
        for phase in (self.stimulation, self.expression, self.restimulation):
            if phase.kind is PhaseKind.REST or phase.peak_fraction is None:
                raise ValueError("adaptive phases set their peak as a fraction of the level")

    def phase_for(self, state: State) -> Phase | None:
        if state is State.STIMULATION:
            return self.stimulation
        if state is State.EXPRESSION:
            return self.expression
        if state is State.RESTIMULATION:
            return self.restimulation
        return None


LETDOWN = AdaptiveProgram(
    "letdown",
    # Faster cycles until milk flows (stimulation runs at 100-120 cycles/min in common
    # pumps, twin.md §3; 90 lets each cycle still reach the side's level) ...
    stimulation=Phase(PhaseKind.STIMULATION, 150.0, 90.0, peak_fraction=1.0, hold_s=0.1),
    # ... then slower cycles at the side's comfortable maximum, which removes the most
    # milk (Kent et al. 2008).
    expression=Phase(PhaseKind.EXPRESSION, 3600.0, 60.0, peak_fraction=1.0, hold_s=0.4),
    restimulation=Phase(PhaseKind.STIMULATION, 45.0, 90.0, peak_fraction=1.0, hold_s=0.1),
)


class CommandKind(StrEnum):
    TOO_MUCH = "too_much"
    LEVEL = "level"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    EXTEND = "extend"
    """The parent keeps the session going past the core's 40-minute auto-off."""


@dataclass(frozen=True, slots=True)
class Command:
    """A command from the app or a partner; repeated ``id``s act once (idempotent).

    ``delta_mmhg`` is a level change (``LEVEL``), or seconds to add (``EXTEND``); it
    must be a finite number."""

    kind: CommandKind
    side: Side | None = None
    delta_mmhg: float = 0.0
    id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", CommandKind(self.kind))
        if self.side is not None:
            object.__setattr__(self, "side", Side(self.side))
        value = self.delta_mmhg
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"a command's amount must be a number, got {value!r}")
        if not math.isfinite(value) or abs(value) > 3600.0:
            raise ValueError(f"a command's amount must be a finite number, got {value!r}")


@dataclass(frozen=True, slots=True)
class SideView:
    vacuum_mmhg: float | None
    volume_ml: float | None
    flow_ml_min: float
    level_mmhg: float
    ceiling_mmhg: float
    learning: bool
    paused: bool = False
    """The safety core paused this side ("too much" at the lowest level)."""
    peak_mmhg: float | None = None
    """The highest vacuum of the last full cycle: steady where ``vacuum_mmhg`` swings."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the session looks like now; immutable, safe to hand to another thread."""

    at_s: float
    elapsed_s: float
    state: State
    left: SideView
    right: SideView
    ejections: int
    nearly_done: bool
    fault: SafetyFault | None

    def side(self, side: Side) -> SideView:
        return self.left if side is Side.LEFT else self.right


@dataclass(frozen=True, slots=True)
class PhaseSpan:
    state: State
    start_s: float
    end_s: float


@dataclass(slots=True)
class SessionRecord:
    """What a session leaves behind, for the journal and the comfort profile."""

    program: str
    started_at_s: float
    ended_at_s: float
    ended_by: str
    volume_ml: dict[Side, float | None]
    ceilings_mmhg: dict[Side, float]
    phases: list[PhaseSpan] = field(default_factory=list)
    ejections_s: list[float] = field(default_factory=list)
    presses: list[tuple[str, str | None, float]] = field(default_factory=list)
    faults: list[SafetyFault] = field(default_factory=list)
    nearly_done_at_s: float | None = None
    tracking_error_p95_mmhg: dict[Side, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """What the parent should know about this session (a side paused, nothing learned)."""
    error: str | None = None
    """What the controller raised, if it failed (the session then ended in fault)."""

    @property
    def duration_s(self) -> float:
        return self.ended_at_s - self.started_at_s

    def comfort_profile(self) -> ComfortProfile:
        """The ceilings this session ended with, to start the next one from."""
        return ComfortProfile(self.ceilings_mmhg.get(Side.LEFT), self.ceilings_mmhg.get(Side.RIGHT))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; times to the millisecond."""
        return {
            "program": self.program,
            "started_at_s": _ms(self.started_at_s),
            "ended_at_s": _ms(self.ended_at_s),
            "ended_by": self.ended_by,
            "volume_ml": {side.value: v for side, v in self.volume_ml.items()},
            "ceilings_mmhg": {side.value: v for side, v in self.ceilings_mmhg.items()},
            "phases": [
                {"state": p.state.value, "start_s": _ms(p.start_s), "end_s": _ms(p.end_s)}
                for p in self.phases
            ],
            "ejections_s": [_ms(t) for t in self.ejections_s],
            "presses": [{"kind": k, "side": s, "at_s": _ms(t)} for k, s, t in self.presses],
            "faults": [
                {
                    "reason": f.reason.value,
                    "side": None if f.side is None else f.side.value,
                    "at_s": _ms(f.at_s),
                    "message": f.message,
                }
                for f in self.faults
            ],
            "nearly_done_at_s": None
            if self.nearly_done_at_s is None
            else _ms(self.nearly_done_at_s),
            "tracking_error_p95_mmhg": {
                side.value: v for side, v in self.tracking_error_p95_mmhg.items()
            },
            "notes": list(self.notes),
            "error": self.error,
        }


def _ms(seconds: float) -> float:
    return round(seconds, 3)


class PumpSession:
    """One adaptive session on ``pump``.

    Args:
        pump: a pump under the safety core (``letdown.safety.SafePump``), or a raw
            ``letdown.device`` backend, which the session then puts under one.
        program: the adaptive program (``LETDOWN`` by default).
        profile: comfort ceilings from earlier sessions; a side without one is learned.
        soreness: 0-10 per side, reported before starting: starts that side lower.
        tick_s: the control period (10 ms: 100 Hz).

    Drive it with ``run()`` (start to end) or ``start()`` then ``step()`` per tick.
    ``send(command)`` is safe from another thread; listeners get ``Snapshot``s.
    """

    def __init__(
        self,
        pump: Pump,
        program: AdaptiveProgram = LETDOWN,
        *,
        profile: ComfortProfile | None = None,
        soreness: dict[Side, float] | None = None,
        tick_s: float = TICK_S,
    ) -> None:
        if not 0.001 <= tick_s <= 0.05:
            raise ValueError(f"tick_s must be within 1-50 ms, got {tick_s!r}")
        self.pump: SafePump = supervise(pump, tick_s=tick_s)
        self.program = program
        self.tick_s = tick_s
        self.profile = profile or ComfortProfile()
        self.soreness = dict(soreness or {})
        for side, score in self.soreness.items():
            if not (isinstance(score, int | float) and 0.0 <= score <= 10.0):
                raise ValueError(f"soreness is a 0-10 score, got {score!r} for {side}")
        self.machine = SessionMachine()
        self.machine.add_listener(self._on_transition)
        self.detector = LetdownDetector()
        self._commands: deque[Command] = deque()
        self._seen_ids: set[str] = set()
        self._listeners: list[tuple[Callable[[Snapshot], None], int]] = []
        self._ticks = 0
        self._state_ticks = 0
        self._started_s = 0.0
        self._deadline_s = 0.0
        self._state_since_s = 0.0
        self._quiet_since_s: float | None = None
        self._quiet_floor_ml_min = math.inf
        self._ejection_peak_ml_min = 0.0
        self._nearly_done_at_s: float | None = None
        self._finishing_ticks = 0
        self._record: SessionRecord | None = None
        self._phases: list[PhaseSpan] = []
        self._presses: list[tuple[str, str | None, float]] = []
        self._faults: list[SafetyFault] = []
        self._comfort: dict[Side, SideComfort] = {}
        self._trackers = [CycleTracker(0.0), CycleTracker(0.0)]
        self._flows = [FlowEstimator(), FlowEstimator()]
        self._flow_ml_min = 0.0
        self._minute_flows = [FlowEstimator(MINUTE_SAMPLES), FlowEstimator(MINUTE_SAMPLES)]
        self._volume_at_s: float | None = None
        self._vacuum: tuple[float | None, float | None] = (None, None)
        self._volume: tuple[float | None, float | None] = (None, None)
        self._tracking_errors: tuple[list[float], list[float]] = ([], [])
        self._ended_by = ""
        self._notes: list[str] = []
        self._error: str | None = None

    # --- public surface -------------------------------------------------------------
    @property
    def state(self) -> State:
        return self.machine.state

    @property
    def finished(self) -> bool:
        return self.machine.state in (State.DONE, State.FAULT)

    def add_listener(self, listener: Callable[[Snapshot], None], every_ticks: int = 10) -> None:
        """Call ``listener`` with a ``Snapshot`` every ``every_ticks`` and on each change."""
        if every_ticks < 1:
            raise ValueError("every_ticks must be at least 1")
        self._listeners.append((listener, every_ticks))

    def send(self, command: Command) -> None:
        """Queue a command for the next tick (thread-safe)."""
        self._commands.append(command)

    def start(self) -> None:
        now_s = self.pump.clock.now_s()
        self._started_s = self._deadline_s = now_s
        for index, side in enumerate(SIDES):
            ceiling = self.profile.starting_ceiling(side, self.soreness.get(side, 0.0))
            self._comfort[side] = SideComfort(side, now_s, ceiling, self.pump)
            self._trackers[index] = CycleTracker(now_s)
        self.machine.send(Event.START, now_s)

    def run(self) -> SessionRecord:
        """Run the session to its end; the pump is left with motors off and vents open."""
        if self.machine.state is State.IDLE:
            self.start()
        while not self.finished:
            self.step()
        return self.record()

    def snapshot(self) -> Snapshot:
        now_s = self.pump.clock.now_s()
        views = []
        for index, side in enumerate(SIDES):
            comfort = self._comfort.get(side)
            views.append(
                SideView(
                    self._vacuum[index],
                    self._volume[index],
                    self._flows[index].flow_ml_min,
                    0.0 if comfort is None else comfort.level_mmhg,
                    0.0 if comfort is None else comfort.ceiling_mmhg,
                    comfort is not None and comfort.searching,
                    self.pump.paused(side),
                    self._trackers[index].last_peak_mmhg or None,
                )
            )
        return Snapshot(
            now_s,
            now_s - self._started_s,
            self.machine.state,
            views[0],
            views[1],
            len(self.detector.ejections_s),
            self._nearly_done_at_s is not None,
            self.pump.fault,
        )

    def record(self) -> SessionRecord:
        if self._record is None:
            raise RuntimeError("the session has not ended yet")
        return self._record

    # --- the loop ---------------------------------------------------------------------
    def step(self) -> None:
        """One control tick, then wait for the next deadline (the core ticks meanwhile).

        Whatever goes wrong in the controller (a listener, detection, the comfort logic,
        a command) ends the session in fault, motors off and vents open at once, with
        the error recorded; it never leaves a motor running."""
        if self.finished:
            return
        try:
            self._step()
        except Exception as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            fault = self.pump.fail(core.CONTROLLER_ERROR, self._error)
            if not self.finished:
                try:
                    self._fail(fault, self.pump.clock.now_s())
                except Exception:
                    # A listener failed again on the way down: the record stands.
                    log.exception("pump session listener failed after a controller error")

    def _step(self) -> None:
        pump = self.pump
        now_s = pump.clock.now_s()
        fault = pump.fault
        if fault is not None:
            self._fail(fault, now_s)
            return
        if pump.closed:
            # Closed under it (from another thread, at shutdown): the pump is safe.
            self._ended_by = self._ended_by or "closed"
            while not self.finished and self.machine.allows(Event.STOP):
                self.machine.send(Event.STOP, now_s)
            return
        readings = [pump.read_vacuum(side) for side in SIDES]
        scales = [pump.read_volume(side) for side in SIDES]
        self._vacuum = tuple(None if r is None else r.vacuum_mmhg for r in readings)  # type: ignore[assignment]
        self._volume = tuple(None if r is None else r.volume_ml for r in scales)  # type: ignore[assignment]
        volume_at_s = None if scales[0] is None else scales[0].at_s
        for press in pump.presses():
            self._presses.append(
                (press.kind.value, None if press.side is None else press.side.value, press.at_s)
            )
            self._on_press(press.kind, press.side, now_s)
        while self._commands:
            self._on_command(self._commands.popleft(), now_s)
        self._on_core_events(now_s)
        if self.finished:
            return
        if volume_at_s is not None and volume_at_s != self._volume_at_s:
            self._volume_at_s = volume_at_s
            self._on_volume(now_s, scales)
        self._advance_state(now_s)
        if self.finished:
            return
        self._drive(now_s)
        pump.kick()
        self._ticks += 1
        self._state_ticks += 1
        for listener, every in self._listeners:
            if self._ticks % every == 0:
                listener(self.snapshot())
        self._deadline_s += self.tick_s
        pump.clock.sleep_until(self._deadline_s)

    def _on_core_events(self, now_s: float) -> None:
        """What the core did on its own: a side paused at the floor, a stop."""
        for what, side, _at_s in self.pump.events():
            if what == "paused" and side is not None:
                self._notes.append(
                    f"The {side.value} side was paused: "
                    '"too much" came at the lowest level. Take that flange off; the other'
                    " side goes on."
                )
                self._notify()
        stopped = self.pump.stopped
        if stopped and stopped != core.STOP_REQUEST:
            if stopped == core.TIME_LIMIT:
                minutes = (now_s - self._started_s) / 60.0
                self._notes.append(
                    f"The pump stopped itself after {minutes:.0f} minutes, as pumps do"
                    " (auto-off); extend the session to go on pumping."
                )
            self._stop(now_s, "stop" if stopped == core.STOP_BUTTON else stopped)

    def _drive(self, now_s: float) -> None:
        state = self.machine.state
        phase = self.program.phase_for(state)
        for index, side in enumerate(SIDES):
            comfort = self._comfort[side]
            tracker = self._trackers[index]
            if phase is None:
                duty, vent_open = 0.0, True
            else:
                comfort.tick(now_s)
                if comfort.searching:
                    # Kent's search: full cycles that reach and hold the level being tried.
                    rate_cpm, peak, hold_s = SEARCH_RATE_CPM, comfort.level_mmhg, SEARCH_HOLD_S
                else:
                    rate_cpm, hold_s = phase.rate_cpm, phase.hold_s
                    peak = phase.peak_for(comfort.level_mmhg)
                duty, vent_open = tracker.command(
                    now_s, self._vacuum[index], rate_cpm, min(peak, HARD_CAP_MMHG), hold_s
                )
                if (
                    state is State.EXPRESSION
                    and not comfort.searching
                    and tracker.last_target_mmhg > 0.0
                    and tracker.last_peak_mmhg > 0.0
                ):
                    self._tracking_errors[index].append(
                        abs(tracker.last_peak_mmhg - tracker.last_target_mmhg)
                    )
                    tracker.last_target_mmhg = 0.0
            self.pump.set_duty(side, duty)
            self.pump.set_vent(side, vent_open)

    def _slow_flow_ml_min(self) -> float:
        """Both sides' flow over the last minute: the least-squares slope of every scale
        reading in it (noise about 0.1 mL/min from the scales' 0.5 mL; the difference of
        a minute's first and last readings had 1 mL/min)."""
        total = 0.0
        for flow in self._minute_flows:
            if not flow.full:
                return math.inf
            total += flow.flow_ml_min
        return total

    def _trickling(self, slow_ml_min: float) -> bool:
        """Milk only trickles: no ejection flowing, the last minute's flow
        (``slow_ml_min``) a small fraction of the session's ejections (never before the
        first ejection), and not climbing again over its lowest since the quiet began."""
        if self.detector.flowing or not self.detector.ejections_s:
            return False
        program = self.program
        end_ml_min = max(
            program.end_flow_ml_min, program.end_flow_fraction * self._ejection_peak_ml_min
        )
        if slow_ml_min >= end_ml_min:
            return False
        return slow_ml_min < self._quiet_floor_ml_min + program.milk_again_ml_min

    def _on_volume(self, now_s: float, scales: list[Any]) -> None:
        total = 0.0
        for index, scale in enumerate(scales):
            if scale is not None:
                total += self._flows[index].add(scale.at_s, scale.volume_ml)
                self._minute_flows[index].add(scale.at_s, scale.volume_ml)
        self._flow_ml_min = total
        event = self.detector.update(now_s, total)
        if self.detector.flowing:
            self._ejection_peak_ml_min = max(self._ejection_peak_ml_min, total)
        state = self.machine.state
        if event is MilkEvent.LETDOWN:
            if self.machine.allows(Event.LETDOWN):
                self.machine.send(Event.LETDOWN, now_s)
        elif event is MilkEvent.LULL and state is State.EXPRESSION:
            self.machine.send(Event.LULL, now_s)
        # The quiet that ends a session starts when milk only trickles, and any milk
        # that comes again (an ejection too weak to be seen as one included) restarts it.
        slow_ml_min = self._slow_flow_ml_min()
        if self._trickling(slow_ml_min):
            if self._quiet_since_s is None:
                self._quiet_since_s = now_s
            else:
                self._quiet_floor_ml_min = min(self._quiet_floor_ml_min, slow_ml_min)
        elif self._quiet_since_s is not None:
            self._quiet_since_s = None
            self._quiet_floor_ml_min = math.inf
            if now_s - self._started_s < self.program.cap_s - self.program.nearly_done_s:
                self._nearly_done_at_s = None

    def _advance_state(self, now_s: float) -> None:
        machine = self.machine
        state = machine.state
        program = self.program
        if state is State.FINISHING:
            self._finishing_ticks += 1
            if self._finishing_ticks * self.tick_s >= program.finishing_s:
                machine.send(Event.TIMEOUT, now_s)
            return
        if state is State.PAUSED:
            return
        phase = program.phase_for(state)
        if (
            phase is not None
            and state is not State.EXPRESSION
            and self._state_ticks * self.tick_s >= phase.duration_s
        ):
            machine.send(Event.TIMEOUT, now_s)
            return
        elapsed_s = now_s - self._started_s
        end_in_s = program.cap_s - elapsed_s
        if self._quiet_since_s is not None:
            intervals = [
                b - a
                for a, b in zip(
                    self.detector.ejections_s, self.detector.ejections_s[1:], strict=False
                )
            ]
            if intervals:
                quiet_needed_s = max(
                    program.quiet_s, program.quiet_interval_factor * statistics.fmean(intervals)
                )
            else:
                quiet_needed_s = program.quiet_interval_factor * program.quiet_s
            end_in_s = min(end_in_s, self._quiet_since_s + quiet_needed_s - now_s)
        if end_in_s <= program.nearly_done_s and self._nearly_done_at_s is None:
            self._nearly_done_at_s = now_s
            self._notify()
        if end_in_s <= 0.0:
            self._ended_by = "cap" if elapsed_s >= program.cap_s else "flow_ended"
            machine.send(Event.FLOW_ENDED, now_s)

    # --- presses, commands, faults ----------------------------------------------------
    def _on_press(self, kind: PressKind, side: Side | None, now_s: float) -> None:
        """A button press; the core has acted on it already (stop, a lower ceiling, a
        pause): the session follows and learns from it."""
        if kind is PressKind.STOP:
            self._stop(now_s, "stop")
            return
        if side is None or self.machine.state in (State.IDLE, State.DONE, State.FAULT):
            return
        comfort = self._comfort[side]
        if kind is PressKind.TOO_MUCH:
            comfort.too_much(now_s)
        elif kind is PressKind.LIMIT:
            comfort.limit(now_s)
        comfort.sync()

    def _on_command(self, command: Command, now_s: float) -> None:
        if command.id is not None:
            if command.id in self._seen_ids:
                return
            self._seen_ids.add(command.id)
        kind = command.kind
        if kind is CommandKind.STOP:
            self._stop(now_s, "stop")
        elif kind is CommandKind.PAUSE:
            if self.machine.allows(Event.PAUSE):
                self.machine.send(Event.PAUSE, now_s)
        elif kind is CommandKind.RESUME:
            for side in SIDES:
                if self.pump.paused(side):
                    self.pump.resume(side)
            if self.machine.allows(Event.RESUME):
                self.machine.send(Event.RESUME, now_s)
        elif kind is CommandKind.EXTEND:
            self.pump.extend(command.delta_mmhg)
        elif command.side is not None and command.side in self._comfort:
            if kind is CommandKind.TOO_MUCH:
                # A phone's "too much" acts as the pump's own button does, and counts.
                self.pump.too_much(command.side)
                self._presses.append((PressKind.TOO_MUCH.value, command.side.value, now_s))
                self._on_press(PressKind.TOO_MUCH, command.side, now_s)
            elif kind is CommandKind.LEVEL:
                self._comfort[command.side].nudge(now_s, command.delta_mmhg)

    def _stop(self, now_s: float, why: str) -> None:
        if self.machine.allows(Event.STOP):
            self._ended_by = self._ended_by or why
            self.machine.send(Event.STOP, now_s)

    def _fail(self, fault: SafetyFault, now_s: float) -> None:
        """Fail to safe: the core has latched (motors off, vents open, no more kicks to
        the hardware's watchdog); the session ends in fault and says why."""
        self._faults.append(fault)
        # A real pump whose link failed vented by itself: the record says so.
        self._ended_by = "link_lost" if fault.reason is FaultReason.LINK_LOST else "fault"
        if fault.reason is FaultReason.CONTROLLER_ERROR and self._error is None:
            self._error = fault.detail
        self.machine.send(Event.FAULT, now_s)

    # --- bookkeeping ------------------------------------------------------------------
    def _on_transition(self, old: State, event: Event, new: State, at_s: float) -> None:
        if old is not State.IDLE:
            self._phases.append(PhaseSpan(old, self._state_since_s, at_s))
        self._state_since_s = at_s
        self._state_ticks = 0
        if new is State.FINISHING:
            self._finishing_ticks = 0
            self._ended_by = self._ended_by or event.value
            self.pump.make_safe()
        if new in (State.DONE, State.FAULT):
            self._finish(at_s)
        self._notify()

    def _notify(self) -> None:
        if self._listeners:
            snapshot = self.snapshot()
            for listener, _ in self._listeners:
                listener(snapshot)

    def _finish(self, at_s: float) -> None:
        pump = self.pump
        if pump.fault is None and not pump.closed:
            pump.make_safe()
        volumes = read_volumes(pump)
        errors: dict[Side, float | None] = {}
        for index, side in enumerate(SIDES):
            values = sorted(self._tracking_errors[index])
            errors[side] = values[int(0.95 * (len(values) - 1))] if values else None
        ceilings: dict[Side, float] = {}
        for side, comfort in self._comfort.items():
            if comfort.learned:
                ceilings[side] = comfort.ceiling_mmhg
            elif comfort.search_ended_at_top:
                self._notes.append(
                    f"The {side.value} side's comfort search reached its top without a"
                    ' "that\'s my limit": nothing was learned for that side, and the next'
                    " session searches again."
                )
        self._record = SessionRecord(
            program=self.program.name,
            started_at_s=self._started_s,
            ended_at_s=at_s,
            ended_by=self._ended_by or "done",
            volume_ml=volumes,
            ceilings_mmhg=ceilings,
            phases=list(self._phases),
            ejections_s=list(self.detector.ejections_s),
            presses=list(self._presses),
            faults=list(self._faults),
            nearly_done_at_s=self._nearly_done_at_s,
            tracking_error_p95_mmhg=errors,
            notes=list(self._notes),
            error=self._error,
        )


__all__ = [
    "LETDOWN",
    "AdaptiveProgram",
    "Command",
    "CommandKind",
    "HardwareFault",
    "PhaseSpan",
    "PumpSession",
    "SessionRecord",
    "SideView",
    "Snapshot",
]
