"""A personal supply model per side, fitted to the household's own journal.

In one sentence: each side refills at a rate that slows as it nears its storage capacity
(dA/dt = R·(1 − A/C)), every pumping takes a share of what is there and every nursing
feed takes about two thirds of it, and the rate may drift slowly from day to day.

That shape is ``shared/design/supply.md`` §1 (an assumption built on Daly 1993/1996,
Cox 1996, Kent 1999 and Kent 2008, not a published model). Pump sessions with a side's
volume are the observations; nursing feeds, and pump sessions that kept only their total
(what Baby Buddy and many households write), are removals of unknown size. The fit is a
grid over (R, C, pumping share, daily drift) with log-normal priors from those papers
and a profiled log-normal error, weighted towards recent weeks; the grid's posterior
weights give every range. Everything here is an estimate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from letdown.insights import sources
from letdown.journal.records import SIDE_NAMES, NurseFeed, PumpSession, Record, Side

Floats = npt.NDArray[np.float64]

PRIOR_RATE_ML_H = 23.0
"""Cox, Owens & Hartmann 1996: short-term synthesis ~23 mL/h a side."""
PRIOR_RATE_SIGMA = 0.6
"""Log-sd of the rate prior: reference.md gives 0-56 mL/h between parents (Daly 1996; Cox
1996), about a factor of e^0.6 either way for most."""
PRIOR_CAPACITY_ML = 210.0
"""Kent et al. 1999: storage capacity ~210 mL per side."""
PRIOR_CAPACITY_SIGMA = 0.5
"""Log-sd of the capacity prior: Kent 1999/2007 give 74-382 mL per parent (wide)."""
PRIOR_PUMP_SHARE = 0.655
"""Kent et al. 2008: 15 min at the comfort vacuum removes 65.5 % of available milk."""
PRIOR_PUMP_SHARE_SD = 0.12
"""Spread of the pumping share: Daly 1993's 76 ± 20 % for feeds, narrowed (assumption)."""
NURSE_SHARE = 0.67
"""Kent et al. 2006: a breastfeed takes 67.3 ± 7.8 % of available milk."""
PRIOR_DRIFT_SD_PER_DAY = 0.02
"""How fast the rate may drift (log per day): no published rate (Dewey 1986 gives none),
letdown's assumption."""
RECENT_DAYS = 14.0
"""Observations weigh exp(−age / 14 days): the model follows the last weeks (letdown's choice)."""
FIT_DAYS = 35
"""Only the last five weeks are fitted: older ones weigh under 10 %."""
BURN_IN_H = 24.0
"""The first day of a fit only settles the stores and is not scored."""
FLOOR_ML = 5.0
"""Errors are compared on log(volume + 5 mL) so that near-empty sessions do not dominate."""
VARIANCE_FLOOR = 0.05**2
"""Volumes are written to about 5 % (rounding to 5 mL): no fit is surer than that."""
INTERVAL_P = (0.1, 0.9)
"""An 80 % interval."""
INTERVAL_WIDEN = 1.3
"""Residual spread is widened by 30 % for what the fit itself does not know (letdown's choice)."""

RATES_ML_H = np.geomspace(4.0, 130.0, 22)
CAPACITIES_ML = np.geomspace(40.0, 800.0, 17)
PUMP_SHARES = np.array([0.45, 0.6, 0.75, 0.9])
DRIFTS_PER_DAY = np.linspace(-0.06, 0.06, 11)

TOTAL_ONLY_SIDES: tuple[Side, ...] = SIDE_NAMES
"""A pump session that kept only its total is taken as pumped from both sides (a double
pump, as letdown's): the journal does not say which, and never splits a total (letdown's
assumption)."""
DAILY_DAYS = 7
"""Daily totals are the mean over the last 7 days, against the 7 days before."""


@dataclass(frozen=True)
class Removal:
    """Milk taken from one side: pumped (with its volume when known) or nursed.

    ``total_only``: a pumping whose session kept only its total, so this side's share of
    it is unknown.
    """

    at: datetime
    pumped: bool
    volume_ml: float | None = None
    total_only: bool = False


