"""From a pump session to a journal entry: the one place that knows both.

The controller emits a ``SessionRecord`` on its own clock; the journal stores a
``PumpSession`` in wall-clock UTC. The app (CLI, web) calls ``to_journal`` and stores the
result through the journal's ordinary API, so ``letdown.journal`` never imports the pump.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from letdown.device.base import PressKind
from letdown.journal.records import PhaseSpan, PumpSession, PumpSide
from letdown.pump.session import SessionRecord

DEVICE_NAME = "letdown"


def to_journal(
    record: SessionRecord,
    started_at: datetime,
    *,
    pain: dict[str, int] | None = None,
    notes: str = "",
) -> PumpSession:
    """The journal's view of a finished session that began at ``started_at`` (aware).

    Session-relative times (phases, ejections) are kept relative to the session's start;
    a side whose scale gave no reading is left out rather than recorded as 0 mL.
    A simulated session run faster than real time would end after now: its start is
    moved back so that it ends now, as nothing in the journal ends in the future.
    """
    latest_start = datetime.now(UTC) - timedelta(seconds=record.duration_s)
    started_at = min(started_at, latest_start)
    offset_s = record.started_at_s
    sides = {
        side.value: PumpSide(
            volume_ml=max(0.0, round(volume, 1)),
            comfort_mmhg=round(record.ceilings_mmhg[side], 1)
            if side in record.ceilings_mmhg
            else None,
            pain=(pain or {}).get(side.value),
        )
        for side, volume in record.volume_ml.items()
        if volume is not None
    }
    return PumpSession(
        start_at=started_at,
        end_at=started_at + timedelta(seconds=record.duration_s),
        sides=sides,
        device=DEVICE_NAME,
        program=record.program,
        phases=tuple(
            PhaseSpan(
                name=span.state.value,
                start_s=round(max(0.0, span.start_s - offset_s), 3),
                end_s=round(max(0.0, span.end_s - offset_s), 3),
            )
            for span in record.phases
        ),
        ejections_s=tuple(round(max(0.0, at_s - offset_s), 3) for at_s in record.ejections_s),
        presses=sum(1 for kind, _side, _at in record.presses if kind == PressKind.TOO_MUCH.value),
        ended_by=record.ended_by,
        faults=tuple(fault.message for fault in record.faults),
        notes=" ".join(part for part in (notes, *record.notes) if part),
    )
