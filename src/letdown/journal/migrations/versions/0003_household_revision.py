"""A revision number on each household, raised by every write to its journal.

The web app keeps what its busiest screens read (the recent entries, the open bags) for
the revision it read them at, and knows from this number, read with who is asking,
whether that copy is still the journal as it is.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 07:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite allows it with a constant default): a batch copy of the
    # table would have to drop "households", which every other table refers to.
    op.add_column(
        "households",
        sa.Column("revision", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    op.drop_column("households", "revision")
