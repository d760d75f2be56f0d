"""Cohort files (twin.md §4) and the twin's determinism given a parent and a seed."""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letdown.device import SIDES, Side
from letdown.device.sim import SimPump
from letdown.errors import CohortError
from letdown.pump.program import TWO_PHASE
from letdown.pump.runner import RunResult, TickView, run_program
from letdown.twin.cohort import (
    DEFAULT_AVAILABLE_ML,
    DEFAULT_COMFORT_MMHG,
    DEFAULT_COUNT_MAX,
    DEFAULT_FLOW_ML_MIN,
    DEFAULT_INTERVAL_S,
    DEFAULT_LATENCY_S,
    DEFAULT_PAIN_PER_MMHG,
    PROFILES,
    Cohort,
    EjectionSpec,
    ParentSpec,
    SideSpec,
    SidesSpec,
    generate_cohort,
    load_cohort,
    save_cohort,
)
from letdown.twin.model import EjectionRecord

LEFT, RIGHT = Side.LEFT, Side.RIGHT

TWIN_MD_EXAMPLE = """\
{
  "name": "typical-200",
  "seed": 7,
  "parents": [
    {
      "id": "p001",
      "ejection": {"latency_s": 70.0, "interval_s": 170.0, "count_max": 6},
      "sides": {
        "left":  {"available_ml": 75.0, "flow_ml_min": 14.0, "comfort_mmhg": 185.0, "pain_per_mmhg": 0.08},
        "right": {"available_ml": 95.0, "flow_ml_min": 16.0, "comfort_mmhg": 160.0, "pain_per_mmhg": 0.12}
      }
    }
  ]
}
"""  # noqa: E501


# --- generating ----------------------------------------------------------------------------


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_generate_cohort_is_deterministic(profile: str) -> None:
    first = generate_cohort(40, 11, profile)
    second = generate_cohort(40, 11, profile)
    assert first.model_dump() == second.model_dump()
    assert len(first.parents) == 40
    assert len({parent.id for parent in first.parents}) == 40
    assert first.seed == 11


def test_different_seeds_give_different_cohorts() -> None:
    one = generate_cohort(20, 1)
    two = generate_cohort(20, 2)
    assert one.model_dump()["parents"] != two.model_dump()["parents"]
    # Not a reshuffle of the same parents either.
    assert one.parents[0].sides.left != two.parents[0].sides.left


def test_required_profiles_exist() -> None:
    assert {"typical", "sensitive", "low-supply", "oversupply"} <= set(PROFILES)


def test_profiles_differ_as_named() -> None:
    n = 200
    cohorts = {name: generate_cohort(n, 3, name) for name in PROFILES}

    def mean(name: str, what: str) -> float:
        values = []
        for parent in cohorts[name].parents:
            left, right = parent.sides.left, parent.sides.right
            if what == "comfort":
                values.append((left.comfort_mmhg + right.comfort_mmhg) / 2)
            elif what == "comfort_gap":
                values.append(abs(left.comfort_mmhg - right.comfort_mmhg))
            else:
                values.append(left.available_ml + right.available_ml)
        return statistics.fmean(values)

    # twin.md §4: sensitive has low and unequal comfort.
    assert mean("sensitive", "comfort") < mean("typical", "comfort") - 20
    assert mean("sensitive", "comfort_gap") > 2 * mean("typical", "comfort_gap")
    assert mean("low-supply", "milk") < mean("typical", "milk") < mean("oversupply", "milk")
    # twin.md C8: typical comfort is about Kent 2008's 190.7 mmHg.
    assert mean("typical", "comfort") == pytest.approx(190.7, abs=10)


def test_unknown_profile_is_a_cohort_error() -> None:
    with pytest.raises(CohortError, match="no-such-profile") as caught:
        generate_cohort(5, 1, "no-such-profile")
    assert "typical" in str(caught.value)  # names the known profiles


@pytest.mark.parametrize(("n", "seed"), [(0, 1), (-3, 1), (5, -1)])
def test_generate_cohort_refuses_bad_sizes_and_seeds(n: int, seed: int) -> None:
    with pytest.raises(CohortError):
        generate_cohort(n, seed)


