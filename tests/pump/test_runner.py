"""The program runner on the simulated pump: tracking, sides, stop, faults, limits."""

from __future__ import annotations

import pytest
from tests.conftest import make_parent

from letdown.device.base import SIDES, PressKind, Side
from letdown.device.sim import SimPump
from letdown.pump.comfort import find_limits
from letdown.pump.program import CONSTANT, TWO_PHASE, Phase, PhaseKind, Program
from letdown.pump.runner import TickView, run_program

CEILINGS = dict.fromkeys(SIDES, 180.0)


def cycle_peaks(pump: SimPump, side: Side, seconds: float, peak_mmhg: float) -> list[float]:
    """Run a constant program and collect the true peak vacuum of each cycle."""
    peaks: list[float] = []
    current = 0.0

    def watch(view: TickView) -> None:
        nonlocal current
        vacuum = pump.twin.true_vacuum_mmhg(side)
        if vacuum > current:
            current = vacuum
        if vacuum < 20.0 and current > 100.0:
            peaks.append(current)
            current = 0.0

    program = Program("steady", (Phase(PhaseKind.EXPRESSION, seconds, 60.0, peak_mmhg, None, 0.4),))
    run_program(pump, program, CEILINGS, on_tick=watch, view_every=1)
    return peaks


def test_each_cycle_peaks_within_10_mmhg_of_the_set_peak_after_the_ramp(pump: SimPump) -> None:
    peaks = cycle_peaks(pump, Side.LEFT, 40.0, 180.0)
    # The safety core starts each side at 80 mmHg and lets it rise 10 mmHg/s.
    ramp = [peak for peak in peaks[:12] if peak < 170.0]
    assert ramp == sorted(ramp) and ramp[0] < 110.0
    settled = peaks[12:]
    assert len(settled) >= 25
    assert all(abs(peak - 180.0) <= 10.0 for peak in settled), settled


def test_single_side_run_leaves_the_other_side_vented(pump: SimPump) -> None:
    seen: list[float] = []
    run_program(
        pump,
        CONSTANT,
        CEILINGS,
        sides=(Side.RIGHT,),
        duration_s=20.0,
        on_tick=lambda view: seen.append(pump.twin.true_vacuum_mmhg(Side.LEFT)),
        view_every=1,
    )
    assert max(seen) < 5.0
    assert pump.twin.removed_ml(Side.LEFT) == 0.0


def test_run_ends_at_program_end_with_motors_off_and_vents_open(pump: SimPump) -> None:
    result = run_program(pump, CONSTANT, CEILINGS, duration_s=10.0)
    assert result.ended_by == "end"
    assert result.duration_s == pytest.approx(10.0, abs=0.02)
    for side in SIDES:
        assert pump.twin.motor_duty(side) == 0.0
    pump.clock.sleep_until(pump.clock.now_s() + 0.5)
    for side in SIDES:
        assert pump.twin.vent_open(side)
        assert pump.twin.true_vacuum_mmhg(side) < 2.0


def test_stop_button_ends_the_run(pump: SimPump) -> None:
    def press_stop(view: TickView) -> None:
        if view.elapsed_s >= 5.0:
            pump.press(PressKind.STOP)

    result = run_program(pump, TWO_PHASE, CEILINGS, on_tick=press_stop, view_every=1)
    assert result.ended_by == "stop"
    assert result.duration_s < 5.2
    assert [press.kind for press in result.presses] == [PressKind.STOP]


def test_watchdog_trip_ends_the_run_as_a_fault(pump: SimPump) -> None:
    pump.inject("loop_stall", at_s=3.0, duration_s=0.5)
    result = run_program(pump, CONSTANT, CEILINGS, duration_s=20.0)
    assert result.ended_by == "fault"
    # The stall swallows kicks from 3.0 s; the watchdog cuts out 250 ms after the last one.
    assert result.ended_at_s == pytest.approx(2.99 + 0.25, abs=1e-6)


def test_missing_ceiling_or_bad_sides_are_refused(pump: SimPump) -> None:
    with pytest.raises(ValueError, match="no comfort ceiling for right"):
        run_program(pump, CONSTANT, {Side.LEFT: 180.0})
    with pytest.raises(ValueError, match="sides"):
        run_program(pump, CONSTANT, CEILINGS, sides=())


def test_kent_protocol_finds_each_side_on_its_own() -> None:
    parent = make_parent(left_comfort=150.0, right_comfort=205.0)
    with SimPump(parent, seed=4) as pump:
        limits = find_limits(pump)
    assert limits[Side.LEFT].pressed and limits[Side.RIGHT].pressed
    assert limits[Side.LEFT].ceiling_mmhg == pytest.approx(150.0, abs=10.0)
    assert limits[Side.RIGHT].ceiling_mmhg == pytest.approx(205.0, abs=10.0)


def test_kent_protocol_stops_at_its_maximum_when_nothing_hurts() -> None:
    parent = make_parent(pain_per_mmhg=0.0)
    with SimPump(parent, seed=4) as pump:
        limits = find_limits(pump, start_mmhg=200.0, max_mmhg=220.0)
    assert not limits[Side.LEFT].pressed
    assert limits[Side.LEFT].ceiling_mmhg == 220.0
