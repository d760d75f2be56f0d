"""Optional: the closed loop's hot modules compiled with mypyc, from the same sources.

``LETDOWN_COMPILE=1 pip install --no-build-isolation .`` (with mypy installed, as the dev
extras have it, and a C compiler) builds the safety core, the twin's model and the cycle
tracker as C extensions: a simulated session then runs about 2.5 times faster
(``letdown bench speed`` says which modules are compiled). Without the variable nothing
is compiled, and an editable install never is (a compiled module would hide every later
edit of its source). The firmware runs ``core.py`` as source under MicroPython either way.
Everything else about the package is in pyproject.toml.
"""

import os
import sys

from setuptools import setup

HOT_MODULES = [
    "src/letdown/safety/core.py",
    "src/letdown/twin/model.py",
    "src/letdown/pump/tracking.py",
]


BUILDS = {"bdist_wheel", "build", "build_ext", "install"}
"""The commands that build modules (not those that only write the package's metadata)."""


def _ext_modules() -> list[object]:
    if os.environ.get("LETDOWN_COMPILE") != "1":
        return []
    if "editable_wheel" in sys.argv:
        print("LETDOWN_COMPILE ignored: an editable install stays interpreted", file=sys.stderr)
        return []
    if not BUILDS & set(sys.argv):
        return []
    from mypyc.build import mypycify  # noqa: PLC0415 (only when compiling)

    # Not pyproject.toml's mypy settings (their pydantic plugin is not needed here, nor
    # installed before the dependencies): the sources type-check under --strict anyway.
    options = ["--config-file=", "--ignore-missing-imports"]
    return list(mypycify([*options, *HOT_MODULES], opt_level="3"))


setup(ext_modules=_ext_modules())