# --- saving and loading ----------------------------------------------------------------------


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    cohort = generate_cohort(25, 9, "sensitive")
    path = tmp_path / "sensitive.json"
    save_cohort(cohort, path)
    loaded = load_cohort(path)
    assert loaded.model_dump() == cohort.model_dump()
    assert loaded == cohort
    json.loads(path.read_text(encoding="utf-8"))  # plain JSON that other tools can read


def test_an_unnamed_cohort_round_trips(tmp_path: Path) -> None:
    cohort = Cohort(parents=[ParentSpec(id="a")])
    path = tmp_path / "unnamed.json"
    save_cohort(cohort, path)
    assert load_cohort(path).model_dump() == cohort.model_dump()


def test_load_a_minimal_hand_written_file(tmp_path: Path) -> None:
    path = tmp_path / "minimal.json"
    path.write_text('{"parents": [{"id": "a"}, {"id": "b"}]}', encoding="utf-8")
    cohort = load_cohort(path)
    assert [parent.id for parent in cohort.parents] == ["a", "b"]
    assert cohort.seed == 0
    for parent in cohort.parents:
        assert parent.ejection.latency_s == DEFAULT_LATENCY_S
        assert parent.ejection.interval_s == DEFAULT_INTERVAL_S
        assert parent.ejection.count_max == DEFAULT_COUNT_MAX
        for side in (parent.sides.left, parent.sides.right):
            assert side.available_ml == DEFAULT_AVAILABLE_ML
            assert side.flow_ml_min == DEFAULT_FLOW_ML_MIN
            assert side.comfort_mmhg == DEFAULT_COMFORT_MMHG
            assert side.pain_per_mmhg == DEFAULT_PAIN_PER_MMHG


