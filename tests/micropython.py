"""Running one vectors script under CPython and under MicroPython's WebAssembly port
(npm ``@micropython/micropython-webassembly-pyscript`` in ``tools/mpwasm``), for the
safety core's and the firmware's "same outputs, line for line" tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MPWASM = ROOT / "tools" / "mpwasm"


def need(what: str, ready: bool) -> None:
    """Skip without ``what`` here; fail on CI, which installs it."""
    if not ready:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing on CI (scripts/test installs it)")
        pytest.skip(f"{what} is not installed: run scripts/test, which installs it")


def run_cpython(vectors: Path, modules: Path) -> str:
    """``vectors`` run by this Python with ``modules`` importable; its output."""
    env = {**os.environ, "PYTHONPATH": str(modules)}
    done = subprocess.run(  # noqa: PLW1510 (the return code is asserted)
        [sys.executable, str(vectors)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_micropython(vectors: Path, modules: Path) -> str:
    """The same under MicroPython (WebAssembly, on Node); skips where it is not installed."""
    node = shutil.which("node")
    need("Node.js", node is not None)
    need(
        "MicroPython's WebAssembly port (npm ci in tools/mpwasm)",
        (MPWASM / "node_modules" / "@micropython").is_dir(),
    )
    assert node is not None
    done = subprocess.run(  # noqa: PLW1510 (the return code is asserted)
        [node, str(MPWASM / "run.mjs"), str(vectors), str(modules)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
