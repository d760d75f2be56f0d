"""Failed logins slow the next try down: per login *and* address, growing, atomic, bounded.

A key is a login tried from one address, so a stranger's wrong guesses never lock the
household's own member out from their phone; an address also has a looser budget of
its own, so that it cannot try every login in turn. The first ``attempts`` failures in a
row are free; after that each try waits twice as long as the one before (1 s, 2 s, 4 s
… up to ``max_delay_s``). A try is counted *before* its password is checked, under a
lock, so a burst of parallel guesses gets no more than its budget; a right password
wipes its own count. A key is forgotten ``window_s`` after its last failure, and at
most ``max_keys`` are kept (the oldest go first), so a flood of made-up logins costs
bounded memory.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

BASE_DELAY_S = 1.0
ADDRESS_FACTOR = 4
"""An address may fail this many times as often as one login from it."""


@dataclass(slots=True)
class _Record:
    failures: int
    last_s: float
    allowed_at_s: float


class LoginLimiter:
    """Counts failures for (login, address) and for the address alone."""

    def __init__(
        self,
        attempts: int,
        window_s: float,
        *,
        max_delay_s: float = 900.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self.max_delay_s = max_delay_s
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    @staticmethod
    def keys(login: str, address: str) -> tuple[str, str]:
        return f"login:{login.strip().lower()}@{address}", f"address:{address}"

    def try_now(self, login: str, address: str) -> float:
        """0: go ahead (the try is counted as failed until ``succeeded``); else seconds to wait."""
        pair, alone = self.keys(login, address)
        now_s = self._clock()
        with self._lock:
            wait_s = max(self._wait(pair, now_s), self._wait(alone, now_s))
            if wait_s > 0:
                return wait_s
            self._count(pair, now_s, self.attempts)
            self._count(alone, now_s, self.attempts * ADDRESS_FACTOR)
            return 0.0

    def succeeded(self, login: str, address: str) -> None:
        """The password was right: this login from this address starts afresh."""
        pair, alone = self.keys(login, address)
        with self._lock:
            self._records.pop(pair, None)
            record = self._records.get(alone)
            if record is not None:
                record.failures = max(0, record.failures - 1)

    def _wait(self, key: str, now_s: float) -> float:
        record = self._records.get(key)
        if record is None:
            return 0.0
        if now_s - record.last_s >= self.window_s and now_s >= record.allowed_at_s:
            del self._records[key]
            return 0.0
        return max(0.0, record.allowed_at_s - now_s)

    def _count(self, key: str, now_s: float, free: int) -> None:
        record = self._records.get(key)
        if record is None:
            record = self._records[key] = _Record(0, now_s, now_s)
            while len(self._records) > self.max_keys:
                self._records.popitem(last=False)
        else:
            self._records.move_to_end(key)
        record.failures += 1
        record.last_s = now_s
        if record.failures >= free:
            delay_s = BASE_DELAY_S * 2.0 ** min(record.failures - free, 30)
            record.allowed_at_s = now_s + min(self.max_delay_s, delay_s)
