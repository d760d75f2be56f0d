"""Following a cyclic vacuum target on one side with motor duty and the vent valve."""

from __future__ import annotations

REACH_BAND_MMHG = 2.0
"""The peak counts as reached within this much below it."""
OVERSHOOT_MMHG = 3.0
"""Above the peak by more than this, the vent opens (needed when one motor serves both
sides and the other side still pulls)."""
GAIN_PER_MMHG = 0.05
HOLD_DUTY = 0.05
"""Proportional duty near the peak, plus a little to make up for the flange's leak."""
SUCTION_MAX_FRACTION = 0.7
"""A cycle releases by this fraction of its period even if the peak was not reached."""


class CycleTracker:
    """One side's suction cycle: pull to the peak, hold it, release, repeat.

    Each cycle starts on an absolute schedule (``start += period``), so the rhythm does
    not drift with the loop's jitter.
    """

    __slots__ = (
        "_cycle_start_s",
        "_reached",
        "_release_at_s",
        "_released",
        "last_peak_mmhg",
        "last_target_mmhg",
        "peak_seen_mmhg",
        "target_mmhg",
    )

    def __init__(self, now_s: float) -> None:
        self._cycle_start_s = now_s
        self._reached = False
        self._released = False
        self._release_at_s = 0.0
        self.peak_seen_mmhg = 0.0
        self.target_mmhg = 0.0
        self.last_peak_mmhg = 0.0
        self.last_target_mmhg = 0.0

    def command(
        self,
        now_s: float,
        vacuum_mmhg: float | None,
        rate_cpm: float,
        peak_mmhg: float,
        hold_s: float,
    ) -> tuple[float, bool]:
        """Motor duty (0..1) and whether the vent is open, for this tick.

        ``last_peak_mmhg`` and ``last_target_mmhg`` keep the measured peak and the set peak
        of the cycle that just ended, for tracking-error reports.
        """
        period_s = 60.0 / rate_cpm
        if now_s - self._cycle_start_s >= period_s:
            self._cycle_start_s += period_s
            if now_s - self._cycle_start_s >= period_s:
                self._cycle_start_s = now_s
            self._reached = False
            self._released = False
            self.last_peak_mmhg = self.peak_seen_mmhg
            self.last_target_mmhg = self.target_mmhg
            self.peak_seen_mmhg = 0.0
            self.target_mmhg = 0.0
        if vacuum_mmhg is None or peak_mmhg <= 0.0 or self._released:
            return 0.0, True
        self.target_mmhg = peak_mmhg
        if vacuum_mmhg > self.peak_seen_mmhg:
            self.peak_seen_mmhg = vacuum_mmhg
        if not self._reached and vacuum_mmhg >= peak_mmhg - REACH_BAND_MMHG:
            self._reached = True
            self._release_at_s = now_s + hold_s
        if (self._reached and now_s >= self._release_at_s) or (
            now_s - self._cycle_start_s >= SUCTION_MAX_FRACTION * period_s
        ):
            self._released = True
            return 0.0, True
        error_mmhg = peak_mmhg - vacuum_mmhg
        if error_mmhg < -OVERSHOOT_MMHG:
            return 0.0, True
        duty = GAIN_PER_MMHG * error_mmhg + HOLD_DUTY
        return (1.0 if duty > 1.0 else 0.0 if duty < 0.0 else duty), False
