"""The journal bench runs end to end on a small household and reports every figure."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from letdown.bench.journal import DAYS, plan_household, run_journal_bench

END = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_small_run_reports_every_figure() -> None:
    result = run_journal_bench(entries=200, seed=1, timed_inserts=20, repeat=3)
    assert json.loads(json.dumps(result)) == result
    assert isinstance(result["entries"], int)
    assert 170 <= result["entries"] <= 230
    assert set(result["p95_ms"]) == {"insert", "summary_24h", "summary_7d", "history"}
    assert set(result["other_p95_ms"]) == {"history_7d", "summary_7d_busiest"}
    figures = [
        *result["p95_ms"].values(),
        *result["other_p95_ms"].values(),
        *result["p50_ms"].values(),
        result["insert_per_s"],
        result["load_per_s"],
    ]
    for value in figures:
        assert isinstance(value, float)
        assert math.isfinite(value)
        assert value > 0
    assert all(math.isfinite(value) for value in result["p95_cpu_ms"].values())
    assert result["timed_inserts"] == 20
    assert result["store"] == "sqlite"
    assert sum(result["kinds"].values()) == result["entries"]


def test_the_household_is_the_same_for_a_seed() -> None:
    assert plan_household(300, 3, END) == plan_household(300, 3, END)
    assert plan_household(300, 3, END) != plan_household(300, 4, END)


def test_the_household_spans_two_years_of_every_kind() -> None:
    plan = plan_household(3000, 0, END)
    times = [step.at for step in plan]
    assert times == sorted(times)
    assert END - timedelta(days=DAYS) <= times[0] < END - timedelta(days=DAYS - 2)
    assert END - timedelta(days=1) < times[-1] < END
    steps = Counter(type(step).__name__ for step in plan)
    kinds = Counter(step.record.kind for step in plan if hasattr(step, "record"))
    assert set(kinds) == {"nurse", "pump", "bottle", "care", "symptom"}
    assert steps["StoreStep"] > 100
    assert steps["MoveStep"] > 20
    assert steps["UseStep"] > 100
    assert sum(kinds.values()) + steps["UseStep"] == pytest.approx(3000, rel=0.05)


def test_a_plan_of_the_first_weeks_is_those_weeks_of_the_whole_plan() -> None:
    """The demo plans only its few weeks: the same weeks the two-year household has."""
    end = datetime(2026, 6, 1, tzinfo=UTC)
    cut = end - timedelta(days=DAYS - 28)
    weeks = [step for step in plan_household(3000, 4, end, days=28) if step.at < cut]
    whole = [step for step in plan_household(3000, 4, end) if step.at < cut]
    assert len(weeks) > 100
    assert weeks == whole
