"""The hardware seam: what a controller may read from and command on a double pump.

A controller drives a ``Pump`` each tick: it reads each side's vacuum and collected
volume, sets motor duty and vent valves, kicks the watchdog, reads fault flags and the
parent's button presses. ``BasePump`` checks units and ranges once, at this boundary;
backends implement the underscored raw hooks (as python-can's ``recv`` and
``_recv_internal``).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import NamedTuple, Protocol, Self, runtime_checkable

from letdown.errors import DeviceClosedError, DeviceError
from letdown.words import SIDES, HardwareFault, MotorLayout, Press, PressKind, Side


class VacuumReading(NamedTuple):
    """One pressure sample: vacuum below atmosphere, taken at ``at_s`` (device clock)."""

    vacuum_mmhg: float
    at_s: float


class VolumeReading(NamedTuple):
    """One bottle-scale sample: milk collected on a side since the session began."""

    volume_ml: float
    at_s: float


_LEFT = Side.LEFT
_RIGHT = Side.RIGHT
"""The sides as module constants: an enum member read through its class is a slow
attribute lookup, and the per-side checks below run every tick."""

SideReadings = tuple[
    VacuumReading | None, VacuumReading | None, VolumeReading | None, VolumeReading | None
]
"""Both sides' latest samples at once: left vacuum, right vacuum, left volume, right volume."""


@dataclass(frozen=True, slots=True)
class PumpSpec:
    """What the hardware maker declares: the physical bounds of the pneumatics and sensors.

    A safety supervisor checks readings against these: a reading the hardware cannot
    produce (vacuum rising faster than the motor can pull, not falling while the vent is
    open) means a sensor, motor or valve fault.
    """

    max_rise_mmhg_s: float
    """Fastest the vacuum can rise, at full duty from atmosphere."""
    stall_mmhg: float
    """Highest vacuum the motor can pull with everything closed."""
    vent_per_s_min: float
    """An open vent releases at least this fraction of the vacuum per second."""
    vent_per_s_max: float
    """An open vent releases at most this fraction of the vacuum per second."""
    leak_per_s_max: float
    """A sealed flange leaks at most this fraction of the vacuum per second."""
    pressure_noise_mmhg: float
    """Standard deviation of the pressure sensor's noise."""
    pressure_period_s: float
    volume_noise_ml: float
    """Standard deviation of the bottle scale's noise."""
    volume_period_s: float
    watchdog_s: float
    """The hardware watchdog cuts the motor and opens the vents after this long unkicked."""
    min_rise_mmhg_s: float = 0.0
    """Slowest the vacuum can rise at full duty from atmosphere with a sealed flange (0:
    not declared). A pressure sensor that reads low (its gain drifted) shows a slower
    rise than this; the self-test measures it on real hardware."""


@runtime_checkable
class Clock(Protocol):
    """Time as the device sees it; simulations advance it, hardware lets it pass."""

    def now_s(self) -> float: ...

    def sleep_until(self, at_s: float) -> None: ...


class WallClock:
    """The real monotonic clock, for hardware backends."""

    def now_s(self) -> float:
        return time.monotonic()

    def sleep_until(self, at_s: float) -> None:
        delay_s = at_s - time.monotonic()
        if delay_s > 0:
            time.sleep(delay_s)


@runtime_checkable
class Pump(Protocol):
    """What every pump backend offers a controller."""

    @property
    def name(self) -> str: ...

    @property
    def motor_layout(self) -> MotorLayout: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def spec(self) -> PumpSpec: ...

    @property
    def closed(self) -> bool: ...

    def read_vacuum(self, side: Side) -> VacuumReading | None: ...

    def read_volume(self, side: Side) -> VolumeReading | None: ...

    def read_sides(self) -> SideReadings: ...

    def set_duty(self, side: Side, duty: float) -> None: ...

    def set_vent(self, side: Side, open_: bool) -> None: ...

    def kick(self) -> None: ...

    def rearm(self) -> None: ...

    def faults(self) -> frozenset[HardwareFault]: ...

    def presses(self) -> tuple[Press, ...]: ...

    def make_safe(self) -> None: ...

    def close(self) -> None: ...


