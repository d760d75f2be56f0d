"""``letdown firmware``: compile-check the pump's firmware and copy it to a board."""

from __future__ import annotations

from typing import Annotated

import typer

from letdown.cli import _common
from letdown.cli._common import _fail

app = typer.Typer(help="The pump's firmware (MicroPython on a Raspberry Pi Pico).")


@app.command("check")
def check_command() -> None:
    """Compile every firmware file with mpy-cross for the RP2040; exit 0 when all do."""
    from letdown.firmware import FirmwareError, check_firmware

    try:
        compiled = check_firmware()
    except FirmwareError as exc:
        raise _fail(str(exc)) from exc
    for name, size in compiled:
        _common.console.print(f"{name:12} {size:6d} bytes of bytecode")
    _common.console.print(f"[green]all {len(compiled)} firmware files compile[/]")


@app.command("install")
def install_command(
    port: Annotated[
        str | None, typer.Option("--port", help="The board's serial port (default: found).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the mpremote commands, run nothing.")
    ] = False,
) -> None:
    """Copy the firmware to a board running MicroPython (mpremote), then reset it."""
    from letdown.firmware import FirmwareError, install_firmware

    try:
        commands = install_firmware(port, dry_run=dry_run)
    except FirmwareError as exc:
        raise _fail(str(exc)) from exc
    for command in commands:
        _common.console.print(" ".join(command[1:]), markup=False)
    if not dry_run:
        _common.console.print("[green]firmware installed; the board restarted[/]")
