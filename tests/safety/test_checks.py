"""The safety supervisor on the twin: every fault is caught, with its reason, in a bounded
time; the pump then ends safe; and normal sessions never trip it.

The tests drive a ``SimPump`` by hand on its simulated clock, as the controller will: each
tick read the sensors, check them with the commands applied since the last tick, then
either follow the program (``CycleTracker``) or, once a fault is returned, turn both motors
off, open both vents and stop kicking the watchdog.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from letdown.device import SIDES, HardwareFault, MotorLayout, Side, VacuumReading
from letdown.device.sim import SimPump
from letdown.pump.program import HARD_CAP_MMHG, TWO_PHASE, Program
from letdown.pump.tracking import CycleTracker
from letdown.safety import FaultReason, SafetyFault, Supervisor
from letdown.safety import message as _message
from letdown.safety.core import CAP_DOUBLE_MMHG
from letdown.twin.cohort import ParentSpec
from letdown.twin.faults import FaultKind
from letdown.twin.model import PneumaticsSpec

TICK_S = 0.01
CEILING_MMHG = 180.0
MARGIN_MMHG = 20.0
OVER_CEILING_S = 0.5
LEFT, RIGHT = Side.LEFT, Side.RIGHT
LAYOUTS = [
    pytest.param(MotorLayout.PER_SIDE, id="per-side"),
    pytest.param(MotorLayout.SHARED, id="shared"),
]

# What a loop asks for at a time: (cycles/min, (left peak, right peak), hold s).
Plan = Callable[[float], tuple[float, tuple[float, float], float]]
# Called each tick until it returns True, having injected its fault at ``now_s``.
Injector = Callable[[SimPump, float], bool]


def steady(
    rate_cpm: float = 60.0, peaks_mmhg: tuple[float, float] = (180.0, 180.0), hold_s: float = 0.3
) -> Plan:
    return lambda _t: (rate_cpm, peaks_mmhg, hold_s)


def following(program: Program, ceilings_mmhg: tuple[float, float]) -> Plan:
    def plan(t: float) -> tuple[float, tuple[float, float], float]:
        _, phase = program.phase_at(t)
        peaks = (phase.peak_for(ceilings_mmhg[0]), phase.peak_for(ceilings_mmhg[1]))
        return phase.rate_cpm, peaks, phase.hold_s

    return plan


def make_pump(layout: MotorLayout = MotorLayout.PER_SIDE, seed: int = 0) -> SimPump:
    return SimPump(ParentSpec(id="t"), seed=seed, pneumatics=PneumaticsSpec(layout=layout))


def make_supervisor(
    pump: SimPump, ceilings_mmhg: tuple[float, float] | None = (CEILING_MMHG, CEILING_MMHG)
) -> Supervisor:
    supervisor = Supervisor(pump.spec, motor_layout=pump.motor_layout)
    if ceilings_mmhg is not None:
        for side, ceiling in zip(SIDES, ceilings_mmhg, strict=True):
            supervisor.set_ceiling(side, ceiling)
    return supervisor


@dataclass
class Run:
    """How a run went, seen by the supervisor and in the twin's truth."""

    fault: SafetyFault | None
    injected_at_s: float | None
    max_true_mmhg: float
    longest_above_s: float
    """Longest stretch the true vacuum spent above a side's ceiling + 20 mmHg."""
    above_at_fault_s: float
    """How long the true vacuum had been above the limit when the fault was returned."""

    @property
    def delay_s(self) -> float:
        assert self.fault is not None and self.injected_at_s is not None
        return self.fault.at_s - self.injected_at_s


