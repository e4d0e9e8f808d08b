"""Consuming events.

`EventConsumer` consumes the service's queue with a bounded prefetch, records
every handled event id in `processed_events` in the same transaction as the
handler's effects (events that arrived together share one transaction),
retries a failing event through `<service>.retry` and after a bounded number
of tries moves it to `<service>.dlq`. It reconnects by itself, to any node of
the broker's cluster. Only one replica of a service consumes at a time (single
active consumer), so events are handled in the order they were published.
"""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable

import peewee
from kombu import Connection, Exchange, Producer
from kombu.mixins import ConsumerMixin

from .bus import ServiceQueues, connect, dead_letter_exchange, is_memory, retry_exchange
from .clock import isoformat, utcnow
from .db import KitModels
from .logs import correlation_id
from .metrics import UNCOUNTED, EventCounts

if TYPE_CHECKING:
    from .service import Service

log = logging.getLogger(__name__)

# How long a consumer that holds events waits for more before handling them:
# at a few hundred events a second, 5 ms gathers several into one transaction.
TAKE_IN_SECONDS = 0.005


class _DatabaseAway(Exception):
    """The database did not answer: the events wait in the consumer's hands."""


class _FailedInBatch(Exception):
    """The handler of the event at `index` failed (None: an event came twice,
    or a gathering handler failed on some event of the batch)."""

    def __init__(self, index: int | None):
        super().__init__(index)
        self.index = index


class EventHandlers:
    """The handlers of one service, one function per routing key:

        handlers = EventHandlers()

        @handlers.on("orgstructure.member.expelled")
        def member_expelled(service, event): ...

    `service` is the consuming instance's `Service`. A handler's effects are its
    database writes and its realtime pushes, both undone when it or another
    event of the same transaction fails; so it may run again for the same event,
    as after any redelivery.
    """

    def __init__(self):
        self.by_type: dict[str, Callable[[Service, dict], None]] = {}

    def on(self, *event_types: str):
        def register(function):
            for event_type in event_types:
                self.by_type[event_type] = function
            return function
        return register

    def gathered(self, *event_types: str):
        """For events handled faster together, such as counters: `function(service,
        events)` is called with each run of consecutive events of these types
        in a transaction, in their order and in their place among the other
        events; a few statements for a run instead of a few for each event."""
        def register(function):
            gatherer = Gatherer(function)
            for event_type in event_types:
                self.by_type[event_type] = gatherer
            return function
        return register

    @property
    def routing_keys(self) -> tuple[str, ...]:
        return tuple(sorted(self.by_type))


class Gatherer:
    """A handler of `EventHandlers.gathered`: called with one event, it handles
    a batch of that one (an event handled alone)."""

    def __init__(self, function: Callable[[Service, list[dict]], None]):
        self.function = function

    def __call__(self, service: Service, event: dict) -> None:
        self.function(service, [event])


class ReconnectingConsumer(ConsumerMixin):
    """kombu's consumer loop, trying the broker again at once when it went away
    and then at least every `RECONNECT_MAX` seconds (not up to half a minute),
    so that consumption resumes as soon as it is back, and keeping its
    heartbeats going however busy the feed is. Subclasses name themselves in
    `feed_name`, and may hold `ready`, an event set while they consume."""

    RECONNECT_STEP = 0.2
    RECONNECT_MAX = 1.0
    feed_name = "consumer"
    ready: threading.Event | None = None
    _feed: Connection | None = None
    _next_heartbeat_check = 0.0
    _failures = 0

    @contextmanager
    def establish_connection(self):
        with self.create_connection() as connection:
            connection.ensure_connection(self.on_connection_error, self.connect_max_retries, interval_start=0,
                                         interval_step=self.RECONNECT_STEP, interval_max=self.RECONNECT_MAX)
            yield connection

    @contextmanager
    def extra_context(self, connection, channel):
        self._feed = connection
        self._failures = 0
        try:
            yield
        finally:
            self._feed = None
            self._not_ready()

    def on_connection_error(self, exc, interval):
        self._not_ready()
        self._failures += 1
        # Tried every second or sooner: said when it starts, then twice a minute.
        if self._failures == 1 or self._failures % 30 == 0:
            log.warning("%s cannot reach the broker (%s; %d tries); trying again every %ss at most",
                        self.feed_name, exc, self._failures, self.RECONNECT_MAX)

    def _not_ready(self) -> None:
        if self.ready is not None:
            self.ready.clear()

    def on_iteration(self) -> None:
        self.keep_alive()

    def keep_alive(self) -> None:
        """kombu's loop sends heartbeats only after a second without deliveries.
        A consumer that acknowledges nothing (the realtime feed) then says
        nothing to the broker while deliveries keep coming, and the broker
        closes its connection after two heartbeat intervals, losing what was
        sent until it reconnects: on a busy school morning, every minute."""
        now = time.monotonic()
        if self._feed is not None and now >= self._next_heartbeat_check:
            self._next_heartbeat_check = now + 1.0
            self._feed.heartbeat_check()


