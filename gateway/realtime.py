"""The realtime fan-out: each gateway process has its own exclusive queue on
the `sferum.realtime` fanout exchange and delivers each envelope to the sockets
of its recipients that are connected to this process, and to nobody else."""
from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections import defaultdict

from kombu import Queue
from services.common.bus import ReconnectingConsumer, connect, realtime_exchange

log = logging.getLogger(__name__)


class Subscriber:
    """One open socket of one user: frames wait in a bounded queue that the
    socket's own loop drains, so a slow client never holds up the others."""

    def __init__(self, user_id: str, max_pending: int = 1000):
        self.user_id = user_id
        self.frames: queue.Queue[str] = queue.Queue(maxsize=max_pending)
        self.overflowed = False

    def offer(self, frame: str) -> None:
        try:
            self.frames.put_nowait(frame)
        except queue.Full:
            # The client fell too far behind: it is disconnected and catches
            # up from history when it reconnects.
            self.overflowed = True


class Hub(ReconnectingConsumer):
    def __init__(self, amqp_url: str):
        self.connection = connect(amqp_url, heartbeat=20)
        self.queue_name = f"gateway.realtime.{uuid.uuid4().hex[:12]}"
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self.delivered_total = 0
        self._thread: threading.Thread | None = None

    def subscribe(self, user_id: str) -> Subscriber:
        subscriber = Subscriber(user_id)
        with self._lock:
            self._subscribers[user_id].add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            group = self._subscribers.get(subscriber.user_id)
            if group is not None:
                group.discard(subscriber)
                if not group:
                    del self._subscribers[subscriber.user_id]

    @property
    def connected_users(self) -> int:
        return len(self._subscribers)

    def deliver(self, envelope: dict) -> int:
        frame = json.dumps({"type": envelope.get("type"), "data": envelope.get("data", {})},
                           ensure_ascii=False)
        delivered = 0
        with self._lock:
            targets = [s for uid in envelope.get("recipients", ()) for s in self._subscribers.get(str(uid), ())]
        for subscriber in targets:
            subscriber.offer(frame)
            delivered += 1
        self.delivered_total += delivered
        return delivered

    # ConsumerMixin
    def get_consumers(self, consumer_class, channel):
        realtime_exchange(channel).declare()
        own_queue = Queue(self.queue_name, exchange=realtime_exchange, exclusive=True,
                          auto_delete=True, durable=False)
        return [consumer_class(queues=[own_queue], on_message=self._on_message,
                               prefetch_count=500, no_ack=True)]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self.ready.set()

    def on_connection_error(self, exc, interval):
        self.ready.clear()
        log.warning("realtime feed lost the broker (%s); reconnecting in %ss", exc, interval)

    def _on_message(self, message) -> None:
        try:
            envelope = json.loads(message.body)
        except ValueError:
            log.warning("malformed realtime envelope dropped")
            return
        self.deliver(envelope)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="gateway-realtime", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self.should_stop = True
