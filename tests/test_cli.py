"""The ``letdown`` command as a person (or an outside check) runs it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from letdown.cli import app
from letdown.twin.cohort import load_cohort

runner = CliRunner()


def test_twin_cohort_writes_a_file_that_loads(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    result = runner.invoke(app, ["twin", "cohort", "--n", "5", "--seed", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    cohort = load_cohort(out)
    assert len(cohort.parents) == 5
    assert cohort.seed == 2


def test_twin_cohort_refuses_an_unknown_profile(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    result = runner.invoke(
        app, ["twin", "cohort", "--n", "5", "--profile", "tired", "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "unknown profile 'tired'" in result.output
    assert not out.exists()


def test_calibrate_writes_the_json_outside_checks_read(tmp_path: Path) -> None:
    cohort = tmp_path / "small.json"
    runner.invoke(app, ["twin", "cohort", "--n", "2", "--seed", "5", "--out", str(cohort)])
    out = tmp_path / "cal.json"
    result = runner.invoke(
        app,
        [
            "twin",
            "calibrate",
            "--cohort",
            str(cohort),
            "--compare",
            "1",
            "--jobs",
            "1",
            "--json",
            str(out),
        ],
    )
    payload = json.loads(out.read_text())
    assert set(payload) == {"ok", "rows"}
    assert [row["id"] for row in payload["rows"]] == [f"C{i}" for i in range(1, 14)]
    for row in payload["rows"]:
        assert set(row) == {"id", "figure", "target", "value", "ok"}
        assert isinstance(row["value"], float)
    assert payload["ok"] == all(row["ok"] for row in payload["rows"])
    assert result.exit_code == (0 if payload["ok"] else 1)
    assert "C13" in result.output


def test_calibrate_names_the_file_and_key_of_a_bad_cohort(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"parents": [{"id": "a", "sides": {"left": {"avail_ml": 3}}}]}))
    result = runner.invoke(app, ["twin", "calibrate", "--cohort", str(bad)])
    assert result.exit_code == 2
    assert str(bad) in result.output.replace("\n", "")
    assert "parents[0].sides.left.avail_ml: unknown key" in result.output.replace("\n", "")


def test_bench_speed_reports_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "speed.json"
    result = runner.invoke(
        app, ["bench", "speed", "--minutes", "0.5", "--repeat", "1", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert set(payload) == {"realtime_factor", "tick_us_p50", "tick_us_p99"}
    assert payload["realtime_factor"] > 0
    assert 0 < payload["tick_us_p50"] <= payload["tick_us_p99"]
    assert "real time" in result.output
    # Whether the loop's hot modules run compiled (setup.py, LETDOWN_COMPILE=1) or not.
    assert "hot modules interpreted" in result.output or "safety.core" in result.output


def test_bench_speed_fails_under_a_target_it_does_not_reach() -> None:
    args = ["bench", "speed", "--minutes", "0.1", "--repeat", "1", "--fail-under"]
    missed = runner.invoke(app, [*args, "1e9"])
    assert missed.exit_code == 1, missed.output
    assert "below target" in missed.output and "1e+09x" in missed.output
    met = runner.invoke(app, [*args, "1"])
    assert met.exit_code == 0, met.output
    assert "below target" not in met.output


def test_demo_runs_a_session_and_summarises_it() -> None:
    result = runner.invoke(app, ["demo", "--terminal", "--speed", "0", "--minutes", "1"])
    assert result.exit_code == 0, result.output
    assert "comfort ceilings" in result.output
    assert "session summary" in result.output
    assert "collected mL" in result.output


def test_demo_refuses_an_unknown_program() -> None:
    result = runner.invoke(app, ["demo", "--terminal", "--program", "turbo"])
    assert result.exit_code == 2
    assert "unknown program 'turbo'" in result.output


def test_bench_efficacy_writes_the_json_outside_checks_read(tmp_path: Path) -> None:
    cohort = tmp_path / "two.json"
    runner.invoke(app, ["twin", "cohort", "--n", "2", "--seed", "8", "--out", str(cohort)])
    out = tmp_path / "eff.json"
    result = runner.invoke(
        app,
        [
            "bench",
            "efficacy",
            "--cohort",
            str(cohort),
            "--controllers",
            "letdown,two-phase,two-phase-sides,oracle",
            "--minutes",
            "2",
            "--sessions",
            "2",
            "--jobs",
            "1",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "zero-pain limit" in result.output
    payload = json.loads(out.read_text())
    assert payload["cohort"] == "typical-2"
    assert payload["parents"] == 2
    assert payload["minutes"] == 2
    assert set(payload["controllers"]) == {"letdown", "two-phase", "two-phase-sides", "oracle"}
    learned = payload["controllers"]["letdown"].pop("learned")
    for row in [*payload["controllers"].values(), learned]:
        assert set(row) == {
            "yield_pct",
            "t80_s",
            "reach_baseline_s",
            "above_ceiling_s",
            "above_ceiling_s_median",
            "noticed_pain_s",
            "presses",
            "length_s",
        }
        assert 0 < row["yield_pct"] < 100
        assert row["length_s"] <= 2 * 60 + 3
    assert payload["controllers"]["two-phase"]["reach_baseline_s"] is not None


def test_bench_efficacy_refuses_an_unknown_controller(tmp_path: Path) -> None:
    cohort = tmp_path / "one.json"
    runner.invoke(app, ["twin", "cohort", "--n", "1", "--out", str(cohort)])
    result = runner.invoke(
        app, ["bench", "efficacy", "--cohort", str(cohort), "--controllers", "letdown,magic"]
    )
    assert result.exit_code == 2
    assert "unknown controller 'magic'" in result.output


def test_bench_faults_detects_one_of_each_kind(tmp_path: Path) -> None:
    out = tmp_path / "faults.json"
    result = runner.invoke(
        app,
        ["bench", "faults", "--sessions", "9", "--seed", "3", "--jobs", "1", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["sessions"] == 9
    assert len(payload["kinds"]) == 9
    for row in payload["kinds"].values():
        assert set(row) == {
            "count",
            "detected",
            "over_cap_ms_max",
            "over_ceiling_ms_max",
            "vent_ms_p99",
            "detect_ms_p99",
            "vent_after_detect_ms_p99",
        }
        assert row["detected"] == row["count"] == 1
        assert row["over_cap_ms_max"] == 0.0
        assert row["detect_ms_p99"] <= row["vent_ms_p99"]
        assert row["vent_after_detect_ms_p99"] >= 0.0


def test_pump_sim_runs_a_session_and_prints_its_record() -> None:
    result = runner.invoke(app, ["pump", "--sim", "--speed", "0", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert '"ended_by"' in result.output
    assert '"ceilings_mmhg"' in result.output


def test_pump_needs_the_simulated_pump_for_now() -> None:
    result = runner.invoke(app, ["pump"])
    assert result.exit_code == 2
    assert "--sim" in result.output
