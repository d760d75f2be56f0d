"""The arrows of the architecture, checked on the source: controllers reach the hardware
only through the safety core, and no layer imports one above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "letdown"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("pump", ("letdown.twin", "letdown.device.sim", "letdown.web", "letdown.bench")),
        ("safety", ("letdown.twin", "letdown.pump", "letdown.web", "letdown.bench")),
        ("journal", ("letdown.pump", "letdown.twin", "letdown.device", "letdown.safety")),
        ("insights", ("letdown.pump", "letdown.twin", "letdown.device", "letdown.web")),
        ("twin", ("letdown.pump", "letdown.safety", "letdown.device", "letdown.web")),
    ],
)
def test_no_layer_imports_one_it_must_not_know(package: str, forbidden: tuple[str, ...]) -> None:
    for path in _modules(package):
        bad = {m for m in _imports(path) if m.startswith(forbidden)}
        assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"


def test_the_safety_core_imports_only_math() -> None:
    assert _imports(SRC / "safety" / "core.py") == {"math"}


def test_every_loop_that_commands_a_motor_does_it_under_the_safety_core() -> None:
    """Outside the seam and the core, code that sets a motor duty gets its pump from
    ``supervise``/``SafePump``: no unsupervised loop remains."""
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith(("device/", "safety/")):
            continue
        text = path.read_text()
        if ".set_duty(" in text:
            assert "supervise(" in text or "SafePump" in text, relative
