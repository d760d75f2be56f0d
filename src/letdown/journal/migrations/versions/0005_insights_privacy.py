"""What is the nursing parent's own, the milk-storage rule set, and notifications.

``members.sees_private``: the members the nursing parent chose to see symptoms, pain,
care, pregnancy and red flags (a nursing parent always does). ``entries.shared``: one
such entry shown to every member all the same. ``households.storage_rules``: CDC (the
default), ABM Protocol #8 (2017) or NHS.

Revision ID: 0005
Revises: 0004_tokens_security
Create Date: 2026-12-07 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004_tokens_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs with constant defaults (as 0003): no batch copy of referenced tables.
    op.add_column(
        "members",
        sa.Column("sees_private", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "entries",
        sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "households",
        sa.Column("storage_rules", sa.String(length=8), nullable=False, server_default="cdc"),
    )

    op.add_column("members", sa.Column("quiet_from", sa.String(length=5), nullable=True))
    op.add_column("members", sa.Column("quiet_until", sa.String(length=5), nullable=True))
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("dead_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_channels_member_id", "channels", ["member_id"])
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_id", "key"),
    )
    op.create_index("ix_notices_channel_id", "notices", ["channel_id"])


def downgrade() -> None:
    op.drop_index("ix_notices_channel_id", "notices")
    op.drop_table("notices")
    op.drop_index("ix_channels_member_id", "channels")
    op.drop_table("channels")
    op.drop_column("members", "quiet_until")
    op.drop_column("members", "quiet_from")
    op.drop_column("households", "storage_rules")
    op.drop_column("entries", "shared")
    op.drop_column("members", "sees_private")
