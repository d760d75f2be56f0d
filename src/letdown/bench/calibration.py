"""Checking the twin against published figures (twin.md §3, rows C1-C13).

Every simulated parent runs the reference programs on the simulated pump, through the
same device seam a controller uses; the rows compare cohort statistics with the
published targets. Each row measures what its study measured: the programs run at the
maximum comfortable vacuum (MCV) that Kent et al. 2008's stepwise protocol finds for
each side (not the twin's hidden comfort value), ejections are counted and timed from
the flow curve the bottle scales recorded, read after the session as the studies read
theirs (Prime et al. 2009), not taken from the twin's truth. Comparisons between
programs (C9-C11) are paired: the same parents, the same seeds, only the program differs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from letdown.bench.pool import map_tasks
from letdown.device.base import SIDES, Clock, Side
from letdown.device.sim import SimPump
from letdown.pump.comfort import find_limits
from letdown.pump.program import CLASSIC_47, THREE_PHASE, TWO_PHASE, Program
from letdown.pump.runner import run_program
from letdown.twin.cohort import Cohort, ParentSpec
from letdown.twin.model import PneumaticsSpec, Twin
from letdown.twin.sources import (
    GARDNER_2015_DURATION,
    KENT_2006_RIGHT,
    KENT_2008_EJECTIONS,
    KENT_2008_MCV,
    KENT_2008_YIELD,
    PRIME_2011_EJECTIONS,
    PRIME_2011_SHARE,
    PRIME_2012_DOUBLE,
    RAMSAY_2005_PATTERN,
    RAMSAY_2005_SHARE,
    RAMSAY_2006_PEAK_FLOW,
    Source,
)

SOFT_FRACTION = 0.6
"""C9: the reference program at 60 % of each side's comfortable vacuum."""


@dataclass(frozen=True, slots=True)
class ParentRun:
    """What one parent's sessions showed (truth read from the twin)."""

    index: int
    mcv_mmhg: tuple[float, ...]
    single_pct: float
    single_ejections: int
    double_pct: float
    double_ejections: int
    first_share_pct: float | None
    first_two_share_pct: float | None
    first_beats_third: bool | None
    durations_s: tuple[float, ...]
    peak_flow_ml_min: float
    right_more: bool
    soft_pct: float | None
    classic_pct: float | None
    classic_ejections: int | None
    three_phase_pct: float | None
    three_phase_ejections: int | None
    sequential_pct: float | None


@dataclass(frozen=True, slots=True)
class Row:
    """One calibration row: the published figure, the twin's value and the verdict."""

    id: str
    figure: str
    target: str
    tolerance: str
    value: float
    ok: bool
    source: Source


class _Scales:
    """Wraps the simulated clock to keep every new bottle-scale reading of both sides."""

    def __init__(self, pump: SimPump) -> None:
        self._pump = pump
        self._inner: Clock = pump.clock
        self._last_at_s = -1.0
        self.samples: list[tuple[float, float, float]] = []

    def now_s(self) -> float:
        return self._inner.now_s()

    def sleep_until(self, at_s: float) -> None:
        self._inner.sleep_until(at_s)
        left, right = (self._pump.read_volume(side) for side in SIDES)
        if left is None or right is None or left.at_s == self._last_at_s:
            return
        self._last_at_s = left.at_s
        self.samples.append((left.at_s, left.volume_ml, right.volume_ml))


class _ScaledPump(SimPump):
    def __init__(self, parent: ParentSpec, seed: str) -> None:
        super().__init__(parent, seed=seed)
        self.scales = _Scales(self)
        self._clock = self.scales


