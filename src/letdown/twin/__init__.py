"""The physiological twin: a simulated nursing parent and pump hardware (twin.md).

It knows nothing of controllers. ``letdown.device.sim`` puts it behind the hardware
seam; tests and benchmarks read its truth.
"""

from letdown.twin.cohort import (
    PROFILES,
    Cohort,
    EjectionSpec,
    ParentSpec,
    SideSpec,
    SidesSpec,
    generate_cohort,
    load_cohort,
    parse_cohort,
    save_cohort,
)
from letdown.twin.faults import Fault, FaultKind
from letdown.twin.model import Commands, EjectionRecord, PneumaticsSpec, Readings, Twin

__all__ = [
    "PROFILES",
    "Cohort",
    "Commands",
    "EjectionRecord",
    "EjectionSpec",
    "Fault",
    "FaultKind",
    "ParentSpec",
    "PneumaticsSpec",
    "Readings",
    "SideSpec",
    "SidesSpec",
    "Twin",
    "generate_cohort",
    "load_cohort",
    "parse_cohort",
    "save_cohort",
]
