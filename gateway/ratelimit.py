"""Token buckets per signed-in user, or per client address for anonymous calls.
Per gateway process: a replica protects the services behind it."""
from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, rate_per_second: float, burst: int, max_keys: int = 100_000):
        self.rate = rate_per_second
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> float:
        """0 when the call may go through, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, seen = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - seen) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_keys:
                self._forget_idle(now)
            return 0.0

    def _forget_idle(self, now: float) -> None:
        refill = self.burst / self.rate
        self._buckets = {key: value for key, value in self._buckets.items() if now - value[1] < refill}
