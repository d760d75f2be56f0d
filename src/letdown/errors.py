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


class JournalError(LetdownError):
    """The journal cannot do what was asked."""


class InvalidEntryError(JournalError, ValueError):
    """An entry, amount, time or command argument is invalid; the message says which.

    ``fields`` names the wrong fields (as the record names them) with what is wrong with
    each, so that a form can show each message under its field.
    """

    def __init__(self, message: str, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = dict(fields or {})


class NotFoundError(JournalError, LookupError):
    """No household, member, child, entry or stash bag by that name or id."""


class StashRuleError(InvalidEntryError):
    """A stash move or use breaks a milk-storage rule (thawed milk back to a freezer)."""


class DatabaseVersionError(JournalError, RuntimeError):
    """The database is not at this release's schema: migrate it, or use a newer letdown."""
