"""Firmware in the loop: the pump's firmware under CPython, its drivers bound to the twin.

The firmware's own files (``letdown/device/firmware/*.py``, the link module and the
safety core) are
loaded unchanged; only ``machine`` is replaced by ``TwinMachine``, whose I2C, Pin, PWM
and WDT read from and write to a simulated parent and pump (``letdown.twin``): the MPRLS
answers with the counts the twin's pressure gives, the HX711 clocks out the bottle's
weight bit by bit, PWM duty drives the twin's motor, the vent pins its valves, and the
twin's presses pull the button pins low. The peer talks to the host over a byte port:
the master side of a pseudo-terminal whose other side the host opens as a serial
device.

``python -m letdown.device.fwpeer --fd N ...`` runs one peer process (the tests and
``letdown bench hil`` start it); ``--fault KIND@MS`` injects a link fault at that device
time, at the MCU's end of the cable, ``--twin-fault JSON`` a hardware fault of the twin
(a ``letdown.twin.faults.Fault``: a sensor's gain drifting, say), and ``--result FILE``
writes what the twin saw.

Clocks: ``wall`` steps every 10 ms of wall time, as the board does. ``lockstep`` steps
as soon as the host's command for the tick arrives (a command that says the host waits),
and at the latest after 25 ms of wall time, so a silent host is still timed out (200 ms
of device time is then half a second of wall time: a loaded test machine does not trip
it by a scheduling hiccup) while a busy host drives the session faster than real time.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import faulthandler
import importlib.util
import json
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import time
import tty
from pathlib import Path
from types import ModuleType
from typing import Any

from letdown.device import link
from letdown.device.base import SIDES, PressKind, Side
from letdown.twin.cohort import ParentSpec
from letdown.twin.faults import Fault
from letdown.twin.model import Commands, Readings, Twin

FIRMWARE_MODULES = ("config", "link", "core", "drivers", "board", "pumpfw")
"""The firmware's modules in import order, by the flat names they have on the board."""

LINK_FAULTS = (
    "corrupt",
    "drop",
    "duplicate",
    "reorder",
    "cable_pulled",
    "mcu_reset",
    "host_killed",
)
"""The link faults the peer and ``letdown bench hil`` inject (``host_killed`` is done
by the host's end)."""

TICK_MS = 10
ATMOSPHERE_MMHG = 760.0
"""Standard atmosphere (ISO 2533); the firmware measures its own zero at power-up."""
CAP_SINGLE_MMHG = 300.0
CAP_DOUBLE_MMHG = 260.0
"""The absolute caps, as issue 9's core: 300 mmHg one side (Elvie Stride 2, FDA 510(k)
K242125), 260 mmHg while both pump (reference.md)."""


def firmware_dir() -> Path:
    """Where the board's own files are: ``$LETDOWN_FIRMWARE_DIR``, or ``firmware/`` in this
    package (package data, so an installed letdown finds them as a checkout does)."""
    override = os.environ.get("LETDOWN_FIRMWARE_DIR")
    return Path(override) if override else Path(__file__).with_name("firmware")


def firmware_files() -> dict[str, Path]:
    """Board file name -> source: ``firmware/*.py``, the link and the safety core.

    The core is issue 9's ``letdown/safety/core.py``, copied unchanged.
    """
    files = {path.name: path for path in sorted(firmware_dir().glob("*.py"))}
    files["link.py"] = Path(__file__).with_name("link.py")
    files["core.py"] = Path(__file__).resolve().parents[1] / "safety" / "core.py"
    return files


def load_firmware() -> dict[str, ModuleType]:
    """Import the firmware's modules under their board names, without keeping them in
    ``sys.modules`` (they are plain names like ``config`` there)."""
    files = firmware_files()
    saved = {name: sys.modules.get(name) for name in FIRMWARE_MODULES}
    modules: dict[str, ModuleType] = {}
    try:
        for name in FIRMWARE_MODULES:
            spec = importlib.util.spec_from_file_location(name, files[name + ".py"])
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            modules[name] = module
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    return modules