def removals(records: Iterable[Record]) -> dict[Side, list[Removal]]:
    """Each side's removals in time order, from pump sessions and nursing feeds."""
    found: dict[Side, list[Removal]] = {side: [] for side in SIDE_NAMES}
    for record in records:
        if isinstance(record, PumpSession):
            for side, pumped in record.sides.items():
                found[side].append(Removal(record.start_at, True, pumped.volume_ml))
            if not record.sides:
                for side in TOTAL_ONLY_SIDES:
                    found[side].append(Removal(record.start_at, True, total_only=True))
        elif isinstance(record, NurseFeed):
            for side in record.sides:
                found[side].append(Removal(record.start_at, False))
    for side in SIDE_NAMES:
        found[side].sort(key=lambda removal: removal.at)
    return found


@dataclass(frozen=True)
class Daily:
    """Milk pumped a day from both sides together, sessions with a total only included.

    Figures are None when the journal does not reach back over the window.
    """

    ml_day: float | None
    sessions_day: float | None
    before_ml_day: float | None
    before_sessions_day: float | None
    sessions: int
    """Pump sessions in the last 7 days."""
    total_only: int
    """Of those, the sessions that kept only their total (no sides)."""

    @property
    def change_pct(self) -> float | None:
        """The last 7 days against the 7 before, in %."""
        if self.ml_day is None or not self.before_ml_day:
            return None
        return (self.ml_day / self.before_ml_day - 1.0) * 100.0


def daily(records: Iterable[Record], now: datetime) -> Daily:
    """Pumped mL a day over the last 7 days and the 7 before, from every pump session
    (its sides' sum or its total): no figure here needs to know the side."""
    sessions = sorted(
        (r for r in records if isinstance(r, PumpSession) and r.start_at <= now),
        key=lambda r: r.start_at,
    )
    window = timedelta(days=DAILY_DAYS)
    recent = [r for r in sessions if now - window < r.start_at]
    before = [r for r in sessions if now - 2 * window < r.start_at <= now - window]
    if not sessions:
        return Daily(None, None, None, None, 0, 0)
    # A journal begun within the window is averaged over the days it covers: since its
    # first session and one usual gap before it (a day at least).
    span_s = (now - sessions[0].start_at).total_seconds()
    gap_s = (sessions[-1].start_at - sessions[0].start_at).total_seconds() / max(
        len(sessions) - 1, 1
    )
    covered_days = min(float(DAILY_DAYS), max((span_s + gap_s) / 86400, 1.0))
    before_known = sessions[0].start_at <= now - 2 * window + timedelta(days=1)
    return Daily(
        ml_day=sum(r.volume_ml() for r in recent) / covered_days,
        sessions_day=len(recent) / covered_days,
        before_ml_day=sum(r.volume_ml() for r in before) / DAILY_DAYS if before_known else None,
        before_sessions_day=len(before) / DAILY_DAYS if before_known else None,
        sessions=len(recent),
        total_only=sum(1 for r in recent if not r.sides),
    )


@dataclass(frozen=True)
class Estimate:
    """A figure with its 80 % range."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class SideFit:
    """One side's fitted model, as of ``until``."""

    side: Side
    until: datetime
    rate_ml_h: Estimate
    capacity_ml: Estimate
    pump_share: float
    trend_pct_per_week: Estimate
    observations: int
    ratio_low: float
    ratio_high: float
    """An observed volume falls within [ratio_low, ratio_high] × the prediction 80 % of the
    time (the residuals of the last fitted week, run without its observations)."""
    history: tuple[Removal, ...]
    samples: tuple[tuple[float, float, float, float], ...]
    """(rate, capacity, pump share, drift) drawn from the posterior, for ranges."""

    @property
    def source(self) -> str:
        return sources.MODEL


@dataclass(frozen=True)
class Prediction:
    at: datetime
    volume_ml: float
    low_ml: float
    high_ml: float


