"""Programs are data, checked when made: clear errors for anything out of bounds."""

from __future__ import annotations

import math

import pytest

from letdown.errors import LetdownError, ProgramError
from letdown.pump.program import (
    HARD_CAP_MMHG,
    PROGRAMS,
    TWO_PHASE,
    Phase,
    PhaseKind,
    Program,
)


def expression(**changes: object) -> Phase:
    fields: dict[str, object] = {
        "kind": PhaseKind.EXPRESSION,
        "duration_s": 60.0,
        "rate_cpm": 60.0,
        "peak_mmhg": 150.0,
        "hold_s": 0.5,
    }
    fields.update(changes)
    return Phase(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rate_cpm": 19.0}, "rate_cpm must be within 20-130"),
        ({"rate_cpm": 131.0}, "rate_cpm must be within 20-130"),
        ({"hold_s": 1.2}, "hold_s must be within 0-1"),
        ({"peak_mmhg": HARD_CAP_MMHG + 1}, "hard cap"),
        ({"peak_mmhg": -5.0}, "peak_mmhg must be within"),
        ({"peak_mmhg": None}, "exactly one of peak_mmhg and peak_fraction"),
        ({"peak_fraction": 0.5}, "exactly one of peak_mmhg and peak_fraction"),
        ({"duration_s": 0.0}, "duration_s must be > 0"),
        ({"rate_cpm": math.nan}, "rate_cpm must be a finite number"),
        ({"peak_mmhg": math.inf}, "peak_mmhg must be a finite number"),
        ({"kind": "massage"}, "massage"),
    ],
)
def test_invalid_phase_is_refused_with_the_reason(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expression(**changes)


def test_program_errors_are_letdown_errors() -> None:
    with pytest.raises(LetdownError):
        expression(hold_s=2.0)
    with pytest.raises(ProgramError, match="no phases"):
        Program("empty", ())


def test_fraction_peaks_follow_each_sides_ceiling() -> None:
    phase = expression(peak_mmhg=None, peak_fraction=0.8)
    assert phase.peak_for(150.0) == pytest.approx(120.0)
    assert phase.peak_for(200.0) == pytest.approx(160.0)


def test_rest_phase_has_no_suction() -> None:
    rest = Phase(PhaseKind.REST, 30.0)
    assert rest.peak_for(190.0) == 0.0


def test_reference_program_is_two_minutes_stimulation_then_expression() -> None:
    stimulation, expression_phase = TWO_PHASE.phases
    assert stimulation.kind is PhaseKind.STIMULATION
    assert stimulation.duration_s == 120.0
    assert 100 <= stimulation.rate_cpm <= 120
    assert expression_phase.kind is PhaseKind.EXPRESSION
    assert 50 <= expression_phase.rate_cpm <= 70
    assert expression_phase.peak_fraction == 1.0
    assert TWO_PHASE.duration_s == 15 * 60
    assert TWO_PHASE.phase_at(119.9)[1] is stimulation
    assert TWO_PHASE.phase_at(120.0)[1] is expression_phase


def test_softer_program_scales_every_peak() -> None:
    soft = TWO_PHASE.scaled(0.6)
    assert [p.peak_fraction for p in soft.phases] == pytest.approx([0.3, 0.6])
    assert soft.duration_s == TWO_PHASE.duration_s


def test_shipped_programs_are_named_by_their_key() -> None:
    assert {"two-phase", "constant", "classic-47", "three-phase"} <= set(PROGRAMS)
    for name, program in PROGRAMS.items():
        assert program.name == name
