"""The hardware seam's contract, checked on the simulated pump (SimPump)."""

from __future__ import annotations

import math
import time

import pytest
from tests.device.contract import BackendContract

from letdown.device import (
    SIDES,
    Clock,
    MotorLayout,
    Pump,
    Side,
    VacuumReading,
    VolumeReading,
    open_pump,
)
from letdown.device.sim import SimPump
from letdown.errors import DeviceClosedError, UnknownBackendError
from letdown.twin.cohort import ParentSpec
from letdown.twin.model import PneumaticsSpec

TICK_S = 0.01
LEFT, RIGHT = Side.LEFT, Side.RIGHT


def make_pump(**options: object) -> SimPump:
    return SimPump(ParentSpec(id="t"), **options)  # type: ignore[arg-type]


def run_until(pump: SimPump, until_s: float, *, kick: bool = True) -> None:
    """Step the pump's clock tick by tick up to ``until_s``, holding the commands."""
    tick = round(pump.clock.now_s() / TICK_S)
    while (tick + 1) * TICK_S <= until_s + 1e-9:
        if kick:
            pump.kick()
        tick += 1
        pump.clock.sleep_until(tick * TICK_S)


# --- readings --------------------------------------------------------------------------


def test_sim_pump_satisfies_the_pump_protocol() -> None:
    pump = make_pump()
    assert isinstance(pump, Pump)
    assert isinstance(pump.clock, Clock)
    assert pump.name == "sim"
    assert pump.motor_layout is MotorLayout.PER_SIDE
    assert not pump.closed


def test_readings_are_typed_and_stamped_on_the_simulated_clock() -> None:
    pump = make_pump()
    pump.set_duty(LEFT, 1.0)
    pump.set_vent(LEFT, False)
    for target_s in (0.5, 1.23, 2.0):
        run_until(pump, target_s)
        now_s = pump.clock.now_s()
        assert now_s == pytest.approx(target_s, abs=1e-6)
        for side in SIDES:
            vacuum = pump.read_vacuum(side)
            volume = pump.read_volume(side)
            assert isinstance(vacuum, VacuumReading)
            assert isinstance(volume, VolumeReading)
            assert isinstance(vacuum.vacuum_mmhg, float)
            assert isinstance(volume.volume_ml, float)
            assert vacuum.at_s == pytest.approx(now_s, abs=1e-9)
            # The bottle scale samples at 10 Hz: its stamp is the latest sample's time.
            assert now_s - 0.1 - 1e-6 <= volume.at_s <= now_s + 1e-9
    # The pulled side reads a real vacuum, the vented one about nothing.
    left = pump.read_vacuum(LEFT)
    right = pump.read_vacuum(RIGHT)
    assert left is not None and right is not None
    assert left.vacuum_mmhg > 150
    assert abs(right.vacuum_mmhg) < 6


def test_sleep_until_a_past_deadline_does_not_move_the_clock() -> None:
    pump = make_pump()
    run_until(pump, 0.5)
    pump.clock.sleep_until(0.2)
    assert pump.clock.now_s() == pytest.approx(0.5, abs=1e-9)


# --- commands and their checks -------------------------------------------------------------


@pytest.mark.parametrize("duty", [-0.01, 1.01, 2.0, -1.0, math.nan, math.inf, -math.inf])
def test_set_duty_rejects_values_outside_zero_to_one(duty: float) -> None:
    pump = make_pump()
    with pytest.raises(ValueError, match="duty"):
        pump.set_duty(LEFT, duty)
    run_until(pump, 0.1)
    assert pump.twin.motor_duty(LEFT) == 0.0


@pytest.mark.parametrize("duty", [0.0, 0.25, 1.0, 0, 1])
def test_set_duty_accepts_the_whole_range(duty: float) -> None:
    pump = make_pump()
    pump.set_duty(RIGHT, duty)
    run_until(pump, 0.05)
    assert pump.twin.motor_duty(RIGHT) == pytest.approx(float(duty))


