"""axe-core (tools/axe, from npm) run in a Playwright page: WCAG 2.1 A and AA.

Shared by the browser tests (``test_accessibility`` visits every page; ``test_browser_push``
checks the settings page in each push state). ``npm ci`` in tools/axe installs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

AXE = Path(__file__).parents[2] / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Any) -> list[str]:
    """What axe-core finds wrong on the page: one line per rule, with its targets."""
    if not AXE.exists():
        if os.environ.get("LETDOWN_REQUIRE_BROWSER") == "1" or os.environ.get("CI"):
            pytest.fail(f"{AXE} is missing: npm ci in tools/axe", pytrace=False)
        pytest.skip("axe-core is not installed (npm ci in tools/axe)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        """(tags) => axe.run(document, {runOnly: tags}).then(r => r.violations.map(v => ({
              id: v.id,
              nodes: v.nodes.map(n => n.target.join(' ') + ' ' + n.html.slice(0, 120)),
           })))""",
        TAGS,
    )
    return [f"{v['id']}: {v['nodes']}" for v in found]
