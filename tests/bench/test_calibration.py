"""The twin reproduces the published figures of twin.md §3 (rows C1-C13).

The full check (200 parents) is ``letdown twin calibrate``; here the same runs and the
same rows, with the same tolerances, on a smaller generated cohort so the suite stays
short.
"""

from __future__ import annotations

import dataclasses

import pytest

from letdown.bench.calibration import (
    ParentRun,
    Row,
    evaluate,
    measure_ejections,
    run_cohort,
    run_single_sides,
)
from letdown.device.base import Side
from letdown.twin.cohort import generate_cohort
from letdown.twin.sources import PRIME_2012_DOUBLE

ROW_IDS = [f"C{i}" for i in range(1, 14)]
PARENTS = 12
SEED = 1
COMPARE_N = 4
"""A small cohort keeps the suite short now that every reference program first finds the
parent's MCV with Kent's protocol under the safety core; `letdown twin calibrate` runs 200."""
C1_PARENTS = 40
C1_SEED = 31
"""C1 varies most from parent to parent (sd about 13 points of the available milk in the
twin): on 12 parents its mean moves ± 3.6 points by chance against a tolerance of ± 5
(seed 1's 12 removed 60.6 % when five cohorts of 40 removed 68-73 %), so C1 is checked
on a cohort of 40 pumping one side only (± 2 points by chance)."""


@pytest.fixture(scope="module")
def runs(pytestconfig: pytest.Config) -> list[ParentRun]:
    """The cohort's runs (a minute or more on two cores), showing how far they are."""
    cohort = generate_cohort(PARENTS, seed=SEED, profile="typical")
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")

    def progress(done: int, total: int) -> None:
        if reporter is not None:
            end = "\n" if done == total else ""
            reporter.write(f"\r  calibration: {done}/{total} parents run{end}", flush=True)

    return run_cohort(cohort, compare_n=COMPARE_N, jobs=2, progress=progress)


@pytest.fixture(scope="module")
def rows(runs: list[ParentRun]) -> dict[str, Row]:
    rows = {row.id: row for row in evaluate(runs)}
    cohort = generate_cohort(C1_PARENTS, seed=C1_SEED, profile="typical")
    # C1 reads only each parent's single-side share; the rest of the run is a placeholder.
    single = [
        dataclasses.replace(runs[0], single_pct=pct) for pct in run_single_sides(cohort, jobs=2)
    ]
    rows["C1"] = {row.id: row for row in evaluate(single)}["C1"]
    return rows


def test_every_row_of_twin_md_is_checked(rows: dict[str, Row]) -> None:
    assert sorted(rows, key=lambda r: int(r[1:])) == ROW_IDS


@pytest.mark.parametrize("row_id", ROW_IDS)
def test_twin_matches_published_figure(rows: dict[str, Row], row_id: str) -> None:
    row = rows[row_id]
    assert row.ok, f"{row.id} {row.figure}: twin {row.value} vs target {row.target} {row.tolerance}"


def test_right_and_left_are_measured_per_parent(runs: list[ParentRun]) -> None:
    # C13 must come from what each parent produced, not be the same answer for all.
    assert {run.right_more for run in runs} == {True, False}


def test_kent_protocol_finds_each_sides_own_ceiling(runs: list[ParentRun]) -> None:
    cohort = generate_cohort(PARENTS, seed=SEED, profile="typical")
    for run in runs:
        parent = cohort.parents[run.index]
        truth = (parent.sides.left.comfort_mmhg, parent.sides.right.comfort_mmhg)
        for found, true in zip(run.mcv_mmhg, truth, strict=True):
            assert abs(found - true) <= 12.0


def test_rows_fail_when_the_twin_is_off(runs: list[ParentRun]) -> None:
    stingy = [dataclasses.replace(run, single_pct=run.single_pct * 0.5) for run in runs]
    rows = {row.id: row for row in evaluate(stingy)}
    assert not rows["C1"].ok
    lopsided = [dataclasses.replace(run, right_more=True) for run in runs]
    assert not {row.id: row for row in evaluate(lopsided)}["C13"].ok
    rhythm = [
        dataclasses.replace(run, three_phase_pct=(run.three_phase_pct or 0) * 1.2) for run in runs
    ]
    assert not {row.id: row for row in evaluate(rhythm)}["C10"].ok


def _scales(
    rises: list[tuple[float, float, float]], length_s: float = 600.0
) -> list[tuple[float, float, float]]:
    """Noise-free bottle-scale readings at 10 Hz: ``(start_s, duration_s, ml_min)`` rises."""
    samples = []
    volume = 0.0
    for tenth in range(int(length_s * 10)):
        at_s = tenth / 10
        for start_s, duration_s, ml_min in rises:
            if start_s <= at_s < start_s + duration_s:
                volume += ml_min / 600.0
        samples.append((at_s, volume / 2, volume / 2))
    return samples


def test_ejections_are_counted_and_timed_from_the_flow_the_scales_show() -> None:
    measured = measure_ejections(_scales([(30.0, 90.0, 40.0), (250.0, 60.0, 30.0)]))
    assert measured.ejections == 2
    assert measured.durations_s == pytest.approx((90.0, 60.0), abs=8.0)
    # A rise too weak to show in the flow is not an ejection the studies would count.
    assert measure_ejections(_scales([(30.0, 90.0, 40.0), (250.0, 60.0, 3.0)])).ejections == 1


def test_an_ejection_that_starts_before_the_last_one_ended_is_counted() -> None:
    # The first ejection wanes to 15 mL/min but never stops; the next one rises from there.
    waning = [(30.0, 60.0, 40.0), (90.0, 40.0, 15.0), (130.0, 60.0, 40.0)]
    measured = measure_ejections(_scales(waning))
    assert measured.ejections == 2
    assert measured.starts_s[1] == pytest.approx(130.0, abs=8.0)


def test_only_the_pumped_sides_milk_is_read() -> None:
    pumped = _scales([(30.0, 90.0, 40.0)])
    # A bottle on the side not pumped (bumped, topped up) is not that side's let-down.
    other = _scales([(300.0, 60.0, 60.0)])
    samples = [
        (at_s, left, right) for (at_s, left, _), (_, _, right) in zip(pumped, other, strict=True)
    ]
    assert measure_ejections(samples, (Side.LEFT,)).ejections == 1
    assert measure_ejections(samples).ejections == 2


def _made_up(index: int, **changes: object) -> ParentRun:
    """A parent's runs with plausible figures, to check the rows' arithmetic quickly."""
    run = ParentRun(
        index=index,
        mcv_mmhg=(188.0, 192.0),
        single_pct=65.0,
        single_ejections=4,
        double_pct=70.0,
        double_ejections=5,
        first_share_pct=44.0,
        first_two_share_pct=62.0,
        first_beats_third=True,
        durations_s=(120.0, 90.0),
        peak_flow_ml_min=50.0,
        right_more=index % 3 != 0,
        soft_pct=58.0,
        classic_pct=69.0,
        classic_ejections=5,
        three_phase_pct=69.5,
        three_phase_ejections=5,
        sequential_pct=62.0,
    )
    return dataclasses.replace(run, **changes)  # type: ignore[arg-type]


def test_simultaneous_pumping_cites_one_source_whatever_its_verdict() -> None:
    passing = {row.id: row for row in evaluate([_made_up(i) for i in range(10)])}["C11"]
    worse = [_made_up(i, sequential_pct=80.0) for i in range(10)]
    failing = {row.id: row for row in evaluate(worse)}["C11"]
    assert passing.ok
    assert not failing.ok
    assert failing.source == passing.source == PRIME_2012_DOUBLE
