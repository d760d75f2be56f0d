"""API tokens that expire, and bag labels a link can carry.

Every API token gets an end (tokens made before this get 90 days from the upgrade, so
no script stops at once); a bag whose label holds anything but letters, digits and
hyphens (``../stash/M3K``) could be neither used, moved nor discarded through a link,
so it gets a new label, and its notes keep the old one.

Revision ID: 0004_tokens_security
Revises: 0003
Create Date: 2026-12-07 19:00:00.000000
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0004_tokens_security"
down_revision = "0003"
branch_labels = None
depends_on = None

LABEL = re.compile(r"[A-Z0-9-]{1,20}")
"""As ``book.BAG_CODE`` (copied: a migration must not change when the app does)."""


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(), nullable=True))
    until = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=90)
    connection = op.get_bind()
    connection.execute(sa.text("UPDATE api_tokens SET expires_at = :until"), {"until": until})
    bags = connection.execute(sa.text("SELECT id, household_id, code, notes FROM bags")).all()
    taken = {(household, code) for _id, household, code, _notes in bags}
    for bag_id, household, code, notes in bags:
        if LABEL.fullmatch(code):
            continue
        new, n = f"R{bag_id}", 1
        while (household, new) in taken:
            n += 1
            new = f"R{bag_id}-{n}"
        taken.add((household, new))
        note = f"relabelled {new}: the label {code!r} could not be used in a link"
        connection.execute(
            sa.text("UPDATE bags SET code = :code, notes = :notes WHERE id = :id"),
            {"code": new, "notes": f"{notes}\n{note}".strip(), "id": bag_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
