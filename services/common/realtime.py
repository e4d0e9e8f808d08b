"""Realtime pushes to connected users through the `sferum.realtime` fanout
exchange: transient, not persisted and not in the outbox.

A request or an event handler only hands its pushes over; one sender thread
per publisher talks to the broker. So a broker that is slow, unreachable or
restarting never holds up an answer, and a push that cannot be sent is never
lost silently: its recipients are noted and, once the broker takes messages
again, told with a `stream.resync` frame that they may have missed some and
should read history (api.md "realtime")."""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import Iterable

from . import settling
from .bus import REALTIME_EXCHANGE, Confirms, connect, is_memory, node_count, realtime_exchange

log = logging.getLogger(__name__)

RESYNC = "stream.resync"
# A resync envelope for everyone a gateway holds a socket of, once too many
# recipients missed pushes to name them all.
EVERYONE = "everyone"
RESYNC_RECIPIENTS_PER_ENVELOPE = 1000


def resync_envelope(recipients: list[str] | None, reason: str) -> bytes:
    """`recipients` None: everyone connected."""
    envelope = {"type": RESYNC, "data": {"reason": reason}}
    if recipients is None:
        envelope.update({EVERYONE: True, "recipients": []})
    else:
        envelope["recipients"] = recipients
    return json.dumps(envelope).encode()


class LostPushes:
    """Whom pushes that were never sent were meant for, until they are told:
    their user ids, or everyone once more than `limit` users missed some.
    Drops are counted and logged when they start, then at most every
    `report_seconds` while they go on, and what is left when the resync is due."""

    def __init__(self, limit: int = 10_000, report_seconds: float = 10.0):
        self.limit = limit
        self.report_seconds = report_seconds
        self.dropped_total = 0
        self._lock = threading.Lock()
        self._ids: set[str] = set()
        self._everyone = False
        self._unreported = 0
        self._reported_at = float("-inf")

    def add(self, recipients: list[str] | None, reason: str, dropped: int = 1) -> None:
        """`recipients` None: everyone. `dropped`: how many pushes this stands for
        (none when a resync itself is to be sent again)."""
        with self._lock:
            self.dropped_total += dropped
            if not self._everyone:
                if recipients is None:
                    self._everyone, self._ids = True, set()
                else:
                    self._ids.update(recipients)
                    if len(self._ids) > self.limit:
                        self._everyone, self._ids = True, set()
            self._unreported += dropped
            now = time.monotonic()
            report = self._unreported and now - self._reported_at >= self.report_seconds
            if report:
                count, self._unreported, self._reported_at = self._unreported, 0, now
        if report:
            log.warning("%d realtime push(es) dropped (%s); their recipients will be told to resync", count, reason)

    def take(self) -> list[list[str] | None]:
        """The recipient lists of the resync envelopes now due ([None]: everyone)
        and forget them; empty when nobody missed anything."""
        with self._lock:
            ids, everyone, count = self._ids, self._everyone, self._unreported
            self._ids, self._everyone, self._unreported = set(), False, 0
        if count:
            log.warning("%d more realtime push(es) dropped; telling %s to resync", count,
                        "everyone" if everyone else f"{len(ids)} user(s)")
        if everyone:
            return [None]
        ordered = sorted(ids)
        return [ordered[n:n + RESYNC_RECIPIENTS_PER_ENVELOPE]
                for n in range(0, len(ordered), RESYNC_RECIPIENTS_PER_ENVELOPE)]