def drive(
    pump: SimPump,
    supervisor: Supervisor,
    until_s: float,
    *,
    plan: Plan | None = None,
    limits_mmhg: tuple[float, float] = (CEILING_MMHG + MARGIN_MMHG,) * 2,
    inject: Injector | None = None,
    after_fault_s: float = 1.0,
) -> Run:
    """Run the loop at 100 Hz to ``until_s`` (or ``after_fault_s`` past a fault)."""
    plan = plan or steady()
    clock = pump.clock
    trackers = [CycleTracker(clock.now_s()) for _ in SIDES]
    commands: tuple[tuple[float, bool], tuple[float, bool]] = ((0.0, True), (0.0, True))
    fault: SafetyFault | None = None
    injected_at_s: float | None = None
    max_true = 0.0
    longest_above_s = 0.0
    above_at_fault_s = 0.0
    above_since: list[float | None] = [None, None]
    before = [(clock.now_s(), pump.twin.true_vacuum_mmhg(side)) for side in SIDES]
    tick = round(clock.now_s() / TICK_S)
    end_s = until_s
    while tick * TICK_S < end_s - 1e-9:
        now_s = clock.now_s()
        if inject is not None and injected_at_s is None and inject(pump, now_s):
            injected_at_s = now_s
        vacuum = [pump.read_vacuum(side) for side in SIDES]
        volume = [pump.read_volume(side) for side in SIDES]
        found = supervisor.check(
            now_s,
            (
                None if vacuum[0] is None else vacuum[0].vacuum_mmhg,
                None if vacuum[1] is None else vacuum[1].vacuum_mmhg,
            ),
            (
                None if volume[0] is None else volume[0].volume_ml,
                None if volume[1] is None else volume[1].volume_ml,
            ),
            None if volume[0] is None else volume[0].at_s,
            commands,
            pump.faults(),
        )
        if found is not None and fault is None:
            fault = found
            end_s = min(until_s, now_s + after_fault_s)
            above_at_fault_s = max(
                (now_s - since for since in above_since if since is not None), default=0.0
            )
        if fault is None:
            rate_cpm, peaks, hold_s = plan(now_s)
            commands = (
                trackers[0].command(now_s, _value(vacuum[0]), rate_cpm, peaks[0], hold_s),
                trackers[1].command(now_s, _value(vacuum[1]), rate_cpm, peaks[1], hold_s),
            )
        else:
            commands = ((0.0, True), (0.0, True))
        for side, (duty, vent_open) in zip(SIDES, commands, strict=True):
            pump.set_duty(side, duty)
            pump.set_vent(side, vent_open)
        if fault is None:
            pump.kick()
        tick += 1
        clock.sleep_until(tick * TICK_S)
        # The truth: exponential within a step, so crossings are interpolated.
        at_s = clock.now_s()
        for index, side in enumerate(SIDES):
            true_mmhg = pump.twin.true_vacuum_mmhg(side)
            max_true = max(max_true, true_mmhg)
            limit = limits_mmhg[index]
            then_s, then_mmhg = before[index]
            crossing_s = then_s + (at_s - then_s) * (
                (limit - then_mmhg) / (true_mmhg - then_mmhg) if true_mmhg != then_mmhg else 0.0
            )
            since = above_since[index]
            if true_mmhg > limit and since is None:
                above_since[index] = crossing_s
            elif true_mmhg <= limit and since is not None:
                longest_above_s = max(longest_above_s, crossing_s - since)
                above_since[index] = None
            before[index] = (at_s, true_mmhg)
    for since in above_since:
        if since is not None:
            longest_above_s = max(longest_above_s, clock.now_s() - since)
    return Run(fault, injected_at_s, max_true, longest_above_s, above_at_fault_s)


def _value(reading: VacuumReading | None) -> float | None:
    return None if reading is None else reading.vacuum_mmhg


def at_time(kind: FaultKind, at_s: float, side: Side | None = LEFT, **extra: float) -> Injector:
    def inject(pump: SimPump, now_s: float) -> bool:
        if now_s < at_s - 1e-9:
            return False
        pump.inject(kind, now_s, side, **extra)
        return True

    return inject


def when(kind: FaultKind, condition: Callable[[SimPump], bool], side: Side = LEFT) -> Injector:
    def inject(pump: SimPump, now_s: float) -> bool:
        if now_s < 3.0 or not condition(pump):
            return False
        pump.inject(kind, now_s, side)
        return True

    return inject


GENDERED = re.compile(
    r"\b(she|her|hers|herself|he|him|his|mother|mom|mum|mommy|woman|women|lady|wife|"
    r"father|dad|man|husband)\b",
    re.IGNORECASE,
)
ACTIONS = ("start again", "take", "restart", "re-seat", "slide", "check")


def assert_plain_message(fault: SafetyFault) -> None:
    """Plain words: what happened, on which side, and what to do; no gender assumed."""
    message = fault.message
    assert message and message[0].isupper() and message.endswith(".")
    assert not GENDERED.search(message), message
    assert any(action in message.lower() for action in ACTIONS), message
    assert "{" not in message
    if fault.side is not None:
        assert fault.side.value in message
    else:
        assert "left" not in message and "right" not in message