@pytest.mark.parametrize("bad_side", ["middle", "LEFT ", "", 0, None])
def test_every_per_side_call_rejects_a_bad_side(bad_side: object) -> None:
    pump = make_pump()
    calls = [
        lambda: pump.read_vacuum(bad_side),  # type: ignore[arg-type]
        lambda: pump.read_volume(bad_side),  # type: ignore[arg-type]
        lambda: pump.set_duty(bad_side, 0.5),  # type: ignore[arg-type]
        lambda: pump.set_vent(bad_side, False),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(ValueError, match="side"):
            call()


def test_plain_strings_name_sides_too() -> None:
    pump = make_pump()
    pump.set_duty("left", 0.8)  # type: ignore[arg-type]
    pump.set_vent("left", False)  # type: ignore[arg-type]
    pump.set_duty("right", 0.3)  # type: ignore[arg-type]
    run_until(pump, 0.5)
    assert pump.twin.motor_duty(LEFT) == pytest.approx(0.8)
    assert pump.twin.motor_duty(RIGHT) == pytest.approx(0.3)
    assert pump.twin.vent_open(LEFT) is False
    assert pump.twin.vent_open(RIGHT) is True
    by_string = pump.read_vacuum("left")  # type: ignore[arg-type]
    by_member = pump.read_vacuum(LEFT)
    assert by_string == by_member
    assert pump.read_volume("right") == pump.read_volume(RIGHT)  # type: ignore[arg-type]


def test_the_vent_holds_vacuum_closed_and_releases_it_open() -> None:
    pump = make_pump()
    pump.set_duty(LEFT, 1.0)
    pump.set_vent(LEFT, False)
    run_until(pump, 0.7)
    assert pump.twin.true_vacuum_mmhg(LEFT) > 190
    pump.set_duty(LEFT, 0.0)
    pump.set_vent(LEFT, True)
    run_until(pump, 0.95)
    assert pump.twin.true_vacuum_mmhg(LEFT) < 5


# --- lifecycle -----------------------------------------------------------------------------


def _pulling_pump() -> SimPump:
    pump = make_pump()
    for side in SIDES:
        pump.set_duty(side, 1.0)
        pump.set_vent(side, False)
    run_until(pump, 0.5)
    assert all(pump.twin.motor_duty(side) == 1.0 for side in SIDES)
    return pump


def test_close_leaves_the_motor_off_and_both_vents_open() -> None:
    pump = _pulling_pump()
    pump.close()
    assert pump.closed
    for side in SIDES:
        assert pump.twin.motor_duty(side) == 0.0
        assert pump.twin.vent_open(side) is True


def test_close_is_idempotent() -> None:
    pump = _pulling_pump()
    pump.close()
    pump.close()
    assert pump.closed
    for side in SIDES:
        assert pump.twin.motor_duty(side) == 0.0
        assert pump.twin.vent_open(side) is True


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda p: p.read_vacuum(LEFT), id="read_vacuum"),
        pytest.param(lambda p: p.read_volume(RIGHT), id="read_volume"),
        pytest.param(lambda p: p.read_vacuum("left"), id="read_vacuum-str"),
        pytest.param(lambda p: p.set_duty(LEFT, 0.5), id="set_duty"),
        pytest.param(lambda p: p.set_duty(LEFT, 0.0), id="set_duty-zero"),
        pytest.param(lambda p: p.set_vent(RIGHT, True), id="set_vent"),
        pytest.param(lambda p: p.kick(), id="kick"),
        pytest.param(lambda p: p.rearm(), id="rearm"),
        pytest.param(lambda p: p.faults(), id="faults"),
        pytest.param(lambda p: p.presses(), id="presses"),
        pytest.param(lambda p: p.__enter__(), id="enter"),
    ],
)
def test_a_closed_pump_refuses_every_call(call: object) -> None:
    pump = _pulling_pump()
    pump.close()
    with pytest.raises(DeviceClosedError):
        call(pump)  # type: ignore[operator]
    assert pump.closed


def test_closed_error_is_a_runtime_error() -> None:
    pump = make_pump()
    pump.close()
    with pytest.raises(RuntimeError):
        pump.kick()


def test_context_manager_closes_and_makes_safe_even_on_exception() -> None:
    pump = make_pump()
    with pytest.raises(KeyError, match="boom"), pump as opened:
        assert opened is pump
        for side in SIDES:
            opened.set_duty(side, 1.0)
            opened.set_vent(side, False)
        run_until(opened, 0.3)
        raise KeyError("boom")
    assert pump.closed
    for side in SIDES:
        assert pump.twin.motor_duty(side) == 0.0
        assert pump.twin.vent_open(side) is True
    with pytest.raises(DeviceClosedError):
        pump.set_duty(LEFT, 0.5)


def test_context_manager_closes_on_normal_exit() -> None:
    with make_pump() as pump:
        pump.set_duty(LEFT, 0.5)
        run_until(pump, 0.1)
    assert pump.closed
    assert pump.twin.motor_duty(LEFT) == 0.0


# --- choosing a backend --------------------------------------------------------------------


def test_open_pump_sim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LETDOWN_DEVICE", raising=False)
    pump = open_pump("sim")
    assert isinstance(pump, SimPump)
    assert isinstance(pump, Pump)
    pump.close()


def test_open_pump_passes_options_to_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LETDOWN_DEVICE", raising=False)
    parent = ParentSpec(id="someone")
    pump = open_pump("sim", parent=parent, pneumatics=PneumaticsSpec(layout=MotorLayout.SHARED))
    assert isinstance(pump, SimPump)
    assert pump.twin.parent is parent
    assert pump.motor_layout is MotorLayout.SHARED


def test_open_pump_unknown_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LETDOWN_DEVICE", raising=False)
    with pytest.raises(UnknownBackendError, match="nope") as caught:
        open_pump("nope")
    assert isinstance(caught.value, LookupError)
    assert "sim" in str(caught.value)  # names the known backends


