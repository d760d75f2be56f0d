"""One error tree for letdown: catch ``LetdownError`` to catch them all.

Leaves also subclass the builtin that fits, so ``except ValueError`` keeps working
for callers that do not know letdown.
"""


class LetdownError(Exception):
    """Root of every error letdown raises on purpose."""


class CohortError(LetdownError, ValueError):
    """A cohort file is missing, unreadable or does not follow the schema (twin.md §4)."""


class ProgramError(LetdownError, ValueError):
    """A pump program is invalid (rates, vacuum or hold time out of bounds)."""


class DeviceError(LetdownError, RuntimeError):
    """The pump hardware (or its simulation) cannot do what was asked."""


class DeviceClosedError(DeviceError):
    """The device was closed; a closed device stays closed and safe."""


class UnknownBackendError(LetdownError, LookupError):
    """No pump backend is registered under the requested name."""