# --- every fault kind, injected at ten points of a cycle ---------------------------------------

EXPECTED: dict[FaultKind, tuple[set[FaultReason], float]] = {
    # kind: (reasons accepted, longest detection delay measured on 60 cycles/min, s)
    FaultKind.PRESSURE_DROPOUT: ({FaultReason.PRESSURE_DROPOUT}, 0.01),
    FaultKind.PRESSURE_STUCK: ({FaultReason.PRESSURE_STUCK}, 0.16),
    FaultKind.PRESSURE_OFFSET: ({FaultReason.PRESSURE_IMPLAUSIBLE}, 0.08),
    FaultKind.PRESSURE_NOISY: ({FaultReason.PRESSURE_NOISY}, 0.2),
    # A stuck motor shows only when the pump should release; held low and flat it could
    # be the vent too, so the supervisor waits for the next release to be sure.
    FaultKind.MOTOR_STUCK_ON: ({FaultReason.MOTOR_STUCK}, 2.2),
    # A stuck vent shows only at the next release: up to a cycle.
    FaultKind.VENT_STUCK_CLOSED: ({FaultReason.VENT_STUCK}, 1.0),
    # A flange off mid-pull shows at once; while vented, at the next 0.5 s of pulling.
    FaultKind.LEAK: ({FaultReason.LEAK}, 1.0),
    FaultKind.VOLUME_STUCK: ({FaultReason.VOLUME_STUCK}, 3.0),
    # Commands and kicks stop reaching the pump: the watchdog trips 250 ms after the last
    # kick that arrived, unless both vents are seen ignoring their commands first.
    FaultKind.LOOP_STALL: ({FaultReason.WATCHDOG, FaultReason.LOOP_OVERRUN}, 0.26),
    # The gain drifts to 0.7 over 5 s: caught in the first pull once it is past ~15 %.
    FaultKind.GAIN_DRIFT: ({FaultReason.PRESSURE_GAIN}, 5.0),
}
PHASES_S = [0.1 * i for i in range(10)]


def test_every_fault_kind_has_an_expectation() -> None:
    assert set(EXPECTED) == set(FaultKind)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kind", list(EXPECTED), ids=str)
def test_each_fault_is_caught_with_its_reason_and_the_pump_ends_safe(
    kind: FaultKind, layout: MotorLayout
) -> None:
    reasons, max_delay_s = EXPECTED[kind]
    for phase_s in PHASES_S:
        at_s = 4.0 + phase_s
        pump = make_pump(layout, seed=3)
        supervisor = make_supervisor(pump)
        if kind is FaultKind.LOOP_STALL:
            inject = at_time(kind, at_s, None, duration_s=0.5)
        else:
            inject = at_time(kind, at_s)
        run = drive(pump, supervisor, at_s + max_delay_s + 0.5, inject=inject)
        where = f"{kind} at {at_s:.1f} s"
        assert run.fault is not None, f"{where}: not caught"
        assert run.fault.reason in reasons, f"{where}: {run.fault.reason}"
        assert 0.0 <= run.delay_s <= max_delay_s + 1e-6, f"{where}: after {run.delay_s:.2f} s"
        assert run.fault.side == (None if kind is FaultKind.LOOP_STALL else LEFT)
        assert supervisor.fault is run.fault
        assert run.max_true_mmhg <= HARD_CAP_MMHG, where
        assert run.longest_above_s <= OVER_CEILING_S, where
        assert_plain_message(run.fault)
        if kind is not FaultKind.VENT_STUCK_CLOSED:  # that one holds until the seal is broken
            assert pump.twin.true_vacuum_mmhg(LEFT) < 40.0, f"{where}: not released"


def _releasing(pump: SimPump) -> bool:
    return pump.twin.vent_open(LEFT) and pump.twin.true_vacuum_mmhg(LEFT) > 60.0


def _holding(pump: SimPump) -> bool:
    return not pump.twin.vent_open(LEFT) and pump.twin.true_vacuum_mmhg(LEFT) > 150.0


