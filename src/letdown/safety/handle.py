"""``SafePump``: the supervised handle, the only way a controller reaches a pump.

It owns the backend. Controllers read, command and kick through it as through any
``Pump``; every tick it reads the backend, lets the safety core check the readings and
the controller's requests, and writes the outputs the core returns: motors first, then
vents, every output tried even when one write fails. The core ticks whatever the
controller does: on simulated time each time the controller sleeps (so a controller
that sleeps without commanding is still watched, tick by tick); on the wall clock in
its own thread, so a controller that raises or hangs is still watched.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

from letdown.device.base import (
    Clock,
    MotorLayout,
    Pump,
    PumpSpec,
    SideReadings,
    VacuumReading,
    VolumeReading,
    WallClock,
)
from letdown.errors import DeviceClosedError, DeviceError
from letdown.safety import core
from letdown.safety.faults import SafetyFault, limits_for
from letdown.words import SIDES, HardwareFault, Press, PressKind, Side

log = logging.getLogger(__name__)

_NO_FAULTS: frozenset[HardwareFault] = frozenset()


_LEFT = Side.LEFT
_RIGHT = Side.RIGHT


def _index(side: Side | str) -> int:
    if side is _LEFT:
        return 0
    if side is _RIGHT:
        return 1
    return core._side(side)


class _CoreClock:
    """The controller's clock: sleeping on simulated time steps the core tick by tick.

    Its two methods are the backend clock's ``now_s`` and the handle's ``_sleep_until``
    themselves (bound once: a controller calls them every tick)."""

    def __init__(self, handle: SafePump) -> None:
        self.now_s: Callable[[], float] = handle._backend_clock.now_s
        self.sleep_until: Callable[[float], None] = handle._sleep_until


class SafePump:
    """A pump under the safety core.

    Args:
        backend: the raw backend (``letdown.device.open_pump``); the handle owns it from
            now on: close the handle, not the backend.
        tick_s: the core's period (10 ms: 100 Hz).
        cap_mmhg: a lower single-side cap than the absolute 300 mmHg, if wanted.
        session_max_s: a shorter auto-off than 40 minutes, if wanted.

    A fault latches: ``fault`` says why, the outputs stay safe, and the handle cannot be
    re-armed (a new session opens a new handle).
    """

    def __init__(
        self,
        backend: Pump,
        *,
        tick_s: float = 0.01,
        max_late_s: float = 0.05,
        cap_mmhg: float = core.CAP_SINGLE_MMHG,
        session_max_s: float = core.SESSION_MAX_S,
    ) -> None:
        if isinstance(backend, SafePump):
            raise ValueError("that pump is already under a safety core")
        self._backend = backend
        self._lock = threading.RLock()
        limits = limits_for(
            backend.spec,
            motor_layout=backend.motor_layout,
            tick_s=tick_s,
            max_late_s=max_late_s,
            cap_mmhg=cap_mmhg,
            session_max_s=session_max_s,
        )
        self._backend_clock = backend.clock
        self._backend_sleep = self._backend_clock.sleep_until
        now_s = self._backend_clock.now_s()
        self.core = core.Core(limits, now_s)
        self._sides = self.core._sides
        self.tick_s = limits.tick_s
        self._next_s = now_s + self.tick_s
        self._clock = _CoreClock(self)
        read_sides = getattr(backend, "read_sides", None)
        self._read_sides: Callable[[], SideReadings] = (
            read_sides if callable(read_sides) else self._read_each
        )
        reported = getattr(backend, "applied_outputs", None)
        self._reported: Callable[[], tuple[float, bool, float, bool] | None] | None = (
            reported if callable(reported) else None
        )
        self._vacuum: list[VacuumReading | None] = [None, None]
        self._volume: list[VolumeReading | None] = [None, None]
        self._hardware: frozenset[HardwareFault] = _NO_FAULTS
        self._presses: list[Press] = []
        self._closed = False
        self._close_requested = False
        self._problems: list[str] = []
        self._fault: SafetyFault | None = None
        self._outputs = core._SAFE
        self._written = False
        # A backend whose own controller runs a core too (the serial pump's firmware) is
        # told each comfort ceiling this core holds, so that both hold the same one.
        hook = getattr(backend, "set_ceiling", None)
        self._ceiling_hook = hook if callable(hook) else None
        self._ceilings_sent = [s.ceiling_mmhg for s in self.core._sides]
        self._parent_raised = [False, False]
        self._apply(self._outputs)
        self._thread: threading.Thread | None = None
        self._stepped = not isinstance(backend.clock, WallClock)
        if not self._stepped:
            self._thread = threading.Thread(
                target=self._run, name=f"letdown-safety-{backend.name}", daemon=False
            )
            self._thread.start()

    # --- the Pump a controller sees -------------------------------------------------------
    @property
    def name(self) -> str:
        return self._backend.name

    @property
    def motor_layout(self) -> MotorLayout:
        return self._backend.motor_layout

    @property
    def spec(self) -> PumpSpec:
        return self._backend.spec

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def closed(self) -> bool:
        return self._closed

    # The per-side methods below run several times a tick: the side's index is worked out
    # inline (``_index`` for anything but a ``Side``).
    def read_vacuum(self, side: Side) -> VacuumReading | None:
        """The vacuum the core saw at its last tick."""
        return self._vacuum[0 if side is _LEFT else 1 if side is _RIGHT else _index(side)]

    def read_volume(self, side: Side) -> VolumeReading | None:
        return self._volume[0 if side is _LEFT else 1 if side is _RIGHT else _index(side)]

    def read_sides(self) -> SideReadings:
        """Both sides' readings as the core saw them at its last tick."""
        vacuum = self._vacuum
        volume = self._volume
        return (vacuum[0], vacuum[1], volume[0], volume[1])

    def set_duty(self, side: Side, duty: float) -> None:
        """Ask for ``duty`` on ``side``: the core applies it at its next tick if it may.
        A duty that is not a number in 0..1 latches a fault and raises ValueError."""
        if self._closed:
            self._check_open()
        s = self._sides[0 if side is _LEFT else 1 if side is _RIGHT else _index(side)]
        if duty.__class__ is float and 0.0 <= duty <= 1.0:
            s.duty = duty  # the common case, checked as ``core.request`` would
        else:
            self.core.request(s.index, duty, s.vent)

    def set_vent(self, side: Side, open_: bool) -> None:
        if self._closed:
            self._check_open()
        self._sides[0 if side is _LEFT else 1 if side is _RIGHT else _index(side)].vent = (
            open_ is not False
        )

    def kick(self) -> None:
        """The controller is alive; the core kicks the hardware's watchdog while it is."""
        if self._closed:
            self._check_open()
        self.core.kick()

    def rearm(self) -> None:
        raise DeviceError("a pump under the safety core cannot be re-armed: start a new session")

    def faults(self) -> frozenset[HardwareFault]:
        return self._hardware

    def presses(self) -> tuple[Press, ...]:
        """Button presses since the last call (the core has acted on them already)."""
        if not self._presses:
            return ()
        with self._lock:
            presses = tuple(self._presses)
            self._presses.clear()
        return presses

    def make_safe(self) -> None:
        """Stop pumping now (not a fault): motors off and vents open at once."""
        with self._lock:
            self.core.stop(core.STOP_REQUEST, self.core._now_s)
            self._apply(core._SAFE)

    def close(self) -> None:
        """Motors off, vents open, backend closed. From another thread it is a request,
        honoured within one tick. Idempotent."""
        self._close_requested = True
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(10 * self.tick_s + 1.0)
        with self._lock:
            self._close_now()

    def release(self) -> None:
        """Outputs safe and the handle closed, the backend left open (see
        ``end_supervised``). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._close_requested = True
            self.core.stop(core.STOP_REQUEST, self.core._now_s)
            self._apply(core._SAFE)
            self._closed = True
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(10 * self.tick_s + 1.0)

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

    # --- what only a supervised pump offers ------------------------------------------------
    @property
    def fault(self) -> SafetyFault | None:
        """The latched fault, or None while the pump is healthy."""
        found = self.core.fault
        if found is not None and self._fault is None:
            self._fault = SafetyFault.from_core(found, self.link_error)
        return self._fault

    @property
    def link_error(self) -> str | None:
        """Why the backend's link to the pump failed (a real pump's cable pulled, its
        firmware restarted), in words; None while it holds or when it has no link."""
        error = getattr(self._backend, "link_error", None)
        return error if isinstance(error, str) else None

    @property
    def stopped(self) -> str:
        """Why the core stopped pumping without a fault ("" while it may pump)."""
        return self.core.stopped

    @property
    def problems(self) -> tuple[str, ...]:
        """Writes or reads the backend refused, in words, oldest first."""
        return tuple(self._problems)

    def fail(self, reason: str, detail: str = "") -> SafetyFault:
        """Latch a fault from above (a controller's error): outputs safe at once."""
        with self._lock:
            self.core.trip(reason, None, self.core._now_s, detail)
            self._apply(core._SAFE)
        fault = self.fault
        assert fault is not None
        return fault

    def ceiling(self, side: Side) -> float:
        s = self._sides[0 if side is _LEFT else 1 if side is _RIGHT else _index(side)]
        return s.ceiling_mmhg

    def lower_ceiling(self, side: Side, ceiling_mmhg: float) -> float:
        return self.core.lower_ceiling(_index(side), ceiling_mmhg)

    def raise_ceiling(self, side: Side, ceiling_mmhg: float) -> float:
        """The parent's own action only: one step at most, never above the cap."""
        index = _index(side)
        with self._lock:
            before = self.core._sides[index].ceiling_mmhg
            raised = self.core.raise_ceiling(index, ceiling_mmhg)
            if raised > before:
                self._parent_raised[index] = True
        return raised

    def peak_between(self, side: Side, from_s: float, to_s: float) -> float:
        return self.core.peak_between(_index(side), from_s, to_s)

    def too_much(self, side: Side) -> None:
        """ "Too much" from a phone: acted on as the pump's own button is."""
        with self._lock:
            self.core.press("too_much", _index(side), self.core._now_s)

    def paused(self, side: Side) -> bool:
        return self.core.paused(_index(side))

    def resume(self, side: Side) -> None:
        self.core.resume(_index(side))

    def extend(self, seconds: float) -> float:
        return self.core.extend(seconds)

    def events(self) -> list[tuple[str, Side | None, float]]:
        """What the core did on its own since the last call (pauses, stops, lowerings)."""
        with self._lock:
            events = [
                (what, None if side is None else SIDES[side], at_s)
                for what, side, at_s in self.core.events
            ]
            self.core.events.clear()
        return events

    # --- the tick -----------------------------------------------------------------------
    def _sleep_until(self, at_s: float) -> None:
        if not self._stepped:
            self._backend_clock.sleep_until(at_s)
            return
        backend_sleep = self._backend_sleep
        lock = self._lock
        while True:
            if self._next_s > at_s + 1e-9 and not self._close_requested:
                return  # the common case after a tick, without taking the lock again
            lock.acquire()  # not ``with``: twice as fast, and this runs every tick
            try:
                if self._closed:
                    return
                if self._close_requested:
                    self._close_now()
                    return
                next_s = self._next_s
                if next_s > at_s + 1e-9:
                    return
                backend_sleep(next_s)
                self._next_s = next_s + self.tick_s
                self._tick(0.0)
            finally:
                lock.release()

    def _run(self) -> None:
        """The core's own thread, on the wall clock."""
        clock = self._backend_clock
        while not self._close_requested and not self._closed:
            clock.sleep_until(self._next_s)
            with self._lock:
                if self._closed:
                    break
                late_s = clock.now_s() - self._next_s
                self._next_s += self.tick_s
                if late_s > 5 * self.tick_s:
                    self._next_s = clock.now_s() + self.tick_s
                self._tick(late_s if late_s > 0.0 else 0.0)
        with self._lock:
            self._close_now()

    def _tick(self, late_s: float) -> None:
        """Read, check, write: once per tick, under the lock."""
        backend = self._backend
        c = self.core
        try:
            now_s = self._backend_clock.now_s()
            read_sides = self._read_sides  # (an attribute, not a method: no LOAD_METHOD)
            left, right, scale_l, scale_r = read_sides()
            hardware = backend.faults()
            presses = backend.presses()
        except Exception as exc:
            self._problem(f"the pump could not be read: {exc}")
            c.trip(core.DEVICE_ERROR, None, c._now_s, f"{type(exc).__name__}: {exc}")
            self._apply(core._SAFE)
            return
        vacuum = self._vacuum
        vacuum[0] = left
        vacuum[1] = right
        volume = self._volume
        volume[0] = scale_l
        volume[1] = scale_r
        self._hardware = hardware
        if presses:
            self._presses.extend(presses)
            for press in presses:
                side = None if press.side is None else _index(press.side)
                kind = press.kind.value if isinstance(press.kind, PressKind) else str(press.kind)
                c.press(kind, side, press.at_s)
        # A backend whose own controller reports what it really applied (the serial
        # pump's firmware: commands land up to a tick late, or held during a host pause)
        # has its readings checked against that, not against what was last written.
        if self._reported is not None:
            actual = self._reported()
            if actual is not None:
                c.applied(*actual)
        # The readings' fields by index ([0] the value, [1] its time): CPython 3.11 does
        # not specialise a NamedTuple's attribute lookups, and this runs every tick.
        outputs = c.tick(
            now_s,
            None if left is None else left[0],
            None if right is None else right[0],
            None if scale_l is None else scale_l[0],
            None if scale_r is None else scale_r[0],
            None if scale_l is None else scale_l[1],
            bool(hardware),
            late_s,
        )
        if outputs != self._outputs or not self._written:
            self._apply(outputs)
        if self._ceiling_hook is not None:
            self._forward_ceilings(self._ceiling_hook)
        if c.fault is None:
            try:
                backend.kick()
            except Exception as exc:
                self._problem(f"the pump's watchdog could not be kicked: {exc}")
                c.trip(core.OUTPUT_FAILURE, None, c._now_s, f"{type(exc).__name__}: {exc}")
                self._apply(core._SAFE)

    def _read_each(self) -> SideReadings:
        """Both sides' readings from a backend without ``read_sides``."""
        backend = self._backend
        return (
            backend.read_vacuum(_LEFT),
            backend.read_vacuum(_RIGHT),
            backend.read_volume(_LEFT),
            backend.read_volume(_RIGHT),
        )

    def _apply(self, outputs: tuple[float, bool, float, bool]) -> None:
        """Write ``outputs``: motors first, then vents; every write tried. A write that
        fails latches a fault and every output is tried again at its safe value."""
        if self._closed:
            return  # closing wrote the safe outputs itself; a closed backend takes none
        if outputs == self._outputs and self._written:
            return  # nothing changed: the backend holds what it was told
        failed = self._write(outputs)
        self._written = not failed
        self._outputs = outputs
        self.core.applied(*outputs)
        if failed:
            c = self.core
            c.trip(core.OUTPUT_FAILURE, None, c._now_s, "; ".join(failed))
            if outputs != core._SAFE:
                self._write(core._SAFE)
                self._outputs = core._SAFE
                self.core.applied(*core._SAFE)

    def _write(self, outputs: tuple[float, bool, float, bool]) -> list[str]:
        """Motors first, then vents, every write tried once; what failed, in words."""
        duty_l, vent_l, duty_r, vent_r = outputs
        backend = self._backend
        done = 0
        try:  # the common case, every write taken, without building the list below
            backend.set_duty(_LEFT, duty_l)
            done = 1
            backend.set_duty(_RIGHT, duty_r)
            done = 2
            backend.set_vent(_LEFT, vent_l)
            done = 3
            backend.set_vent(_RIGHT, vent_r)
            return []
        except Exception as exc:
            first: Exception = exc
        failed: list[str] = []
        writes = (
            ("motor", backend.set_duty, _LEFT, duty_l),
            ("motor", backend.set_duty, _RIGHT, duty_r),
            ("vent", backend.set_vent, _LEFT, vent_l),
            ("vent", backend.set_vent, _RIGHT, vent_r),
        )
        for step, (what, write, side, value) in enumerate(writes):
            if step < done:
                continue  # taken already
            try:
                if step == done:
                    raise first
                write(side, value)  # type: ignore[arg-type]
            except Exception as exc:
                text = f"{side.value} {what}: {exc}"
                failed.append(text)
                self._problem(f"the pump did not take a command ({text})")
        return failed

    def _forward_ceilings(self, hook: Callable[..., object]) -> None:
        """Tell the backend each ceiling that changed since it was last told: a lowering
        as one, a raise as the parent's only when the parent raised it here."""
        sent = self._ceilings_sent
        for s in self.core._sides:
            ceiling = s.ceiling_mmhg
            index = s.index
            if ceiling == sent[index]:
                continue
            parent = ceiling > sent[index] and self._parent_raised[index]
            sent[index] = ceiling
            self._parent_raised[index] = False
            try:
                hook(SIDES[index], ceiling, parent=parent)
            except Exception as exc:
                c = self.core
                self._problem(f"the pump did not take a comfort ceiling: {exc}")
                c.trip(core.OUTPUT_FAILURE, None, c._now_s, f"{type(exc).__name__}: {exc}")
                self._apply(core._SAFE)

    def _problem(self, text: str) -> None:
        log.error("%s", text)
        if len(self._problems) < 100:
            self._problems.append(text)

    def _close_now(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.core.stop(core.STOP_REQUEST, self.core._now_s)
        failed = self._write(core._SAFE)
        try:
            self._backend.close()
        except Exception as exc:
            self._problem(f"the pump could not be closed cleanly: {exc}")
        if failed:
            log.error("closing the pump: %s", "; ".join(failed))

    def _check_open(self) -> None:
        if self._closed:
            raise DeviceClosedError(f"pump {self.name!r} is closed")


def supervise(pump: Pump | SafePump, **kwargs: float) -> SafePump:
    """``pump`` under a safety core (a handle already under one is returned as it is)."""
    if isinstance(pump, SafePump):
        return pump
    return SafePump(pump, **kwargs)


def end_supervised(safe: SafePump, given: Pump | SafePump) -> None:
    """At the end of a supervised loop: a handle the loop made for a raw backend is
    released (outputs safe, the backend left open for the next controller, which puts
    it under a core of its own); a handle it was given rests, both sides vented."""
    if safe is given:
        if not safe.closed:
            for side in SIDES:
                safe.set_duty(side, 0.0)
                safe.set_vent(side, True)
            with safe._lock:
                safe._apply(core._SAFE)
    else:
        safe.release()
