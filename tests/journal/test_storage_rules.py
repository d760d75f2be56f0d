"""Milk-storage rule sets: CDC (default), ABM Protocol #8 (2017) or NHS, per household.

Each set's figures are checked against the table in ``shared/design/supply.md`` §6; a
household's bags are judged again when it changes set, and an export names the set.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from letdown.errors import StashRuleError
from letdown.journal import HouseholdInfo, Journal, Location, MemberInfo, Role
from letdown.journal.exchange import import_file, write_export
from letdown.journal.stash import (
    ABM_8,
    CDC,
    NHS,
    RuleSet,
    Stay,
    expiry,
    leftover_use_by,
    rule_set,
)

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("rules", "fridge_days", "frozen_days", "thawed_h"),
    [(CDC, 4, 365, 24), (ABM_8, 4, 365, 24), (NHS, 8, 182, 1)],
)
def test_each_set_gives_its_own_limits_and_names_itself(
    rules: RuleSet, fridge_days: int, frozen_days: int, thawed_h: float
) -> None:
    chosen = rule_set(rules.key)
    fridge = expiry(T0, [Stay(Location.FRIDGE, T0)], chosen)
    assert fridge.use_by == T0 + fridge_days * DAY
    assert chosen.name in fridge.rule
    frozen = expiry(T0, [Stay(Location.FREEZER, T0)], chosen)
    assert frozen.use_by == T0 + frozen_days * DAY
    thawed = expiry(T0, [Stay(Location.FREEZER, T0), Stay(Location.FRIDGE, T0 + DAY)], chosen)
    assert thawed.use_by == T0 + DAY + timedelta(hours=thawed_h)


def test_nhs_leftovers_keep_one_hour_and_cdc_two() -> None:
    assert leftover_use_by(T0, NHS) == T0 + timedelta(hours=1)
    assert leftover_use_by(T0, CDC) == T0 + timedelta(hours=2)


def test_an_unknown_set_is_refused_in_plain_words() -> None:
    with pytest.raises(StashRuleError, match="cdc, abm8, nhs"):
        rule_set("who")


def test_a_household_changing_set_sees_its_bags_judged_again_and_exported(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    now = datetime.now(UTC)
    with Journal.open(url) as journal:
        book = journal.create_household(
            HouseholdInfo(name="Home"), MemberInfo(name="Alex", role=Role.NURSING_PARENT)
        )
        bag = book.stash_add(100.0, expressed_at=now - 5 * DAY)
        assert bag.expired(now) and "CDC" in bag.expiry.rule
        book.set_storage_rules("nhs")
        again = book.bag(bag.code)
        assert not again.expired(now) and "NHS" in again.expiry.rule
        assert journal.book().bag(bag.code).expiry.use_by == again.expiry.use_by
        out = io.StringIO()
        write_export(book, "json", out)
    document = json.loads(out.getvalue())
    assert document["household"]["storage_rules"] == "nhs"
    exported = tmp_path / "home.json"
    exported.write_text(out.getvalue(), encoding="utf-8")
    with Journal.open(f"sqlite:///{tmp_path / 'other.sqlite'}") as other:
        import_file(other, "json", exported)
        assert other.book().household.storage_rules == "nhs"
