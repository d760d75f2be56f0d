"""The journal's tables (SQLAlchemy 2). Alembic's migrations create them; nothing else does.

Times are stored as UTC without an offset (``UtcDateTime``) so that SQLite and
PostgreSQL hold the same values; the household's zone is applied only when shown.
A record's kind-specific fields live in ``entries.data`` (validated by ``records``);
the columns that history and summaries filter on are real columns with indexes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime in, UTC without offset stored, an aware UTC datetime out."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the journal stores only times with an offset")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        date: Date(),
    }


class Household(Base):
    __tablename__ = "households"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    units: Mapped[str] = mapped_column(String(8))
    word: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]
    revision: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    """Raised by every write to the household's journal (see ``book.touch``)."""
    storage_rules: Mapped[str] = mapped_column(String(8), default="cdc", server_default="cdc")
    """The milk-storage rule set the household chose (``stash.RULE_SETS``)."""


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("household_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    sees_private: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Chosen by the nursing parent to see symptoms, pain, care, pregnancy and red flags."""
    quiet_from: Mapped[str | None] = mapped_column(String(5))
    quiet_until: Mapped[str | None] = mapped_column(String(5))
    """Quiet hours ("22:00" to "07:00", the household's time): no notification then."""


class Child(Base):
    __tablename__ = "children"
    __table_args__ = (UniqueConstraint("household_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date | None]


class Pregnancy(Base):
    __tablename__ = "pregnancies"
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    due_date: Mapped[date]
    notes: Mapped[str] = mapped_column(Text, default="")
    entered_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    entered_at: Mapped[datetime]


class Entry(Base):
    """One record of any kind; ``data`` is the record as validated, ``version`` counts edits."""

    __tablename__ = "entries"
    __table_args__ = (
        Index("ix_entries_household_start", "household_id", "start_at"),
        Index("ix_entries_household_kind_start", "household_id", "kind", "start_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    kind: Mapped[str] = mapped_column(String(16))
    child_id: Mapped[int | None] = mapped_column(ForeignKey("children.id"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime | None]
    data: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=1)
    entered_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    entered_at: Mapped[datetime]
    updated_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]
    shared: Mapped[bool] = mapped_column(default=False, server_default=false())
    """A private entry (symptom, care) the nursing parent chose to show every member."""


class Revision(Base):
    """Each version of an entry as it was written: the change history."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("entry_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    version: Mapped[int]
    action: Mapped[str] = mapped_column(String(10))
    data: Mapped[dict[str, Any]]
    changed_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    changed_at: Mapped[datetime]


class Bag(Base):
    """A bag (or bottle) of expressed milk in the stash."""

    __tablename__ = "bags"
    __table_args__ = (
        UniqueConstraint("household_id", "code"),
        Index("ix_bags_household_status", "household_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    code: Mapped[str] = mapped_column(String(20))
    volume_ml: Mapped[float] = mapped_column(Float)
    remaining_ml: Mapped[float] = mapped_column(Float)
    expressed_at: Mapped[datetime]
    location: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))
    closed_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    entered_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    entered_at: Mapped[datetime]


class BagEvent(Base):
    """Everything that happened to a bag: stored, moved, used in a bottle, discarded."""

    __tablename__ = "bag_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    bag_id: Mapped[int] = mapped_column(ForeignKey("bags.id"), index=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(10))
    location: Mapped[str | None] = mapped_column(String(20))
    volume_ml: Mapped[float | None] = mapped_column(Float)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))


class BagSource(Base):
    """Which pump sessions a bag's milk came from."""

    __tablename__ = "bag_sources"
    bag_id: Mapped[int] = mapped_column(ForeignKey("bags.id"), primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), primary_key=True)


class Channel(Base):
    """One way to reach a member's phone or service: an Apprise URL (ntfy, email, ...)."""

    __tablename__ = "channels"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    failures: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    """Failed sends in a row; at ``notify.DEAD_AFTER`` the channel is reported dead."""
    dead_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")


class Notice(Base):
    """One event for one channel: sent once (its key is unique per channel), retried."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("channel_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    next_try_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    sent_at: Mapped[datetime | None]