def test_load_partly_given_keys_keep_the_rest_default(tmp_path: Path) -> None:
    path = tmp_path / "partial.json"
    path.write_text(
        json.dumps(
            {
                "parents": [
                    {
                        "id": "a",
                        "ejection": {"latency_s": 30},
                        "sides": {"right": {"comfort_mmhg": 150.5}},
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    parent = load_cohort(path).parents[0]
    assert parent.ejection.latency_s == 30.0
    assert parent.ejection.count_max == DEFAULT_COUNT_MAX
    assert parent.sides.right.comfort_mmhg == 150.5
    assert parent.sides.right.available_ml == DEFAULT_AVAILABLE_ML
    assert parent.sides.left.comfort_mmhg == DEFAULT_COMFORT_MMHG


def test_load_the_twin_md_example(tmp_path: Path) -> None:
    path = tmp_path / "example.json"
    path.write_text(TWIN_MD_EXAMPLE, encoding="utf-8")
    cohort = load_cohort(path)
    expected = Cohort(
        name="typical-200",
        seed=7,
        parents=[
            ParentSpec(
                id="p001",
                ejection=EjectionSpec(latency_s=70.0, interval_s=170.0, count_max=6),
                sides=SidesSpec(
                    left=SideSpec(
                        available_ml=75.0, flow_ml_min=14.0, comfort_mmhg=185.0, pain_per_mmhg=0.08
                    ),
                    right=SideSpec(
                        available_ml=95.0, flow_ml_min=16.0, comfort_mmhg=160.0, pain_per_mmhg=0.12
                    ),
                ),
            )
        ],
    )
    assert cohort == expected
    again = tmp_path / "again.json"
    save_cohort(cohort, again)
    assert load_cohort(again) == expected


# --- malformed files: the message names the file and the key ---------------------------------


def _one_parent(**parent: Any) -> dict[str, Any]:
    return {"parents": [{"id": "p001", **parent}]}


BAD_FILES = [
    pytest.param(
        _one_parent(sides={"left": {"comfrot_mmhg": 180.0}}),
        ["parents[0].sides.left.comfrot_mmhg", "unknown key"],
        id="unknown-side-key",
    ),
    pytest.param(
        {"parents": [{"id": "a"}], "sede": 3},
        ["sede", "unknown key"],
        id="unknown-top-key",
    ),
    pytest.param(
        _one_parent(ejection={"latency_s": "70"}),
        ["parents[0].ejection.latency_s"],
        id="string-latency",
    ),
    pytest.param(
        _one_parent(ejection={"latency_s": True}),
        ["parents[0].ejection.latency_s"],
        id="bool-latency",
    ),
    pytest.param(
        {"parents": [{"id": "a"}, {"id": "b", "sides": {"right": {"available_ml": -1.0}}}]},
        ["parents[1].sides.right.available_ml"],
        id="negative-available",
    ),
    pytest.param(
        _one_parent(ejection={"count_max": 2.5}),
        ["parents[0].ejection.count_max"],
        id="fractional-count",
    ),
    pytest.param(
        _one_parent(ejection={"latency_s": 0}),
        ["parents[0].ejection.latency_s"],
        id="zero-latency",
    ),
    pytest.param(
        _one_parent(sides={"left": {"comfort_mmhg": 900.0}}),
        ["parents[0].sides.left.comfort_mmhg"],
        id="comfort-too-high",
    ),
    pytest.param({"name": "x", "seed": 1}, ["parents", "missing"], id="missing-parents"),
    pytest.param({"parents": []}, ["parents"], id="empty-parents"),
    pytest.param({"parents": [{}]}, ["parents[0].id", "missing"], id="missing-id"),
    pytest.param(
        {"parents": [{"id": "a"}, {"id": "b"}, {"id": "a"}]},
        ["parents[2].id", "duplicate", "'a'"],
        id="duplicate-ids",
    ),
    pytest.param({"parents": [{"id": "a"}], "seed": -1}, ["seed"], id="negative-seed"),
    pytest.param({"parents": {"id": "a"}}, ["parents"], id="parents-not-a-list"),
]


@pytest.mark.parametrize(("content", "needles"), BAD_FILES)
def test_malformed_cohort_names_file_and_key(
    tmp_path: Path, content: dict[str, Any], needles: list[str]
) -> None:
    path = tmp_path / "bad-cohort.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(CohortError) as caught:
        load_cohort(path)
    message = str(caught.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"parents": [{"id": "a"}]', id="truncated"),
        pytest.param("not json at all", id="prose"),
        pytest.param("", id="empty"),
    ],
)
def test_not_json_is_a_cohort_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CohortError, match="JSON") as caught:
        load_cohort(path)
    assert str(path) in str(caught.value)


def test_invalid_utf8_is_a_cohort_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"parents": [{"id": "\xe9"}]}')
    with pytest.raises(CohortError) as caught:
        load_cohort(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("text", ['[{"id": "a"}]', '"cohort"', "42", "null"])
def test_top_level_must_be_an_object(tmp_path: Path, text: str) -> None:
    path = tmp_path / "array.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CohortError) as caught:
        load_cohort(path)
    assert str(path) in str(caught.value)
    assert "parents" in str(caught.value)


def test_missing_file_is_a_cohort_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "cohort.json"
    with pytest.raises(CohortError) as caught:
        load_cohort(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_directory_is_a_cohort_error(tmp_path: Path) -> None:
    with pytest.raises(CohortError) as caught:
        load_cohort(tmp_path)
    assert str(tmp_path) in str(caught.value)


# --- property: any valid cohort round-trips --------------------------------------------------


def _floats(low: float, high: float, *, exclude_low: bool = False) -> st.SearchStrategy[float]:
    return st.floats(low, high, exclude_min=exclude_low, allow_nan=False, allow_infinity=False)


_sides = st.builds(
    SideSpec,
    available_ml=_floats(0, 1000),
    flow_ml_min=_floats(0, 300),
    comfort_mmhg=_floats(0, 400, exclude_low=True),
    pain_per_mmhg=_floats(0, 10),
)
_ejection = st.builds(
    EjectionSpec,
    latency_s=_floats(0, 1800, exclude_low=True),
    interval_s=_floats(0, 3600, exclude_low=True),
    count_max=st.integers(0, 50),
)


@st.composite
def _cohorts(draw: st.DrawFn) -> Cohort:
    ids = draw(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=5, unique=True))
    parents = [
        ParentSpec(
            id=parent_id,
            ejection=draw(_ejection),
            sides=SidesSpec(left=draw(_sides), right=draw(_sides)),
        )
        for parent_id in ids
    ]
    return Cohort(
        name=draw(st.text(min_size=1, max_size=200)),
        seed=draw(st.integers(0, 2**63 - 1)),
        parents=parents,
    )


@settings(max_examples=25, deadline=None)
@given(cohort=_cohorts())
def test_any_valid_cohort_round_trips(cohort: Cohort) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cohort.json"
        save_cohort(cohort, path)
        loaded = load_cohort(path)
    assert loaded.model_dump() == cohort.model_dump()


# --- the twin is determined by its parent and seed --------------------------------------------

SESSION_S = 300.0


def _session(parent: ParentSpec, seed: int | str) -> tuple[RunResult, list[TickView], SimPump]:
    views: list[TickView] = []
    pump = SimPump(parent, seed=seed)
    ceilings = {side: pump.twin.comfort_mmhg(side) for side in SIDES}
    result = run_program(
        pump, TWO_PHASE, ceilings, duration_s=SESSION_S, on_tick=views.append, view_every=1
    )
    return result, views, pump


def _snapshot(records: list[EjectionRecord]) -> list[tuple[float, ...]]:
    return [
        (r.start_s, r.duration_s, r.strength, *r.volume_ml, *r.peak_flow_ml_min) for r in records
    ]


@pytest.fixture(scope="module")
def quick_parent() -> ParentSpec:
    # Quick, frequent let-downs, so that several ejections fall within the session.
    ejection = EjectionSpec(latency_s=50.0, interval_s=80.0, count_max=6)
    return ParentSpec(id="t", ejection=ejection, sides=generate_cohort(1, 4).parents[0].sides)


@pytest.fixture(scope="module")
def same_seed_sessions(
    quick_parent: ParentSpec,
) -> tuple[tuple[RunResult, list[TickView], SimPump], ...]:
    return _session(quick_parent, "4:0"), _session(quick_parent, "4:0")


def test_same_parent_and_seed_give_the_same_session(
    same_seed_sessions: tuple[tuple[RunResult, list[TickView], SimPump], ...],
) -> None:
    (result_a, views_a, pump_a), (result_b, views_b, pump_b) = same_seed_sessions
    assert result_a.ended_by == result_b.ended_by == "end"
    assert pump_a.clock.now_s() == pytest.approx(SESSION_S, abs=0.02)
    # The session did something worth comparing: milk flowed, ejections happened.
    assert len(pump_a.twin.ejections) >= 3
    assert all(pump_a.twin.removed_ml(side) > 10 for side in SIDES)
    assert _snapshot(pump_a.twin.ejections) == _snapshot(pump_b.twin.ejections)
    for side in SIDES:
        assert pump_a.twin.removed_ml(side) == pump_b.twin.removed_ml(side)
    assert result_a.volume_ml == result_b.volume_ml
    assert result_a.presses == result_b.presses
    assert len(views_a) == len(views_b) > 25_000
    assert views_a == views_b


def test_a_different_seed_changes_the_session(
    quick_parent: ParentSpec,
    same_seed_sessions: tuple[tuple[RunResult, list[TickView], SimPump], ...],
) -> None:
    _, views_a, pump_a = same_seed_sessions[0]
    _, views_c, pump_c = _session(quick_parent, "4:1")
    assert views_a != views_c
    assert _snapshot(pump_a.twin.ejections) != _snapshot(pump_c.twin.ejections)


def _rest_readings(seed: int) -> list[float | None]:
    pump = SimPump(ParentSpec(id="t"), seed=seed)
    values: list[float | None] = []
    for tick in range(1, 201):
        pump.clock.sleep_until(tick * 0.01)
        for side in SIDES:
            reading = pump.read_vacuum(side)
            values.append(None if reading is None else reading.vacuum_mmhg)
    return values


def test_sensor_noise_follows_the_seed() -> None:
    # At rest (motor off, vents open) the readings are the sensor noise alone.
    same = _rest_readings(1)
    assert same == _rest_readings(1)
    other = _rest_readings(2)
    assert same != other
    assert len(set(same)) > 3  # noise, not a constant
    assert sum(a != b for a, b in zip(same, other, strict=True)) > 100


def test_late_let_down_parents_wait_longer_for_their_first_ejection() -> None:
    late = generate_cohort(100, 3, "late let-down")
    assert late.parents == generate_cohort(100, 3, "late-let-down").parents
    typical = generate_cohort(100, 3, "typical")

    def latency(cohort: Cohort) -> float:
        return statistics.fmean(parent.ejection.latency_s for parent in cohort.parents)

    assert latency(late) > 2 * latency(typical)
