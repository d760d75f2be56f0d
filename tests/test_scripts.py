"""The repository's scripts as a developer meets them: quick when nothing changed."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FAKE_PYTHON = """#!/usr/bin/env bash
# Stands in for .venv/bin/python: logs pip installs, answers the version question.
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo pip >> "$(dirname "$0")/../calls"; exit 0; fi
if [ "$1" = "-c" ]; then echo 3.11.2; exit 0; fi
exit 1
"""
FAKE_LETDOWN = """#!/usr/bin/env bash
echo "letdown $*" >> "$(dirname "$0")/../calls"
"""


def _executable(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_scripts_demo_runs_pip_only_when_pyproject_changed(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "demo", tmp_path / "scripts" / "demo")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "letdown"\n', encoding="utf-8")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    _executable(bin_dir / "python", FAKE_PYTHON)
    _executable(bin_dir / "letdown", FAKE_LETDOWN)
    calls = tmp_path / ".venv" / "calls"

    def demo() -> list[str]:
        subprocess.run([tmp_path / "scripts" / "demo", "--no-browser"], check=True)
        return calls.read_text(encoding="utf-8").splitlines()

    assert demo() == ["pip", "letdown demo --no-browser"]
    assert demo()[2:] == ["letdown demo --no-browser"]
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "letdown"\ndependencies = ["numpy"]\n', encoding="utf-8"
    )
    assert demo()[3:] == ["pip", "letdown demo --no-browser"]


def test_skipped_browser_tests_say_how_to_run_them(tmp_path: Path) -> None:
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_b.py").write_text(
        "import pytest\n\n\ndef test_b() -> None:\n"
        "    pytest.skip('no browser for the tests: /usr/bin/chromium is missing')\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert "1 browser tests were skipped" in run.stdout
    assert "apt-get install chromium" in run.stdout
    assert "scripts/test tests/web/test_browser.py" in run.stdout
