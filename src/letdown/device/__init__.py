"""The hardware seam: one small typed protocol every pump backend implements.

Controllers take a ``Pump`` as an argument. ``open_pump(name)`` picks a backend from a
registry (as python-can's interfaces), importing it only when asked, so vendor libraries
stay out of processes that do not use them; ``LETDOWN_DEVICE`` names the default
(``sim``).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from letdown.device.base import (
    SIDES,
    BasePump,
    Clock,
    HardwareFault,
    MotorLayout,
    Press,
    PressKind,
    Pump,
    PumpSpec,
    Side,
    VacuumReading,
    VolumeReading,
    WallClock,
)
from letdown.errors import UnknownBackendError

BACKENDS: dict[str, str] = {
    "sim": "letdown.device.sim:SimPump",
    "serial": "letdown.device.serial:SerialPump",
}
"""Backend name -> ``module:Class``; a hardware package adds its own entry. A URL
(``serial:///dev/ttyACM0``, ``serial+socket://host:port``) picks the backend named by its
scheme (before any ``+``) and passes the URL on as ``url``."""


def register_backend(name: str, target: str) -> None:
    """Make ``open_pump(name)`` build ``target`` (``"package.module:Class"``)."""
    if ":" not in target:
        raise ValueError(f"backend target must look like 'module:Class', got {target!r}")
    BACKENDS[name] = target


def open_pump(name: str | None = None, **options: Any) -> Pump:
    """Open the pump backend ``name`` or URL (default: ``$LETDOWN_DEVICE`` or ``sim``)."""
    chosen = name or os.environ.get("LETDOWN_DEVICE") or "sim"
    scheme, sep, _ = chosen.partition("://")
    if sep:
        options = {"url": chosen, **options}
        chosen = scheme.partition("+")[0]
    try:
        module_name, class_name = BACKENDS[chosen].split(":")
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise UnknownBackendError(f"no pump backend {chosen!r}; known: {known}") from None
    backend = getattr(importlib.import_module(module_name), class_name)
    pump: Pump = backend(**options)
    return pump


__all__ = [
    "BACKENDS",
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
    "VacuumReading",
    "VolumeReading",
    "WallClock",
    "open_pump",
    "register_backend",
]