def _hours(times: Sequence[datetime], origin: datetime) -> Floats:
    return np.array([(at - origin).total_seconds() / 3600.0 for at in times], dtype=np.float64)


def _run(
    times_h: Floats,
    pumped: Sequence[bool],
    observed: Sequence[float | None],
    params: tuple[Floats, Floats, Floats, Floats],
    until_h: float,
    assimilate: Sequence[bool],
) -> tuple[Floats, Floats]:
    """Predicted pumped volume at each removal (rows) for each parameter set (columns).

    Where ``assimilate`` is true and the volume is known, the store falls by what was
    really pumped; otherwise by what the model expects.
    """
    rate, capacity, share, drift = params
    available = capacity * 0.5
    predictions = np.zeros((len(times_h), rate.shape[0]), dtype=np.float64)
    last_h = times_h[0] - 3.0 if len(times_h) else 0.0
    for index, at_h in enumerate(times_h):
        rate_now = rate * np.exp(drift * (at_h - until_h) / 24.0)
        gap_h = max(at_h - last_h, 0.0)
        available = capacity - (capacity - available) * np.exp(-rate_now * gap_h / capacity)
        last_h = at_h
        if pumped[index]:
            expected = share * available
            predictions[index] = expected
            volume = observed[index]
            taken = expected if volume is None or not assimilate[index] else volume
            available = np.maximum(available - taken, 0.0)
        else:
            available = available * (1.0 - NURSE_SHARE)
    return predictions, available


def _grid() -> tuple[Floats, Floats, Floats, Floats]:
    rate, capacity, share, drift = np.meshgrid(
        RATES_ML_H, CAPACITIES_ML, PUMP_SHARES, DRIFTS_PER_DAY, indexing="ij"
    )
    return rate.ravel(), capacity.ravel(), share.ravel(), drift.ravel()


def _log_prior(params: tuple[Floats, Floats, Floats, Floats]) -> Floats:
    rate, capacity, share, drift = params
    return -0.5 * (
        (np.log(rate / PRIOR_RATE_ML_H) / PRIOR_RATE_SIGMA) ** 2
        + (np.log(capacity / PRIOR_CAPACITY_ML) / PRIOR_CAPACITY_SIGMA) ** 2
        + ((share - PRIOR_PUMP_SHARE) / PRIOR_PUMP_SHARE_SD) ** 2
        + (drift / PRIOR_DRIFT_SD_PER_DAY) ** 2
    )


def _weighted_quantile(values: Floats, weights: Floats, q: float) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    cumulative /= cumulative[-1]
    return float(values[order][min(int(np.searchsorted(cumulative, q)), len(values) - 1)])


