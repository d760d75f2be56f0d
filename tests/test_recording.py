"""A finished pump session lands in the journal as the parent would read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from letdown.device.base import Side
from letdown.device.sim import SimPump
from letdown.journal import ChildInfo, HouseholdInfo, Journal, MemberInfo, PumpSession, Role
from letdown.pump.session import LETDOWN, AdaptiveProgram
from letdown.pump.session import PumpSession as Controller
from letdown.recording import to_journal
from letdown.twin.cohort import EjectionSpec, ParentSpec, SideSpec, SidesSpec


def test_a_session_record_becomes_a_journal_entry(tmp_path: Path) -> None:
    parent = ParentSpec(
        id="r",
        ejection=EjectionSpec(latency_s=40.0, interval_s=120.0, count_max=4),
        sides=SidesSpec(left=SideSpec(comfort_mmhg=170.0), right=SideSpec(comfort_mmhg=200.0)),
    )
    program = AdaptiveProgram(
        "letdown", LETDOWN.stimulation, LETDOWN.expression, LETDOWN.restimulation, cap_s=300.0
    )
    with SimPump(parent, seed=4) as pump:
        record = Controller(pump, program).run()
    started_at = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    entry = to_journal(record, started_at, pain={"left": 2})

    assert entry.start_at == started_at
    assert (entry.end_at - entry.start_at).total_seconds() == pytest.approx(record.duration_s)
    assert entry.device == "letdown"
    for side in (Side.LEFT, Side.RIGHT):
        collected = record.volume_ml[side]
        assert collected is not None and collected > 0
        assert entry.sides[side.value].volume_ml == round(collected, 1)
        assert entry.sides[side.value].comfort_mmhg == round(record.ceilings_mmhg[side], 1)
    assert entry.sides["left"].pain == 2 and entry.sides["right"].pain is None
    assert entry.phases[0].name == "stimulation" and entry.phases[0].start_s == 0.0
    assert len(entry.ejections_s) == len(record.ejections_s) >= 1
    assert entry.ended_by == record.ended_by

    with Journal.open(f"sqlite:///{tmp_path / 'j.sqlite'}") as journal:
        book = journal.create_household(
            HouseholdInfo(name="Home"), MemberInfo(name="Alex", role=Role.NURSING_PARENT)
        )
        book.add_child(ChildInfo(name="Robin"))
        stored = book.add(entry)
        again = book.get(stored.uid).record
    assert isinstance(again, PumpSession)
    assert again == entry


def test_a_session_run_faster_than_real_time_ends_now_not_in_the_future() -> None:
    """The demo runs its simulated pump at 10x: a 5-minute session takes 30 s."""
    parent = ParentSpec(id="fast")
    program = AdaptiveProgram(
        "letdown", LETDOWN.stimulation, LETDOWN.expression, LETDOWN.restimulation, cap_s=300.0
    )
    with SimPump(parent, seed=1) as pump:
        record = Controller(pump, program).run()
    before = datetime.now(UTC)
    entry = to_journal(record, before - timedelta(seconds=record.duration_s / 10))
    after = datetime.now(UTC)

    assert entry.end_at <= after
    assert (entry.end_at - entry.start_at).total_seconds() == pytest.approx(record.duration_s)
    assert entry.end_at >= before - timedelta(seconds=1)
