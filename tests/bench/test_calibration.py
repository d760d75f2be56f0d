"""The twin reproduces the published figures of twin.md §3 (rows C1-C13).

The full check (200 parents) is ``letdown twin calibrate``; here the same runs and the
same rows, with the same tolerances, on a smaller generated cohort so the suite stays
short.
"""

from __future__ import annotations

import dataclasses

import pytest

from letdown.bench.calibration import ParentRun, Row, evaluate, run_cohort
from letdown.twin.cohort import generate_cohort

ROW_IDS = [f"C{i}" for i in range(1, 14)]


@pytest.fixture(scope="module")
def runs(pytestconfig: pytest.Config) -> list[ParentRun]:
    """The cohort's runs (a minute or more on two cores), showing how far they are."""
    cohort = generate_cohort(60, seed=3, profile="typical")
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")

    def progress(done: int, total: int) -> None:
        if reporter is not None and (done % 5 == 0 or done == total):
            end = "\n" if done == total else ""
            reporter.write(f"\r  calibration: {done}/{total} parents run{end}", flush=True)

    return run_cohort(cohort, compare_n=16, jobs=2, progress=progress)


@pytest.fixture(scope="module")
def rows(runs: list[ParentRun]) -> dict[str, Row]:
    return {row.id: row for row in evaluate(runs)}


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
    cohort = generate_cohort(60, seed=3, profile="typical")
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