def fit_side(side: Side, history: Sequence[Removal], until: datetime) -> SideFit | None:
    """Fit one side on its removals before ``until``; None without enough pumped volumes."""
    start = until - timedelta(days=FIT_DAYS)
    used = [r for r in history if start <= r.at < until]
    scored = [
        i
        for i, r in enumerate(used)
        if r.pumped and r.volume_ml is not None and r.at >= used[0].at + timedelta(hours=BURN_IN_H)
    ]
    if len(scored) < 4:
        return None
    origin = used[0].at
    times_h = _hours([r.at for r in used], origin)
    until_h = (until - origin).total_seconds() / 3600.0
    pumped = [r.pumped for r in used]
    observed = [r.volume_ml for r in used]
    params = _grid()
    predictions, _ = _run(times_h, pumped, observed, params, until_h, [True] * len(used))
    index = np.array(scored)
    seen = np.log(np.array([observed[i] for i in scored], dtype=np.float64) + FLOOR_ML)
    residuals = np.log(predictions[index] + FLOOR_ML) - seen[:, None]
    weights = np.exp(-(until_h - times_h[index]) / (24.0 * RECENT_DAYS))
    n_eff = float(weights.sum())
    variance = (weights[:, None] * residuals**2).sum(axis=0) / n_eff + VARIANCE_FLOOR
    log_post = -0.5 * n_eff * np.log(variance) + _log_prior(params)
    posterior = np.exp(log_post - log_post.max())
    posterior /= posterior.sum()
    best = int(np.argmax(log_post))
    rate, capacity, share, drift = (p[best] for p in params)
    ratio_low, ratio_high = _interval(used, times_h, until_h, (rate, capacity, share, drift))
    if ratio_low is None or ratio_high is None:
        spread = math.sqrt(float(variance[best])) * INTERVAL_WIDEN * 1.2816
        ratio_low, ratio_high = math.exp(-spread), math.exp(spread)
    rng = np.random.default_rng(0)
    picks = rng.choice(len(posterior), size=200, p=posterior)
    trend = (np.exp(7.0 * params[3]) - 1.0) * 100.0

    def estimate(values: Floats, value: float) -> Estimate:
        return Estimate(
            value,
            _weighted_quantile(values, posterior, INTERVAL_P[0]),
            _weighted_quantile(values, posterior, INTERVAL_P[1]),
        )

    return SideFit(
        side=side,
        until=until,
        rate_ml_h=estimate(params[0], float(rate)),
        capacity_ml=estimate(params[1], float(capacity)),
        pump_share=float(share),
        trend_pct_per_week=estimate(trend, float((math.exp(7.0 * drift) - 1.0) * 100.0)),
        observations=len(scored),
        ratio_low=ratio_low,
        ratio_high=ratio_high,
        history=tuple(used),
        samples=tuple(
            (float(params[0][i]), float(params[1][i]), float(params[2][i]), float(params[3][i]))
            for i in picks
        ),
    )


def _interval(
    used: Sequence[Removal],
    times_h: Floats,
    until_h: float,
    best: tuple[float, float, float, float],
) -> tuple[float | None, float | None]:
    """80 % limits of observed ÷ predicted over the last fitted week, run as a forecast.

    The real question is a forecast without the week's volumes, so the limits come from
    running the fitted model over the last week without them.
    """
    cut_h = until_h - 7 * 24.0
    params = tuple(np.array([value]) for value in best)
    assimilate = [at_h < cut_h for at_h in times_h]
    predictions, _ = _run(
        times_h,
        [r.pumped for r in used],
        [r.volume_ml for r in used],
        (params[0], params[1], params[2], params[3]),
        until_h,
        assimilate,
    )
    ratios = [
        (r.volume_ml + FLOOR_ML) / (float(predictions[i, 0]) + FLOOR_ML)
        for i, r in enumerate(used)
        if r.pumped and r.volume_ml is not None and times_h[i] >= cut_h
    ]
    if len(ratios) < 8:
        return None, None
    logs = np.log(np.array(ratios))
    centre = float(np.median(logs))
    low = centre + (float(np.quantile(logs, INTERVAL_P[0])) - centre) * INTERVAL_WIDEN
    high = centre + (float(np.quantile(logs, INTERVAL_P[1])) - centre) * INTERVAL_WIDEN
    return math.exp(low), math.exp(high)


def forecast(fit: SideFit, future: Sequence[Removal]) -> list[Prediction]:
    """Each future pumping's volume on this side, given every removal's time (not volume)."""
    events = [*fit.history, *future]
    origin = events[0].at
    times_h = _hours([r.at for r in events], origin)
    until_h = (fit.until - origin).total_seconds() / 3600.0
    best = (
        np.array([fit.rate_ml_h.value]),
        np.array([fit.capacity_ml.value]),
        np.array([fit.pump_share]),
        np.array([math.log1p(fit.trend_pct_per_week.value / 100.0) / 7.0]),
    )
    assimilate = [i < len(fit.history) for i in range(len(events))]
    predictions, _ = _run(
        times_h,
        [r.pumped for r in events],
        [r.volume_ml for r in events],
        best,
        until_h,
        assimilate,
    )
    out = []
    for offset, removal in enumerate(future):
        if not removal.pumped:
            continue
        volume = float(predictions[len(fit.history) + offset, 0])
        out.append(
            Prediction(
                removal.at,
                volume,
                max((volume + FLOOR_ML) * fit.ratio_low - FLOOR_ML, 0.0),
                (volume + FLOOR_ML) * fit.ratio_high - FLOOR_ML,
            )
        )
    return out