def test_default_backend_is_sim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LETDOWN_DEVICE", raising=False)
    assert isinstance(open_pump(), SimPump)


def test_letdown_device_env_picks_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LETDOWN_DEVICE", "nope")
    with pytest.raises(UnknownBackendError, match="nope"):
        open_pump()
    # An explicit name wins over the environment.
    assert isinstance(open_pump("sim"), SimPump)
    monkeypatch.setenv("LETDOWN_DEVICE", "sim")
    assert isinstance(open_pump(), SimPump)


# --- simulated time ------------------------------------------------------------------------


def test_sim_clock_never_sleeps_on_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"time.sleep({seconds}) called by a simulated pump")

    monkeypatch.setattr(time, "sleep", no_sleep)
    pump = make_pump()
    started = time.perf_counter()
    tick = 0
    while pump.clock.now_s() < 60.0 - 1e-9:
        duty = 1.0 if tick % 100 < 40 else 0.0
        for side in SIDES:
            pump.set_duty(side, duty)
            pump.set_vent(side, duty == 0.0)
        pump.kick()
        tick += 1
        pump.clock.sleep_until(tick * TICK_S)
    assert pump.clock.now_s() == pytest.approx(60.0, abs=1e-6)
    assert time.perf_counter() - started < 15.0
    assert not pump.faults()


def test_one_long_sleep_steps_the_twin_the_same_as_ticks() -> None:
    ticked = make_pump(seed=3)
    jumped = make_pump(seed=3)
    for pump in (ticked, jumped):
        pump.set_duty(LEFT, 0.6)
        pump.set_vent(LEFT, False)
    run_until(ticked, 1.0, kick=False)
    jumped.clock.sleep_until(1.0)
    assert jumped.clock.now_s() == pytest.approx(1.0, abs=1e-6)
    assert jumped.twin.true_vacuum_mmhg(LEFT) == pytest.approx(
        ticked.twin.true_vacuum_mmhg(LEFT), rel=1e-6
    )


# --- one motor for both sides --------------------------------------------------------------


def _shared_pump() -> SimPump:
    return make_pump(pneumatics=PneumaticsSpec(layout=MotorLayout.SHARED))


def test_shared_motor_runs_at_the_larger_duty() -> None:
    pump = _shared_pump()
    assert pump.motor_layout is MotorLayout.SHARED
    pump.set_duty(LEFT, 0.3)
    pump.set_duty(RIGHT, 0.8)
    run_until(pump, 0.2)
    assert pump.twin.motor_duty(LEFT) == pytest.approx(0.8)
    assert pump.twin.motor_duty(RIGHT) == pytest.approx(0.8)
    pump.set_duty(LEFT, 0.9)
    pump.set_duty(RIGHT, 0.0)
    run_until(pump, 0.4)
    assert pump.twin.motor_duty(LEFT) == pytest.approx(0.9)
    assert pump.twin.motor_duty(RIGHT) == pytest.approx(0.9)


def test_shared_motor_holds_a_side_back_only_with_its_vent() -> None:
    pump = _shared_pump()
    pump.set_duty(LEFT, 0.0)
    pump.set_vent(LEFT, True)
    pump.set_duty(RIGHT, 1.0)
    pump.set_vent(RIGHT, False)
    run_until(pump, 1.5)
    assert pump.twin.true_vacuum_mmhg(RIGHT) > 150
    # Vented, the left side stays below the vacuum that stimulates at all.
    assert pump.twin.true_vacuum_mmhg(LEFT) < 45
    # Closing its vent, the left side is pulled although its own duty is 0.
    pump.set_vent(LEFT, False)
    run_until(pump, 3.0)
    assert pump.twin.true_vacuum_mmhg(LEFT) > 150
    reading = pump.read_vacuum(LEFT)
    assert reading is not None and reading.vacuum_mmhg > 150


def test_per_side_motors_are_independent() -> None:
    pump = make_pump()
    pump.set_duty(LEFT, 0.0)
    pump.set_vent(LEFT, False)
    pump.set_duty(RIGHT, 1.0)
    pump.set_vent(RIGHT, False)
    run_until(pump, 1.5)
    assert pump.twin.motor_duty(LEFT) == 0.0
    assert pump.twin.true_vacuum_mmhg(LEFT) < 1
    assert pump.twin.true_vacuum_mmhg(RIGHT) > 150


# --- the backend contract test kit ---------------------------------------------------------


class TestSimPumpContract(BackendContract):
    def make_backend(self) -> Pump:
        return make_pump()

    def break_motor_write(self, pump: Pump, side: Side) -> None:
        assert isinstance(pump, SimPump)
        inner = pump._set_duty

        def failing(which: Side, duty: float) -> None:
            if which is side:
                raise OSError("I2C bus error")
            inner(which, duty)

        pump._set_duty = failing  # type: ignore[method-assign]


class TestSharedMotorSimPumpContract(TestSimPumpContract):
    def make_backend(self) -> Pump:
        return make_pump(pneumatics=PneumaticsSpec(layout=MotorLayout.SHARED))
