"""Test vectors for the safety core, run under CPython and under MicroPython alike.

Each scenario closes the loop with a small pump model (the first-order pneumatics every
pump obeys) and a plain controller, feeds the core tick by tick, and prints what it
returned and why it latched. The two interpreters must print the same lines. Written in
the Python MicroPython runs: ``import core`` finds the core beside this file's caller.
"""

import math

import core


class Rand:
    """A linear congruential generator: the same numbers on every interpreter."""

    def __init__(self, seed):
        self.state = seed

    def uniform(self):
        self.state = (1103515245 * self.state + 12345) % 2147483648
        return self.state / 2147483648.0

    def noise(self):
        return (self.uniform() + self.uniform() + self.uniform() - 1.5) * 2.0


class Plant:
    """Two sides of pneumatics: pull 1.4/s to a 375 mmHg stall, vent 25/s, leak 0.1/s."""

    def __init__(self, seed):
        self.v = [0.0, 0.0]
        self.rand = Rand(seed)
        self.gain = [1.0, 1.0]
        self.stuck = [None, None]

    def step(self, outputs, dt):
        for i in range(2):
            duty = outputs[2 * i]
            vent = outputs[2 * i + 1]
            rate = 1.4 * duty + 0.1 + (25.0 if vent else 0.0)
            target = 1.4 * duty * 375.0 / rate
            self.v[i] = target + (self.v[i] - target) * math.exp(-rate * dt)

    def read(self, i):
        if self.stuck[i] is not None:
            return self.stuck[i]
        raw = self.v[i] * self.gain[i] + self.rand.noise() * 0.5
        return round(raw * 2.0) / 2.0


def limits():
    return core.Limits(
        max_rise_mmhg_s=1.2 * 1.4 * 375.0,
        stall_mmhg=375.0,
        vent_per_s_min=15.0,
        vent_per_s_max=35.0,
        leak_per_s_max=0.3,
        pressure_noise_mmhg=1.0,
        pressure_period_s=0.01,
        volume_noise_ml=0.0,
        volume_period_s=0.1,
        watchdog_s=0.25,
        min_rise_mmhg_s=0.85 * 1.4 * 375.0,
    )


def fmt(outputs):
    return "%.4f %d %.4f %d" % (outputs[0], outputs[1], outputs[2], outputs[3])


def run(name, seconds, peaks, events, seed=1):
    """Cycle both sides at 60/min to ``peaks``; ``events`` maps a tick to an action."""
    c = core.Core(limits(), 0.0)
    plant = Plant(seed)
    outputs = c.safe_outputs()
    last = None
    changes = 0
    ticks = int(seconds * 100)
    now_s = 0.0
    for n in range(1, ticks + 1):
        now_s = n * 0.01
        action = events.get(n)
        if action is not None:
            action(c, plant, now_s)
        plant.step(outputs, 0.01)
        phase = (n % 100) / 100.0
        silent = c.fault is not None or (events.get("silent_after", 10**9) < n)
        for i in range(2):
            reading = plant.read(i)
            if phase < 0.6 and reading < peaks[i] - 2.0:
                duty = min(1.0, 0.05 * (peaks[i] - reading) + 0.05)
                c.request(i, duty, False)
            elif phase < 0.6:
                c.request(i, 0.05, False)
            else:
                c.request(i, 0.0, True)
        if not silent:
            c.kick()
        clock_s = events.get("clock", {}).get(n, now_s)
        outputs = c.tick(clock_s, plant.read(0), plant.read(1), None, None, None, False)
        line = fmt(outputs)
        if line != last:
            changes += 1
            last = line
        if c.fault is not None and action == "stop-on-fault":
            break
    fault = c.fault
    why = "none" if fault is None else "%s %s %.2f" % (fault.reason, fault.side, fault.at_s)
    print(
        "%s: %s | stopped=%s | changes=%d | ceilings=%.1f %.1f | paused=%s %s | v=%.1f %.1f"
        % (
            name,
            why,
            c.stopped or "-",
            changes,
            c.ceiling(0),
            c.ceiling(1),
            c.paused(0),
            c.paused(1),
            plant.v[0],
            plant.v[1],
        )
    )


def lower(side, mmhg):
    def act(c, plant, now_s):
        c.lower_ceiling(side, mmhg)

    return act


def press(kind, side):
    def act(c, plant, now_s):
        c.press(kind, side, now_s)

    return act


def gain(side, value):
    def act(c, plant, now_s):
        plant.gain[side] = value

    return act


def stick(side):
    def act(c, plant, now_s):
        plant.stuck[side] = plant.read(side)

    return act


def nan_request(c, plant, now_s):
    try:
        c.request(0, float("nan"), False)
    except ValueError:
        pass


def both(*actions):
    def act(c, plant, now_s):
        for action in actions:
            action(c, plant, now_s)

    return act


def main():
    run("healthy", 20.0, (180.0, 170.0), {1: both(lower(0, 190.0), lower(1, 180.0))})
    run("asks-past-ceiling", 10.0, (250.0, 150.0), {1: both(lower(0, 180.0), lower(1, 160.0))})
    run("no-ceiling-asks-cap", 10.0, (330.0, 330.0), {})
    run("too-much", 15.0, (180.0, 180.0), {1: lower(0, 190.0), 1000: press("too_much", 0)})
    run(
        "too-much-at-floor",
        15.0,
        (60.0, 150.0),
        {1: both(lower(0, 60.0), lower(1, 160.0)), 1000: press("too_much", 0)},
    )
    run("stop-button", 10.0, (150.0, 150.0), {500: press("stop", None)})
    run("limit-press", 10.0, (200.0, 150.0), {600: press("limit", 0)})
    run("silent", 10.0, (150.0, 150.0), {"silent_after": 400})
    run("clock-back", 10.0, (150.0, 150.0), {"clock": {300: 1.0}})
    run("clock-forward", 10.0, (150.0, 150.0), {"clock": {300: 9.0}})
    run("nan-request", 10.0, (150.0, 150.0), {300: nan_request})
    run("gain-low", 12.0, (180.0, 180.0), {1: lower(0, 200.0), 500: gain(0, 0.7)})
    run("gain-high", 12.0, (180.0, 180.0), {1: lower(0, 200.0), 500: gain(0, 1.3)})
    run("stuck", 10.0, (180.0, 180.0), {420: stick(1)})
    run("raise", 10.0, (200.0, 200.0), {1: lower(0, 150.0), 300: both(lower(0, 140.0))})
    c = core.Core(limits(), 0.0)
    c.lower_ceiling(0, 150.0)
    print("raise-step:", c.raise_ceiling(0, 230.0), c.raise_ceiling(0, 1000.0))
    try:
        core.Limits(
            630.0, 375.0, 15.0, 35.0, 0.3, 1.0, 0.01, 0.0, 0.1, 0.25, cap_single_mmhg=1000.0
        )
        print("cap-1000: taken")
    except ValueError:
        print("cap-1000: refused")


main()
