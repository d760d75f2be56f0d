"""Bring-up self-test of a real pump: measure each side, check it, store what it measured.

Per side, with the other side vented: the sensor's zero and noise at atmosphere; the pull
from atmosphere at full duty (rise rate at low and at moderate vacuum, from which a
first-order pump model ``dv/dt = pull x (stall - v)`` gives the stall vacuum); the leak
with the motor off and the vent shut; the release through the open vent. Each figure is
checked against the hardware's declared spec and the pressure sensor's span. The pump's
own safety core (the firmware's) stays in charge throughout: it ramps the first pull
from 80 mmHg and caps every one.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from letdown.device.base import Pump
from letdown.words import SIDES, Side

TICK_S = 0.01
ZERO_LIMIT_MMHG = 5.0
"""A sensor reading more than this at atmosphere is miszeroed or faulty (the MPRLS's
total error band is ±1.5 % of its 25 psi span, ~19 mmHg, before the firmware zeroes it at
power-up; after zeroing a few mmHg remain)."""
NOISE_FACTOR = 2.0
"""Noise up to twice the declared standard deviation passes."""
PULL_TO_MMHG = 100.0
"""How far each side is pulled: enough to measure, well under every cap."""


def _hold(pump: Pump, seconds: float, side: Side) -> list[tuple[float, float]]:
    """Keep the outputs for ``seconds``; (time, vacuum) readings of ``side``."""
    clock = pump.clock
    start_s = clock.now_s()
    seen: list[tuple[float, float]] = []
    for n in range(1, round(seconds / TICK_S) + 1):
        pump.kick()
        clock.sleep_until(start_s + n * TICK_S)
        reading = pump.read_vacuum(side)
        if reading is not None:
            seen.append((reading.at_s, reading.vacuum_mmhg))
    return seen


def _rate(samples: list[tuple[float, float]], low: float, high: float) -> float | None:
    """Mean rise rate (mmHg/s) while the vacuum was between ``low`` and ``high``."""
    inside = [(t, v) for t, v in samples if low <= v <= high]
    if len(inside) < 3 or inside[-1][0] <= inside[0][0]:
        return None
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def _decay(samples: list[tuple[float, float]]) -> float | None:
    """Fraction of the vacuum lost per second (first-order fit of first and last)."""
    usable = [(t, v) for t, v in samples if v > 5.0]
    if len(usable) < 3 or usable[-1][0] <= usable[0][0]:
        return None
    return math.log(usable[0][1] / usable[-1][1]) / (usable[-1][0] - usable[0][0])


def _stall(samples: list[tuple[float, float]]) -> float:
    """The vacuum a first-order pull ``v = stall x (1 - exp(-p t))`` heads for, from three
    equally spaced points of the rise (each the mean of three readings)."""
    rising = [(t, v) for t, v in samples if v >= 5.0]
    if len(rising) < 9:
        return math.inf
    step = (len(rising) - 3) // 2
    points = [statistics.fmean(v for _, v in rising[i : i + 3]) for i in (0, step, 2 * step)]
    first, second = points[1] - points[0], points[2] - points[1]
    if first <= 0.0 or not 0.0 < second < first:
        return math.inf
    ratio = second / first
    return points[0] + first / (1.0 - ratio)


def measure_side(pump: Pump, side: Side, sensor_span_mmhg: float) -> dict[str, Any]:
    """One side's figures and the problems found (empty when it passes)."""
    spec = pump.spec
    problems: list[str] = []
    for each in SIDES:
        pump.set_duty(each, 0.0)
        pump.set_vent(each, True)
    # At rest long enough for the firmware core's start ramp (80 mmHg + 10 mmHg/s) to
    # allow the pull below.
    rest = [v for _, v in _hold(pump, 2.5, side)]
    if len(rest) < 50:
        return {"problems": [f"{side.value} pressure sensor: no readings at atmosphere"]}
    zero = statistics.fmean(rest)
    noise = statistics.pstdev(rest)
    if abs(zero) > ZERO_LIMIT_MMHG:
        problems.append(
            f"{side.value} sensor reads {zero:+.1f} mmHg at atmosphere"
            f" (limit ±{ZERO_LIMIT_MMHG:g}): power the pump up with the flanges off, or"
            " replace the sensor"
        )
    if noise > NOISE_FACTOR * spec.pressure_noise_mmhg:
        problems.append(
            f"{side.value} sensor noise {noise:.1f} mmHg is over twice the declared"
            f" {spec.pressure_noise_mmhg:g}: check its wiring and supply"
        )
    # Pull from atmosphere at full duty, then hold with the motor off, then release.
    pump.set_vent(side, False)
    pump.set_duty(side, 1.0)
    pull: list[tuple[float, float]] = []
    for _ in range(150):
        pull += _hold(pump, TICK_S, side)
        if pull and pull[-1][1] >= PULL_TO_MMHG:
            break
    pump.set_duty(side, 0.0)
    held = _hold(pump, 0.8, side)
    pump.set_vent(side, True)
    vented = _hold(pump, 0.3, side)
    figures: dict[str, Any] = {"zero_mmhg": zero, "noise_mmhg": noise}
    low = _rate(pull, 5.0, 35.0)
    high = _rate(pull, 60.0, PULL_TO_MMHG)
    if low is None or high is None or not pull or pull[-1][1] < PULL_TO_MMHG - 5.0:
        problems.append(
            f"{side.value} side did not reach {PULL_TO_MMHG:g} mmHg at full duty: check the"
            " flange seal, the tubing and the motor"
        )
        return {**figures, "problems": problems}
    figures["rise_mmhg_s"] = low
    stall = _stall(pull)
    figures["stall_mmhg"] = stall
    figures["leak_per_s"] = _decay(held)
    figures["vent_per_s"] = _decay(vented[:12])
    if low > spec.max_rise_mmhg_s:
        problems.append(
            f"{side.value} pulls {low:.0f} mmHg/s, faster than the declared"
            f" {spec.max_rise_mmhg_s:g}: the declared spec is not this pump's"
        )
    if not stall <= sensor_span_mmhg:
        problems.append(
            f"{side.value} stall vacuum ~{stall:.0f} mmHg is beyond the sensor's span"
            f" ({sensor_span_mmhg:g} mmHg): fit a sensor with a wider range"
        )
    elif stall > 1.25 * spec.stall_mmhg:
        problems.append(
            f"{side.value} stall vacuum ~{stall:.0f} mmHg is well over the declared"
            f" {spec.stall_mmhg:g}: the declared spec is not this pump's"
        )
    leak = figures["leak_per_s"]
    if leak is not None and leak > spec.leak_per_s_max:
        problems.append(
            f"{side.value} leaks {leak:.2f}/s with the vent shut (declared at most"
            f" {spec.leak_per_s_max:g}/s): reseat the flange, check the vent valve"
        )
    vent = figures["vent_per_s"]
    if vent is None or not spec.vent_per_s_min <= vent <= spec.vent_per_s_max:
        shown = "no release" if vent is None else f"{vent:.1f}/s"
        problems.append(
            f"{side.value} vent releases {shown} (declared {spec.vent_per_s_min:g}-"
            f"{spec.vent_per_s_max:g}/s): the vent valve is stuck or its tube blocked"
        )
    return {**figures, "problems": problems}


def run_selftest(pump: Pump, sensor_span_mmhg: float) -> dict[str, Any]:
    """Both sides measured and checked: ``{"sides": {...}, "passed": bool}``."""
    sides = {side.value: measure_side(pump, side, sensor_span_mmhg) for side in SIDES}
    for each in SIDES:
        pump.set_duty(each, 0.0)
        pump.set_vent(each, True)
    passed = all(not figures["problems"] for figures in sides.values())
    return {"sides": sides, "passed": passed}


def measured_spec_path() -> Path:
    return Path(user_data_dir("letdown")) / "measured-spec.json"


def store_measured(url: str, report: dict[str, Any], path: Path | None = None) -> Path:
    """Keep a passing self-test's figures for the pump at ``url``."""
    target = path or measured_spec_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    stored: dict[str, Any] = {}
    if target.exists():
        try:
            stored = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
    stored[url] = report["sides"]
    target.write_text(json.dumps(stored, indent=2, allow_nan=False), encoding="utf-8")
    return target