def _resting(pump: SimPump) -> bool:
    return pump.twin.vent_open(LEFT) and pump.twin.true_vacuum_mmhg(LEFT) < 3.0


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param(_holding, id="vent-closed-at-the-peak"),
        pytest.param(_releasing, id="vent-open-releasing"),
        pytest.param(_resting, id="vent-open-at-rest"),
    ],
)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_an_offset_sensor_is_caught_whether_the_vent_is_open_or_closed(
    condition: Callable[[SimPump], bool], layout: MotorLayout
) -> None:
    pump = make_pump(layout, seed=1)
    supervisor = make_supervisor(pump)
    run = drive(pump, supervisor, 8.0, inject=when(FaultKind.PRESSURE_OFFSET, condition))
    assert run.injected_at_s is not None
    assert run.fault is not None
    assert run.fault.reason is FaultReason.PRESSURE_IMPLAUSIBLE
    assert run.fault.side is LEFT
    assert 0.0 <= run.delay_s <= 0.08
    # Read 60 mmHg low, the program would pull far past the ceiling; it never gets there.
    assert run.max_true_mmhg <= CEILING_MMHG + MARGIN_MMHG
    assert run.longest_above_s == 0.0


@pytest.mark.parametrize(
    ("kind", "magnitude", "reason"),
    [
        pytest.param(
            FaultKind.PRESSURE_OFFSET, 15.0, FaultReason.PRESSURE_IMPLAUSIBLE, id="offset-15"
        ),
        pytest.param(
            FaultKind.PRESSURE_OFFSET, 150.0, FaultReason.PRESSURE_IMPLAUSIBLE, id="offset-150"
        ),
        pytest.param(FaultKind.PRESSURE_NOISY, 5.0, FaultReason.PRESSURE_NOISY, id="noisy-5"),
        pytest.param(FaultKind.PRESSURE_NOISY, 40.0, FaultReason.PRESSURE_NOISY, id="noisy-40"),
    ],
)
def test_smaller_and_larger_sensor_faults_are_told_apart(
    kind: FaultKind, magnitude: float, reason: FaultReason
) -> None:
    for phase_s in (0.0, 0.25, 0.5, 0.75):
        at_s = 4.0 + phase_s
        pump = make_pump(seed=2)
        supervisor = make_supervisor(pump)
        run = drive(pump, supervisor, at_s + 1.5, inject=at_time(kind, at_s, magnitude=magnitude))
        assert run.fault is not None and run.fault.reason is reason, (phase_s, run.fault)
        assert run.delay_s <= 1.0
        assert run.max_true_mmhg <= HARD_CAP_MMHG
        assert run.longest_above_s <= OVER_CEILING_S


def test_a_stuck_vent_on_a_shared_motor_is_caught_while_the_other_side_still_pulls() -> None:
    # One motor for both sides: the right side keeps pulling, so the left side's vacuum
    # climbs behind its stuck vent.
    pump = make_pump(MotorLayout.SHARED, seed=4)
    supervisor = make_supervisor(pump)
    plan = steady(peaks_mmhg=(120.0, 180.0))
    run = drive(
        pump,
        supervisor,
        8.0,
        plan=plan,
        inject=when(FaultKind.VENT_STUCK_CLOSED, lambda p: p.twin.true_vacuum_mmhg(LEFT) > 100),
    )
    assert run.fault is not None and run.fault.reason is FaultReason.VENT_STUCK
    assert run.fault.side is LEFT
    assert run.delay_s <= 1.0
    assert run.longest_above_s <= OVER_CEILING_S


# --- no false alarms ---------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_full_normal_double_session_never_trips_it(layout: MotorLayout) -> None:
    # 15 minutes of the reference program (2 min at 110 cycles/min, then 60 cycles/min at
    # the ceiling) on both sides, 90 000 checks.
    pump = make_pump(layout, seed=11)
    supervisor = make_supervisor(pump)
    run = drive(
        pump,
        supervisor,
        TWO_PHASE.duration_s,
        plan=following(TWO_PHASE, (CEILING_MMHG, CEILING_MMHG)),
    )
    assert run.fault is None
    assert supervisor.fault is None
    assert run.longest_above_s == 0.0


def test_sides_with_different_ceilings_do_not_trip_it() -> None:
    pump = make_pump(seed=12)
    supervisor = make_supervisor(pump, (150.0, 230.0))
    run = drive(
        pump,
        supervisor,
        120.0,
        plan=steady(peaks_mmhg=(150.0, 230.0), hold_s=0.5),
        limits_mmhg=(170.0, 250.0),
    )
    assert run.fault is None