STUDY_WINDOW_S = 15.0
"""The flow curve a study reads after the session: the slope of the scales' volume over a
centred 15 s window (the studies drew flow from a balance and read the whole curve
afterwards, Prime et al. 2009; a real-time detector has only the past, ours 5 s of it)."""
SCALE_NOISE_ML = PneumaticsSpec().volume_noise_ml
"""The bottle scales' noise (TWIN_MD_SENSORS: about 0.5 mL), which sets how small a rise
shows."""
RISE_NOISE_SDS = 7.0
"""A rise counts as an ejection when the flow climbs this many noise sds above its lowest
since the last one ..."""
RISE_TROUGH_FRACTION = 0.3
"""... and by at least this fraction of that lowest flow (a program that steps its vacuum
up moves the flow by a fraction of what it was, not by an ejection's rise), ..."""
WANED_FRACTION = 0.6
"""... once the last one's flow has waned under this fraction of its peak (ejections
overlap: they recur every 2-3 min and last 45 s to 3.5 min). These were chosen against
the twin's true ejections on two cohorts (seeds 1 and 11: with the rise relative to the
last peak instead, a parent whose first ejection was strong had its later ones missed)
and checked on a third (seed 7): 92-100 % of the rises counted are true ejections, and
86-100 % of the true ones are counted (Prime et al. 2009: flow found 4.2 of 4.5)."""
END_FRACTION = 0.35
"""An ejection ends when its flow falls under this fraction of its peak, or the next
one begins (measured from the rise instead, overlapping ejections looked shorter still:
74-87 % within Gardner's range against 94 %)."""


@dataclass(frozen=True, slots=True)
class Measured:
    """Ejections as a study reads them from the flow the bottle scales recorded."""

    ejections: int
    durations_s: tuple[float, ...]
    """Rise to fall of each ejection that ended before the session did."""
    starts_s: tuple[float, ...] = ()


def study_flow_ml_min(times_s: np.ndarray, volume_ml: np.ndarray) -> np.ndarray:
    """Flow (mL/min) at each sample: the least-squares slope over a centred window."""
    n = len(times_s)
    half = round(STUDY_WINDOW_S * 10) // 2
    index = np.arange(n)
    low, high = np.clip(index - half, 0, n), np.clip(index + half + 1, 0, n)

    def window_sum(values: np.ndarray) -> np.ndarray:
        cumulative = np.concatenate(([0.0], np.cumsum(values)))
        return cumulative[high] - cumulative[low]

    t = times_s - times_s[0]
    count = (high - low).astype(float)
    st, sv = window_sum(t), window_sum(volume_ml)
    spread = window_sum(t * t) - st * st / count
    flow = np.zeros(n)
    ok = spread > 1e-9
    flow[ok] = 60.0 * (window_sum(t * volume_ml)[ok] - st[ok] * sv[ok] / count[ok]) / spread[ok]
    return flow


