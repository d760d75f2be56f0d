"""An installed letdown (a wheel, not this checkout) checks and installs the firmware:
its files are package data, not a folder beside ``src/``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from letdown.device.fwpeer import firmware_files

ROOT = Path(__file__).resolve().parents[2]


def _new_enough_setuptools() -> bool:
    """pyproject.toml's ``license = "MIT"`` needs setuptools 77 to build in place."""
    try:
        from setuptools import __version__
    except ImportError:
        return False
    return int(__version__.split(".")[0]) >= 77


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout's wheel, built from a copy (a build writes egg-info and build/)."""
    tree = tmp_path_factory.mktemp("tree")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(
        ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    out = tmp_path_factory.mktemp("wheel")
    isolation = ["--no-build-isolation"] if _new_enough_setuptools() else []
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *isolation, "-w", out, tree],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("letdown-*.whl")
    return found


def test_the_wheel_holds_every_firmware_file_of_the_checkout(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    board_files = sorted((ROOT / "src/letdown/device/firmware").glob("*.py"))
    assert {path.name for path in board_files} >= {"main.py", "pumpfw.py", "config.py"}
    for path in board_files:
        assert f"letdown/device/firmware/{path.name}" in names
    # The two files shared with the host are modules of the package anyway.
    assert {"letdown/device/link.py", "letdown/safety/core.py"} <= names


def test_letdown_firmware_check_works_from_a_non_editable_install(
    wheel: Path, tmp_path: Path
) -> None:
    """A throwaway venv with the wheel installed; its dependencies come from this one."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)  # its own pip: this one's would see this letdown
    python = env_dir / "bin" / "python"
    env = {key: value for key, value in os.environ.items() if not key.startswith("LETDOWN_")}
    env.pop("PYTHONPATH", None)  # the tests' PYTHONPATH may hold this checkout's src
    installed = subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # A path line (not a site dir): this venv's packages, without its editable letdown.
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")

    def letdown(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [env_dir / "bin" / "letdown", *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
            env={**env, "COLUMNS": "200"},
            timeout=300,
        )

    where = subprocess.run(
        [python, "-c", "import letdown; print(letdown.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=env,
    ).stdout
    assert where.startswith(str(env_dir)), where
    checked = letdown("firmware", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"all {len(firmware_files())} firmware files compile" in checked.stdout
    assert "pumpfw.py" in checked.stdout and "core.py" in checked.stdout
    dry = letdown("firmware", "install", "--dry-run", "--port", "/dev/ttyACM9")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "connect /dev/ttyACM9 fs cp" in dry.stdout and "main.py" in dry.stdout
