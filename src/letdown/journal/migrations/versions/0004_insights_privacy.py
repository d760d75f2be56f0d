"""What is the nursing parent's own, and the household's milk-storage rule set.

``members.sees_private``: the members the nursing parent chose to see symptoms, pain,
care, pregnancy and red flags (a nursing parent always does). ``entries.shared``: one
such entry shown to every member all the same. ``households.storage_rules``: CDC (the
default), ABM Protocol #8 (2017) or NHS.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
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


def downgrade() -> None:
    op.drop_column("households", "storage_rules")
    op.drop_column("entries", "shared")
    op.drop_column("members", "sees_private")
