"""Shared fixtures: parents and pumps on the twin, never the wall clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from letdown.device.sim import SimPump
from letdown.twin.cohort import ParentSpec, SideSpec, SidesSpec


def make_parent(
    left_comfort: float = 190.0, right_comfort: float = 190.0, **side: float
) -> ParentSpec:
    """A parent with the given comfort per side; other keys apply to both sides."""
    return ParentSpec(
        id="test",
        sides=SidesSpec(
            left=SideSpec(comfort_mmhg=left_comfort, **side),
            right=SideSpec(comfort_mmhg=right_comfort, **side),
        ),
    )


@pytest.fixture
def parent() -> ParentSpec:
    return make_parent()


@pytest.fixture
def pump(parent: ParentSpec) -> SimPump:
    with SimPump(parent, seed="fixture") as sim:
        yield sim  # type: ignore[misc]


BROWSER_SKIP = "no browser for the tests"
"""How tests/web/test_browser.py's skips begin (see ``_unavailable`` there)."""

HOW_TO_RUN_BROWSER_TESTS = (
    "to run them: install Debian's Chromium as root (apt-get install chromium), make sure "
    "Playwright is in .venv (pip install -e '.[dev]'), then "
    "`scripts/test tests/web/test_browser.py`; LETDOWN_REQUIRE_BROWSER=1 (as on CI) makes "
    "a missing browser fail instead of skip"
)


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say at the start, not only at the end, that the browser tests will skip."""
    if Path("/usr/bin/chromium").exists():
        return None
    return (
        "browser tests: /usr/bin/chromium is missing, so they will skip; "
        + HOW_TO_RUN_BROWSER_TESTS
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if BROWSER_SKIP in str(getattr(report, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} browser tests were skipped ({BROWSER_SKIP}): "
            f"{HOW_TO_RUN_BROWSER_TESTS}",
            yellow=True,
        )
