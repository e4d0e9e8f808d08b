"""The gateway's realtime feed and the services' realtime publisher on real
RabbitMQ: traffic that never pauses, broker restarts, a publisher cut off
from the broker or stalled by it."""
import json
import time

import pytest

from gateway.realtime import Hub
from services.common.realtime import RESYNC, RealtimePublisher
from devkit.helpers import wait_for
from devkit.tcpproxy import TcpProxy

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


def frames_of(subscriber, into: list) -> list:
    """Appends the JSON frames waiting for `subscriber` to `into` (and answers it)."""
    raw = subscriber.take(timeout=0.05)
    while raw:
        size, start = raw[1] & 0x7F, 2
        if size == 126:
            size, start = int.from_bytes(raw[2:4], "big"), 4
        into.append(json.loads(raw[start:start + size]))
        raw = raw[start + size:]
    return into


def resyncs(frames: list) -> list:
    return [frame for frame in frames if frame["type"] == RESYNC]


def numbers(frames: list) -> list:
    return [frame["data"]["n"] for frame in frames if frame["type"] == "message.created"]


@pytest.fixture
def feed(amqp_url):
    hub = Hub(amqp_url)
    hub.start()
    wait_for(hub.ready.is_set, timeout=30, message="the realtime feed")
    yield hub
    hub.stop()


def test_after_a_broker_restart_the_feed_is_back_at_once_and_every_socket_is_told_to_resync(
        rabbitmq_server, amqp_url, feed):
    publisher = RealtimePublisher(amqp_url)
    alice, bob = feed.subscribe("alice"), feed.subscribe("bob")
    seen = {"alice": [], "bob": []}
    try:
        publisher.publish(["alice"], "message.created", {"n": 0})
        wait_for(lambda: numbers(frames_of(alice, seen["alice"])) == [0], message="a push before the restart")
        seen["alice"].clear()
        rabbitmq_server.stop()
        wait_for(lambda: not feed.ready.is_set(), message="the feed noticing the broker's absence")
        rabbitmq_server.start()
        back = time.monotonic()
        wait_for(feed.ready.is_set, timeout=30, message="the feed back")
        assert time.monotonic() - back < 2.0, "the feed waited long after the broker was back"
        for name, subscriber in (("alice", alice), ("bob", bob)):
            wait_for(lambda: resyncs(frames_of(subscriber, seen[name])), message=f"{name}'s resync")
            assert seen[name] == [{"type": RESYNC, "data": {"reason": "feed_interrupted"}}]
        assert feed.resyncs_total == 2
        # The publisher's connection died with the broker while it sent nothing:
        # it finds out before its next push, which is delivered, not lost.
        publisher.publish(["alice"], "message.created", {"n": 1})
        wait_for(lambda: numbers(frames_of(alice, seen["alice"])) == [1], message="a push after the restart")
        assert publisher.flush(timeout=10)
        assert frames_of(alice, seen["alice"])[1:] == [{"type": "message.created", "data": {"n": 1}}]
        assert frames_of(bob, seen["bob"]) == [{"type": RESYNC, "data": {"reason": "feed_interrupted"}}]
        assert publisher.lost.dropped_total == 0
    finally:
        publisher.close()


@pytest.fixture
def proxied(rabbitmq_server, amqp_url):
    """The publisher's own way to the broker, which the test can cut or stall."""
    proxy = TcpProxy("127.0.0.1", rabbitmq_server.port)
    proxy.start()
    yield proxy, amqp_url.replace(f":{rabbitmq_server.port}/", f":{proxy.port}/")
    proxy.close()


def test_pushes_a_publisher_could_not_send_end_in_a_resync_for_their_recipients_only(feed, proxied):
    """The gateway's feed stays connected while one publisher loses the broker:
    publishing does not wait for it, and once it is back the users the lost
    pushes were meant for are told to resync, and nobody else."""
    proxy, url = proxied
    publisher = RealtimePublisher(url)
    alice, bob, carol = feed.subscribe("alice"), feed.subscribe("bob"), feed.subscribe("carol")
    seen = {"alice": [], "bob": [], "carol": []}
    try:
        publisher.publish(["alice"], "message.created", {"n": 0})
        wait_for(lambda: numbers(frames_of(alice, seen["alice"])) == [0], message="the first push")
        proxy.cut()
        started = time.perf_counter()
        for n in range(1, 51):
            publisher.publish(["alice", "bob"], "message.created", {"n": n})
        assert time.perf_counter() - started < 0.25
        wait_for(lambda: publisher.broker_down, message="the publisher noticing")
        proxy.restore()
        for name in ("alice", "bob"):
            subscriber = {"alice": alice, "bob": bob}[name]
            wait_for(lambda: resyncs(frames_of(subscriber, seen[name])), timeout=15, message=f"{name}'s resync")
            assert resyncs(seen[name]) == [{"type": RESYNC, "data": {"reason": "pushes_lost"}}]
        publisher.publish(["alice", "carol"], "message.created", {"n": 51})
        wait_for(lambda: 51 in numbers(frames_of(alice, seen["alice"])), message="a push after the outage")
        wait_for(lambda: numbers(frames_of(carol, seen["carol"])) == [51], message="carol's push")
        # Carol was sent nothing in the outage: no resync for her.
        assert seen["carol"] == [{"type": "message.created", "data": {"n": 51}}]
        assert publisher.lost.dropped_total == 50
        # Counted once confirmed, which may come after the delivery.
        wait_for(lambda: (publisher.sent_total, publisher.resyncs_total) == (2, 1), message="the counts")
    finally:
        publisher.close()


def test_when_the_sender_falls_behind_what_it_dropped_ends_in_a_resync(feed, proxied):
    """A broker that stops taking messages without closing anything: pushes
    wait up to `max_queued`, the rest are dropped at once, and every push is
    either delivered or followed by a resync for its recipient."""
    proxy, url = proxied
    publisher = RealtimePublisher(url, max_queued=5, confirm_timeout=60)
    dave = feed.subscribe("dave")
    seen = []
    try:
        publisher.publish(["dave"], "message.created", {"n": 0})
        wait_for(lambda: numbers(frames_of(dave, seen)) == [0], message="the first push")
        proxy.stall()
        started = time.perf_counter()
        for n in range(1, 41):
            publisher.publish(["dave"], "message.created", {"n": n})
        assert time.perf_counter() - started < 0.25
        assert publisher.lost.dropped_total > 0
        proxy.resume()
        wait_for(lambda: resyncs(frames_of(dave, seen)), timeout=30, message="dave's resync")
        wait_for(lambda: publisher.sent_total + publisher.lost.dropped_total == 41, message="every push settled")
        assert set(map(json.dumps, resyncs(frames_of(dave, seen)))) == {
            json.dumps({"type": RESYNC, "data": {"reason": "pushes_lost"}})}
        delivered = numbers(frames_of(dave, seen))
        assert delivered == sorted(set(delivered)), "pushes overtook each other or came twice"
        # Every push that did not arrive was counted as dropped, so the resync
        # (sent after all of them) covers it: none was lost silently.
        assert 41 - len(delivered) == publisher.lost.dropped_total
    finally:
        publisher.close()
