"""``letdown bench efficacy``: an honest yardstick (issue 9, part 6), on short sessions."""

from __future__ import annotations

import pytest

from letdown.bench.efficacy import (
    CONTROLLERS,
    kent_mcv,
    run_controller,
    run_efficacy,
    summarise,
)
from letdown.device.base import Side
from letdown.twin.cohort import Cohort, EjectionSpec, ParentSpec, SideSpec, SidesSpec

KEYS = {
    "yield_pct",
    "t80_s",
    "reach_baseline_s",
    "above_ceiling_s",
    "above_ceiling_s_median",
    "noticed_pain_s",
    "presses",
    "length_s",
}


def parent(left: float = 160.0, right: float = 200.0) -> ParentSpec:
    return ParentSpec(
        id="e",
        ejection=EjectionSpec(latency_s=40.0, interval_s=100.0, count_max=4),
        sides=SidesSpec(left=SideSpec(comfort_mmhg=left), right=SideSpec(comfort_mmhg=right)),
    )


def test_the_baseline_parent_finds_each_sides_mcv_with_kents_protocol() -> None:
    found = kent_mcv(parent(), "1:0")
    # Found by pressing "that's my limit", so near each side's hidden comfort, not it.
    assert 145.0 <= found[Side.LEFT] <= 165.0
    assert 185.0 <= found[Side.RIGHT] <= 205.0


def test_one_knob_per_side_beats_one_knob_on_unequal_sides() -> None:
    one_knob = run_controller("two-phase", parent(), "1:0", 4.0)
    two_knobs = run_controller("two-phase-sides", parent(), "1:0", 4.0)
    # One knob must suit the more sensitive side, so the other side runs 40 mmHg soft.
    assert two_knobs.yield_pct > one_knob.yield_pct + 1.0


def test_the_oracle_is_the_zero_pain_limit() -> None:
    oracle = run_controller("oracle", parent(), "1:0", 3.0)
    assert oracle.above_ceiling_s == 0.0
    best_baseline = run_controller("two-phase-sides", parent(), "1:0", 3.0)
    assert oracle.yield_pct >= best_baseline.yield_pct


def test_two_sessions_give_letdowns_second_session_from_what_it_learned() -> None:
    cohort = Cohort(name="one", seed=4, parents=[parent()])
    results = run_efficacy(cohort, CONTROLLERS, minutes=2.0, sessions=2, jobs=1)
    summary = summarise(cohort, 2.0, results)
    rows = summary["controllers"]
    assert list(rows) == list(CONTROLLERS)
    assert set(rows["letdown"]) == KEYS | {"learned"}
    assert set(rows["letdown"]["learned"]) == KEYS
    for name in CONTROLLERS[1:]:
        assert set(rows[name]) == KEYS
    # The second session starts from the learned ceilings: no search above comfort.
    assert rows["letdown"]["learned"]["above_ceiling_s"] < rows["letdown"]["above_ceiling_s"]
    assert rows["letdown"]["learned"]["yield_pct"] > 0


def test_bad_arguments_are_refused() -> None:
    cohort = Cohort(name="one", seed=4, parents=[parent()])
    with pytest.raises(ValueError, match="sessions"):
        run_efficacy(cohort, CONTROLLERS, minutes=1.0, sessions=3)
    with pytest.raises(ValueError, match="magic"):
        run_efficacy(cohort, ["magic"], minutes=1.0)


def test_felt_pain_counts_only_what_a_parent_could_notice() -> None:
    from letdown.device.sim import SimPump
    from letdown.pump.program import CONSTANT
    from letdown.pump.runner import run_program

    numb = SideSpec(comfort_mmhg=160.0, pain_per_mmhg=0.03)
    dull = ParentSpec(id="dull", sides=SidesSpec(left=numb, right=numb))
    # 4 mmHg over a side that feels little: above its comfort, but never noticed ...
    with SimPump(dull, seed=1) as pump:
        run_program(pump, CONSTANT, dict.fromkeys((Side.LEFT, Side.RIGHT), 164.0), duration_s=20.0)
        assert pump.twin.above_comfort_s(Side.LEFT) > 3.0
        assert pump.twin.noticed_pain_s(Side.LEFT) == 0.0
    # ... 40 mmHg over is felt.
    with SimPump(dull, seed=1) as pump:
        run_program(pump, CONSTANT, dict.fromkeys((Side.LEFT, Side.RIGHT), 200.0), duration_s=20.0)
        assert pump.twin.noticed_pain_s(Side.LEFT) > 1.0
