"""A value worth computing at most once every few seconds, such as a probe
of what lies behind a service (the broker, the services behind the gateway)
that every readiness check and every scrape would otherwise repeat."""
from __future__ import annotations

import threading
import time
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Recent(Generic[T]):
    """`compute()`'s value, computed again only when the last one is `ttl`
    seconds old; callers that ask while it is being computed wait for that
    computation and share its value instead of starting their own."""

    def __init__(self, compute: Callable[[], T], ttl: float):
        self._compute = compute
        self.ttl = ttl
        self._value: T | None = None
        self._computed_at: float | None = None
        self._lock = threading.Lock()

    def _fresh(self) -> bool:
        return self._computed_at is not None and time.monotonic() - self._computed_at < self.ttl

    def get(self) -> T:
        if self._fresh():
            return self._value
        with self._lock:
            if not self._fresh():
                self._value = self._compute()
                self._computed_at = time.monotonic()
            return self._value
