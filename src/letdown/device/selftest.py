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

import dataclasses
import json
import math
import os
import statistics
from pathlib import Path
from typing import Any

import serial.tools.list_ports
from platformdirs import user_data_dir

from letdown.device.base import Pump, PumpSpec
from letdown.errors import DeviceError
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
RISE_WINDOW_MMHG = (5.0, 35.0)
"""The pull from atmosphere is measured between these vacuums."""
PULL_MARGIN = 0.85
"""The slowest pull the core accepts is 85 % of the measured one, the margin the
simulated pump declares on its nominal pull (``letdown.device.sim.declared_spec``)."""


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


def check_side(
    side: str, figures: dict[str, Any], spec: PumpSpec, sensor_span_mmhg: float
) -> list[str]:
    """What is wrong with one side's ``figures`` against the declared ``spec`` and the
    sensor's span (empty when they pass); the self-test and ``spec_in_use`` both ask."""
    problems: list[str] = []
    zero = _figure(figures, "zero_mmhg")
    noise = _figure(figures, "noise_mmhg")
    if zero is None or noise is None:
        return [f"{side} pressure sensor: no readings at atmosphere"]
    if abs(zero) > ZERO_LIMIT_MMHG:
        problems.append(
            f"{side} sensor reads {zero:+.1f} mmHg at atmosphere"
            f" (limit ±{ZERO_LIMIT_MMHG:g}): power the pump up with the flanges off, or"
            " replace the sensor"
        )
    if noise > NOISE_FACTOR * spec.pressure_noise_mmhg:
        problems.append(
            f"{side} sensor noise {noise:.1f} mmHg is over twice the declared"
            f" {spec.pressure_noise_mmhg:g}: check its wiring and supply"
        )
    rise = _figure(figures, "rise_mmhg_s")
    if rise is None or rise <= 0.0:
        problems.append(
            f"{side} side did not reach {PULL_TO_MMHG:g} mmHg at full duty: check the"
            " flange seal, the tubing and the motor"
        )
        return problems
    if rise > spec.max_rise_mmhg_s:
        problems.append(
            f"{side} pulls {rise:.0f} mmHg/s, faster than the declared"
            f" {spec.max_rise_mmhg_s:g}: the declared spec is not this pump's"
        )
    if spec.stall_mmhg > sensor_span_mmhg:
        problems.append(
            f"{side} pump can pull {spec.stall_mmhg:g} mmHg (declared stall), beyond the"
            f" sensor's span ({sensor_span_mmhg:g} mmHg): fit a sensor with a wider range"
        )
    # The measured stall is kept as an estimate, never a reason to refuse: extrapolated
    # from a pull to 100 mmHg it spread 262-651 mmHg on the twin whose stall is 375, and
    # refused 4 healthy pumps in 24; a pump stronger than declared shows in its pull rate.
    leak = _figure(figures, "leak_per_s")
    if leak is not None and leak > spec.leak_per_s_max:
        problems.append(
            f"{side} leaks {leak:.2f}/s with the vent shut (declared at most"
            f" {spec.leak_per_s_max:g}/s): reseat the flange, check the vent valve"
        )
    vent = _figure(figures, "vent_per_s")
    if vent is None or not spec.vent_per_s_min <= vent <= spec.vent_per_s_max:
        shown = "no release" if vent is None else f"{vent:.1f}/s"
        problems.append(
            f"{side} vent releases {shown} (declared {spec.vent_per_s_min:g}-"
            f"{spec.vent_per_s_max:g}/s): the vent valve is stuck or its tube blocked"
        )
    return problems


def _figure(figures: dict[str, Any], key: str) -> float | None:
    """A stored figure as a finite float (None: not measured, or not a number)."""
    value = figures.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def measure_side(pump: Pump, side: Side, sensor_span_mmhg: float) -> dict[str, Any]:
    """One side's figures and the problems found (empty when it passes)."""
    for each in SIDES:
        pump.set_duty(each, 0.0)
        pump.set_vent(each, True)
    # At rest long enough for the firmware core's start ramp (80 mmHg + 10 mmHg/s) to
    # allow the pull below.
    rest = [v for _, v in _hold(pump, 2.5, side)]
    if len(rest) < 50:
        return {"problems": [f"{side.value} pressure sensor: no readings at atmosphere"]}
    figures: dict[str, Any] = {
        "zero_mmhg": statistics.fmean(rest),
        "noise_mmhg": statistics.pstdev(rest),
    }
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
    low = _rate(pull, *RISE_WINDOW_MMHG)
    high = _rate(pull, 60.0, PULL_TO_MMHG)
    if not (low is None or high is None or not pull or pull[-1][1] < PULL_TO_MMHG - 5.0):
        stall = _stall(pull)
        figures["rise_mmhg_s"] = low
        figures["stall_mmhg"] = stall if math.isfinite(stall) else None
        figures["leak_per_s"] = _decay(held)
        figures["vent_per_s"] = _decay(vented[:12])
    return {**figures, "problems": check_side(side.value, figures, pump.spec, sensor_span_mmhg)}


