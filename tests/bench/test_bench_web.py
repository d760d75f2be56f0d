"""The web bench runs end to end, tiny, and writes the JSON outside checks read."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from letdown.bench.web import live_clients_for, run_web_bench
from letdown.cli import app
from letdown.journal import accounts

runner = CliRunner()


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap Argon2 for the demo's logins (the app runs in this process)."""
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def test_a_tiny_run_writes_exactly_the_figures_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "web.json"
    result = runner.invoke(
        app,
        ["bench", "web", "--clients", "2", "--seconds", "2", "--days", "3", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "dashboard" in result.output
    payload = json.loads(out.read_text())
    assert type(payload["clients"]) is int
    assert payload["clients"] == 2
    assert type(payload["seconds"]) is float
    assert payload["seconds"] >= 2.0
    assert set(payload["p95_ms"]) == {"dashboard", "api_summary", "live_delay", "charts"}
    for value in payload["p95_ms"].values():
        assert type(value) is float
        assert math.isfinite(value)
        assert value >= 0
    assert type(payload["errors"]) is int
    assert payload["errors"] == 0, payload["error_examples"]
    assert payload["requests"]["dashboard"] >= 1
    assert payload["requests"]["api_summary"] >= 1
    assert payload["requests"]["live_updates"] >= 1


def test_a_few_clients_watch_the_pump_live() -> None:
    assert [live_clients_for(n) for n in (1, 9, 10, 50, 500)] == [1, 1, 1, 5, 5]


@pytest.mark.parametrize(
    "arguments",
    [{"clients": 0}, {"seconds": 0.0}, {"think_s": -1.0}],
)
def test_the_run_is_bounded(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(arguments)).removesuffix("_s")):
        run_web_bench(**arguments)
