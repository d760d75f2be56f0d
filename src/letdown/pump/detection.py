"""Milk let-down detection from the bottle scales' readings.

The scales report collected volume per side at 10 Hz, noisy (about 0.5 mL) and about
half a second behind the nipple. Flow is the slope of a least-squares line through the
last few seconds of samples; the two sides are summed, since one ejection reaches both
breasts at once (95.5 % of flow rises coincide: Prime et al. 2009, Int Breastfeed J
4:10). An ejection is a rise of that flow; a lull is its fall; the end is a long lull.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

WINDOW_S = 5.0
"""Seconds of samples in the flow slope: with 0.5 mL noise at 10 Hz, 5 s gives a slope
noise of about 3 mL/min per side (and lags the flow by about half of it)."""


class FlowEstimator:
    """Flow (mL/min) of one side: the slope of its last ``WINDOW_S`` of volume samples.

    Running sums keep each new sample O(1); times are kept relative to the first sample
    so the sums stay well conditioned over a long session.
    """

    __slots__ = ("_origin_s", "_samples", "_sx", "_sxx", "_sxy", "_sy", "flow_ml_min", "window")

    def __init__(self, window: int = round(WINDOW_S * 10)) -> None:
        if window < 3:
            raise ValueError("a flow window needs at least 3 samples")
        self.window = window
        self._samples: deque[tuple[float, float]] = deque()
        self._origin_s: float | None = None
        self._sx = self._sy = self._sxx = self._sxy = 0.0
        self.flow_ml_min = 0.0

    @property
    def full(self) -> bool:
        """The window holds enough samples for the slope to mean what it says."""
        return len(self._samples) >= self.window

    def add(self, at_s: float, volume_ml: float) -> float:
        """Add one sample; returns the flow estimate (0 until the window has filled)."""
        if self._origin_s is None:
            self._origin_s = at_s
        x = at_s - self._origin_s
        self._samples.append((x, volume_ml))
        self._sx += x
        self._sy += volume_ml
        self._sxx += x * x
        self._sxy += x * volume_ml
        if len(self._samples) > self.window:
            old_x, old_y = self._samples.popleft()
            self._sx -= old_x
            self._sy -= old_y
            self._sxx -= old_x * old_x
            self._sxy -= old_x * old_y
        n = len(self._samples)
        if n < self.window:
            return self.flow_ml_min
        spread = self._sxx - self._sx * self._sx / n
        if spread > 1e-9:
            self.flow_ml_min = 60.0 * (self._sxy - self._sx * self._sy / n) / spread
        return self.flow_ml_min


class MilkEvent(StrEnum):
    LETDOWN = "letdown"
    LULL = "lull"


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Thresholds on the two sides' summed flow, mL/min (data, tuned in the twin)."""

    rise_ml_min: float = 16.0
    """An ejection: summed flow this far above the lull's floor (about 4 noise sds) ...
    kept low because a missed ejection may end a session while milk still comes."""
    rise_samples: int = 15
    """... for this many samples in a row (1.5 s: noise alone gave no event in 50 min)."""
    lull_fraction: float = 0.35
    """A lull: flow below this fraction of the ejection's peak ..."""
    lull_ml_min: float = 8.0
    """... or below this, whichever is higher, ..."""
    lull_s: float = 4.0
    """... for this long."""


class LetdownDetector:
    """Turns summed flow into ejection and lull events (both sides eject together)."""

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        self.flowing = False
        self.floor_ml_min = 0.0
        self.peak_ml_min = 0.0
        self.ejections_s: list[float] = []
        self.lulls_s: list[float] = []
        self._above = 0
        self._low_since_s: float | None = None

    def update(self, at_s: float, flow_ml_min: float) -> MilkEvent | None:
        """Feed the summed flow at a new sample; returns an event when one begins."""
        settings = self.settings
        if not self.flowing:
            if flow_ml_min < self.floor_ml_min:
                self.floor_ml_min = max(0.0, flow_ml_min)
            if flow_ml_min >= self.floor_ml_min + settings.rise_ml_min:
                self._above += 1
                if self._above >= settings.rise_samples:
                    self.flowing = True
                    self.peak_ml_min = flow_ml_min
                    self._low_since_s = None
                    self.ejections_s.append(at_s)
                    return MilkEvent.LETDOWN
            else:
                self._above = 0
            return None
        self.peak_ml_min = max(self.peak_ml_min, flow_ml_min)
        low = max(settings.lull_ml_min, settings.lull_fraction * self.peak_ml_min)
        if flow_ml_min < low:
            if self._low_since_s is None:
                self._low_since_s = at_s
            elif at_s - self._low_since_s >= settings.lull_s:
                self.flowing = False
                self._above = 0
                self.floor_ml_min = max(0.0, flow_ml_min)
                self.lulls_s.append(at_s)
                return MilkEvent.LULL
        else:
            self._low_since_s = None
        return None
