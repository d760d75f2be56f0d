"""A STAND-IN for issue 9's safety core (src/letdown/safety/core.py), with its API.

Deleted as soon as the real core lands on main; the firmware never forks the real one.
"""

CAP_SINGLE_MMHG = 300.0
CAP_DOUBLE_MMHG = 260.0


class Limits:
    def __init__(self, stall_mmhg, watchdog_s, cap_single_mmhg=300.0, cap_double_mmhg=260.0):
        self.stall_mmhg = stall_mmhg
        self.watchdog_s = watchdog_s
        self.cap_single_mmhg = min(cap_single_mmhg, CAP_SINGLE_MMHG)
        self.cap_double_mmhg = min(cap_double_mmhg, CAP_DOUBLE_MMHG)


class Core:
    def __init__(self, limits, now_s):
        self.limits = limits
        self.fault = None
        self._kick_s = now_s
        self._duty = [0.0, 0.0]
        self._vent = [True, True]
        self._ceiling = [limits.cap_single_mmhg, limits.cap_single_mmhg]

    def command(self, side, duty, vent_open):
        if not (0.0 <= duty <= 1.0):
            self.trip("bad_command", side, self._kick_s)
            return
        self._duty[side] = duty
        self._vent[side] = bool(vent_open)

    def kick(self, now_s):
        self._kick_s = now_s

    def set_ceiling(self, side, mmhg, parent=False):
        if not (mmhg == mmhg):
            return
        if mmhg < self._ceiling[side] or parent:
            self._ceiling[side] = min(mmhg, self.limits.cap_single_mmhg)

    def trip(self, reason, side, now_s):
        if self.fault is None:
            self.fault = (reason, side, now_s)

    def tick(self, now_s, vac_l, vac_r, vol_l, vol_r, vol_at_s, hw_watchdog):
        if self.fault is None:
            if hw_watchdog:
                self.trip("watchdog", -1, now_s)
            elif now_s - self._kick_s > self.limits.watchdog_s:
                self.trip("not_kicked", -1, now_s)
            both = self._duty[0] > 0.0 and self._duty[1] > 0.0
            cap = self.limits.cap_double_mmhg if both else self.limits.cap_single_mmhg
            for side, vac in ((0, vac_l), (1, vac_r)):
                if vac is None or vac != vac:
                    if not self._vent[side] or self._duty[side] > 0.0:
                        self.trip("sensor", side, now_s)
                elif vac > cap:
                    self.trip("over_cap", side, now_s)
        if self.fault is not None:
            return 0.0, True, 0.0, True
        return self._duty[0], self._vent[0], self._duty[1], self._vent[1]