def measure_ejections(
    samples: Sequence[tuple[float, float, float]], sides: Sequence[Side] = SIDES
) -> Measured:
    """Count and time the ejections in scale readings ``(at_s, left_ml, right_ml)``.

    As the studies did (Prime et al. 2009 counted ejections from flow, 4.2 a session
    against 4.5 by ultrasound): the pumped sides' milk summed, its flow curve read after
    the session, a rise of the flow an ejection and its fall the end.
    """
    if len(samples) < 3:
        return Measured(0, ())
    data = np.asarray(samples, dtype=float)
    columns = [1 + SIDES.index(side) for side in sides]
    times_s = data[:, 0]
    flow = study_flow_ml_min(times_s, data[:, columns].sum(axis=1))
    window = round(STUDY_WINDOW_S * 10)
    # Only where the whole window fits: at the ends of the recording the slope is noise.
    times_s, flow = times_s[window // 2 : -(window // 2)], flow[window // 2 : -(window // 2)]
    if len(flow) < 3:
        return Measured(0, ())
    slope_sd = SCALE_NOISE_ML * math.sqrt(12.0 / (window * STUDY_WINDOW_S**2)) * 60.0
    rise_ml_min = RISE_NOISE_SDS * slope_sd * math.sqrt(len(columns))
    starts: list[float] = []
    ends: list[float | None] = []
    inside = False
    trough = peak = float(flow[0])
    for at_s, value in zip(times_s.tolist(), flow.tolist(), strict=True):
        if not inside:
            trough = min(trough, value)
            if value >= trough + rise_ml_min:
                inside = True
                starts.append(at_s)
                ends.append(None)
                peak = trough = value
            continue
        if value > peak:
            peak = trough = value
        elif value < trough:
            trough = value
        if ends[-1] is None and value < END_FRACTION * peak:
            ends[-1] = at_s
        if trough < WANED_FRACTION * peak and value >= trough + max(
            rise_ml_min, RISE_TROUGH_FRACTION * trough
        ):
            if ends[-1] is None:
                ends[-1] = at_s
            starts.append(at_s)
            ends.append(None)
            peak = trough = value
    durations = tuple(end - start for start, end in zip(starts, ends, strict=True) if end)
    return Measured(len(starts), durations, tuple(starts))


def kent_mcv(parent: ParentSpec, seed: str) -> dict[Side, float]:
    """Each side's MCV as Kent et al. 2008's stepwise protocol finds it."""
    with SimPump(parent, seed=seed) as pump:
        limits = find_limits(pump)
    return {side: limits[side].ceiling_mmhg for side in SIDES}


def _removed_pct(twin: Twin, sides: Sequence[Side] = SIDES) -> float:
    available = sum(twin.available_ml(side) for side in sides)
    removed = sum(twin.removed_ml(side) for side in sides)
    return 100.0 * removed / available if available > 0 else 0.0


def _session(
    parent: ParentSpec,
    seed: str,
    program: Program,
    ceilings: dict[Side, float],
    sides: Sequence[Side] = SIDES,
) -> tuple[Twin, Measured]:
    with _ScaledPump(parent, seed) as pump:
        run_program(pump, program, ceilings, sides=sides)
        return pump.twin, measure_ejections(pump.scales.samples, sides)


def run_parent(parent: ParentSpec, seed: str, index: int, compare: bool) -> ParentRun:
    """Every calibration session of one parent; ``compare`` adds C9-C11's programs.

    The programs run at the MCV the stepwise protocol finds for each side.
    """
    found = kent_mcv(parent, seed)
    mcv = tuple(found[side] for side in SIDES)

    single_side = SIDES[index % 2]
    single, single_seen = _session(parent, seed, TWO_PHASE, found, (single_side,))
    double, double_seen = _session(parent, seed, TWO_PHASE, found)
    removed_ml = sum(double.removed_ml(side) for side in SIDES)
    ejections = double.ejections
    volumes = [sum(e.volume_ml) for e in ejections]
    peaks = [max(e.peak_flow_ml_min) for e in ejections]
    first_beats_third = None
    if len(ejections) >= 3:
        first_beats_third = peaks[0] > statistics.fmean(peaks[2:])

    soft = classic = three = sequential_pct = None
    classic_seen = three_seen = None
    if compare:
        soft, _ = _session(parent, seed, TWO_PHASE.scaled(SOFT_FRACTION), found)
        classic, classic_seen = _session(parent, seed, CLASSIC_47, found)
        three, three_seen = _session(parent, seed, THREE_PHASE, found)
        with SimPump(parent, seed=seed) as pump:
            half_s = TWO_PHASE.duration_s / 2
            for side in SIDES:
                run_program(pump, TWO_PHASE, found, sides=(side,), duration_s=half_s)
            sequential_pct = _removed_pct(pump.twin)
    return ParentRun(
        index=index,
        mcv_mmhg=mcv,
        single_pct=_removed_pct(single, (single_side,)),
        single_ejections=single_seen.ejections,
        double_pct=_removed_pct(double),
        double_ejections=double_seen.ejections,
        first_share_pct=100.0 * volumes[0] / removed_ml if volumes and removed_ml else None,
        first_two_share_pct=100.0 * sum(volumes[:2]) / removed_ml
        if volumes and removed_ml
        else None,
        first_beats_third=first_beats_third,
        durations_s=double_seen.durations_s,
        peak_flow_ml_min=max(peaks, default=0.0),
        right_more=double.removed_ml(Side.RIGHT) > double.removed_ml(Side.LEFT),
        soft_pct=None if soft is None else _removed_pct(soft),
        classic_pct=None if classic is None else _removed_pct(classic),
        classic_ejections=None if classic_seen is None else classic_seen.ejections,
        three_phase_pct=None if three is None else _removed_pct(three),
        three_phase_ejections=None if three_seen is None else three_seen.ejections,
        sequential_pct=sequential_pct,
    )


def _run_one(args: tuple[ParentSpec, str, int, bool]) -> ParentRun:
    return run_parent(*args)


def single_side_pct(parent: ParentSpec, seed: str, index: int) -> float:
    """C1's session alone, as ``run_parent`` runs it: the side it pumps alone, at its Kent
    MCV, % of that side's available milk removed in 15 min (C1 on more parents for less)."""
    found = kent_mcv(parent, seed)
    side = SIDES[index % 2]
    single, _ = _session(parent, seed, TWO_PHASE, found, (side,))
    return _removed_pct(single, (side,))


def _single_one(args: tuple[ParentSpec, str, int]) -> float:
    return single_side_pct(*args)


def run_single_sides(cohort: Cohort, *, jobs: int | None = None) -> list[float]:
    """``single_side_pct`` of every parent of ``cohort``."""
    tasks = [
        (parent, cohort.session_seed(index), index) for index, parent in enumerate(cohort.parents)
    ]
    return map_tasks(_single_one, tasks, jobs=jobs)


def run_cohort(
    cohort: Cohort,
    *,
    compare_n: int = 60,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[ParentRun]:
    """Run every parent (the first ``compare_n`` also with C9-C11's programs)."""
    tasks = [
        (parent, cohort.session_seed(index), index, index < compare_n)
        for index, parent in enumerate(cohort.parents)
    ]
    return map_tasks(_run_one, tasks, jobs=jobs, progress=progress)


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else math.nan


def _rel_diff_pct(a: float, b: float) -> float:
    return 100.0 * (a - b) / b if b else math.nan


def _within(value: float, low: float, high: float) -> bool:
    return low <= value <= high


def evaluate(runs: Sequence[ParentRun]) -> list[Row]:
    """The C1-C13 rows of twin.md §3 from the cohort's runs."""
    if not runs:
        raise ValueError("no parents were run")
    mean = statistics.fmean
    rows: list[Row] = []

    def add(
        id_: str, figure: str, target: str, tol: str, value: float, ok: bool, src: Source
    ) -> None:
        rows.append(
            Row(id_, figure, target, tol, round(value, 3), bool(ok and math.isfinite(value)), src)
        )

    c1 = mean(r.single_pct for r in runs)
    add(
        "C1",
        "single side at MCV: % of available removed in 15 min",
        "65.5 %",
        "± 5 points",
        c1,
        abs(c1 - 65.5) <= 5.0,
        KENT_2008_YIELD,
    )
    c2 = mean(r.single_ejections for r in runs)
    add(
        "C2",
        "single side at MCV: milk ejections in 15 min, mean",
        "4.3",
        "± 0.6",
        c2,
        abs(c2 - 4.3) <= 0.6,
        KENT_2008_EJECTIONS,
    )
    c3 = mean(r.double_ejections for r in runs)
    add(
        "C3",
        "double pumping: milk ejections in 15 min, mean",
        "5.1",
        "± 0.8",
        c3,
        abs(c3 - 5.1) <= 0.8,
        PRIME_2011_EJECTIONS,
    )
    shares = [r.first_share_pct for r in runs if r.first_share_pct is not None]
    c4 = mean(shares) if shares else math.nan
    add(
        "C4",
        "share of the session's volume in the first ejection, mean",
        "41–47 %",
        "36–52 %",
        c4,
        _within(c4, 36.0, 52.0),
        RAMSAY_2005_SHARE,
    )
    shares2 = [r.first_two_share_pct for r in runs if r.first_two_share_pct is not None]
    c5 = mean(shares2) if shares2 else math.nan
    add(
        "C5",
        "share in the first two ejections, mean",
        "62 %",
        "± 8 points",
        c5,
        abs(c5 - 62.0) <= 8.0,
        PRIME_2011_SHARE,
    )
    judged = [r.first_beats_third for r in runs if r.first_beats_third is not None]
    c6 = _pct(sum(judged), len(judged))
    add(
        "C6",
        "flow in ejection 1 higher than in ejection 3 and later, % of parents",
        "≥ 80 %",
        "",
        c6,
        c6 >= 80.0,
        KENT_2008_EJECTIONS,
    )
    durations = [d for r in runs for d in r.durations_s]
    c7 = _pct(sum(45.0 <= d <= 210.0 for d in durations), len(durations))
    add(
        "C7",
        "one ejection lasts 45 s – 3.5 min, % of ejections",
        "≥ 90 %",
        "",
        c7,
        c7 >= 90.0,
        GARDNER_2015_DURATION,
    )
    c8 = mean(m for r in runs for m in r.mcv_mmhg)
    add(
        "C8",
        "MCV found by Kent's stepwise protocol, cohort mean (mmHg)",
        "190.7",
        "± 10",
        c8,
        abs(c8 - 190.7) <= 10.0,
        KENT_2008_MCV,
    )

    paired = [r for r in runs if r.soft_pct is not None]
    if paired:
        ref = mean(r.double_pct for r in paired)
        c9 = -_rel_diff_pct(mean(r.soft_pct or 0.0 for r in paired), ref)
        add(
            "C9",
            "reference program at 60 % of MCV: yield lower by, %",
            "≥ 10 %",
            "",
            c9,
            c9 >= 10.0,
            KENT_2008_YIELD,
        )
        d_yield = _rel_diff_pct(
            mean(r.three_phase_pct or 0.0 for r in paired),
            mean(r.classic_pct or 0.0 for r in paired),
        )
        d_ejections = _rel_diff_pct(
            mean(r.three_phase_ejections or 0 for r in paired),
            mean(r.classic_ejections or 0 for r in paired),
        )
        c10 = max(abs(d_yield), abs(d_ejections))
        add(
            "C10",
            "47/min vs three-phase: largest difference in yield or ejections, %",
            "< 5 %",
            "",
            c10,
            c10 < 5.0,
            RAMSAY_2005_PATTERN,
        )
        c11 = _rel_diff_pct(ref, mean(r.sequential_pct or 0.0 for r in paired))
        add(
            "C11",
            "simultaneous vs sequential in the same time: more milk by, %",
            "> 0 %",
            "",
            c11,
            c11 > 0.0,
            PRIME_2012_DOUBLE,
        )

    flows = sorted(r.peak_flow_ml_min for r in runs)
    c12 = flows[min(len(flows) - 1, math.ceil(0.95 * len(flows)) - 1)]
    add(
        "C12",
        "peak flow during an ejection, cohort 95th percentile (mL/min)",
        "up to ~55",
        "25–70",
        c12,
        _within(c12, 25.0, 70.0),
        RAMSAY_2006_PEAK_FLOW,
    )
    c13 = _pct(sum(r.right_more for r in runs), len(runs))
    add(
        "C13",
        "the right side produces more, % of parents",
        "60–80 %",
        "",
        c13,
        _within(c13, 60.0, 80.0),
        KENT_2006_RIGHT,
    )
    return rows