# --- the twin behind machine.* ---------------------------------------------------------


class Plant:
    """The twin and what the board's pins and buses show of it."""

    def __init__(self, twin: Twin, config: ModuleType) -> None:
        self.twin = twin
        self.config = config
        self.commands = Commands()
        self.readings = Readings(0.0, (0.0, 0.0), (0.0, 0.0), 0.0, (), False)
        self.volume_sample = [0, 0]
        self.button_low_until_ms = [0] * 5
        self.now_ms = 0

    def step(self) -> None:
        self.readings = readings = self.twin.step(self.commands, TICK_MS / 1000.0)
        self.now_ms += TICK_MS
        if readings.volume_at_s >= self.now_ms / 1000.0 - 1e-9:
            self.volume_sample = [n + 1 for n in self.volume_sample]
        for press in readings.presses:
            index = _button_index(press.kind, press.side)
            # A press holds the button down for 50 ms, as a finger does.
            self.button_low_until_ms[index] = self.now_ms + 50


def _button_index(kind: PressKind, side: Side | None) -> int:
    if kind is PressKind.STOP:
        return 4
    offset = 0 if kind is PressKind.TOO_MUCH else 2
    return offset + (0 if side is Side.LEFT else 1)


class TwinMachine:
    """A ``machine`` module whose parts are bound to ``plant``."""

    class _Pin:
        IN = 0
        OUT = 1
        PULL_UP = 1

    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        config = plant.config
        roles: dict[int, tuple[str, int]] = {}
        for side in (0, 1):
            roles[config.HX711_DOUT[side]] = ("hx_dout", side)
            roles[config.HX711_SCK[side]] = ("hx_sck", side)
            roles[config.MOTOR_PWM[side]] = ("motor", side)
            roles[config.VENT_PIN[side]] = ("vent", side)
            roles[config.BUTTON_TOO_MUCH[side]] = ("button", side)
            roles[config.BUTTON_LIMIT[side]] = ("button", 2 + side)
            roles[config.I2C_SDA[side]] = ("i2c", side)
            roles[config.I2C_SCL[side]] = ("i2c", side)
        roles[config.BUTTON_STOP] = ("button", 4)
        self._roles = roles
        self._hx = [_Hx711State(plant, side) for side in (0, 1)]
        machine = self

        class Pin(TwinMachine._Pin):
            def __init__(self, number: int, mode: int = 0, pull: int | None = None) -> None:
                self.role, self.index = machine._roles[number]

            def value(self, value: int | None = None) -> int:
                role, index = self.role, self.index
                if value is None:
                    if role == "hx_dout":
                        return machine._hx[index].dout()
                    if role == "button":
                        return 0 if plant.now_ms < plant.button_low_until_ms[index] else 1
                    return 0
                if role == "hx_sck":
                    machine._hx[index].clock(value)
                elif role == "vent":
                    plant.commands.vent_open[index] = not value
                return 0

        class I2C:
            def __init__(self, bus: int, sda: Any = None, scl: Any = None, freq: int = 0) -> None:
                self.side = bus

            def writeto(self, address: int, data: bytes) -> None:
                if address != config.MPRLS_ADDRESS:
                    raise OSError(errno.ENODEV, "no device")

            def readfrom_into(self, address: int, buffer: bytearray) -> None:
                vacuum = plant.readings.vacuum_mmhg[self.side]
                if address != config.MPRLS_ADDRESS or vacuum is None:
                    # A sensor that stopped answering NACKs its address.
                    raise OSError(errno.ENODEV, "no device")
                psi = (ATMOSPHERE_MMHG - vacuum) / 51.71493
                counts = round(1677722 + psi * (15099494 - 1677722) / 25.0)
                counts = max(0, min(0xFFFFFF, counts))
                buffer[0] = 0x40  # powered, not busy, no errors
                buffer[1] = counts >> 16
                buffer[2] = (counts >> 8) & 0xFF
                buffer[3] = counts & 0xFF

        class PWM:
            def __init__(self, pin: Any) -> None:
                self.side = pin.index

            def freq(self, hz: int) -> None:
                pass

            def duty_u16(self, value: int) -> None:
                plant.commands.duty[self.side] = value / 65535.0

        class WDT:
            def __init__(self, timeout: int = 0) -> None:
                pass

            def feed(self) -> None:
                plant.commands.kick = True

        self.Pin = Pin
        self.I2C = I2C
        self.PWM = PWM
        self.WDT = WDT


