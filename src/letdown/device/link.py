"""The pump's serial link: framed, checked, numbered and versioned messages.

One module for both ends: the host (``letdown.device.serial``) imports it as
``letdown.device.link`` and the firmware runs the same file as ``link`` on the RP2040
(MicroPython), so it uses only what MicroPython has: no dataclasses, enum, typing or
``__future__``; annotations are never evaluated there.

A frame on the wire is ``COBS(payload + CRC-16) + b"\\x00"``, where the payload is
``version, kind, seq (u16), body``. COBS (Cheshire & Baker, IEEE/ACM ToN 1999) makes
0x00 a frame delimiter that never occurs inside a frame, so a receiver resynchronises at
the next zero after any corruption; CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) detects
every 1-3 bit error and every burst up to 16 bits in frames this short (Koopman, "CRC
polynomial zoo"). On the host the ``cobs`` and ``crcmod`` packages do the framing; they
do not run under MicroPython (``memoryview.ndim``, package-relative imports), so this
module carries a small implementation of each, and a test checks that both produce the
same bytes.

Sequence numbers count each direction's frames; the receiver takes only the next number,
so a dropped, duplicated or reordered frame is detected, never silently applied.
"""

import struct

PROTOCOL = 1
"""Bumped on any change to a message's layout; the hello carries it."""

FIRMWARE_VERSION = "0.1.0"
"""The firmware release this module ships with (the host names it in errors)."""

# Message kinds.
HELLO = 1
"""MCU -> host, after boot and on request: protocol, firmware, boot id, declared spec."""
HELLO_REQUEST = 2
"""Host -> MCU: say hello (the host just opened the port)."""
READING = 3
"""MCU -> host, every 10 ms: both sides' readings, presses, faults, what was applied."""
COMMAND = 4
"""Host -> MCU, every control tick: duties, vents, kick, ceilings."""
SAFE = 5
"""Host -> MCU: motors off, vents open, latched (the host is closing or saw a fault)."""

# Command flags.
KICK = 1
REARM = 2
"""Clear a latched fault: outputs stay off until commanded again."""
VENT_LEFT = 4
VENT_RIGHT = 8
PARENT_RAISE = 32
"""The ceilings in this command are the parent's own raise (a level-up); without it the
firmware only ever lowers a ceiling."""
WAITING = 16
"""The host is blocked until the next reading (a simulated board may step at once;
the firmware on a board ignores it)."""

# Reading flags.
FAULT = 1
"""The firmware's safety core latched a fault: motors off, vents open."""
HOST_SILENT = 2
"""No valid host frame for ``HOST_TIMEOUT_MS``: the firmware made the pump safe."""
STOPPED = 4
"""The core stopped the pump without a fault (the stop button, the 40-minute limit):
motors off, vents open until a rearm."""
HOLD_LEFT = 8
HOLD_RIGHT = 16
"""The core paused that side ("too much" at the floor)."""
APPLIED_VENT_LEFT = 32
APPLIED_VENT_RIGHT = 64

HOST_TIMEOUT_MS = 200
"""Host silent this long: motors off, vents open (issue 10)."""

# Button indexes in a reading's press counters.
TOO_MUCH_LEFT = 0
TOO_MUCH_RIGHT = 1
LIMIT_LEFT = 2
LIMIT_RIGHT = 3
STOP = 4
BUTTONS = 5

SPEC_FIELDS = (
    "max_rise_mmhg_s",
    "stall_mmhg",
    "vent_per_s_min",
    "vent_per_s_max",
    "leak_per_s_max",
    "pressure_noise_mmhg",
    "pressure_period_s",
    "volume_noise_ml",
    "volume_period_s",
    "watchdog_s",
    "sensor_span_mmhg",
)
"""The declared spec a hello carries, in order (``PumpSpec``'s fields, then the
pressure sensor's span)."""

_HEADER = "<BBH"
_HEADER_SIZE = 4
_HELLO = "<IB" + "f" * len(SPEC_FIELDS)
_READING = "<IffffIBBBBBHBbHHHBB"
_COMMAND = "<ffBffBBBBB"
_SAFE = "<B"
MAX_FRAME = 96
"""Longer runs between zeros are noise, not a frame."""