def test_one_side_pumping_and_the_other_idle_does_not_trip_it() -> None:
    pump = make_pump(MotorLayout.SHARED, seed=13)
    supervisor = make_supervisor(pump)
    run = drive(pump, supervisor, 120.0, plan=steady(peaks_mmhg=(180.0, 0.0)))
    assert run.fault is None


# --- the ceiling and the hard cap --------------------------------------------------------------


def test_over_ceiling_trips_when_the_excursion_would_pass_half_a_second_not_before() -> None:
    # Left ceiling 150, a program asking for 190 held 1 s: the left side stays above 170
    # for about a second each cycle. The right side's ceiling is its own.
    pump = make_pump(seed=5)
    supervisor = make_supervisor(pump, (150.0, 200.0))
    run = drive(
        pump,
        supervisor,
        10.0,
        plan=steady(rate_cpm=30.0, peaks_mmhg=(190.0, 190.0), hold_s=1.0),
        limits_mmhg=(170.0, 220.0),
    )
    assert run.fault is not None
    assert run.fault.reason is FaultReason.OVER_CEILING
    assert run.fault.side is LEFT
    # It waits until the excursion has nearly used its half second, then stops early
    # enough that even the slowest declared vent ends it within the half second.
    assert 0.45 <= run.above_at_fault_s <= OVER_CEILING_S
    assert run.longest_above_s <= OVER_CEILING_S
    assert_plain_message(run.fault)


def test_excursions_shorter_than_half_a_second_do_not_trip_it() -> None:
    # Held 0.3 s at 190 against a ceiling of 150: above 170 for about 0.35 s a cycle.
    pump = make_pump(seed=6)
    supervisor = make_supervisor(pump, (150.0, 150.0))
    run = drive(
        pump,
        supervisor,
        20.0,
        plan=steady(peaks_mmhg=(190.0, 190.0), hold_s=0.3),
        limits_mmhg=(170.0, 170.0),
    )
    assert run.fault is None
    assert 0.2 < run.longest_above_s < OVER_CEILING_S


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_program_asking_past_the_hard_cap_never_gets_there(layout: MotorLayout) -> None:
    # No ceiling on the left (only the cap applies), a program asking for 330 mmHg while
    # both sides pump: the cap is the 260 mmHg cleared for double pumping.
    pump = make_pump(layout, seed=7)
    supervisor = make_supervisor(pump, None)
    supervisor.set_ceiling(RIGHT, 150.0)
    run = drive(
        pump,
        supervisor,
        10.0,
        plan=steady(rate_cpm=20.0, peaks_mmhg=(330.0, 150.0), hold_s=0.5),
        limits_mmhg=(HARD_CAP_MMHG, 170.0),
    )
    assert run.fault is not None
    assert run.fault.reason is FaultReason.OVER_CAP
    assert run.fault.side is LEFT
    assert run.max_true_mmhg <= CAP_DOUBLE_MMHG
    assert run.max_true_mmhg > CAP_DOUBLE_MMHG - 15.0
    assert_plain_message(run.fault)


# --- the loop and the hardware -----------------------------------------------------------------


def _checker(supervisor: Supervisor) -> Callable[..., SafetyFault | None]:
    """Feed the supervisor made-up ticks: a vented, idle pump at atmosphere."""
    state = {"now_s": 0.0}

    def check(
        left: float | None = 0.0,
        right: float | None = 0.0,
        *,
        late_s: float = 0.0,
        hardware: frozenset[HardwareFault] = frozenset(),
    ) -> SafetyFault | None:
        state["now_s"] += TICK_S
        return supervisor.check(
            state["now_s"],
            (left, right),
            (0.0, 0.0),
            None,
            ((0.0, True), (0.0, True)),
            hardware,
            late_s,
        )

    return check


def test_a_late_tick_is_a_loop_overrun() -> None:
    supervisor = make_supervisor(make_pump())
    check = _checker(supervisor)
    assert check(late_s=0.05) is None
    fault = check(late_s=0.051)
    assert fault is not None and fault.reason is FaultReason.LOOP_OVERRUN and fault.side is None
    assert_plain_message(fault)


