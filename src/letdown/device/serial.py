"""The real pump's backend: letdown's firmware on an RP2040 over USB serial.

``open_pump("serial:///dev/ttyACM0")`` opens the port with pyserial, asks the firmware
for its hello (protocol version, firmware version, the hardware's declared spec) and
rearms it. Every control tick, ``clock.sleep_until`` sends one command frame (both
sides' duty and vent, the kick) and waits for the firmware's reading stamped at or after
the deadline: the device's clock paces the controller, as the simulated pump's does.

Frames are COBS with a CRC-16 (the ``cobs`` and ``crcmod`` packages; the layout is
``letdown.device.link``, shared with the firmware). A frame that fails its CRC, a gap or
a repeat in the firmware's sequence numbers, a restart of the firmware, or 200 ms without
a reading is a link fault: the backend tells the firmware to make the pump safe (it does
so by itself when the host falls silent), reports the fault in ``faults()``, and explains
it in ``link_error``.

URLs: ``serial:///dev/ttyACM0`` (a device path), ``serial+socket://HOST:PORT`` (pyserial's
socket handler, for a firmware peer on the network).
"""

from __future__ import annotations

import contextlib
import errno
import grp
import math
import os
import struct
import time
from collections import deque
from typing import Any

import cobs.cobs
import crcmod.predefined
import serial
import serial.tools.list_ports

from letdown.device import link
from letdown.device.base import (
    SIDES,
    BasePump,
    HardwareFault,
    Press,
    PressKind,
    PumpSpec,
    Side,
)
from letdown.device.selftest import spec_in_use
from letdown.errors import DeviceError

HELLO_TIMEOUT_S = 2.0
"""The firmware answers a hello request within a few ticks; 2 s covers a board that is
still booting."""
LINK_TIMEOUT_S = link.HOST_TIMEOUT_MS / 1000.0
"""No reading for this long (wall time) and the link counts as lost; the firmware times
the host out after the same 200 ms and vents."""
TICK_S = 0.01
"""The firmware reads and reports every 10 ms."""
BAUD = 115200
"""USB CDC ignores the baud rate; a UART bridge would need it."""

_crc16 = crcmod.predefined.mkCrcFun("crc-ccitt-false")
_PRESS_KINDS = (
    (PressKind.TOO_MUCH, Side.LEFT),
    (PressKind.TOO_MUCH, Side.RIGHT),
    (PressKind.LIMIT, Side.LEFT),
    (PressKind.LIMIT, Side.RIGHT),
    (PressKind.STOP, None),
)
_NO_FAULTS: frozenset[HardwareFault] = frozenset()
_READING_SIZE = len(link.pack_reading(0, 0.0, 0.0, 0.0, 0.0, 0, [0] * 5, 0, 0, 0, 0, 0, 0, 0, 0))


class PumpNotFoundError(DeviceError, FileNotFoundError):
    """No serial device at that path."""


class PumpPermissionError(DeviceError, PermissionError):
    """The serial device exists but this user may not open it."""


class FirmwareVersionError(DeviceError):
    """The firmware speaks another protocol version, or is not letdown's."""


class LinkLostError(DeviceError):
    """The link to the pump failed mid-session; the firmware vents by itself."""


def seal(kind: int, seq: int, body: bytes) -> bytes:
    """One frame's bytes, built with the ``cobs`` and ``crcmod`` libraries."""
    payload = link.header(kind, seq) + body
    encoded: bytes = cobs.cobs.encode(payload + struct.pack("<H", _crc16(payload)))
    return encoded + b"\x00"


def open_frame(frame: bytes) -> tuple[int, int, bytes]:
    """``(kind, seq, body)`` of one frame; ``link.LinkError`` when it fails a check."""
    try:
        raw = cobs.cobs.decode(frame)
    except cobs.cobs.DecodeError:
        raise link.LinkError("crc", "frame is not valid COBS") from None
    if len(raw) < 6 or _crc16(raw[:-2]) != raw[-2] | (raw[-1] << 8):
        raise link.LinkError("crc", "frame CRC mismatch")
    return link.split(raw[:-2])


