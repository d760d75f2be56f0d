"""Pumping sessions imported from Baby Buddy keep their total only, not a made-up left side.

Earlier imports put a Baby Buddy session's one amount on the left side (with a note
saying so). A pump session may now hold ``total_ml`` and no sides: this moves those
amounts there, so per-side figures no longer count both sides' milk on the left.
Only entries the importer wrote (device "Baby Buddy import", the left side alone, its
note) are touched; their revisions keep the old form as history.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

DEVICE = "Baby Buddy import"
OLD_NOTE = "all on the left side here"
NEW_NOTE = "both sides together, no side kept"

entries = sa.table(
    "entries",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("data", sa.JSON),
)


def _load(data: Any) -> dict[str, Any]:
    return json.loads(data) if isinstance(data, str) else dict(data)


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(entries.c.id, entries.c.data).where(entries.c.kind == "pump")
    )
    for entry_id, raw in rows.all():
        data = _load(raw)
        sides = data.get("sides") or {}
        notes = str(data.get("notes", ""))
        if data.get("device") != DEVICE or set(sides) != {"left"} or OLD_NOTE not in notes:
            continue
        parts = [NEW_NOTE if OLD_NOTE in part else part for part in notes.split("; ")]
        data.update(sides={}, total_ml=sides["left"]["volume_ml"], notes="; ".join(parts))
        connection.execute(sa.update(entries).where(entries.c.id == entry_id).values(data=data))


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(entries.c.id, entries.c.data).where(entries.c.kind == "pump")
    )
    for entry_id, raw in rows.all():
        data = _load(raw)
        if data.get("device") != DEVICE or data.get("total_ml") is None:
            continue
        total_ml = data.pop("total_ml")
        data["sides"] = {"left": {"volume_ml": total_ml, "comfort_mmhg": None, "pain": None}}
        data["notes"] = str(data.get("notes", "")).replace(
            NEW_NOTE,
            f"Baby Buddy keeps one amount per session: {total_ml:g} mL from both "
            f"sides together, {OLD_NOTE}",
        )
        connection.execute(sa.update(entries).where(entries.c.id == entry_id).values(data=data))
