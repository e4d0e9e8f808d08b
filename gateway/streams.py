"""Who may open another realtime stream here: a user holds at most
`max_per_user` open streams in a gateway process (GATEWAY_MAX_STREAMS_PER_USER,
10) and opens them at most `rate_per_second` a second, after a burst
(GATEWAY_STREAM_RATE_PER_SECOND, GATEWAY_STREAM_RATE_BURST): an app that
reconnects in a loop, or a script that opens sockets by the thousand, is
answered 429 before the WebSocket handshake. Like the request rate limits,
per gateway process."""
from __future__ import annotations

import threading
from collections import Counter

from flask import Flask, g

from services.common.errors import TooManyRequests

from .ratelimit import RateLimiter


class StreamAdmission:
    def __init__(self, max_per_user: int, rate_per_second: float, burst: int, connected_users_metric=None):
        self.max_per_user = max_per_user
        self.limiter = RateLimiter(rate_per_second, burst)
        self.connected_users_metric = connected_users_metric
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def install(self, app: Flask) -> None:
        """A stream admitted during a request is let go when that request ends,
        which for a WebSocket is when the stream closed."""

        @app.teardown_request
        def _let_go(_error=None):
            user_id = g.pop("admitted_stream", None)
            if user_id is not None:
                self.release(user_id)

    def admit(self, user_id: str) -> None:
        """Counts a stream of this user opened in the current request, or
        refuses it (429)."""
        wait = self.limiter.check(user_id)
        if wait:
            raise TooManyRequests(wait, "Streams are opened too often; wait and reconnect.")
        with self._lock:
            if self._open[user_id] >= self.max_per_user:
                raise TooManyRequests(5, f"At most {self.max_per_user} streams may be open at once; "
                                         "close another first.", code="too_many_streams")
            self._open[user_id] += 1
            self._count_users()
        g.admitted_stream = user_id

    def release(self, user_id: str) -> None:
        with self._lock:
            self._open[user_id] -= 1
            if self._open[user_id] <= 0:
                del self._open[user_id]
            self._count_users()

    def streams_of(self, user_id: str) -> int:
        return self._open.get(user_id, 0)

    def _count_users(self) -> None:
        if self.connected_users_metric is not None:
            self.connected_users_metric.set(len(self._open))
