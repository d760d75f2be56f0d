"""``letdown pump --device URL --selftest`` against the firmware in the loop."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tests.conftest import make_parent
from typer.testing import CliRunner

from letdown.cli import app
from letdown.device.fwpeer import PeerProcess

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs a pseudo-terminal")


def test_the_selftest_measures_each_side_and_stores_a_passing_pump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "120")
    with PeerProcess(make_parent(), seed=4) as peer:
        result = CliRunner().invoke(app, ["pump", "--device", peer.url, "--selftest"])
    assert result.exit_code == 0, result.output
    assert "passed its self-test" in result.output
    stored = json.loads((tmp_path / "letdown" / "measured-spec.json").read_text())
    sides = stored[peer.url]
    # The twin's pump: stall 375 mmHg, vent 25/s, leak 0.1/s (twin.md §2).
    for side in ("left", "right"):
        assert abs(sides[side]["zero_mmhg"]) < 2.0
        assert 300.0 < sides[side]["stall_mmhg"] < 450.0
        assert 15.0 <= sides[side]["vent_per_s"] <= 35.0
        assert sides[side]["leak_per_s"] < 0.3


def test_the_selftest_needs_a_device_and_says_when_there_is_none() -> None:
    result = CliRunner().invoke(app, ["pump", "--sim", "--selftest"])
    assert result.exit_code != 0 and "--device URL" in result.output
    result = CliRunner().invoke(app, ["pump", "--device", "serial:///dev/ttyNOPE7", "--selftest"])
    assert result.exit_code != 0 and "no pump at /dev/ttyNOPE7" in result.output