class _Hx711State:
    """The HX711's serial output: DOUT low when a conversion is ready, then 24 bits."""

    def __init__(self, plant: Plant, side: int) -> None:
        self.plant = plant
        self.side = side
        self.consumed = 0
        self.bits = 0
        self.value = 0
        self.sck = 0

    def dout(self) -> int:
        if self.bits == 0:
            return 0 if self.plant.volume_sample[self.side] > self.consumed else 1
        return (self.value >> (24 - self.bits)) & 1

    def clock(self, level: int) -> None:
        if level and not self.sck:
            if self.bits == 0:
                volume = self.plant.readings.volume_ml[self.side]
                config = self.plant.config
                grams = (volume if volume is not None else 0.0) * config.MILK_G_PER_ML
                self.value = round(config.HX711_OFFSET + grams * config.HX711_COUNTS_PER_G)
                self.value &= 0xFFFFFF
            self.bits += 1
            if self.bits == 25:
                self.bits = 0
                self.consumed = self.plant.volume_sample[self.side]
        self.sck = level


# --- the cable -------------------------------------------------------------------------


class FdPort:
    """The MCU's end of the cable: a non-blocking file descriptor (a pty's master).

    Writes that find the buffer full are dropped, as USB CDC drops data nobody reads.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self._peeked = bytearray()
        self._deframer = link.Deframer()

    def _read(self) -> bytes:
        try:
            return os.read(self.fd, 4096)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            # The host's side was closed: nothing to read until it opens again.
            return b""

    def read(self) -> bytes:
        data = bytes(self._peeked) + self._read()
        self._peeked.clear()
        return data

    def host_waiting(self) -> tuple[bool, bool]:
        """Whether a command that came in says the host is blocked on the next reading,
        and whether anything came at all."""
        data = self._read()
        self._peeked += data
        waiting = False
        for frame in self._deframer.feed(data):
            try:
                kind, _seq, body = link.open_frame(frame)
            except link.LinkError:
                waiting = True  # let the firmware see it at once
                continue
            if kind != link.COMMAND or link.unpack_command(body)[2] & link.WAITING:
                waiting = True
        return waiting, bool(data)

    def write(self, data: bytes) -> None:
        try:
            os.write(self.fd, data)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            pass


class FaultyPort:
    """Injects one link fault into the cable at a device time, frame by frame."""

    def __init__(self, port: FdPort, kind: str | None, at_ms: int, rng: random.Random) -> None:
        self.port = port
        self.kind = kind
        self.at_ms = at_ms
        self.rng = rng
        self.now_ms = 0
        self.done = False
        self.pulled = False
        self._rx = bytearray()
        self._held: bytes | None = None
        self.direction = rng.choice(("to_mcu", "to_host"))

    def _due(self) -> bool:
        return not self.done and self.kind is not None and self.now_ms >= self.at_ms

    def read(self) -> bytes:
        data = self.port.read()
        if self.pulled:
            return b""
        if not self._due() or self.kind not in ("corrupt", "drop", "duplicate", "reorder"):
            return data
        if self.kind == "corrupt" and self.direction == "to_host":
            return data
        self._rx += data
        frames = []
        while b"\x00" in self._rx:
            end = self._rx.index(b"\x00") + 1
            frames.append(bytes(self._rx[:end]))
            del self._rx[:end]
        if not frames:
            return b""
        first, rest = frames[0], frames[1:]
        if self._held is not None:
            self.done = True
            return first + self._held + b"".join(rest)
        if self.kind == "corrupt":
            self.done = True
            return _corrupt(first, self.rng) + b"".join(rest)
        if self.kind == "drop":
            self.done = True
            return b"".join(rest)
        if self.kind == "duplicate":
            self.done = True
            return first + first + b"".join(rest)
        # reorder: hold this frame back until the next one has passed.
        self._held = first
        if rest:
            self.done = True
            return rest[0] + first + b"".join(rest[1:])
        return b""

    def write(self, data: bytes) -> None:
        if self.pulled:
            return
        if self._due() and self.kind == "corrupt" and self.direction == "to_host":
            self.done = True
            data = _corrupt(data, self.rng)
        self.port.write(data)


def _corrupt(frame: bytes, rng: random.Random) -> bytes:
    """Flip bits in one byte of ``frame``'s body (never its delimiter)."""
    data = bytearray(frame)
    index = rng.randrange(0, max(1, len(data) - 1))
    data[index] ^= 1 << rng.randrange(8) or 1
    return bytes(data)


