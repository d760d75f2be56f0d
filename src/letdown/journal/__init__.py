"""The journal: nursing, pumping, bottles, the milk stash, comfort and care, for a household.

Open it with ``Journal.open(url)`` (SQLite in the user's data folder by default, or
PostgreSQL by URL) and work through one member's ``Book`` of one household. It knows
nothing of the pump: a letdown session is stored as any ``PumpSession`` is.
"""

from letdown.journal.accounts import Accounts, Identity
from letdown.journal.book import (
    BagView,
    Book,
    HouseholdView,
    Journal,
    MemberView,
    NotAllowedError,
    RevisionView,
    StoredEntry,
    Summary,
)
from letdown.journal.records import (
    BagUse,
    BottleContent,
    BottleFeed,
    Care,
    CareKind,
    ChildInfo,
    HouseholdInfo,
    Location,
    MemberInfo,
    MilkKind,
    NurseFeed,
    NurseSide,
    PregnancyInfo,
    PumpSession,
    PumpSide,
    Record,
    Role,
    Symptom,
    SymptomSide,
    Units,
    Word,
    parse_record,
)

__all__ = [
    "Accounts",
    "BagUse",
    "BagView",
    "Book",
    "BottleContent",
    "BottleFeed",
    "Care",
    "CareKind",
    "ChildInfo",
    "HouseholdInfo",
    "HouseholdView",
    "Identity",
    "Journal",
    "Location",
    "MemberInfo",
    "MemberView",
    "MilkKind",
    "NotAllowedError",
    "NurseFeed",
    "NurseSide",
    "PregnancyInfo",
    "PumpSession",
    "PumpSide",
    "Record",
    "RevisionView",
    "Role",
    "StoredEntry",
    "Summary",
    "Symptom",
    "SymptomSide",
    "Units",
    "Word",
    "parse_record",
]
