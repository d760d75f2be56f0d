"""The serial link's framing: the firmware's small COBS/CRC and the host's libraries
agree byte for byte, and every corrupted, lost, repeated or foreign frame is caught."""

from __future__ import annotations

import math

import cobs.cobs
import crcmod.predefined
import pytest
from hypothesis import given
from hypothesis import strategies as st

from letdown.device import link
from letdown.device import serial as serial_backend

CRC = crcmod.predefined.mkCrcFun("crc-ccitt-false")


@given(st.binary(max_size=600))
def test_the_firmware_cobs_and_crc_give_the_same_bytes_as_the_libraries(data: bytes) -> None:
    assert link.cobs_encode(data) == cobs.cobs.encode(data)
    assert link.cobs_decode(cobs.cobs.encode(data)) == data
    assert link.crc16(data) == CRC(data)


@given(
    kind=st.sampled_from([link.HELLO, link.READING, link.COMMAND, link.SAFE]),
    seq=st.integers(0, 0xFFFF),
    body=st.binary(max_size=80),
)
def test_host_and_firmware_frames_are_identical_and_read_each_other(
    kind: int, seq: int, body: bytes
) -> None:
    frame = link.seal(kind, seq, body)
    assert frame == serial_backend.seal(kind, seq, body)
    assert frame.count(0) == 1 and frame.endswith(b"\x00")
    assert link.open_frame(frame[:-1]) == (kind, seq, body)
    assert serial_backend.open_frame(frame[:-1]) == (kind, seq, body)


def test_every_single_bit_error_in_a_command_is_caught_at_both_ends() -> None:
    body = link.pack_command(0.7, 0.0, link.KICK | link.VENT_RIGHT, math.nan, 180.0, [1] * 5)
    frame = link.seal(link.COMMAND, 41, body)[:-1]
    for index in range(len(frame)):
        for bit in range(8):
            bad = bytearray(frame)
            bad[index] ^= 1 << bit
            if 0 in bad:
                # A zero splits the frame: both halves must fail on their own.
                parts = [bytes(p) for p in bytes(bad).split(b"\x00") if p]
            else:
                parts = [bytes(bad)]
            for part in parts:
                with pytest.raises(link.LinkError):
                    link.open_frame(part)
                with pytest.raises(link.LinkError):
                    serial_backend.open_frame(part)


def test_a_frame_from_another_protocol_version_is_refused_by_name() -> None:
    payload = bytes([link.PROTOCOL + 1, link.COMMAND, 0, 0])
    frame = link.cobs_encode(payload + link.crc16(payload).to_bytes(2, "little"))
    with pytest.raises(link.LinkError) as caught:
        link.open_frame(frame)
    assert caught.value.kind == "version"


def test_the_receiver_takes_only_the_next_sequence_number() -> None:
    seq = link.Sequence()
    assert seq.check(65534) is None  # the first after a reset sets the count
    assert seq.check(65535) is None
    assert seq.check(0) is None  # wraps
    assert seq.check(0) == "repeat"  # duplicated
    assert seq.check(2) == "gap"  # 1 was lost
    assert seq.check(1) == "repeat"  # arrived late: reordered, never applied
    assert seq.check(3) is None


def test_the_deframer_resynchronises_after_noise() -> None:
    deframer = link.Deframer()
    good = link.seal(link.SAFE, 3, link.pack_safe(7))
    frames = deframer.feed(b"\x13\x37" * 100 + b"\x00" + good[:5])
    assert deframer.overruns >= 1
    frames += deframer.feed(good[5:])
    assert frames[-1] == good[:-1]
    kinds = []
    for frame in frames:
        try:
            kinds.append(link.open_frame(frame)[0])
        except link.LinkError:
            kinds.append(None)
    assert kinds[-1] == link.SAFE and kinds.count(link.SAFE) == 1


def test_readings_and_commands_round_trip_with_missing_values_as_nan() -> None:
    body = link.pack_reading(
        123450, 187.5, math.nan, 12.5, 0.0, 123400, [1, 0, 0, 2, 255], 3, 2, -1, 77, 0, 9, 255, 0
    )
    values = link.unpack_reading(body)
    assert values[0] == 123450 and values[1] == 187.5 and math.isnan(values[2])
    assert values[6] == (1, 0, 0, 2, 255) and values[8] == 2 and values[9] == -1
    command = link.unpack_command(link.pack_command(0.25, 1.0, 5, math.nan, 150.0, [0] * 5))
    assert command[:3] == (0.25, 1.0, 5) and math.isnan(command[3]) and command[4] == 150.0