class EventConsumer(ReconnectingConsumer):
    def __init__(self, service: Service, kit: KitModels, handlers: EventHandlers, amqp_url: str, *,
                 prefetch: int = 32, max_attempts: int = 5, retry_delay_ms: int = 2000, delivery_limit: int = 20,
                 after_commit: Callable[[], None] | None = None, counts: EventCounts = UNCOUNTED):
        self.service = service
        self.name = service.name
        self.feed_name = f"{self.name} consumer"
        self.db = service.db
        self.kit = kit
        self.handlers = handlers
        self.amqp_url = amqp_url
        self.prefetch = prefetch
        self.max_attempts = max_attempts
        self.retry_delay_ms = retry_delay_ms
        self.after_commit = after_commit
        self.queues = ServiceQueues(self.name, handlers.routing_keys, is_memory(amqp_url), delivery_limit)
        # The mixin consumes on a clone of `connection`; retries and dead letters
        # are published on `connection` itself, so that waiting for a publish
        # confirm never dispatches deliveries of the consuming channel.
        self.connection = connect(amqp_url, heartbeat=20)
        self._publisher: Connection | None = None
        self.handled_total = 0
        self.handled_together_total = 0  # of those, applied in a transaction with others
        self.counts = counts  # the same, for the pod's metrics
        self.ready = threading.Event()
        self._pending: list = []
        self._resume_at = 0.0  # while the database is away, when to try the held events again
        self._source = self.queues.main
        self._retiring = False  # whether `_source` is a queue of an earlier version being drained
        self._consuming = False

    # ConsumerMixin calls these.
    def get_consumers(self, consumer_class, channel):
        self._source, self._retiring = self.queues.prepare(channel.connection.client)
        self._consuming = True
        consumer = consumer_class(queues=[self._source], on_message=self.on_message,
                                  prefetch_count=self.prefetch, accept=None)
        return [consumer]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self.ready.set()
        log.info("%s consuming %d event types", self.name, len(self.queues.routing_keys))

    def stop(self) -> None:
        self.should_stop = True

    def on_message(self, message) -> None:
        # Taken in here; `consume` handles it together with what came with it.
        self._pending.append(message)

    def consume(self, limit=None, timeout=None, safety_interval=1, **kwargs):
        """kombu's consuming loop, except that the events the broker has already
        sent are all taken in before any is handled: events that arrive together
        are handled in one database transaction, not one each."""
        self._pending = []  # the unacknowledged ones of a lost connection come again
        self._resume_at = 0.0
        # The in-memory transport polls every few milliseconds anyway: looking
        # up from it often costs nothing and lets the embedded platform stop at once.
        idle_wait = min(safety_interval, 0.1) if self.queues.memory else safety_interval
        with self.consumer_context(**kwargs) as (connection, _channel, consumers):
            while not self.should_stop:
                self.keep_alive()
                held = self._resume_at - time.monotonic()
                idle = False
                try:
                    connection.drain_events(timeout=held if held > 0 else
                                            TAKE_IN_SECONDS if self._pending else idle_wait)
                    taken_all = len(self._pending) >= self.prefetch
                except socket.timeout:
                    taken_all = idle = True
                except OSError:
                    if self.should_stop:
                        break
                    raise
                if taken_all and self._pending and time.monotonic() >= self._resume_at:
                    self._take()
                elif idle and not self._pending and self._retiring and self._retired(connection, consumers):
                    return  # consumed again from the service's own queue
                yield

    def _take(self) -> None:
        batch, self._pending = self._pending, []
        try:
            self._apply([event for event in map(self._parse, batch) if event is not None])
        except _DatabaseAway:
            # Held, not requeued: a quorum queue counts every requeue towards its
            # delivery limit, and the database being away is not the events' fault.
            self._pending = [message for message in batch if not message.acknowledged] + self._pending
            self._resume_at = time.monotonic() + 1.0

    def _retired(self, connection, consumers) -> bool:
        """Called while idle on a queue of an earlier version: once it is
        drained, this replica stops consuming it, and the last replica to do so
        deletes it. True when it is gone."""
        waiting = self.queues.messages_in(connection, self._source.name)
        if waiting is None:
            return True
        if waiting:
            if not self._consuming:
                for consumer in consumers:
                    consumer.consume()
                self._consuming = True
            return False
        if self._consuming:
            # Deliveries that crossed the cancellation are handled before the next try.
            for consumer in consumers:
                consumer.cancel()
            self._consuming = False
            return False
        if self.queues.retire(connection, self._source.name):
            log.info("%s: drained and deleted the queue %s of an earlier version", self.name, self._source.name)
            return True
        return False

    def _apply(self, events: list) -> None:
        """One transaction for all of `events`. When one of them fails, the ones
        before it are applied together again, it is handled alone (and retried
        or dead-lettered), and the ones after it are applied as a batch.

        Events delivered before (their consumer died holding them) are handled
        one by one: when one of them kills the consumer every time, the ones
        before it are applied, and it alone reaches the queue's delivery limit
        and the dead letters."""
        if len(events) < 2 or any((message.delivery_info or {}).get("redelivered") for message, _, _ in events):
            for event in events:
                self._handle_alone(*event)
            return
        try:
            self._handle_together(events)
        except _FailedInBatch as failure:
            if failure.index is None:  # sorted out one by one
                for event in events:
                    self._handle_alone(*event)
                return
            self._apply(events[:failure.index])
            self._handle_alone(*events[failure.index])
            self._apply(events[failure.index + 1:])
            return
        except (peewee.OperationalError, peewee.InterfaceError) as error:
            log.warning("database unavailable while handling %d events: %s", len(events), error)
            raise _DatabaseAway() from error
        if self.queues.memory:  # the in-memory broker takes acknowledgements one by one
            for message, _envelope, _handler in events:
                message.ack()
        else:
            # Everything delivered before these is settled already: one frame
            # acknowledges the whole batch.
            events[-1][0].ack(multiple=True)
        for _message, envelope, _handler in events:
            log.info("handled %s (applied)", envelope["type"], extra=self._log_extra(envelope))
        self.handled_total += len(events)
        self.handled_together_total += len(events)
        self.counts.handled.inc(len(events))
        self.counts.handled_together.inc(len(events))
        if self.after_commit:
            self.after_commit()

    def _parse(self, message):
        """(message, envelope, handler), or None for a message that can never be
        handled, which goes to the dead letters at once."""
        try:
            envelope = json.loads(message.body)
            envelope["id"], envelope["type"] = str(envelope["id"]), str(envelope["type"])
            if not isinstance(envelope.get("data"), dict):
                raise ValueError("data is not an object")
        except (ValueError, KeyError, TypeError) as error:
            self._dead_letter(message, f"malformed envelope: {error}", attempts=0)
            return None
        handler = self.handlers.by_type.get(envelope["type"])
        if handler is None:
            self._dead_letter(message, f"no handler for {envelope['type']}", attempts=0)
            return None
        return message, envelope, handler

    def _log_extra(self, envelope: dict) -> dict:
        return {"event_id": envelope["id"], "event_type": envelope["type"], "service": self.name}

    def _handle_together(self, events) -> None:
        with self.db.connection_context(), self._deferred_pushes():
            with self.db.atomic():
                try:
                    self.kit.ProcessedEvent.insert_many(
                        [{"event_id": envelope["id"], "event_type": envelope["type"]} for _, envelope, _ in events]
                    ).execute()
                except peewee.IntegrityError:
                    raise _FailedInBatch(None) from None
                gatherer, run = None, []  # consecutive events of one gathering handler
                for index, (_message, envelope, handler) in enumerate(events):
                    if isinstance(handler, Gatherer) and handler is gatherer:
                        run.append(envelope)
                        continue
                    self._gather(gatherer, run)
                    if isinstance(handler, Gatherer):
                        gatherer, run = handler, [envelope]
                        continue
                    gatherer, run = None, []
                    token = correlation_id.set(envelope.get("correlation_id"))
                    try:
                        handler(self.service, envelope)
                    except (peewee.OperationalError, peewee.InterfaceError):
                        raise
                    except Exception as error:
                        raise _FailedInBatch(index) from error
                    finally:
                        correlation_id.reset(token)
                self._gather(gatherer, run)

    def _gather(self, gatherer: Gatherer | None, envelopes: list[dict]) -> None:
        if gatherer is None:
            return
        try:
            gatherer.function(self.service, envelopes)
        except (peewee.OperationalError, peewee.InterfaceError):
            raise
        except Exception as error:
            # Which event it failed on is not known: each is handled alone.
            raise _FailedInBatch(None) from error

    def _handle_alone(self, message, envelope: dict, handler) -> None:
        event_id, event_type = envelope["id"], envelope["type"]
        attempts = int((message.headers or {}).get("x-attempts", 0)) + 1
        token = correlation_id.set(envelope.get("correlation_id"))
        extra = self._log_extra(envelope)
        try:
            outcome = self._handle(handler, envelope, event_id, event_type)
        except (peewee.OperationalError, peewee.InterfaceError) as error:
            # The database itself is away: not the event's fault. It waits,
            # without counting a try, until the database returns.
            log.warning("database unavailable while handling %s: %s", event_type, error, extra=extra)
            raise _DatabaseAway() from error
        except Exception as error:
            log.exception("handler for %s failed (try %d of %d)", event_type, attempts,
                          self.max_attempts, extra=extra)
            if attempts >= self.max_attempts:
                self._dead_letter(message, repr(error), attempts)
            else:
                self._retry(message, repr(error), attempts)
            return
        finally:
            correlation_id.reset(token)
        message.ack()
        self.handled_total += 1
        self.counts.handled.inc()
        log.info("handled %s (%s)", event_type, outcome, extra=extra)
        if self.after_commit and outcome == "applied":
            self.after_commit()

    def _handle(self, handler, envelope: dict, event_id: str, event_type: str) -> str:
        with self.db.connection_context(), self._deferred_pushes():
            try:
                with self.db.atomic():
                    # First statement: a concurrent or repeated delivery of the
                    # same event fails here and its effects are never applied twice.
                    self.kit.ProcessedEvent.insert(event_id=event_id, event_type=event_type).execute()
                    handler(self.service, envelope)
            except peewee.IntegrityError:
                if self.kit.ProcessedEvent.get_or_none(self.kit.ProcessedEvent.event_id == event_id):
                    return "duplicate"
                raise
        return "applied"

    def _deferred_pushes(self):
        return self.service.realtime.deferred()

    def _republish(self, message, exchange: Exchange, routing_key: str, headers: dict,
                   expiration: float | None = None) -> None:
        if self._publisher is None:
            self._publisher = connect(self.amqp_url, confirm=True)
        try:
            producer = Producer(self._publisher.default_channel)
            producer.publish(message.body, exchange=exchange, routing_key=routing_key,
                             content_type="application/json", content_encoding="utf-8",
                             delivery_mode=2, headers=headers, expiration=expiration,
                             message_id=(message.properties or {}).get("message_id"),
                             retry=False)
        except Exception:
            # Unacknowledged, the message comes back after the reconnection.
            self._publisher.release()
            self._publisher = None
            raise

    def _retry(self, message, error: str, attempts: int) -> None:
        headers = dict(message.headers or {}, **{"x-attempts": attempts, "x-last-error": error[:500]})
        delay = self.retry_delay_ms / 1000
        if self.queues.memory:
            time.sleep(delay)
            self._republish(message, retry_exchange, self.name, headers)
        else:
            self._republish(message, retry_exchange, f"{self.name}.delay", headers, expiration=delay)
        message.ack()

    def _dead_letter(self, message, error: str, attempts: int) -> None:
        delivery = message.delivery_info or {}
        headers = dict(message.headers or {}, **{
            "x-attempts": attempts, "x-error": error[:1000], "x-service": self.name,
            "x-failed-at": isoformat(utcnow()),
            "x-original-routing-key": delivery.get("routing_key")})
        self._republish(message, dead_letter_exchange, self.name, headers)
        message.ack()
        log.error("event dead-lettered to %s.dlq: %s", self.name, error,
                  extra={"event_id": (message.properties or {}).get("message_id")})