def yield_at(fit: SideFit, at: datetime) -> Prediction:
    """What a pumping at ``at`` would give on this side, if nothing is removed before."""
    return forecast(fit, [Removal(at, True)])[0]


@dataclass(frozen=True)
class Schedule:
    """A day's removals on one side, as hours after midnight, pumped or nursed."""

    hours: tuple[tuple[float, bool], ...]


def _day_totals(params: tuple[Floats, Floats, Floats], schedule: Schedule, days: int) -> Floats:
    rate, capacity, share = params
    ordered = sorted(schedule.hours)
    available = capacity * 0.5
    total = np.zeros_like(rate)
    if not ordered:
        return total
    last_h = ordered[-1][0] - 24.0
    for day in range(days):
        for hour, pumped in ordered:
            at_h = day * 24.0 + hour
            available = capacity - (capacity - available) * np.exp(
                -rate * (at_h - last_h) / capacity
            )
            last_h = at_h
            taken = available * (share if pumped else NURSE_SHARE)
            available = available - taken
            if day == days - 1:
                total = total + taken
    return total


def _sample_params(fit: SideFit) -> tuple[Floats, Floats, Floats]:
    samples = np.array(fit.samples, dtype=np.float64)
    return samples[:, 0], samples[:, 1], samples[:, 2]


def _best_params(fit: SideFit) -> tuple[Floats, Floats, Floats]:
    return (
        np.array([fit.rate_ml_h.value]),
        np.array([fit.capacity_ml.value]),
        np.array([fit.pump_share]),
    )


def day_total_ml(fit: SideFit, schedule: Schedule, days: int = 6) -> Estimate:
    """Milk removed from the side in a day of this schedule, once the stores settle.

    Short-term only: the compartment's response. How production adapts over weeks to a
    new frequency has no published rate (supply.md §1): that part is an assumption.
    """
    totals = _day_totals(_sample_params(fit), schedule, days)
    best = float(_day_totals(_best_params(fit), schedule, days)[0])
    return Estimate(best, float(np.quantile(totals, 0.1)), float(np.quantile(totals, 0.9)))


def day_change_ml(fit: SideFit, before: Schedule, after: Schedule, days: int = 6) -> Estimate:
    """How much more (or less) a day of ``after`` gives than a day of ``before``, with its
    80 % range over the fit's uncertainty (the same draws for both days)."""
    params = _sample_params(fit)
    change = _day_totals(params, after, days) - _day_totals(params, before, days)
    best = _day_totals(_best_params(fit), after, days) - _day_totals(
        _best_params(fit), before, days
    )
    return Estimate(
        float(best[0]), float(np.quantile(change, 0.1)), float(np.quantile(change, 0.9))
    )


def fitted(fit: SideFit, since: datetime) -> list[tuple[datetime, float, float]]:
    """(time, pumped, the model's prediction just before) for the side's pumpings since
    ``since``: how well the model follows the journal."""
    events = list(fit.history)
    if not events:
        return []
    origin = events[0].at
    times_h = _hours([r.at for r in events], origin)
    until_h = (fit.until - origin).total_seconds() / 3600.0
    best = (
        np.array([fit.rate_ml_h.value]),
        np.array([fit.capacity_ml.value]),
        np.array([fit.pump_share]),
        np.array([math.log1p(fit.trend_pct_per_week.value / 100.0) / 7.0]),
    )
    predictions, _ = _run(
        times_h,
        [r.pumped for r in events],
        [r.volume_ml for r in events],
        best,
        until_h,
        [True] * len(events),
    )
    return [
        (r.at, r.volume_ml, float(predictions[i, 0]))
        for i, r in enumerate(events)
        if r.pumped and r.volume_ml is not None and r.at >= since
    ]
