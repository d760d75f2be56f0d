"""Where the twin's numbers come from.

Every parameter of the twin names one of these next to it. ``ASSUMPTION`` marks a
figure the literature does not give: it is kept simple and visible instead.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Source:
    """A published source and the figure taken from it."""

    cite: str
    figure: str

    def __str__(self) -> str:
        return f"{self.cite}: {self.figure}"


KENT_2008_MCV = Source(
    "Kent et al. 2008, Breastfeed Med 3:11-19",
    "maximum comfortable vacuum 190.7 ± 8.8 mmHg",
)
KENT_2008_YIELD = Source(
    "Kent et al. 2008, Breastfeed Med 3:11-19",
    "15 min at MCV, one side: 118.5 ± 11.4 mL = 65.5 ± 4.1 % of available milk",
)
KENT_2008_EJECTIONS = Source(
    "Kent et al. 2008, Breastfeed Med 3:11-19",
    "4.3 milk ejections in 15 min of expression; flow highest in the first ejection",
)
PRIME_2011_EJECTIONS = Source(
    "Prime et al. 2011, Breastfeed Med 6:183",
    "5.1 ± 2.0 ejections in 15 min of simultaneous pumping; timing consistent within a parent",
)
PRIME_2011_SHARE = Source(
    "Prime et al. 2011, Breastfeed Med 6:183",
    "62 % of the volume in the first two ejections",
)
PRIME_2012_DOUBLE = Source(
    "Prime et al. 2012, Breastfeed Med 7:442",
    "simultaneous pumping: more ejections and more milk than sequential",
)
JONES_2001_DOUBLE = Source(
    "Jones et al. 2001, Arch Dis Child F&N 85:F91",
    "simultaneous vs sequential: 87.7 vs 51.3 g per session",
)
RAMSAY_2005_SHARE = Source(
    "Ramsay et al. 2005, J Hum Lact 21:421",
    "41-47 % of the volume in the first ejection",
)
RAMSAY_2005_PATTERN = Source(
    "Ramsay et al. 2005, J Hum Lact 21:421",
    "cycle pattern alone (47/min vs 120→20→55-78/min) changes neither ejections nor yield",
)
RAMSAY_2004_LATENCY = Source(
    "Ramsay et al. 2004, Pediatrics 113:361",
    "first ejection about a minute after the start (recalled 56 ± 6 s when breastfeeding)",
)
RAMSAY_2006_PEAK_FLOW = Source(
    "Ramsay et al. 2006, Breastfeed Med 1:14",
    "peak flow up to 4.6 g per 5 s (about 55 mL/min)",
)
GARDNER_2015_DURATION = Source(
    "Gardner et al. 2015, BMC Pregnancy Childbirth 15:156",
    "one milk ejection lasts 45 s to 3.5 min",
)
KENT_2006_RIGHT = Source(
    "Kent et al. 2006, Pediatrics 117:e387; Engstrom et al. 2007, Breastfeed Med",
    "the right breast produces more in about 7 of 10 parents; pumped R:L about 1.2",
)
KENT_1999_STORAGE = Source(
    "Kent et al. 1999, Exp Physiol 84:435; Kent 2007 review",
    "storage capacity 209.9 ± 11.0 mL per breast (SEM); 74-382 mL per parent",
)
EGNELL_1956_HOLD = Source(
    "Egnell 1956, as cited by pump makers",
    "an infant holds peak suction under 1 s",
)
TWIN_MD_PNEUMATICS = Source(
    "letdown twin.md §1 (consumer pump behaviour)",
    "190 mmHg in 0.3-0.7 s, release in 0.1-0.2 s, motor stall 350-400 mmHg",
)
TWIN_MD_SENSORS = Source(
    "letdown twin.md §1",
    "pressure 100 Hz, noise ~1 mmHg, 0.5 mmHg steps; bottle scale 10 Hz, ~0.5 mL, 0.5 s lag",
)
TWIN_MD_HAND = Source(
    "letdown twin.md §2",
    "'too much' pressed when pain stays above ~3/10 for 0.5 s, after 0.5-1.5 s",
)
TWIN_MD_THRESHOLD = Source(
    "letdown twin.md §2",
    "effective stimulation needs cycling vacuum above roughly 40-50 mmHg",
)
ASSUMPTION = Source(
    "no published figure (twin assumption)",
    "kept simple and visible; see the docstring where it is used",
)