def test_a_loop_that_really_stalls_is_caught_when_it_resumes() -> None:
    pump = make_pump(seed=8)
    supervisor = make_supervisor(pump)
    assert drive(pump, supervisor, 3.0).fault is None
    # The loop itself stops for 0.4 s: no checks, commands or kicks.
    resumed_s = pump.clock.now_s() + 0.4
    pump.clock.sleep_until(resumed_s)
    fault = supervisor.check(
        resumed_s,
        (_value(pump.read_vacuum(LEFT)), _value(pump.read_vacuum(RIGHT))),
        (0.0, 0.0),
        None,
        ((0.0, True), (0.0, True)),
        pump.faults(),
        late_s=0.4 - TICK_S,
    )
    assert fault is not None and fault.reason is FaultReason.LOOP_OVERRUN


def test_a_tripped_hardware_watchdog_is_reported() -> None:
    supervisor = make_supervisor(make_pump())
    check = _checker(supervisor)
    fault = check(hardware=frozenset({HardwareFault.WATCHDOG}))
    assert fault is not None and fault.reason is FaultReason.WATCHDOG and fault.side is None
    assert_plain_message(fault)


def test_a_reading_over_the_cap_trips_at_once() -> None:
    supervisor = make_supervisor(make_pump())
    check = _checker(supervisor)
    assert check() is None
    fault = check(0.0, 301.0)
    assert fault is not None and fault.reason is FaultReason.OVER_CAP and fault.side is RIGHT


@pytest.mark.parametrize("bad", [None, math.nan, math.inf, -math.inf])
def test_a_missing_or_non_finite_reading_is_a_dropout(bad: float | None) -> None:
    supervisor = make_supervisor(make_pump())
    check = _checker(supervisor)
    fault = check(bad, 0.0)
    assert fault is not None
    assert fault.reason is FaultReason.PRESSURE_DROPOUT and fault.side is LEFT
    assert_plain_message(fault)


def test_a_fault_stays_latched() -> None:
    supervisor = make_supervisor(make_pump())
    check = _checker(supervisor)
    fault = check(None, 0.0)
    assert fault is not None
    for _ in range(20):
        assert check() is fault
    assert supervisor.fault is fault


# --- messages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", list(FaultReason), ids=str)
def test_every_message_is_plain_says_what_to_do_and_assumes_no_gender(
    reason: FaultReason,
) -> None:
    whole_pump = {
        FaultReason.LOOP_OVERRUN,
        FaultReason.WATCHDOG,
        FaultReason.CONTROLLER_SILENT,
        FaultReason.CONTROLLER_ERROR,
        FaultReason.BAD_COMMAND,
        FaultReason.CLOCK_JUMP,
        FaultReason.OUTPUT_FAILURE,
        FaultReason.DEVICE_ERROR,
        FaultReason.LINK_LOST,
    }
    sides: list[Side | None] = [None] if reason in whole_pump else list(SIDES)
    for side in sides:
        assert_plain_message(SafetyFault(reason, side, 0.0, _message(reason, side)))


# --- checking what it is given -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"cap_mmhg": 0.0}, id="cap-zero"),
        pytest.param({"cap_mmhg": -300.0}, id="cap-negative"),
        pytest.param({"cap_mmhg": math.nan}, id="cap-nan"),
        pytest.param({"cap_mmhg": math.inf}, id="cap-inf"),
        pytest.param({"cap_mmhg": "300"}, id="cap-text"),
        pytest.param({"cap_mmhg": True}, id="cap-bool"),
        pytest.param({"cap_mmhg": 5.0}, id="cap-below-one-tick-of-pull"),
        pytest.param({"cap_mmhg": 300.5}, id="cap-above-the-absolute-cap"),
        pytest.param({"cap_mmhg": 1000.0}, id="cap-1000"),
        pytest.param({"cap_double_mmhg": 261.0}, id="double-cap-above-260"),
        pytest.param({"tick_s": 0.0}, id="tick-zero"),
        pytest.param({"tick_s": -0.01}, id="tick-negative"),
        pytest.param({"tick_s": math.nan}, id="tick-nan"),
        pytest.param({"tick_s": 0.005}, id="tick-faster-than-the-sensor"),
        pytest.param({"max_late_s": -0.01}, id="late-negative"),
        pytest.param({"max_late_s": math.nan}, id="late-nan"),
        pytest.param({"motor_layout": "diagonal"}, id="layout-unknown"),
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"\w+"):
        Supervisor(make_pump().spec, **kwargs)  # type: ignore[arg-type]


