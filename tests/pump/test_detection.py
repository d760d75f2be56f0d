"""Flow from noisy, lagged bottle readings, and let-down events from flow."""

from __future__ import annotations

import random

import pytest

from letdown.pump.detection import FlowEstimator, LetdownDetector, MilkEvent


def test_flow_is_the_slope_of_the_readings() -> None:
    estimator = FlowEstimator()
    rng = random.Random(1)
    flow = 0.0
    for tick in range(100):
        at_s = tick * 0.1
        flow = estimator.add(at_s, 0.5 * at_s + rng.gauss(0.0, 0.5))  # 30 mL/min
    assert flow == pytest.approx(30.0, abs=8.0)


def test_flow_reads_zero_until_the_window_fills() -> None:
    estimator = FlowEstimator()
    assert estimator.add(0.0, 5.0) == 0.0
    assert estimator.add(0.1, 9.0) == 0.0


def test_flow_window_needs_three_samples() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        FlowEstimator(window=2)


def events_for(flows: list[float]) -> list[tuple[float, MilkEvent]]:
    detector = LetdownDetector()
    events = []
    for tick, flow in enumerate(flows):
        event = detector.update(tick * 0.1, flow)
        if event is not None:
            events.append((round(tick * 0.1, 1), event))
    return events


def test_a_rise_is_a_letdown_and_a_fall_is_a_lull() -> None:
    flows = [2.0] * 100 + [60.0] * 300 + [5.0] * 100 + [50.0] * 50
    events = events_for(flows)
    assert [event for _, event in events] == [
        MilkEvent.LETDOWN,
        MilkEvent.LULL,
        MilkEvent.LETDOWN,
    ]
    assert events[0][0] == pytest.approx(11.4, abs=0.05)  # 15th sample above threshold
    assert events[1][0] == pytest.approx(44.0, abs=0.05)  # 4 s of low flow


def test_scale_noise_alone_is_not_a_letdown() -> None:
    # Ten minutes of two bottle scales (0.5 mL noise, 10 Hz) with milk only dripping.
    rng = random.Random(7)
    scales = [FlowEstimator(), FlowEstimator()]
    detector = LetdownDetector()
    events = []
    for tick in range(6000):
        at_s = tick * 0.1
        total = sum(
            scale.add(at_s, round(0.02 * at_s + rng.gauss(0.0, 0.5), 1)) for scale in scales
        )
        event = detector.update(at_s, total)
        if event is not None:
            events.append((at_s, event))
    assert events == []
