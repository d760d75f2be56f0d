"""Shared fixtures: parents and pumps on the twin, never the wall clock."""

from __future__ import annotations

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