# Fault codes carried in readings (index into FAULT_REASONS).
FAULT_REASONS = (
    "",
    "core",
    "host_silent",
    "link_crc",
    "link_sequence",
    "link_version",
    "stop",
    "host_safe",
    "not_connected",
    "bad_command",
    # The safety core's own reasons (letdown/safety/core.py).
    "over_cap",
    "over_ceiling",
    "pressure_dropout",
    "pressure_stuck",
    "pressure_implausible",
    "pressure_noisy",
    "pressure_gain",
    "motor_stuck",
    "vent_stuck",
    "leak",
    "volume_stuck",
    "loop_overrun",
    "watchdog",
    "controller_silent",
    "controller_error",
    "clock_jump",
    "output_failure",
    "device_error",
    "time_limit",
    "request",
)
"""A reading's fault code indexes this (why the firmware's core latched or stopped)."""


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (the same as crcmod's ``crc-ccitt-false``)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            if crc & 0x8000:
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF
            else:
                crc = (crc << 1) & 0xFFFF
    return crc


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode ``data`` (no trailing zero; the same bytes as ``cobs.cobs.encode``)."""
    out = bytearray(b"\x00")
    code_at = 0
    code = 1
    for byte in data:
        if byte:
            out.append(byte)
            code += 1
        if not byte or code == 0xFF:
            out[code_at] = code
            code = 1
            code_at = len(out)
            out.append(0)
    out[code_at] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Undo ``cobs_encode``; raises ValueError on bytes no encoder makes."""
    out = bytearray()
    index = 0
    size = len(data)
    while index < size:
        code = data[index]
        end = index + code
        if code == 0 or end > size:
            raise ValueError("bad COBS block")
        out.extend(data[index + 1 : end])
        index = end
        if code < 0xFF and index < size:
            out.append(0)
    return bytes(out)


class LinkError(Exception):
    """A frame that fails its check: corrupted, cut short, or from another protocol."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def header(kind: int, seq: int) -> bytes:
    """A payload's first bytes: protocol version, message kind, sequence number."""
    return struct.pack(_HEADER, PROTOCOL, kind, seq & 0xFFFF)


def split(payload: bytes) -> tuple[int, int, bytes]:
    """``(kind, seq, body)`` of a payload whose CRC checked; LinkError on a bad one."""
    if len(payload) < _HEADER_SIZE:
        raise LinkError("crc", "frame too short")
    version, kind, seq = struct.unpack(_HEADER, payload[:_HEADER_SIZE])
    if version != PROTOCOL:
        raise LinkError("version", "protocol " + str(version) + ", expected " + str(PROTOCOL))
    return kind, seq, payload[_HEADER_SIZE:]


def seal(kind: int, seq: int, body: bytes) -> bytes:
    """The bytes to send: header, body, CRC (little-endian), COBS, delimiter."""
    payload = header(kind, seq) + body
    return cobs_encode(payload + struct.pack("<H", crc16(payload))) + b"\x00"


def open_frame(frame: bytes) -> tuple[int, int, bytes]:
    """``(kind, seq, body)`` from one frame without its delimiter.

    Raises ``LinkError`` with kind ``"crc"`` (corrupted or truncated) or ``"version"``.
    """
    try:
        raw = cobs_decode(frame)
    except ValueError:
        raise LinkError("crc", "frame is not valid COBS") from None
    if len(raw) < _HEADER_SIZE + 2:
        raise LinkError("crc", "frame too short")
    payload = raw[:-2]
    if crc16(payload) != raw[-2] | (raw[-1] << 8):
        raise LinkError("crc", "frame CRC mismatch")
    return split(payload)


class Deframer:
    """Splits a byte stream at zeros into frames; overlong runs are dropped as noise."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.overruns = 0

    def feed(self, data: bytes) -> list[bytes]:
        """The complete frames (without delimiters) that ``data`` ends."""
        frames = []
        for byte in data:
            if byte == 0:
                if self._buffer:
                    frames.append(bytes(self._buffer))
                    self._buffer = bytearray()
            elif len(self._buffer) < MAX_FRAME:
                self._buffer.append(byte)
            else:
                self.overruns += 1
                self._buffer = bytearray()
        return frames


class Sequence:
    """Checks one direction's sequence numbers: only the next one is taken.

    ``check(seq)`` returns None for the next frame, ``"gap"`` when frames were lost, or
    ``"repeat"`` for a duplicate or a frame from the past. The first frame after
    ``reset()`` is taken whatever its number.
    """

    def __init__(self) -> None:
        self.last = -1

    def reset(self) -> None:
        self.last = -1

    def check(self, seq: int) -> str | None:
        last = self.last
        if last < 0:
            self.last = seq
            return None
        ahead = (seq - last) & 0xFFFF
        if ahead == 1:
            self.last = seq
            return None
        if ahead == 0 or ahead > 0x8000:
            return "repeat"
        self.last = seq
        return "gap"


def pack_hello(
    boot_id: int, spec_values: tuple[float, ...], firmware: str = FIRMWARE_VERSION
) -> bytes:
    """A hello's body: boot id, protocol, the declared spec, then the firmware version."""
    name = firmware.encode()
    return struct.pack(_HELLO, boot_id, PROTOCOL, *spec_values) + bytes([len(name)]) + name


def unpack_hello(body: bytes) -> tuple[int, int, tuple[float, ...], str]:
    """``(boot_id, protocol, spec_values, firmware)`` from a hello's body."""
    size = struct.calcsize(_HELLO)
    values = struct.unpack(_HELLO, body[:size])
    length = body[size]
    firmware = bytes(body[size + 1 : size + 1 + length]).decode()
    return values[0], values[1], values[2:], firmware


def pack_reading(
    t_ms: int,
    vacuum_l: float,
    vacuum_r: float,
    volume_l: float,
    volume_r: float,
    volume_t_ms: int,
    presses: list[int],
    flags: int,
    fault_code: int,
    fault_side: int,
    ack_seq: int,
    link_errors: int,
    boot_count: int,
    duty_l: int,
    duty_r: int,
) -> bytes:
    """A reading's body. Missing readings travel as NaN; duties as 0-255."""
    return struct.pack(
        _READING,
        t_ms & 0xFFFFFFFF,
        vacuum_l,
        vacuum_r,
        volume_l,
        volume_r,
        volume_t_ms & 0xFFFFFFFF,
        presses[0] & 0xFF,
        presses[1] & 0xFF,
        presses[2] & 0xFF,
        presses[3] & 0xFF,
        presses[4] & 0xFF,
        flags,
        fault_code,
        fault_side,
        ack_seq & 0xFFFF,
        link_errors & 0xFFFF,
        boot_count & 0xFFFF,
        duty_l,
        duty_r,
    )


def unpack_reading(
    body: bytes,
) -> tuple[
    int, float, float, float, float, int, tuple[int, ...], int, int, int, int, int, int, int, int
]:
    """The tuple ``pack_reading`` packed (presses as a 5-tuple)."""
    v = struct.unpack(_READING, body)
    return (
        v[0],
        v[1],
        v[2],
        v[3],
        v[4],
        v[5],
        tuple(v[6:11]),
        v[11],
        v[12],
        v[13],
        v[14],
        v[15],
        v[16],
        v[17],
        v[18],
    )


def pack_command(
    duty_l: float, duty_r: float, flags: int, ceiling_l: float, ceiling_r: float, acks: list[int]
) -> bytes:
    """A command's body: duties 0..1, flags, ceilings (NaN: unchanged), press acks."""
    return struct.pack(
        _COMMAND,
        duty_l,
        duty_r,
        flags,
        ceiling_l,
        ceiling_r,
        acks[0] & 0xFF,
        acks[1] & 0xFF,
        acks[2] & 0xFF,
        acks[3] & 0xFF,
        acks[4] & 0xFF,
    )


def unpack_command(
    body: bytes,
) -> tuple[float, float, int, float, float, tuple[int, ...]]:
    """``(duty_l, duty_r, flags, ceiling_l, ceiling_r, acks)`` from a command's body."""
    v = struct.unpack(_COMMAND, body)
    return v[0], v[1], v[2], v[3], v[4], tuple(v[5:10])


def pack_safe(reason_code: int) -> bytes:
    return struct.pack(_SAFE, reason_code)


def unpack_safe(body: bytes) -> int:
    reason: int = struct.unpack(_SAFE, body)[0]
    return reason