class _Link:
    """The sender's connection and channel, with publisher confirms on RabbitMQ
    (the in-memory broker confirms nothing): a push the broker did not confirm
    counts as lost, whatever happened to the connection."""

    def __init__(self, amqp_url: str):
        self.connection = connect(amqp_url)
        try:
            self.connection.ensure_connection(max_retries=node_count(amqp_url) - 1)  # each node once: the sender paces retries
            self.channel = self.connection.default_channel
            realtime_exchange(self.channel).declare()
            self.confirms = None if is_memory(amqp_url) else Confirms(self.channel)
        except Exception:
            self.close()
            raise
        self.broken = False
        self.used_at = time.monotonic()

    def stale(self, idle_seconds: float) -> bool:
        """Whether a link idle for longer than `idle_seconds` was closed by the
        broker meanwhile (a restart): found now, before a push is sent on it
        and lost, instead of when its confirm does not come."""
        if self.confirms is None or time.monotonic() - self.used_at < idle_seconds:
            return False
        try:
            self.connection.drain_events(timeout=0)
        except socket.timeout:
            return False
        except Exception as error:
            log.warning("realtime sender found its connection closed: %s", error)
            return True
        return False

    def send(self, bodies: list[bytes], timeout: float) -> list[int]:
        """Publishes every body, then awaits the broker's confirms together;
        answers the indices of the bodies it did not confirm. After an error,
        or confirms that did not come in time, the link is `broken` and must
        be replaced."""
        confirms = self.confirms
        try:
            for index, body in enumerate(bodies):
                message = self.channel.prepare_message(body, 0, "application/json", "utf-8", {},
                                                       {"delivery_mode": 1})
                self.channel.basic_publish(message, exchange=REALTIME_EXCHANGE, routing_key="")
                if confirms is not None:
                    confirms.sent(index)
            if confirms is not None:
                deadline = time.monotonic() + timeout
                while confirms.waiting and (remaining := deadline - time.monotonic()) > 0:
                    self.connection.drain_events(timeout=remaining)
        except socket.timeout:
            pass
        except Exception as error:
            self.broken = True
            log.warning("realtime sender lost the broker: %s", error)
        self.used_at = time.monotonic()
        if confirms is None:
            return list(range(len(bodies))) if self.broken else []
        if confirms.waiting:
            self.broken = True
            log.warning("realtime sender: %d push(es) not confirmed within %ss", len(confirms.waiting), timeout)
        settled = confirms.confirmed - confirms.nacked
        confirms.waiting.clear()
        confirms.forget()
        return [index for index in range(len(bodies)) if index not in settled]

    def close(self) -> None:
        try:
            self.connection.release()
        except Exception:
            pass


