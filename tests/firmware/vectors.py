# ruff: noqa: RUF012 (plain class attributes: this file runs under MicroPython too)
"""Firmware vectors: the firmware's modules on a scripted board, under any Python.

Run with the firmware's files (as named on the board) importable; prints one line per
step: the bytes the firmware sent and the outputs it set. CPython and MicroPython must
print the same lines (tests/firmware/test_micropython.py).
"""

import board as board_module
import link
import pumpfw


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    levels = {}

    def __init__(self, number, mode=0, pull=None):
        self.number = number

    def value(self, value=None):
        if value is None:
            return Pin.levels.get(self.number, 1)
        Pin.levels[self.number] = value
        return 0


class I2C:
    counts = [8388608, 8388608]

    def __init__(self, bus, sda=None, scl=None, freq=0):
        self.bus = bus

    def writeto(self, address, data):
        pass

    def readfrom_into(self, address, buffer):
        counts = I2C.counts[self.bus]
        buffer[0] = 0x40
        buffer[1] = counts >> 16
        buffer[2] = (counts >> 8) & 0xFF
        buffer[3] = counts & 0xFF


class PWM:
    duties = {}

    def __init__(self, pin):
        self.pin = pin.number

    def freq(self, hz):
        pass

    def duty_u16(self, value):
        PWM.duties[self.pin] = value


class WDT:
    feeds = 0

    def __init__(self, timeout=0):
        pass

    def feed(self):
        WDT.feeds += 1


class machine:  # noqa: N801 (stands for the module the board gets)
    Pin = Pin
    I2C = I2C
    PWM = PWM
    WDT = WDT


class Port:
    def __init__(self):
        self.incoming = b""
        self.sent = b""

    def read(self):
        data, self.incoming = self.incoming, b""
        return data

    def write(self, data):
        self.sent += data


port = Port()
firmware = pumpfw.Firmware(board_module.Board(machine), port, 0x1234ABCD, 0)
seq = [0]


def host(kind, body):
    port.incoming += link.seal(kind, seq[0], body)
    seq[0] += 1


def command(duty_l, vent_l, duty_r, vent_r, extra=0):
    flags = link.KICK | extra
    if vent_l:
        flags |= link.VENT_LEFT
    if vent_r:
        flags |= link.VENT_RIGHT
    host(link.COMMAND, link.pack_command(duty_l, duty_r, flags, float("nan"), 150.0, [0] * 5))


def step(now_ms, label):
    firmware.control(now_ms)
    firmware.sense(now_ms + 10)
    fault = firmware.core.fault
    print(
        label,
        now_ms,
        port.sent.hex(),
        [round(x, 3) if not isinstance(x, bool) else x for x in firmware.outputs],
        None if fault is None else fault.reason,
        WDT.feeds,
    )
    port.sent = b""


for t in range(0, 320, 10):  # power-up: the sensors are zeroed at atmosphere
    step(t, "boot")
host(link.HELLO_REQUEST, b"")
step(320, "hello")
command(0.0, True, 0.0, True, link.REARM)
step(330, "rearm")
for n in range(10):  # the left side pulls: the sensor reads a falling pressure
    I2C.counts[0] = 8388608 - 30000 * n
    command(0.6, False, 0.0, True)
    step(340 + 10 * n, "pull")
step(440, "stale")  # the host paused: the firmware holds the left side
step(450, "stale")
Pin.levels[20] = 0  # "too much" left, held for two loops: acted on at once, reported
command(0.6, False, 0.0, True)
step(460, "press")
command(0.6, False, 0.0, True)
step(470, "press")
Pin.levels[20] = 1
port.incoming += b"\x01\x02\x03\x00"  # a corrupted frame: the core latches a link fault
step(480, "corrupt")
for t in range(490, 800, 10):  # then the host falls silent
    step(t, "silent")