# --- the peer --------------------------------------------------------------------------


class Peer:
    """One pump: firmware, board and twin, stepping on ``clock`` until stopped."""

    def __init__(
        self,
        port: FdPort,
        parent: ParentSpec,
        *,
        seed: int | str = 0,
        clock: str = "lockstep",
        fault: str | None = None,
        fault_at_ms: int = 0,
        duration_ms: int | None = None,
        idle_step_ms: int = 25,
        twin_faults: tuple[Fault, ...] = (),
    ) -> None:
        if clock not in ("wall", "lockstep"):
            raise ValueError(f"clock must be 'wall' or 'lockstep', got {clock!r}")
        self.modules = load_firmware()
        self.config = self.modules["config"]
        self.twin = Twin(parent, seed=seed)
        for twin_fault in twin_faults:
            self.twin.inject(twin_fault)
        self.plant = Plant(self.twin, self.config)
        self.rng = random.Random(f"{seed}:link")
        self.port = FaultyPort(port, fault, fault_at_ms, self.rng)
        self.clock = clock
        self.fault = fault
        self.fault_at_ms = fault_at_ms
        self.duration_ms = duration_ms
        self.idle_step_ms = idle_step_ms
        self.boots = 0
        self.firmware: Any = None
        self.safe_at_ms: int | None = None
        self.detected: str | None = None
        self.over_cap_ms = 0.0
        self.max_vacuum_mmhg = 0.0
        self.stopped = False
        self.last_rx_ms: int | None = None
        self.unsafe_at_ms: int | None = None
        self.boot()

    def boot(self) -> None:
        """Power-up (or reset): pins come up as inputs, so motors off and vents open."""
        self.boots += 1
        self.plant.commands.duty[:] = [0.0, 0.0]
        self.plant.commands.vent_open[:] = [True, True]
        board = self.modules["board"].Board(TwinMachine(self.plant))
        boot_id = self.rng.getrandbits(32)
        self.firmware = self.modules["pumpfw"].Firmware(
            board, self.port, boot_id, self.plant.now_ms
        )

    def tick(self) -> None:
        """One 10 ms loop: control, the plant moves on, sense and report."""
        plant = self.plant
        now_ms = plant.now_ms
        self.port.now_ms = now_ms
        if (
            self.fault is not None
            and now_ms >= self.fault_at_ms
            and not self.port.done
            and self.fault in ("cable_pulled", "mcu_reset")
        ):
            self.port.done = True
            if self.fault == "cable_pulled":
                self.port.pulled = True
            else:
                self.boot()
                self.detected = self.detected or "reset"
        last_host = self.firmware.last_host_ms
        self.firmware.control(now_ms)
        if self.firmware.last_host_ms != last_host:
            self.last_rx_ms = now_ms
        plant.step()
        self.firmware.sense(plant.now_ms)
        self._measure()

    def _measure(self) -> None:
        twin = self.twin
        now_ms = self.plant.now_ms
        vacuums = [twin.true_vacuum_mmhg(side) for side in SIDES]
        duties = [twin.motor_duty(side) for side in SIDES]
        both = duties[0] > 0.0 and duties[1] > 0.0
        cap = CAP_DOUBLE_MMHG if both else CAP_SINGLE_MMHG
        if max(vacuums) > cap:
            self.over_cap_ms += TICK_MS
        self.max_vacuum_mmhg = max(self.max_vacuum_mmhg, *vacuums)
        safe = all(d == 0.0 for d in duties) and all(twin.vent_open(s) for s in SIDES)
        if not safe:
            self.unsafe_at_ms = now_ms
        if (
            safe
            and self.fault is not None
            and now_ms > self.fault_at_ms
            and self.safe_at_ms is None
        ):
            self.safe_at_ms = now_ms
        fault = self.firmware.core.fault
        if self.detected is None and fault is not None and now_ms >= self.fault_at_ms:
            reason = fault.reason
            if reason.startswith("link_") or reason in (
                "host_silent",
                "host_safe",
                "controller_silent",
            ):
                self.detected = reason

    def run(self, stop_when: Any = None) -> None:
        """Step until the host hangs up for good, ``duration_ms`` passes or ``stop()``."""
        fd = self.port.port.fd
        next_wall = time.monotonic()
        while not self.stopped:
            if self.duration_ms is not None and self.plant.now_ms >= self.duration_ms:
                break
            next_wall += (TICK_MS if self.clock == "wall" else self.idle_step_ms) / 1000.0
            if self.clock == "wall":
                delay = next_wall - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            else:
                # Step when the host waits on us, else as the wall clock goes.
                while True:
                    delay = next_wall - time.monotonic()
                    if delay <= 0:
                        break
                    ready, _, _ = select.select([fd], [], [], delay)
                    if not ready:
                        break
                    waiting, got = self.port.port.host_waiting()
                    if waiting:
                        next_wall = time.monotonic()
                        break
                    if not got:
                        # Readable yet empty: nobody has the other end open.
                        time.sleep(max(0.0, next_wall - time.monotonic()))
                        break
            self.tick()
            if stop_when is not None and stop_when(self):
                break

    def stop(self) -> None:
        self.stopped = True

    def result(self) -> dict[str, Any]:
        twin = self.twin
        return {
            "fault": self.fault,
            "fault_at_ms": self.fault_at_ms,
            "safe_at_ms": self.safe_at_ms,
            "safe_ms": None
            if self.safe_at_ms is None or self.fault is None
            else self.safe_at_ms - self.fault_at_ms,
            "detected_by_mcu": self.detected,
            "over_cap_ms": self.over_cap_ms,
            "max_vacuum_mmhg": self.max_vacuum_mmhg,
            "removed_ml": sum(twin.removed_ml(side) for side in SIDES),
            "now_ms": self.plant.now_ms,
            "boots": self.boots,
            "unsafe_after_host_ms": None
            if self.last_rx_ms is None or self.unsafe_at_ms is None
            else self.unsafe_at_ms - self.last_rx_ms,
            "link_errors": self.firmware.link_errors,
            "mcu_fault": None
            if self.firmware.core.fault is None
            else self.firmware.core.fault.reason,
            "mcu_stopped": self.firmware.core.stopped,
        }