def test_an_impossible_spec_is_refused() -> None:
    from dataclasses import replace

    spec = make_pump().spec
    with pytest.raises(ValueError, match="vent_per_s_max"):
        Supervisor(replace(spec, vent_per_s_max=spec.vent_per_s_min / 2))
    with pytest.raises(ValueError, match="pressure_noise_mmhg"):
        Supervisor(replace(spec, pressure_noise_mmhg=0.0))
    with pytest.raises(ValueError, match="stall_mmhg"):
        Supervisor(replace(spec, stall_mmhg=math.nan))
    with pytest.raises(ValueError, match="PumpSpec"):
        Supervisor("sim")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("side", "ceiling", "match"),
    [
        pytest.param(LEFT, -10.0, "ceiling_mmhg", id="negative"),
        pytest.param(LEFT, 0.0, "ceiling_mmhg", id="zero"),
        pytest.param(RIGHT, math.nan, "ceiling_mmhg", id="nan"),
        pytest.param(RIGHT, math.inf, "ceiling_mmhg", id="inf"),
        pytest.param(LEFT, 301.0, "hard cap", id="above-the-cap"),
        pytest.param("middle", 180.0, "side", id="unknown-side"),
    ],
)
def test_invalid_ceilings_are_refused(side: Side, ceiling: float, match: str) -> None:
    supervisor = make_supervisor(make_pump(), None)
    with pytest.raises(ValueError, match=match):
        supervisor.set_ceiling(side, ceiling)


def test_a_ceiling_may_be_named_by_string() -> None:
    supervisor = make_supervisor(make_pump(), None)
    supervisor.set_ceiling("left", 150.0)  # type: ignore[arg-type]
    check = _checker(supervisor)
    assert check(0.0, 0.0) is None


@pytest.mark.parametrize(
    ("now_s", "commands", "late_s", "match"),
    [
        pytest.param(0.02, ((1.5, False), (0.0, True)), 0.0, "duties", id="duty-above-one"),
        pytest.param(0.02, ((0.0, True), (-0.1, True)), 0.0, "duties", id="duty-negative"),
        pytest.param(0.02, ((math.nan, True), (0.0, True)), 0.0, "duties", id="duty-nan"),
    ],
)
def test_invalid_ticks_are_refused(
    now_s: float,
    commands: tuple[tuple[float, bool], tuple[float, bool]],
    late_s: float,
    match: str,
) -> None:
    supervisor = make_supervisor(make_pump())
    healthy = ((0.0, True), (0.0, True))
    assert supervisor.check(0.01, (0.0, 0.0), (0.0, 0.0), None, healthy, frozenset()) is None
    with pytest.raises(ValueError, match=match):
        supervisor.check(now_s, (0.0, 0.0), (0.0, 0.0), None, commands, frozenset(), late_s)


@pytest.mark.parametrize(
    ("now_s", "late_s", "reason"),
    [
        pytest.param(0.01, 0.0, FaultReason.CLOCK_JUMP, id="time-repeats"),
        pytest.param(0.005, 0.0, FaultReason.CLOCK_JUMP, id="time-goes-back"),
        pytest.param(5.0, 0.0, FaultReason.CLOCK_JUMP, id="time-jumps-forward"),
        pytest.param(math.nan, 0.0, FaultReason.CLOCK_JUMP, id="time-nan"),
        pytest.param(math.inf, 0.0, FaultReason.CLOCK_JUMP, id="time-inf"),
        pytest.param(0.02, math.nan, FaultReason.LOOP_OVERRUN, id="late-nan"),
    ],
)
def test_a_clock_that_jumps_is_a_fault_never_an_exception(
    now_s: float, late_s: float, reason: FaultReason
) -> None:
    supervisor = make_supervisor(make_pump())
    healthy = ((0.0, True), (0.0, True))
    assert supervisor.check(0.01, (0.0, 0.0), (0.0, 0.0), None, healthy, frozenset()) is None
    fault = supervisor.check(now_s, (0.0, 0.0), (0.0, 0.0), None, healthy, frozenset(), late_s)
    assert fault is not None
    assert fault.reason is reason
    assert_plain_message(fault)