def run_selftest(pump: Pump, sensor_span_mmhg: float) -> dict[str, Any]:
    """Both sides measured and checked: ``{"sides": {...}, "passed": bool}``.

    ``pump.spec`` must be the hardware's declared spec (``SerialPump(measured=False)``),
    not one an earlier self-test measured."""
    sides = {side.value: measure_side(pump, side, sensor_span_mmhg) for side in SIDES}
    for each in SIDES:
        pump.set_duty(each, 0.0)
        pump.set_vent(each, True)
    passed = all(not figures["problems"] for figures in sides.values())
    return {"sides": sides, "passed": passed}


# --- the measured spec, kept per pump and used by its safety core ---------------------------


class MeasuredSpecError(DeviceError):
    """The self-test stored for this pump says it is out of bounds: it must not pump."""


def measured_spec_path() -> Path:
    return Path(user_data_dir("letdown")) / "measured-spec.json"


def device_key(url: str) -> str:
    """Which pump ``url`` is, for the store: its USB serial number when the port has one
    (a Pico's is its flash chip's unique id, so the figures follow the board from port
    to port), else the URL itself."""
    scheme, sep, rest = url.partition("://")
    if scheme != "serial" or not sep:
        return url
    try:
        real = os.path.realpath(rest)
        for port in serial.tools.list_ports.comports():
            if port.serial_number and os.path.realpath(port.device) == real:
                return f"usb:{port.vid or 0:04x}:{port.pid or 0:04x}:{port.serial_number}"
    except OSError:
        pass
    return url


def store_measured(url: str, report: dict[str, Any], path: Path | None = None) -> Path:
    """Keep a self-test's figures for the pump at ``url``, passing or not: a pump that
    failed is then refused (``spec_in_use``) until a later self-test passes."""
    target = path or measured_spec_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    stored: dict[str, Any] = {}
    if target.exists():
        try:
            stored = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
    stored[device_key(url)] = report["sides"]
    target.write_text(json.dumps(stored, indent=2, allow_nan=False), encoding="utf-8")
    return target


def spec_in_use(
    url: str, declared: PumpSpec, sensor_span_mmhg: float, path: Path | None = None
) -> PumpSpec:
    """The spec the safety core takes its limits from, for the pump at ``url``: the
    declared spec, with what its last self-test measured where that makes the core
    stricter; the declared spec alone when it was never self-tested.

    Used: the measured pull, as the slowest the core accepts (``min_rise_mmhg_s``: a
    sensor whose gain drifted low then shows a pull slower than this pump's own, and
    latches ``pressure_gain``; the declared spec of a real pump has no such figure). Not
    used, only checked: the stall (an extrapolation from a pull to 100 mmHg, 262-567 on
    the twin whose stall is 375: too coarse for the core's model, so the declared one
    stays), the sensor's zero (the firmware zeroes it again at every power-up), the leak
    and the vent (they change with each flange fit).
    Nothing measured can raise the caps: they are not in a spec, and the core's stall,
    max rise and vent figures stay the declared ones.

    Raises ``MeasuredSpecError`` when the stored figures are out of bounds.
    """
    target = path or measured_spec_path()
    key = device_key(url)
    try:
        stored = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return declared
    except (OSError, ValueError) as exc:
        raise MeasuredSpecError(
            f"the self-test results in {target} cannot be read ({exc}): run"
            f" `letdown pump --device {url} --selftest` again"
        ) from None
    sides = stored.get(key) if isinstance(stored, dict) else None
    if sides is None:
        return declared
    problems: list[str] = []
    rises: list[float] = []
    for side in SIDES:
        figures = sides.get(side.value) if isinstance(sides, dict) else None
        if not isinstance(figures, dict):
            problems.append(f"{side.value}: no figures")
            continue
        found = check_side(side.value, figures, declared, sensor_span_mmhg)
        stored_problems = figures.get("problems")
        if isinstance(stored_problems, list):
            # What the self-test found then, even if today's checks would pass it.
            found += [str(p) for p in stored_problems if str(p) not in found]
        problems += found
        rise = _figure(figures, "rise_mmhg_s")
        if rise is not None:
            rises.append(rise)
    if problems:
        raise MeasuredSpecError(
            f"this pump's last self-test ({target}) found it out of bounds: "
            + "; ".join(problems)
            + f". letdown will not pump with it: fix that, then run `letdown pump --device"
            f" {url} --selftest` again"
        )
    stall = declared.stall_mmhg
    middle = sum(RISE_WINDOW_MMHG) / 2.0
    # The rise was measured around ``middle``; the core's model ``pull x (stall - v)``
    # gives the rise at atmosphere, of which a margin is the slowest it accepts.
    slowest = PULL_MARGIN * min(rises) * stall / (stall - middle)
    return dataclasses.replace(
        declared,
        min_rise_mmhg_s=min(declared.max_rise_mmhg_s, max(declared.min_rise_mmhg_s, slowest)),
    )