def main(argv: list[str] | None = None) -> int:
    """Run one peer process on an inherited file descriptor until the host is done."""
    parser = argparse.ArgumentParser(prog="python -m letdown.device.fwpeer")
    parser.add_argument("--fd", type=int, required=True, help="the pty master to serve")
    parser.add_argument("--parent", help="a parent as JSON (ParentSpec); default parent")
    parser.add_argument("--seed", default="0")
    parser.add_argument("--clock", default="lockstep", choices=("wall", "lockstep"))
    parser.add_argument("--fault", help="KIND@MS: inject a link fault at that device time")
    parser.add_argument(
        "--twin-fault",
        action="append",
        default=[],
        help='a hardware fault of the twin, as JSON: {"kind": "gain_drift", "at_s": 12,'
        ' "side": "left", "magnitude": 0.7}',
    )
    parser.add_argument("--duration-ms", type=int, help="stop after this much device time")
    parser.add_argument("--result", help="write what the twin saw here (JSON) on exit")
    parser.add_argument(
        "--idle-step-ms", type=int, default=25, help="lockstep: step after this much wall time"
    )
    args = parser.parse_args(argv)
    parent = ParentSpec.model_validate_json(args.parent) if args.parent else ParentSpec(id="peer")
    fault, at_ms = None, 0
    if args.fault:
        fault, _, at = args.fault.partition("@")
        at_ms = int(at or 0)
        if fault not in LINK_FAULTS:
            parser.error(f"unknown fault {fault!r}; known: {', '.join(LINK_FAULTS)}")
    try:
        twin_faults = tuple(Fault(**json.loads(text)) for text in args.twin_fault)
    except (ValueError, TypeError) as exc:
        parser.error(f"--twin-fault: {exc}")
    peer = Peer(
        FdPort(args.fd),
        parent,
        seed=args.seed,
        clock=args.clock,
        fault=fault,
        fault_at_ms=at_ms,
        duration_ms=args.duration_ms,
        idle_step_ms=args.idle_step_ms,
        twin_faults=twin_faults,
    )
    signal.signal(signal.SIGTERM, lambda *_: peer.stop())
    faulthandler.register(signal.SIGUSR1)
    try:
        peer.run()
    finally:
        if args.result:
            Path(args.result).write_text(json.dumps(peer.result(), allow_nan=False))
    return 0