def port_for(url: str) -> str:
    """The pyserial port or URL for a letdown device URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    if scheme == "serial":
        if not rest.startswith("/"):
            raise DeviceError(
                f"a serial pump URL names a device path, as serial:///dev/ttyACM0; got {url!r}"
            )
        return rest
    if scheme.startswith("serial+"):
        return f"{scheme.removeprefix('serial+')}://{rest}"
    raise DeviceError(f"not a serial pump URL: {url!r} (try serial:///dev/ttyACM0)")


def _open_port(url: str) -> Any:
    port = port_for(url)
    try:
        return serial.serial_for_url(port, baudrate=BAUD, timeout=0, write_timeout=0.2)
    except serial.SerialException as exc:
        code = getattr(exc, "errno", None)
        text = str(exc)
        if code == errno.EACCES or "Permission denied" in text:
            group = _group_of(port)
            raise PumpPermissionError(
                f"permission denied opening {port}: add yourself to the '{group}' group"
                f" (sudo usermod -aG {group} $USER), then log out and back in"
            ) from None
        if code == errno.ENOENT or "No such file" in text or "could not open port" in text:
            found = ", ".join(p.device for p in serial.tools.list_ports.comports()) or "none"
            raise PumpNotFoundError(
                f"no pump at {port}: is it plugged in and powered? (serial ports found: {found})"
            ) from None
        raise DeviceError(f"cannot open the pump at {port}: {text}") from None


def _group_of(path: str) -> str:
    try:
        return grp.getgrgid(os.stat(path).st_gid).gr_name
    except (OSError, KeyError):
        return "dialout"


class DeviceClock:
    """The pump's clock: device time from its readings; sleeping is waiting for them."""

    def __init__(self, pump: SerialPump) -> None:
        self._pump = pump

    def now_s(self) -> float:
        return self._pump.now_s()

    def sleep_until(self, at_s: float) -> None:
        pump = self._pump
        if pump.lost_at is not None:
            # No device to pace us any more: its clock goes on as the wall's does.
            time.sleep(max(0.0, min(1.0, at_s - pump.device_s)))
            pump.device_s = max(at_s, pump.device_s + 1e-3)
            return
        pump.exchange(at_s)


