"""Realtime pushes from messaging's domain code to the members' sockets. The
service's runtime installs its publisher when the app is built; pushes made
during a request or an event handler go out once its transaction committed."""
from __future__ import annotations

from typing import Iterable

from services.common.bus import RealtimePublisher

_publisher: RealtimePublisher | None = None


def use(publisher: RealtimePublisher) -> None:
    global _publisher
    _publisher = publisher


def push(recipients: Iterable[str], event_type: str, data: dict) -> None:
    if _publisher is None:
        raise RuntimeError("messaging's realtime publisher is not set up")
    _publisher.publish(recipients, event_type, data)