def _fault_json(fault: Fault) -> dict[str, Any]:
    return {
        "kind": fault.kind.value,
        "at_s": fault.at_s,
        "side": None if fault.side is None else fault.side.value,
        "magnitude": fault.magnitude,
        "duration_s": fault.duration_s,
    }


class PeerProcess:
    """A firmware peer in its own process, serving one end of a pseudo-terminal.

    ``url`` is what a host opens (``serial:///dev/pts/N``); ``result()`` stops the peer
    and returns what the twin saw (``Peer.result``).
    """

    def __init__(
        self,
        parent: ParentSpec | None = None,
        *,
        seed: int | str = 0,
        clock: str = "lockstep",
        fault: str | None = None,
        fault_at_ms: int = 0,
        duration_ms: int | None = None,
        idle_step_ms: int = 25,
        twin_faults: tuple[Fault, ...] = (),
    ) -> None:
        master, slave = os.openpty()
        # Raw from the start: the line discipline must not echo the firmware's hello.
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self.url = "serial://" + self.path
        self._slave = slave
        handle, self._result_path = tempfile.mkstemp(prefix="letdown-peer-", suffix=".json")
        os.close(handle)
        args = [
            sys.executable,
            "-m",
            "letdown.device.fwpeer",
            "--fd",
            str(master),
            "--seed",
            str(seed),
            "--clock",
            clock,
            "--result",
            self._result_path,
            "--idle-step-ms",
            str(idle_step_ms),
        ]
        if parent is not None:
            args += ["--parent", parent.model_dump_json()]
        if fault is not None:
            args += ["--fault", f"{fault}@{fault_at_ms}"]
        if duration_ms is not None:
            args += ["--duration-ms", str(duration_ms)]
        for twin_fault in twin_faults:
            args += ["--twin-fault", json.dumps(_fault_json(twin_fault))]
        self.process = subprocess.Popen(args, pass_fds=[master])
        os.close(master)
        self._result: dict[str, Any] | None = None
        # Ready when the firmware's power-up hello arrives (starting Python and the twin
        # takes a while on a loaded machine; a board boots in well under a second).
        ready, _, _ = select.select([slave], [], [], 60.0)
        if not ready or self.process.poll() is not None:
            self.__exit__()
            raise RuntimeError("the firmware peer did not start")

    def result(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """Stop the peer (SIGTERM) and return what the twin saw."""
        if self._result is None:
            if self.process.poll() is None:
                self.process.terminate()
            self.process.wait(timeout_s)
            os.close(self._slave)
            with open(self._result_path) as handle:
                self._result = json.load(handle)
            os.unlink(self._result_path)
        return self._result

    def __enter__(self) -> PeerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._result is None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            os.close(self._slave)
            with contextlib.suppress(OSError):
                os.unlink(self._result_path)


if __name__ == "__main__":
    sys.exit(main())
