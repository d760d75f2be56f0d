"""letdown: an open smart breast-pump system.

The packages: ``letdown.device`` (the hardware seam), ``letdown.twin`` (the simulated
nursing parent and pump), ``letdown.pump`` (programs and their runner) and
``letdown.bench`` (calibration and benchmarks).
"""

from letdown.errors import (
    CohortError,
    DeviceClosedError,
    DeviceError,
    LetdownError,
    ProgramError,
    UnknownBackendError,
)

__all__ = [
    "CohortError",
    "DeviceClosedError",
    "DeviceError",
    "LetdownError",
    "ProgramError",
    "UnknownBackendError",
]
__version__ = "0.1.0"