class SerialPump(BasePump):
    """A double pump running letdown's firmware, on a serial port.

    Args:
        url: ``serial:///dev/ttyACM0``, ``serial+socket://host:port``, or a bare path.
        port: an already open pyserial-like port (tests), instead of ``url``.
        link_timeout_s: no reading for this long (wall time) and the link is lost; a
            simulated board on a loaded machine may need more than a board's 200 ms.
        ready: wait for the sensors and rearm the firmware before returning (the pump
            is then ready for a session); False leaves that to ``wait_ready``.
        measured: take the spec from this pump's last self-test where it is stricter
            than the declared one (``letdown.device.selftest.spec_in_use``), and refuse a
            pump whose self-test found it out of bounds; False (the self-test itself)
            keeps the declared spec alone.
    """

    name = "serial"

    def __init__(
        self,
        url: str | None = None,
        *,
        port: Any = None,
        link_timeout_s: float = LINK_TIMEOUT_S,
        ready: bool = True,
        measured: bool = True,
    ) -> None:
        if port is None:
            if url is None:
                raise DeviceError("a serial pump needs a URL, as serial:///dev/ttyACM0")
            port = _open_port(url)
        self.url = url or "serial"
        self.link_timeout_s = link_timeout_s
        self._port = port
        self._deframer = link.Deframer()
        self._rx = link.Sequence()
        self._tx_seq = 0
        self.device_s = 0.0
        self.boot_id: int | None = None
        self.firmware_version = ""
        self.lost_at: float | None = None
        """When (wall clock) the link was lost, if it was."""
        self.link_error: str | None = None
        """Why the link failed, in words for the parent; None while it holds."""
        self.link_faults: list[tuple[str, float]] = []
        """Every link fault seen: (kind, device time)."""
        self.rtts_ms: list[float] = []
        self._sent_at: dict[int, float] = {}
        self._duty = [0.0, 0.0]
        self._vent = [True, True]
        self._ceiling = [math.nan, math.nan]
        self._kick_pending = False
        self._rearm_next = False
        self._armed = False
        self._parent_raise = False
        self._vacuum: list[tuple[float, float] | None] = [None, None]
        self._volume: list[tuple[float, float] | None] = [None, None]
        self._presses_seen: tuple[int, ...] | None = None
        self._pending_presses: list[Press] = []
        self._flags = 0
        self._rearm_seq: int | None = None
        self._applied: tuple[float, bool, float, bool] | None = None
        """The rearm command not yet acknowledged: older readings' faults are history."""
        self.fault_reason = ""
        self._last_rx = time.monotonic()
        self._queue: deque[tuple[int, int, bytes, float | None]] = deque()
        with contextlib.suppress(AttributeError, serial.SerialException):
            port.reset_input_buffer()
        spec = self.declared_spec = self._handshake()
        if measured and url is not None:
            try:
                spec = spec_in_use(url, spec, self.sensor_span_mmhg)
            except DeviceError:
                with contextlib.suppress(serial.SerialException, OSError):
                    port.close()
                raise
        super().__init__(DeviceClock(self), spec)
        if ready:
            try:
                self.wait_ready()
            except DeviceError:
                with contextlib.suppress(serial.SerialException, OSError):
                    port.close()
                raise

    # --- the link ------------------------------------------------------------------------
    def _send(self, kind: int, body: bytes) -> None:
        seq = self._tx_seq
        self._tx_seq = (seq + 1) & 0xFFFF
        if kind == link.COMMAND:
            self._sent_at[seq] = time.monotonic()
            if len(self._sent_at) > 64:
                self._sent_at.pop(next(iter(self._sent_at)))
        try:
            self._port.write(seal(kind, seq, body))
        except (serial.SerialException, OSError) as exc:
            self._lose(f"cannot write to the pump ({exc})")

    def _handshake(self) -> PumpSpec:
        self._send(link.HELLO_REQUEST, b"")
        deadline = time.monotonic() + HELLO_TIMEOUT_S
        while time.monotonic() < deadline:
            for kind, _seq, body in self._frames(0.05):
                if kind != link.HELLO:
                    continue
                return self._on_hello(body)
        raise FirmwareVersionError(
            f"no answer from letdown's firmware at {self.url} within {HELLO_TIMEOUT_S:g} s:"
            " is the firmware installed? Install it with `letdown firmware install`"
        )

    def _on_hello(self, body: bytes) -> PumpSpec:
        try:
            boot_id, protocol, values, firmware = link.unpack_hello(body)
        except (struct.error, IndexError, UnicodeDecodeError):
            raise FirmwareVersionError(
                "the pump's hello is not one this letdown understands: update its firmware"
                " with `letdown firmware install`"
            ) from None
        if protocol != link.PROTOCOL:
            raise FirmwareVersionError(
                f"the pump runs firmware {firmware} (link protocol {protocol}); this letdown"
                f" speaks protocol {link.PROTOCOL}: update the firmware with"
                " `letdown firmware install`"
            )
        self.boot_id = boot_id
        self.firmware_version = firmware
        self.spec_values = tuple(values)
        self.sensor_span_mmhg = float(values[10])
        self._rx.reset()
        return PumpSpec(*(float(v) for v in values[:10]))

    def _frames(self, wait_s: float) -> list[tuple[int, int, bytes]]:
        """Frames that arrive within ``wait_s``; bad ones are link faults, not answers."""
        try:
            data = self._port.read(self._port.in_waiting or 1)
            if not data and wait_s > 0:
                self._port.timeout = wait_s
                data = self._port.read(1)
                self._port.timeout = 0
                if data:
                    data += self._port.read(self._port.in_waiting)
        except (serial.SerialException, OSError) as exc:
            self._lose(f"the serial device went away ({exc})")
            return []
        frames = []
        for raw in self._deframer.feed(data):
            try:
                frames.append(open_frame(raw))
            except link.LinkError as exc:
                if exc.kind == "version":
                    raise FirmwareVersionError(
                        f"the pump speaks another link protocol ({exc}): update its firmware"
                        " with `letdown firmware install`"
                    ) from None
                self._link_fault("corrupt", "a corrupted frame from the pump")
        return frames

    def _link_fault(self, kind: str, why: str) -> None:
        """A link fault: the pump is told to make itself safe; the session must end."""
        self.link_faults.append((kind, self.device_s))
        if self.link_error is None:
            self.link_error = f"link fault ({why}): the pump was told to vent"
        self._send(link.SAFE, link.pack_safe(7))

    def _lose(self, why: str) -> None:
        self.lost_at = time.monotonic()
        # Device time went on while nothing came: as much as the wall's since the last.
        self.device_s += max(1e-3, self.lost_at - self._last_rx)
        self.link_faults.append(("lost", self.device_s))
        if self.link_error is None or self.link_error.startswith("link fault"):
            self.link_error = (
                f"lost the link to the pump mid-session: {why}. The pump vented by itself"
                " (motors off, vents open within 200 ms); the session ended by link loss"
            )

    def now_s(self) -> float:
        """Device time: the stamp of the latest reading the controller has been given."""
        return self.device_s

    def exchange(self, until_s: float) -> None:
        """Send this tick's command, then take readings, in order, up to ``until_s``.

        Readings queue up and are taken one by one, at least one a tick, so a host that
        fell behind catches up through them (its ticks then come without waiting) and
        every tick sees the reading stamped at its own time.
        """
        if self.lost_at is not None:
            return
        flags = 0
        if self._kick_pending:
            flags |= link.KICK
        if self._rearm_next:
            flags |= link.REARM
            self._rearm_next = False
            self._rearm_seq = self._tx_seq
        if self._vent[0]:
            flags |= link.VENT_LEFT
        if self._vent[1]:
            flags |= link.VENT_RIGHT
        if self._parent_raise:
            flags |= link.PARENT_RAISE
            self._parent_raise = False
        if not any(t is not None and t >= until_s - 1e-6 for *_, t in self._queue):
            flags |= link.WAITING
        self._kick_pending = False
        self._send(
            link.COMMAND,
            link.pack_command(
                self._duty[0],
                self._duty[1],
                flags,
                self._ceiling[0],
                self._ceiling[1],
                list(self._presses_seen or (0, 0, 0, 0, 0)),
            ),
        )
        applied = False
        queue = self._queue
        while True:
            while queue:
                kind, seq, body, _t = queue.popleft()
                applied = self._on_frame(kind, seq, body) or applied
                if self.lost_at is not None:
                    return
                if applied and self.device_s >= until_s - 1e-6:
                    return
            frames = self._frames(0.002)
            now = time.monotonic()
            if frames:
                self._last_rx = now
                for kind, seq, body in frames:
                    t_s = None
                    if kind == link.READING and len(body) == _READING_SIZE:
                        t_ms, ack = struct.unpack_from("<I", body)[0], body[-8] | body[-7] << 8
                        t_s = t_ms / 1000.0
                        sent = self._sent_at.pop(ack, None)
                        if sent is not None:
                            # Command sent to the reading that acknowledges it, as received.
                            self.rtts_ms.append((now - sent) * 1000.0)
                    queue.append((kind, seq, body, t_s))
            elif self.lost_at is not None:
                return
            elif now - self._last_rx > self.link_timeout_s:
                self._lose(f"no reading for {self.link_timeout_s * 1000:.0f} ms")
                return

    def _on_frame(self, kind: int, seq: int, body: bytes) -> bool:
        """Take one frame; True when it was a reading that moved device time on."""
        if kind == link.HELLO:
            boot_id = link.unpack_hello(body)[0]
            if boot_id != self.boot_id:
                self._lose("the pump restarted")
            self._rx.reset()
            self._rx.check(seq)
            return False
        problem = self._rx.check(seq)
        if problem is not None:
            self._link_fault(
                "sequence", "frames from the pump were lost" if problem == "gap" else "repeated"
            )
        if kind != link.READING or problem == "repeat":
            return False
        try:
            r = link.unpack_reading(body)
        except struct.error:
            self._link_fault("corrupt", "a reading of the wrong size")
            return False
        t_s = r[0] / 1000.0
        if t_s <= self.device_s:
            return False
        self.device_s = t_s
        for side in (0, 1):
            vacuum = float(r[1 + side])  # type: ignore[arg-type]
            volume = float(r[3 + side])  # type: ignore[arg-type]
            self._vacuum[side] = (vacuum, t_s) if math.isfinite(vacuum) else None
            self._volume[side] = (volume, r[5] / 1000.0) if math.isfinite(volume) else None
        presses = r[6]
        if self._presses_seen is not None:
            for index, (count, seen) in enumerate(zip(presses, self._presses_seen, strict=True)):
                for _ in range((count - seen) & 0xFF):
                    kind_, side_ = _PRESS_KINDS[index]
                    self._pending_presses.append(Press(kind_, side_, t_s))
        self._presses_seen = tuple(presses)
        if self._rearm_seq is not None:
            if (r[10] - self._rearm_seq) & 0xFFFF >= 0x8000:
                return True
            self._rearm_seq = None
        self._flags = flags = r[7]
        self._applied = (
            r[13] / 255.0,
            bool(flags & link.APPLIED_VENT_LEFT),
            r[14] / 255.0,
            bool(flags & link.APPLIED_VENT_RIGHT),
        )
        code = r[8]
        self.fault_reason = (
            link.FAULT_REASONS[code] if 0 <= code < len(link.FAULT_REASONS) else "core"
        )
        return True

    def wait_ready(self, timeout_s: float = 5.0) -> None:
        """Wait until the firmware reads both sensors (it zeroes them at power-up), then
        rearm it: its core starts afresh, outputs off until commanded."""
        deadline = time.monotonic() + timeout_s
        session_timeout_s, self.link_timeout_s = self.link_timeout_s, timeout_s
        try:
            while time.monotonic() < deadline:
                self._kick_pending = True
                self.exchange(self.device_s + 0.01)
                if self.link_error is not None:
                    raise LinkLostError(self.link_error)
                if not all(v is not None for v in self._vacuum):
                    continue
                if not self._armed:
                    self._armed = self._rearm_next = True
                elif self._rearm_seq is None and not self._flags & link.FAULT:
                    return
        finally:
            self.link_timeout_s = session_timeout_s
        raise DeviceError(
            "the pump's pressure sensors give no reading, or its core will not start"
            f" ({self.fault_reason or 'no reason given'}): see docs/hardware.md"
        )

    # --- BasePump hooks --------------------------------------------------------------------
    def _read_vacuum(self, side: Side) -> tuple[float, float] | None:
        return self._vacuum[0 if side is Side.LEFT else 1]

    def _read_volume(self, side: Side) -> tuple[float, float] | None:
        return self._volume[0 if side is Side.LEFT else 1]

    def _set_duty(self, side: Side, duty: float) -> None:
        self._duty[0 if side is Side.LEFT else 1] = duty

    def _set_vent(self, side: Side, open_: bool) -> None:
        self._vent[0 if side is Side.LEFT else 1] = open_

    def set_ceiling(self, side: Side, mmhg: float, *, parent: bool = False) -> None:
        """Tell the firmware's core this side's comfort ceiling: it lowers it, and raises
        it only when ``parent`` says the parent asked (never above the cap)."""
        self._ceiling[0 if side is Side.LEFT else 1] = float(mmhg)
        self._parent_raise = self._parent_raise or parent

    def _kick(self) -> None:
        self._kick_pending = True

    def _rearm(self) -> None:
        self._rearm_next = self._armed = True
        self._duty[:] = [0.0, 0.0]
        self._vent[:] = [True, True]

    def _faults(self) -> frozenset[HardwareFault]:
        faults = set()
        if self._flags & (link.FAULT | link.STOPPED) or self.link_error is not None:
            faults.add(HardwareFault.WATCHDOG)
        if self.link_error is not None:
            faults.add(HardwareFault.LINK)
        return frozenset(faults) if faults else _NO_FAULTS

    def _presses(self) -> tuple[Press, ...]:
        presses = tuple(self._pending_presses)
        self._pending_presses.clear()
        return presses

    def _close(self) -> None:
        # close() set motors off and vents open; say so and latch it, then let go.
        if self.lost_at is None:
            self._send(link.SAFE, link.pack_safe(7))
        with contextlib.suppress(serial.SerialException, OSError):
            self._port.close()

    def applied_outputs(self) -> tuple[float, bool, float, bool] | None:
        """What the firmware really applied over the latest reading's interval (duty_l,
        vent_l, duty_r, vent_r): the host's core checks the reading against it."""
        return self._applied


__all__ = [
    "SIDES",
    "FirmwareVersionError",
    "LinkLostError",
    "PumpNotFoundError",
    "PumpPermissionError",
    "SerialPump",
    "open_frame",
    "port_for",
    "seal",
]
