"""The firmware's modules compile for the RP2040 (mpy-cross) and run under MicroPython's
WebAssembly port with the same output as under CPython, step for step."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.micropython import run_cpython, run_micropython

from letdown.device.fwpeer import firmware_files
from letdown.firmware import check_firmware

VECTORS = Path(__file__).with_name("vectors.py")


@pytest.fixture(scope="module")
def board_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The firmware's files as they are laid out on the board (flat names)."""
    folder = tmp_path_factory.mktemp("board")
    for name, source in firmware_files().items():
        shutil.copy(source, folder / name)
    return folder


def _cpython(board_dir: Path) -> str:
    return run_cpython(VECTORS, board_dir)


def test_the_vectors_show_the_firmware_acting_as_it_should(board_dir: Path) -> None:
    lines = _cpython(board_dir).splitlines()
    by_label: dict[str, list[list[str]]] = {}
    for line in lines:
        words = line.split(" ", 3)
        by_label.setdefault(words[0], []).append(words)
    # Outputs stay off until a host says hello and rearms.
    assert all("[0.0, True, 0.0, True] not_connected" in w[3] for w in by_label["boot"])
    # A command pulls the left side (duty 0.6, vent shut), through the core.
    assert "[0.6, False, 0.0, True] None" in by_label["pull"][-1][3]
    # The host went quiet: the left motor holds the vacuum instead of pulling on.
    stale = by_label["stale"][-1][3]
    assert "False, 0.0, True] None" in stale and "[0.6," not in stale
    # A corrupted frame latches the link fault: motors off, vents open.
    assert "[0.0, True, 0.0, True] link_crc" in by_label["corrupt"][0][3]
    assert all("[0.0, True, 0.0, True]" in w[3] for w in by_label["silent"])
    # The watchdog is fed every loop.
    assert by_label["silent"][-1][3].endswith(str(len(lines)))


def test_micropython_runs_the_firmware_with_the_same_outputs_as_cpython(board_dir: Path) -> None:
    micropython = run_micropython(VECTORS, board_dir)
    assert micropython.splitlines() == _cpython(board_dir).splitlines()


def test_letdown_firmware_check_compiles_every_file_for_the_rp2040() -> None:
    compiled = check_firmware()
    assert {name for name, _ in compiled} == set(firmware_files())
    assert all(size > 0 for _, size in compiled)