class RealtimePublisher:
    """Transient pushes to connected users, not persisted and not in the outbox:
    a client that was away catches up by reading history.

    `publish` never blocks and never raises for the broker's sake: it queues
    the push for this publisher's sender thread (started on first use), which
    publishes what waits in batches with publisher confirms. While the broker
    is known to be unreachable, or when more than `max_queued` pushes wait,
    a push is dropped at once and counted, and its recipients get a
    `stream.resync` as soon as the broker takes messages again."""

    BATCH = 500
    RECONNECT_STEP = 0.2  # the first retry at once, then 0.2, 0.4 ... up to
    RECONNECT_MAX = 1.0
    IDLE_CHECK_SECONDS = 1.0  # a connection unused for longer is checked before use

    def __init__(self, amqp_url: str, *, max_queued: int = 10_000, confirm_timeout: float = 5.0):
        self.amqp_url = amqp_url
        self.max_queued = max_queued
        self.confirm_timeout = confirm_timeout
        self.lost = LostPushes()
        self.broker_down = False
        self.sent_total = 0
        self.resyncs_total = 0
        self._local = threading.local()
        self._queue: deque[tuple[list[str], bytes]] = deque()
        self._wake = threading.Event()
        self._idle = threading.Event()  # the sender found nothing to send, and sent nothing since
        self._start_lock = threading.Lock()
        self._sender: threading.Thread | None = None
        self._stop = threading.Event()

    @contextmanager
    def deferred(self):
        """Pushes made inside the block are sent when it ends without an error,
        that is after the transaction that caused them committed: a client never
        hears of a change that was rolled back."""
        self.hold()
        try:
            yield
        except BaseException:
            self.release(send=False)
            raise
        self.release(send=True)

    def hold(self) -> None:
        """Start keeping pushes back (one level per call; they nest)."""
        stack = getattr(self._local, "held", None)
        if stack is None:
            stack = self._local.held = []
        stack.append([])

    def release(self, send: bool) -> None:
        envelopes = self._local.held.pop()
        if send:
            for envelope in envelopes:
                self._send(envelope)

    def publish(self, recipients: Iterable[str], event_type: str, data: dict) -> None:
        recipients = sorted(set(recipients))
        if recipients:
            self._send({"recipients": recipients, "type": event_type, "data": data})

    def announce(self, keys: Iterable[str]) -> None:
        """Tells every gateway process that these facts just changed (settling.py):
        an envelope for the gateways themselves, with no recipient."""
        keys = sorted(set(keys))
        if keys:
            self._send({"recipients": [], "type": settling.ANNOUNCEMENT, "data": {"keys": keys}})

    def announced(self) -> list[str]:
        """The keys announced in what is held back now (for a request's answer)."""
        return sorted({key for envelopes in getattr(self._local, "held", None) or () for envelope in envelopes
                       if envelope["type"] == settling.ANNOUNCEMENT for key in envelope["data"]["keys"]})

    def _send(self, envelope: dict) -> None:
        held = getattr(self._local, "held", None)
        if held:
            held[-1].append(envelope)
            return
        if self._sender is None or not self._sender.is_alive():
            self._start_sender()
        recipients = envelope["recipients"]
        if self.broker_down:
            self.lost.add(recipients, "the broker is unreachable")
        elif len(self._queue) >= self.max_queued:
            self.lost.add(recipients, "the realtime sender is too far behind")
        else:
            self._queue.append((recipients, json.dumps(envelope, ensure_ascii=False).encode()))
        self._wake.set()

    def flush(self, timeout: float) -> bool:
        """Waits until every push handed over so far was sent and confirmed,
        or dropped; False if that took longer than `timeout`."""
        deadline = time.monotonic() + timeout
        while self._queue or (self._sender is not None and self._sender.is_alive() and not self._idle.is_set()):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Sends what waits (for up to `timeout`, if the broker takes it), then
        stops the sender; a later push starts a new one."""
        self.flush(timeout)
        with self._start_lock:
            sender, self._sender = self._sender, None
            self._stop.set()
        self._wake.set()
        if sender is not None:
            sender.join(timeout)

    def _start_sender(self) -> None:
        with self._start_lock:
            if self._sender is not None and self._sender.is_alive():
                return
            self._stop = threading.Event()
            self._sender = threading.Thread(target=self._run_sender, args=(self._stop,),
                                            name="realtime-sender", daemon=True)
            self._sender.start()

    def _run_sender(self, stop: threading.Event) -> None:
        link: _Link | None = None
        pause = 0.0
        try:
            while True:
                if link is None:
                    try:
                        link = _Link(self.amqp_url)
                    except Exception as error:
                        self._broker_unreachable(error)
                        self._idle.set()  # nothing waits: pushes are dropped at once now
                        if stop.wait(pause):
                            return
                        pause = min(pause + self.RECONNECT_STEP, self.RECONNECT_MAX)
                        continue
                    pause = 0.0
                    if self.broker_down:
                        self.broker_down = False
                        log.warning("realtime publishing resumed")
                self._idle.clear()
                self._wake.clear()
                if link.stale(self.IDLE_CHECK_SECONDS):
                    link.close()
                    link = None
                    continue
                items = [(recipients, resync_envelope(recipients, "pushes_lost"))
                         for recipients in self.lost.take()]
                resyncs = len(items)
                while self._queue and len(items) < self.BATCH:
                    items.append(self._queue.popleft())
                if not items:
                    if stop.is_set():
                        return
                    self._idle.set()
                    self._wake.wait()
                    continue
                unsent = link.send([body for _recipients, body in items], self.confirm_timeout)
                for index in unsent:
                    # A resync not sent is due again; it stands for no push of its own.
                    self.lost.add(items[index][0], "the broker did not confirm them", dropped=int(index >= resyncs))
                failed_resyncs = sum(1 for index in unsent if index < resyncs)
                self.resyncs_total += resyncs - failed_resyncs
                self.sent_total += len(items) - resyncs - (len(unsent) - failed_resyncs)
                if link.broken:
                    link.close()
                    link = None
        finally:
            if link is not None:
                link.close()

    def _broker_unreachable(self, error: Exception) -> None:
        """Known down: pushes are dropped at once until a connection succeeds, and
        what waited is dropped now (their recipients will resync)."""
        if not self.broker_down:
            self.broker_down = True
            log.warning("realtime publishing paused, the broker is unreachable: %s", error)
        while self._queue:
            recipients, _body = self._queue.popleft()
            self.lost.add(recipients, "the broker is unreachable")
