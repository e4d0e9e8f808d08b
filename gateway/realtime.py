"""The realtime fan-out: each gateway process has its own exclusive queue on
the `sferum.realtime` fanout exchange and delivers each envelope to the sockets
of its recipients that are connected to this process, and to nobody else.

The queue exists only while the feed is connected: what was published while
it was not is gone. So whenever the feed (re)connects, every socket here is
told with a `stream.resync` frame to read history (api.md "realtime")."""
from __future__ import annotations

import _socket
import json
import logging
import socket
import threading
import uuid
from collections import defaultdict, deque
from typing import Callable

from kombu import Queue
from services.common.bus import connect, realtime_exchange
from services.common.consumer import ReconnectingConsumer
from services.common.realtime import EVERYONE, RESYNC

log = logging.getLogger(__name__)


def text_frame(text: str) -> bytes:
    """One unmasked WebSocket text frame (RFC 6455), built once per envelope and
    written as is to every recipient's socket. Valid with or without
    permessage-deflate: a message may always be sent uncompressed."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


def _os_socket(sock):
    """The operating system's socket under `sock` when frames may be written to it
    directly (plain TCP; gevent's cooperative socket wraps one), else None."""
    if sock is None or hasattr(sock, "_sslobj"):
        return None  # TLS: bytes must go through the encrypting wrapper
    raw = getattr(sock, "_sock", sock)
    return raw if isinstance(raw, _socket.socket) else None


class Subscriber:
    """One open socket of one user. A frame is written straight to the socket
    when nothing is queued for it and the socket takes it without waiting, the
    common case: one system call, no task switch. Otherwise it waits in a
    bounded buffer that the socket's own loop drains, so a slow client never
    holds up the others."""

    def __init__(self, user_id: str, sock=None, first: bytes = b"", max_pending: int = 1000,
                 ready: threading.Event | None = None, session_id: str | None = None,
                 key_id: str | None = None):
        self.user_id = user_id
        self.session_id = session_id
        self.key_id = key_id  # of the token that opened the stream
        self.max_pending = max_pending
        self.frames: deque[bytes] = deque([first] if first else [])
        self.ready = ready or threading.Event()
        if first:
            self.ready.set()
        self.overflowed = False
        self.ended: str | None = None  # why the stream must close (its token was taken back)
        self._socket = _os_socket(sock)
        self._lock = threading.Lock()
        self._writing = False  # the socket's loop is writing what it took

    def offer(self, frame: bytes) -> None:
        with self._lock:
            if self.ended is not None:
                return
            if self._socket is not None and not self.frames and not self._writing:
                try:
                    sent = self._socket.send(frame, socket.MSG_DONTWAIT)
                except OSError:  # full (EAGAIN) or gone: the socket's loop finds out
                    sent = 0
                if sent == len(frame):
                    return
                frame = frame[sent:]
            if len(self.frames) >= self.max_pending:
                # The client fell too far behind: it is disconnected and catches
                # up from history when it reconnects.
                self.overflowed = True
            else:
                self.frames.append(frame)
        self.ready.set()

    def take(self, timeout: float) -> bytes:
        """Everything waiting, as one write; empty after `timeout` with nothing.
        The caller writes it, then calls `written`."""
        if not self.frames and not self.ready.wait(timeout):
            return b""
        with self._lock:
            self.ready.clear()
            if self.ended is not None:
                return b""
            taken = b"".join(self.frames)
            self.frames.clear()
            self._writing = bool(taken)
        return taken

    def written(self) -> None:
        with self._lock:
            self._writing = False

    def detach(self) -> None:
        """No more direct writes: the socket is about to be closed."""
        with self._lock:
            self._socket = None

    def end(self, reason: str) -> None:
        """Nothing more is sent; the socket's loop wakes and closes it with `reason`."""
        with self._lock:
            self.ended = reason
            self._socket = None
            self.frames.clear()
        self.ready.set()


def resync_frame(reason: str) -> bytes:
    return text_frame(json.dumps({"type": RESYNC, "data": {"reason": reason}}))


class Hub(ReconnectingConsumer):
    feed_name = "realtime feed"

    def __init__(self, amqp_url: str, heartbeat: int = 20, delivered_metric=None):
        # The pod's count of frames handed to sockets (a metric), beside this process's own.
        self.delivered_metric = delivered_metric
        self.connection = connect(amqp_url, heartbeat=heartbeat)
        self.queue_name = f"gateway.realtime.{uuid.uuid4().hex[:12]}"
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self.delivered_total = 0
        self.resyncs_total = 0
        self._thread: threading.Thread | None = None
        # Envelopes meant for the gateway itself, by type, with no recipient.
        self._watchers: dict[str, Callable[[dict], None]] = {}

    def watch(self, envelope_type: str, callback: Callable[[dict], None]) -> None:
        self._watchers[envelope_type] = callback

    def subscribe(self, user_id: str, sock=None, first: bytes = b"", ready: threading.Event | None = None,
                  session_id: str | None = None, key_id: str | None = None) -> Subscriber:
        """`first` goes out before anything delivered; with `sock`, frames are
        written straight to it when it can take them. `ready` is set whenever
        frames wait (and may be shared with whatever else wakes the reader).
        `session_id` and `key_id` are those of the token that opened the stream."""
        subscriber = Subscriber(user_id, sock, first, ready=ready, session_id=session_id, key_id=key_id)
        with self._lock:
            self._subscribers[user_id].add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscriber.detach()
        with self._lock:
            group = self._subscribers.get(subscriber.user_id)
            if group is not None:
                group.discard(subscriber)
                if not group:
                    del self._subscribers[subscriber.user_id]

    def end_streams(self, reason: str, *, user_id: str | None = None, session_id: str | None = None,
                    key_id: str | None = None) -> int:
        """Ends the streams opened with a token of this session (of this user,
        when known: only their streams are looked at) or signed with this key."""
        with self._lock:
            groups = [self._subscribers.get(user_id, ())] if user_id else list(self._subscribers.values())
            ending = [s for group in groups for s in group
                      if (session_id and s.session_id == session_id) or (key_id and s.key_id == key_id)]
        for subscriber in ending:
            subscriber.end(reason)
        return len(ending)

    @property
    def connected_users(self) -> int:
        return len(self._subscribers)

    def deliver(self, envelope: dict) -> int:
        with self._lock:
            if envelope.get(EVERYONE) is True and envelope.get("type") == RESYNC:
                # Only a resync, which carries nothing, ever goes to every socket.
                targets = [s for group in self._subscribers.values() for s in group]
            else:
                targets = [s for uid in envelope.get("recipients", ()) for s in self._subscribers.get(str(uid), ())]
        if not targets:
            return 0
        frame = text_frame(json.dumps({"type": envelope.get("type"), "data": envelope.get("data", {})},
                                      ensure_ascii=False))
        delivered = 0
        for subscriber in targets:
            subscriber.offer(frame)
            delivered += 1
        self.delivered_total += delivered
        if self.delivered_metric is not None:
            self.delivered_metric.inc(delivered)
        return delivered

    # ConsumerMixin
    def get_consumers(self, consumer_class, channel):
        realtime_exchange(channel).declare()
        own_queue = Queue(self.queue_name, exchange=realtime_exchange, exclusive=True,
                          auto_delete=True, durable=False)
        return [consumer_class(queues=[own_queue], on_message=self._on_message,
                               prefetch_count=500, no_ack=True)]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        """The queue is bound again: from now on nothing is missed, and every
        socket that was open before (the first time too: a socket may open
        before the feed does) may have missed something."""
        self.ready.set()
        with self._lock:
            targets = [s for group in self._subscribers.values() for s in group]
        if targets:
            frame = resync_frame("feed_interrupted")
            for subscriber in targets:
                subscriber.offer(frame)
            self.resyncs_total += len(targets)
            log.warning("realtime feed connected; %d open socket(s) told to resync", len(targets))

    def _on_message(self, message) -> None:
        try:
            envelope = json.loads(message.body)
        except ValueError:
            log.warning("malformed realtime envelope dropped")
            return
        watcher = self._watchers.get(envelope.get("type"))
        if watcher is not None:
            watcher(envelope)
            return
        self.deliver(envelope)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="gateway-realtime", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self.should_stop = True
