"""Cohort files: every hidden parameter of a group of simulated parents (twin.md §4).

A cohort fully determines a simulation: the per-session random draws come from the
cohort's ``seed`` and the parent's index. ``load_cohort`` reads any file in the schema
(not only generated ones) and names the file and the key of anything wrong;
``generate_cohort`` draws one from a named profile.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from letdown.errors import CohortError
from letdown.twin.sources import (
    ASSUMPTION,
    KENT_1999_STORAGE,
    KENT_2006_RIGHT,
    PRIME_2011_EJECTIONS,
    RAMSAY_2004_LATENCY,
    RAMSAY_2006_PEAK_FLOW,
    Source,
)

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

# Defaults for keys a cohort file may leave out (twin.md §4 "documented defaults").
DEFAULT_LATENCY_S = 75.0  # RAMSAY_2004_LATENCY: about a minute, later when pumping
DEFAULT_INTERVAL_S = 165.0  # tuned so C3 holds: 5.1 ejections in 15 min (PRIME_2011_EJECTIONS)
DEFAULT_COUNT_MAX = 7  # PRIME_2011_EJECTIONS: 5.1 ± 2.0 per 15 min
DEFAULT_AVAILABLE_ML = 180.0  # Kent et al. 2008: 118.5 mL is 65.5 % of available
DEFAULT_FLOW_ML_MIN = 40.0  # RAMSAY_2006_PEAK_FLOW: up to about 55 mL/min
DEFAULT_COMFORT_MMHG = 190.7  # Kent et al. 2008, Breastfeed Med 3:11: MCV 190.7 ± 8.8
DEFAULT_PAIN_PER_MMHG = 0.08  # ASSUMPTION: no published vacuum-pain curve


class EjectionSpec(BaseModel):
    """The parent's milk-ejection reflex (systemic: both sides at once)."""

    model_config = _STRICT

    latency_s: Annotated[float, Field(gt=0, le=1800)] = DEFAULT_LATENCY_S
    interval_s: Annotated[float, Field(gt=0, le=3600)] = DEFAULT_INTERVAL_S
    count_max: Annotated[int, Field(ge=0, le=50)] = DEFAULT_COUNT_MAX


class SideSpec(BaseModel):
    """One breast (or side of the chest): milk, flow and comfort."""

    model_config = _STRICT

    available_ml: Annotated[float, Field(ge=0, le=1000)] = DEFAULT_AVAILABLE_ML
    flow_ml_min: Annotated[float, Field(ge=0, le=300)] = DEFAULT_FLOW_ML_MIN
    comfort_mmhg: Annotated[float, Field(gt=0, le=400)] = DEFAULT_COMFORT_MMHG
    pain_per_mmhg: Annotated[float, Field(ge=0, le=10)] = DEFAULT_PAIN_PER_MMHG


class SidesSpec(BaseModel):
    model_config = _STRICT

    left: SideSpec = SideSpec()
    right: SideSpec = SideSpec()


class ParentSpec(BaseModel):
    """Every hidden parameter of one simulated parent."""

    model_config = _STRICT

    id: Annotated[str, Field(min_length=1, max_length=200)]
    ejection: EjectionSpec = EjectionSpec()
    sides: SidesSpec = SidesSpec()


