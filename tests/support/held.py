"""A service whose event consumer is held: its projections lag behind the
other services' facts for as long as a test wants (read-your-writes tests)."""
from __future__ import annotations

import threading

from devkit.helpers import Api


class Held:
    """A service's event consumer stopped before its next event until released
    (outside any transaction, so the service's own requests run as usual):
    its projections lag behind as long as the test wants."""

    def __init__(self, platform, service: str):
        self.platform, self.service = platform, service
        self.gate = threading.Event()
        self.handlers = platform.apps[service].extensions["sferum"].handlers
        self.saved = self.handlers.by_type
        self.handlers.by_type = _Gated(self.saved, self.gate)

    def release(self) -> None:
        self.handlers.by_type = self.saved
        self.gate.set()

    def release_after(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self.release)
        timer.start()
        return timer

    def direct(self, method: str, path: str, person, **kwargs):
        """The service itself, not through the gateway."""
        return Api(self.platform.apps[self.service].test_client()).request(method, path, person.token, **kwargs)


class _Gated(dict):
    """The consumer looks up each event's handler as the event comes in: here
    it waits at the gate first."""

    def __init__(self, handlers: dict, gate: threading.Event):
        super().__init__(handlers)
        self.gate = gate

    def get(self, *args):
        self.gate.wait(60)
        return super().get(*args)
