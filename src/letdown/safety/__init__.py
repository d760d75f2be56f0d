"""The safety core below every controller, and the supervised handle that carries it.

``core`` is the core itself, in the Python MicroPython runs, so that the pump's own
microcontroller runs the same file as firmware; ``SafePump`` puts a backend under it on
the host. Controllers, programs, benchmarks, the CLI and the web app get only the
supervised handle, never the raw backend.
"""

from letdown.safety.faults import FaultReason, SafetyFault, Supervisor, limits_for, message
from letdown.safety.handle import SafePump, end_supervised, supervise

__all__ = [
    "FaultReason",
    "SafePump",
    "SafetyFault",
    "Supervisor",
    "end_supervised",
    "limits_for",
    "message",
    "supervise",
]
