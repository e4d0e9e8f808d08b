"""The gateway's realtime feed on real RabbitMQ under traffic that never pauses."""
import json
import time

import pytest

from gateway.realtime import Hub
from services.common.bus import RealtimePublisher
from services.common.testing.helpers import wait_for

pytestmark = pytest.mark.integration


class CountingHub(Hub):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.feeds_opened = 0

    def on_consume_ready(self, *args, **kwargs):
        self.feeds_opened += 1
        super().on_consume_ready(*args, **kwargs)


def test_a_feed_that_never_pauses_keeps_its_connection_and_loses_nothing(amqp_url):
    """Pushes every 10 ms for four heartbeat intervals: the feed acknowledges
    nothing, so only its own heartbeats keep the broker from closing it (and
    deleting its queue with whatever was on the way)."""
    hub = CountingHub(amqp_url, heartbeat=2)
    hub.start()
    publisher = RealtimePublisher(amqp_url)
    try:
        wait_for(hub.ready.is_set, timeout=30, message="the realtime feed")
        subscriber = hub.subscribe("u1")
        sent, started = 0, time.monotonic()
        while time.monotonic() - started < 8:
            publisher.publish(["u1"], "message.created", {"n": sent})
            sent += 1
            time.sleep(0.01)
        received = []

        def all_received():
            raw = subscriber.take(timeout=0.1)
            while raw:
                size, start = raw[1] & 0x7F, 2
                if size == 126:
                    size, start = int.from_bytes(raw[2:4], "big"), 4
                received.append(json.loads(raw[start:start + size])["data"]["n"])
                raw = raw[start + size:]
            return len(received) == sent

        wait_for(all_received, timeout=10, message=f"all {sent} pushes")
        assert received == list(range(sent))
        assert hub.feeds_opened == 1, "the broker closed the feed's connection"
    finally:
        hub.stop()