class Cohort(BaseModel):
    """A named group of parents and the seed of every random draw made for them."""

    model_config = _STRICT

    name: Annotated[str, Field(max_length=200)] = ""
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    parents: Annotated[list[ParentSpec], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_ids(self) -> Cohort:
        seen: set[str] = set()
        for index, parent in enumerate(self.parents):
            if parent.id in seen:
                raise ValueError(f"parents[{index}].id: duplicate parent id {parent.id!r}")
            seen.add(parent.id)
        return self

    def session_seed(self, index: int) -> str:
        """The seed of parent ``index``'s per-session draws, stable across runs."""
        return f"{self.seed}:{index}"


def _where(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe(error: Any) -> str:
    where = _where(tuple(error["loc"]))
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    if error["type"] == "missing":
        return f"{where}: required key is missing"
    return f"{where}: {error['msg']}"


def parse_cohort(text: str | bytes, origin: str = "<cohort>") -> Cohort:
    """Parse cohort JSON; ``CohortError`` names ``origin`` and every bad key."""
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CohortError(f"{origin}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise CohortError(f"{origin}: a cohort is a JSON object with a 'parents' list")
    try:
        return Cohort.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise CohortError(f"{origin}: {problems}") from exc


def load_cohort(path: str | Path) -> Cohort:
    """Read a cohort file in the twin.md §4 schema (an unnamed cohort stays unnamed)."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CohortError(f"{path}: cannot read cohort file ({exc.strerror})") from exc
    return parse_cohort(text, str(path))


def save_cohort(cohort: Cohort, path: str | Path) -> None:
    """Write ``cohort`` as indented JSON that ``load_cohort`` reads back identically."""
    Path(path).write_text(cohort.model_dump_json(indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Spread:
    """A log-normal draw: ``median * exp(N(0, sigma))`` kept within ``low..high``."""

    median: float
    sigma: float
    low: float
    high: float
    source: Source

    def draw(self, rng: random.Random) -> float:
        value = self.median * math.exp(rng.gauss(0.0, self.sigma))
        return min(self.high, max(self.low, value))


@dataclass(frozen=True, slots=True)
class Profile:
    """How a kind of parent is drawn. Data, not code: add a profile by adding a row."""

    latency_s: Spread
    interval_s: Spread
    count_mean: float
    count_sd: float
    available_ml: Spread
    right_over_left: Spread
    flow_ml_min: Spread
    comfort_mean_mmhg: float
    comfort_sd_mmhg: float
    comfort_side_sd_mmhg: float
    pain_per_mmhg: Spread


_TYPICAL = Profile(
    latency_s=Spread(70.0, 0.35, 25.0, 240.0, RAMSAY_2004_LATENCY),
    interval_s=Spread(140.0, 0.25, 70.0, 400.0, PRIME_2011_EJECTIONS),
    count_mean=6.0,  # PRIME_2011_EJECTIONS: 5.1 ± 2.0 in 15 min; some parents have fewer
    count_sd=2.0,
    available_ml=Spread(165.0, 0.30, 50.0, 380.0, KENT_1999_STORAGE),
    right_over_left=Spread(1.14, 0.22, 0.6, 2.0, KENT_2006_RIGHT),
    flow_ml_min=Spread(42.0, 0.22, 12.0, 90.0, RAMSAY_2006_PEAK_FLOW),
    comfort_mean_mmhg=190.7,  # Kent et al. 2008, Breastfeed Med 3:11
    comfort_sd_mmhg=8.8,  # Kent et al. 2008
    comfort_side_sd_mmhg=5.0,  # ASSUMPTION: sides differ a little in a typical parent
    pain_per_mmhg=Spread(0.08, 0.30, 0.03, 0.3, ASSUMPTION),
)

PROFILES: dict[str, Profile] = {
    "typical": _TYPICAL,
    # Sore or sensitive: lower and unequal comfort, pain rising faster (ASSUMPTION, after
    # Qi et al. 2014, J Hum Lact 30:62: sore nipples are the most common pumping problem).
    "sensitive": replace(
        _TYPICAL,
        comfort_mean_mmhg=150.0,
        comfort_sd_mmhg=15.0,
        comfort_side_sd_mmhg=18.0,
        pain_per_mmhg=Spread(0.16, 0.30, 0.05, 0.6, ASSUMPTION),
    ),
    # Below the lower limit of normal production, 440 mL/day (Kent et al. 2016,
    # Nutrients 8:756): less milk, weaker flow and fewer ejections (ASSUMPTION on how).
    "low-supply": replace(
        _TYPICAL,
        available_ml=Spread(70.0, 0.30, 15.0, 160.0, ASSUMPTION),
        flow_ml_min=Spread(20.0, 0.25, 6.0, 45.0, ASSUMPTION),
        count_mean=4.5,
    ),
    # Late let-down: the first ejection takes minutes to come. It comes about a minute
    # into a breastfeed (Ramsay et al. 2004) and later when pumping, with no published
    # figure for pumping (reference.md); how late, and that later ejections stay as
    # frequent, is an ASSUMPTION: a median of 3 minutes, up to 7.
    "late-let-down": replace(
        _TYPICAL,
        latency_s=Spread(180.0, 0.35, 90.0, 420.0, ASSUMPTION),
    ),
    # Oversupply: storage near the top of Kent 1999's 74-382 mL range, fast flow.
    "oversupply": replace(
        _TYPICAL,
        available_ml=Spread(280.0, 0.20, 150.0, 450.0, KENT_1999_STORAGE),
        flow_ml_min=Spread(55.0, 0.20, 25.0, 110.0, ASSUMPTION),
    ),
}


def _profile_name(profile: str) -> str:
    """``late let-down``, ``late_letdown`` and ``late-let-down`` name the same profile."""
    name = "-".join(profile.strip().lower().replace("_", " ").replace("-", " ").split())
    return "late-let-down" if name == "late-letdown" else name


def generate_cohort(n: int, seed: int, profile: str = "typical", name: str = "") -> Cohort:
    """Draw ``n`` parents from ``profile``; the same arguments give the same cohort."""
    if n < 1:
        raise CohortError(f"a cohort needs at least one parent, got n={n}")
    if seed < 0:
        raise CohortError(f"seed must be zero or more, got {seed}")
    profile = _profile_name(profile)
    try:
        shape = PROFILES[profile]
    except KeyError:
        known = ", ".join(PROFILES)
        raise CohortError(f"unknown profile {profile!r}; known: {known}") from None
    rng = random.Random(f"cohort:{profile}:{seed}")
    parents = []
    for index in range(n):
        count = round(rng.gauss(shape.count_mean, shape.count_sd))
        base_ml = shape.available_ml.draw(rng)
        ratio = shape.right_over_left.draw(rng)
        flow = shape.flow_ml_min.draw(rng)
        comfort = rng.gauss(shape.comfort_mean_mmhg, shape.comfort_sd_mmhg)
        sides = {}
        for side, scale in (("left", 1.0 / math.sqrt(ratio)), ("right", math.sqrt(ratio))):
            side_comfort = comfort + rng.gauss(0.0, shape.comfort_side_sd_mmhg / math.sqrt(2))
            sides[side] = SideSpec(
                available_ml=round(base_ml * scale, 1),
                # Flow scales with how much a side holds, less than in proportion.
                flow_ml_min=round(flow * math.sqrt(scale), 1),
                comfort_mmhg=round(min(290.0, max(60.0, side_comfort)), 1),
                pain_per_mmhg=round(shape.pain_per_mmhg.draw(rng), 3),
            )
        parents.append(
            ParentSpec(
                id=f"p{index + 1:03d}",
                ejection=EjectionSpec(
                    latency_s=round(shape.latency_s.draw(rng), 1),
                    interval_s=round(shape.interval_s.draw(rng), 1),
                    count_max=min(12, max(2, count)),
                ),
                sides=SidesSpec(left=sides["left"], right=sides["right"]),
            )
        )
    return Cohort(name=name or f"{profile}-{n}", seed=seed, parents=parents)