class BasePump(ABC):
    """Lifecycle and input checks shared by every backend.

    A device opens ready to use and closes once: ``close()`` is idempotent, turns the
    motor off and opens both vents, and a closed device refuses every command
    (``DeviceClosedError``) rather than reopening, as httpx clients do. Use it as a
    context manager so that an exception still leaves the pump safe.

    Readings that are missing or not finite come back as ``None``: a controller must
    treat that side's sensor as dropped out. Sides are ``Side`` members (``"left"`` and
    ``"right"`` are accepted too, on a slower path).
    """

    name: str = "base"
    motor_layout: MotorLayout = MotorLayout.PER_SIDE

    def __init__(self, clock: Clock, spec: PumpSpec) -> None:
        self._clock = clock
        self._spec = spec
        self._closed = False

    @property
    def spec(self) -> PumpSpec:
        """The hardware's declared physical bounds."""
        return self._spec

    @property
    def clock(self) -> Clock:
        """The clock to pace a control loop with (``sleep_until`` absolute deadlines)."""
        return self._clock

    @property
    def closed(self) -> bool:
        return self._closed

    def read_vacuum(self, side: Side) -> VacuumReading | None:
        """The latest vacuum sample on ``side``, or None when the sensor gives none."""
        if self._closed or (side is not _LEFT and side is not _RIGHT):
            side = self._check(side)
        raw = self._read_vacuum(side)
        if raw is None or not -1e6 < raw[0] < 1e6:
            return None
        return VacuumReading(raw[0], raw[1])

    def read_volume(self, side: Side) -> VolumeReading | None:
        """The latest collected-volume sample on ``side`` (lags the nipple by ~0.5 s)."""
        if self._closed or (side is not _LEFT and side is not _RIGHT):
            side = self._check(side)
        raw = self._read_volume(side)
        if raw is None or not -1e6 < raw[0] < 1e6:
            return None
        return VolumeReading(raw[0], raw[1])

    def read_sides(self) -> SideReadings:
        """Both sides' latest samples in one call: (left vacuum, right vacuum, left volume,
        right volume), each as ``read_vacuum``/``read_volume`` give it. A link sends them
        in one frame; a backend may answer faster than four reads (the safety core reads
        this every tick)."""
        return (
            self.read_vacuum(Side.LEFT),
            self.read_vacuum(Side.RIGHT),
            self.read_volume(Side.LEFT),
            self.read_volume(Side.RIGHT),
        )

    def set_duty(self, side: Side, duty: float) -> None:
        """Ask the motor serving ``side`` for ``duty`` in 0..1 (fraction of full power)."""
        if self._closed or (side is not _LEFT and side is not _RIGHT):
            side = self._check(side)
        if not 0.0 <= duty <= 1.0:
            raise ValueError(f"motor duty must be within 0..1, got {duty!r}")
        self._set_duty(side, float(duty))

    def set_vent(self, side: Side, open_: bool) -> None:
        """Open (release vacuum) or close the vent valve of ``side``."""
        if self._closed or (side is not _LEFT and side is not _RIGHT):
            side = self._check(side)
        self._set_vent(side, open_ is True or bool(open_))

    def kick(self) -> None:
        """Tell the hardware watchdog the controller is alive (at least every 250 ms)."""
        if self._closed:
            self._check_open()
        self._kick()

    def rearm(self) -> None:
        """Clear a tripped watchdog; the motor stays off until commanded again."""
        self._check_open()
        self._rearm()

    def faults(self) -> frozenset[HardwareFault]:
        """Faults the hardware reports now."""
        if self._closed:
            self._check_open()
        return self._faults()

    def presses(self) -> tuple[Press, ...]:
        """Button presses since the last call, oldest first."""
        if self._closed:
            self._check_open()
        return self._presses()

    def make_safe(self) -> None:
        """Motors off first, then vents open, leaving the pump open for more.

        Every output is tried even when one write fails and even when the pump is
        closed ("closed" never counts as safe); a failure raises ``DeviceError`` naming
        each output that did not take its safe value.
        """
        failed: list[str] = []
        for side in SIDES:
            try:
                self._set_duty(side, 0.0)
            except Exception as exc:
                failed.append(f"{side.value} motor: {exc}")
        for side in SIDES:
            try:
                self._set_vent(side, True)
            except Exception as exc:
                failed.append(f"{side.value} vent: {exc}")
        if failed:
            raise DeviceError(f"the pump could not be made safe: {'; '.join(failed)}")

    def close(self) -> None:
        """Motor off, vents open, and the device refuses further use. Idempotent.

        Every output is tried; if one fails, the device still closes and the failure is
        raised (``DeviceError``), and ``make_safe`` may be called again."""
        if self._closed:
            return
        try:
            self.make_safe()
        finally:
            self._closed = True
            self._close()

    def __enter__(self) -> Self:
        self._check_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise DeviceClosedError(f"pump {self.name!r} is closed")

    def _check(self, side: object) -> Side:
        """The slow path of the per-side checks: refuse, or accept ``"left"``/``"right"``."""
        self._check_open()
        if isinstance(side, str) and side in ("left", "right"):
            return Side(side)
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")

    @abstractmethod
    def _read_vacuum(self, side: Side) -> tuple[float, float] | None: ...

    @abstractmethod
    def _read_volume(self, side: Side) -> tuple[float, float] | None: ...

    @abstractmethod
    def _set_duty(self, side: Side, duty: float) -> None: ...

    @abstractmethod
    def _set_vent(self, side: Side, open_: bool) -> None: ...

    @abstractmethod
    def _kick(self) -> None: ...

    @abstractmethod
    def _rearm(self) -> None: ...

    @abstractmethod
    def _faults(self) -> frozenset[HardwareFault]: ...

    @abstractmethod
    def _presses(self) -> tuple[Press, ...]: ...

    def _close(self) -> None:
        """Release backend resources after the pump was made safe."""


def make_safe(pump: Pump) -> None:
    """Motors off first, then vents open on ``pump``, every output tried (see
    ``BasePump.make_safe``); leaves the pump open for more, unlike ``close``."""
    pump.make_safe()


def read_volumes(pump: Pump) -> dict[Side, float | None]:
    """Each side's latest collected volume (None where the scale gives no reading)."""
    volumes: dict[Side, float | None] = {}
    for side in SIDES:
        scale = pump.read_volume(side)
        volumes[side] = None if scale is None else scale.volume_ml
    return volumes


__all__ = [
    "SIDES",
    "BasePump",
    "Clock",
    "HardwareFault",
    "MotorLayout",
    "Press",
    "PressKind",
    "Pump",
    "PumpSpec",
    "Side",
    "SideReadings",
    "VacuumReading",
    "VolumeReading",
    "WallClock",
    "make_safe",
    "read_volumes",
]
