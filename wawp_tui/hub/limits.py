"""How often one caller may ask for something costly (actions, event streams): token
buckets, one per key, with a clock passed in (tests move it)."""

from __future__ import annotations

import time
from collections.abc import Callable


class Buckets:
    """`burst` requests at once, then `rate` a second, per key."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._level: dict[str, tuple[float, float]] = {}

    def waiting(self, key: str) -> float | None:
        """The seconds until `key` has one again, without taking it (None: it has one)."""
        if key not in self._level:
            return None
        tokens, at = self._level[key]
        tokens = min(float(self.burst), tokens + (self.clock() - at) * self.rate)
        return None if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def take(self, key: str) -> float | None:
        """Take one for `key`: None when allowed, else the seconds until one is free."""
        now = self.clock()
        tokens, at = self._level.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens < 1.0:
            self._level[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._level[key] = (tokens - 1.0, now)
        if len(self._level) > 10_000:  # forget the full buckets of callers long gone
            self._level = {k: v for k, v in self._level.items() if v[0] < self.burst}
        return None
