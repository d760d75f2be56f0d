"""``letdown bench hil``: the JSON keys scripts read, from a short campaign."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from letdown.cli import app

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs a pseudo-terminal")


def test_bench_hil_writes_the_issues_keys_and_every_fault_is_caught(tmp_path: Path) -> None:
    out = tmp_path / "hil.json"
    args = ["bench", "hil", "--sessions", "2", "--seed", "1", "--yield-sessions", "1"]
    result = CliRunner().invoke(app, [*args, "--minutes", "0.2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert set(figures) == {
        "sessions",
        "over_cap_ms_max",
        "yield_ratio_vs_direct",
        "kinds",
        "frame_rtt_ms_p99",
    }
    assert figures["sessions"] == 2
    assert set(figures["kinds"]) == {"corrupt", "drop"}
    for row in figures["kinds"].values():
        assert set(row) == {"count", "detected", "safe_ms_p99"}
        assert row["detected"] == row["count"] == 1
        assert row["safe_ms_p99"] <= 250.0
    assert figures["over_cap_ms_max"] == 0.0
    assert figures["frame_rtt_ms_p99"] > 0.0
    assert figures["yield_ratio_vs_direct"] >= 0.0
