"""Boot entry on the RP2040: the firmware loop on USB serial, every 10 ms.

USB CDC carries binary frames, so the REPL's Ctrl-C is switched off (a 0x03 byte inside
a frame would otherwise interrupt the loop). To get the REPL back, hold the stop button
while plugging in: the loop does not start.
"""

import sys
import time

import machine
import micropython
import select

import board as board_module
import config
import pumpfw


class UsbPort:
    def __init__(self):
        self.stdin = sys.stdin.buffer
        self.stdout = sys.stdout.buffer
        self.poll = select.poll()
        self.poll.register(sys.stdin, select.POLLIN)

    def read(self):
        data = b""
        while self.poll.poll(0):
            chunk = self.stdin.read(1)
            if not chunk:
                break
            data += chunk
            if len(data) >= 256:
                break
        return data

    def write(self, data):
        self.stdout.write(data)


def run():
    stop = machine.Pin(config.BUTTON_STOP, machine.Pin.IN, machine.Pin.PULL_UP)
    if stop.value() == 0:
        return
    board = board_module.Board(machine)
    micropython.kbd_intr(-1)
    boot_id = int.from_bytes(machine.unique_id()[-2:], "little") ^ time.ticks_us()
    started = time.ticks_ms()
    firmware = pumpfw.Firmware(board, UsbPort(), boot_id & 0xFFFFFFFF, 0)
    next_ms = 0
    while True:
        now_ms = time.ticks_diff(time.ticks_ms(), started)
        firmware.control(now_ms)
        firmware.sense(now_ms)
        next_ms += config.TICK_MS
        wait = time.ticks_diff(time.ticks_add(started, next_ms), time.ticks_ms())
        if wait > 0:
            time.sleep_ms(wait)
        else:
            next_ms = now_ms


run()
