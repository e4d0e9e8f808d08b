"""The gateway's part in read-your-writes across services
(services/common/settling.py): it remembers the facts their owners announced
a moment ago, and asks a service again, for a few seconds, while its answer
lacks one of them.

A refusal changes nothing (it is the service's promise in naming what it
lacked), so asking again is safe whatever the method; a request whose body
cannot be replayed (an upload streamed through) is answered as it is."""
from __future__ import annotations

import io
import json
import threading
import time
from typing import Iterable

from services.common.errors import LACKING_HEADER, error_body
from services.common.metrics import UNCOUNTED_METRIC
from services.common.settling import (CHANGED_HEADER, NOT_READY_MESSAGE, ON_ITS_WAY, RETRY_AFTER_SECONDS,
                                      WITHDRAWN, keys_of)

INTERNAL = frozenset((LACKING_HEADER.lower(), CHANGED_HEADER.lower()))
REPLAYABLE_MAX = 64 * 1024
FIRST_DELAY, LONGEST_DELAY = 0.02, 0.25


class Settling:
    """Keys of facts announced in the last `window_seconds`, from this
    gateway's answers and from every service through the realtime exchange."""

    def __init__(self, window_seconds: float, clock=time.monotonic):
        self.window = window_seconds
        self.clock = clock
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def note(self, keys: Iterable[str]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                if key.startswith(WITHDRAWN):
                    self._until.pop(key[len(WITHDRAWN):], None)
                else:
                    self._until[key] = now + self.window
            if now >= self._next_prune:
                self._next_prune = now + self.window
                self._until = {key: until for key, until in self._until.items() if until > now}

    def note_envelope(self, envelope: dict) -> None:
        keys = (envelope.get("data") or {}).get("keys")
        if isinstance(keys, list):
            self.note(str(key) for key in keys)

    def any_of(self, keys: Iterable[str]) -> bool:
        now = self.clock()
        with self._lock:
            return any(self._until.get(key, 0.0) > now for key in keys)


class Settler:
    """Forwards a request to its service, asking again while the answer lacks
    a fact on its way, and keeps the services' settling headers to itself."""

    def __init__(self, settling: Settling, wait_seconds: float, sleep=time.sleep, retried=UNCOUNTED_METRIC,
                 not_ready=UNCOUNTED_METRIC):
        self.settling = settling
        self.wait_seconds = wait_seconds
        self.sleep = sleep
        self.retried = retried  # requests asked again at least once (a metric)
        self.not_ready = not_ready  # of those, still lacking when the wait ran out

    def forward(self, backend, method: str, path: str, query: bytes, headers: dict, body):
        replay = _replayable(headers, body)
        status, out_headers, content = backend.forward(method, path, query, headers, _again(replay, body))
        deadline, delay, settled_once = None, FIRST_DELAY, False
        while True:
            out_headers, lacking = self._read_internal(out_headers)
            waiting = bool(lacking) and (ON_ITS_WAY in lacking or self.settling.any_of(lacking))
            if not waiting and deadline is not None and not lacking and status >= 400 and not settled_once:
                # Refused while the service was learning the fact: it read the refusal
                # before the fact landed and what it lacked after. Once more, at once.
                waiting = settled_once = True
                delay = 0.0
            if not waiting or (body is not None and replay is None):
                return status, out_headers, content
            if deadline is None:
                deadline = time.monotonic() + self.wait_seconds
                self.retried.inc()
            if time.monotonic() + delay > deadline:
                self.not_ready.inc()
                if ON_ITS_WAY in lacking:  # the service's own 409 not_ready
                    return status, out_headers, content
                _close(content)
                return _not_ready()
            _close(content)
            self.sleep(delay)
            delay = min(max(delay * 2, FIRST_DELAY), LONGEST_DELAY)
            status, out_headers, content = backend.forward(method, path, query, headers, _again(replay, body))

    def _read_internal(self, out_headers: list) -> tuple[list, list[str]]:
        kept, lacking = [], []
        for name, value in out_headers:
            lowered = name.lower()
            if lowered not in INTERNAL:
                kept.append((name, value))
            elif lowered == LACKING_HEADER.lower():
                lacking += keys_of(value)
            else:
                self.settling.note(keys_of(value))
        return kept, lacking


def _replayable(headers: dict, body) -> bytes | None:
    """The request's body, read whole when it is small enough to send again."""
    if body is None:
        return b""
    length = headers.get("Content-Length", "")
    if not length.isdigit() or int(length) > REPLAYABLE_MAX:
        return None
    parts, wanted = [], int(length)
    while wanted and (part := body.read(wanted)):
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


def _again(replay: bytes | None, body):
    if body is None or replay is None:
        return body
    return io.BytesIO(replay)


def _close(content) -> None:
    close = getattr(content, "close", None)
    if close is not None:
        close()


def _not_ready():
    body = json.dumps(error_body("not_ready", NOT_READY_MESSAGE), ensure_ascii=False).encode()
    return 409, [("Content-Type", "application/json"), ("Retry-After", str(RETRY_AFTER_SECONDS))], body
