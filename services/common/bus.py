"""The event bus (architecture.md "The event bus").

- `Outbox.add` writes an event into the service's own `outbox` table, in the
  caller's database transaction.
- `OutboxRelay` publishes outbox rows to `sferum.events` with publisher confirms
  and `mandatory`, deleting a row only once the broker confirmed and routed it;
  rows that were refused, returned or never confirmed stay and are retried.
- `EventConsumer` consumes the service's queue with a bounded prefetch, records
  every handled event id in `processed_events` in the same transaction as the
  handler's effects (events that arrived together share one transaction),
  retries a failing event through `<service>.retry` and after a bounded number
  of tries moves it to `<service>.dlq`. It reconnects by itself.
  Only one replica of a service consumes at a time (single active consumer), so
  events are handled in the order they were published.
- `RealtimePublisher` pushes transient envelopes to `sferum.realtime`.

The same code runs on RabbitMQ and, in the embedded mode, on kombu's in-memory
transport; the only difference is how a retry waits (a TTL'd queue on RabbitMQ,
a pause in the consumer in memory).
"""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Iterable

import peewee
from kombu import Connection, Exchange, Producer, Queue, binding
from kombu.mixins import ConsumerMixin

from .clock import isoformat, utcnow
from .db import KitModels, Statement, is_postgres
from .logs import correlation_id

log = logging.getLogger(__name__)

EVENTS_EXCHANGE = "sferum.events"
DEAD_LETTER_EXCHANGE = "sferum.dlx"
RETRY_EXCHANGE = "sferum.retry"
REALTIME_EXCHANGE = "sferum.realtime"

events_exchange = Exchange(EVENTS_EXCHANGE, type="topic", durable=True)
dead_letter_exchange = Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)
retry_exchange = Exchange(RETRY_EXCHANGE, type="direct", durable=True)
realtime_exchange = Exchange(REALTIME_EXCHANGE, type="fanout", durable=True)

UNROUTED_RETRY_MAX_S = 3600.0
CONFIRM_TIMEOUT_S = 30.0
# How long a consumer that holds events waits for more before handling them:
# at a few hundred events a second, 5 ms gathers several into one transaction.
TAKE_IN_SECONDS = 0.005

ENVELOPE_FIELDS = ("id", "type", "version", "occurred_at", "producer", "org_id",
                   "correlation_id", "data")


class BrokerUnavailable(Exception):
    pass


class _FailedInBatch(Exception):
    """The handler of the event at `index` failed (None: an event came twice)."""

    def __init__(self, index: int | None):
        super().__init__(index)
        self.index = index


def is_memory(url: str) -> bool:
    return url.startswith("memory://")


def connect(url: str, confirm: bool = False, heartbeat: int = 0) -> Connection:
    # Heartbeats only where a loop services them (the consumer); a publishing
    # connection that sits idle would otherwise be closed by the broker.
    if is_memory(url):
        # The in-memory transport polls; keep the embedded platform snappy.
        options = {"polling_interval": 0.02}
    else:
        options = {"confirm_publish": True} if confirm else {}
    return Connection(url, connect_timeout=3, heartbeat=heartbeat, transport_options=options)


def connection_errors(url: str) -> tuple[type[BaseException], ...]:
    probe = Connection(url)
    return (OSError, *probe.connection_errors)


def make_envelope(event_type: str, data: dict, *, producer: str, org_id: str | None = None,
                  event_id: str | None = None, request_id: str | None = None) -> dict:
    return {
        "id": event_id or str(uuid.uuid4()),
        "type": event_type,
        "version": 1,
        "occurred_at": isoformat(utcnow()),
        "producer": producer,
        "org_id": org_id,
        "correlation_id": request_id if request_id is not None else correlation_id.get(),
        "data": data,
    }


@dataclass(frozen=True)
class ServiceQueues:
    """The durable queues of one consuming service, and how they are wired."""
    service: str
    routing_keys: tuple[str, ...]
    memory: bool

    @property
    def main(self) -> Queue:
        bindings = [binding(events_exchange, routing_key=key) for key in self.routing_keys]
        bindings.append(binding(retry_exchange, routing_key=self.service))
        # One consumer at a time among a service's replicas, the others standing
        # by: events about one school are handled in the order they were
        # published (a head assigned after the class was created, a role added
        # after the joining), whatever the number of replicas.
        return Queue(self.service, bindings=bindings, durable=True, queue_arguments={
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": self.service,
            "x-single-active-consumer": True})

    @property
    def retry(self) -> Queue:
        # A message waits here for its per-message expiration, then is
        # dead-lettered back into the main queue through the retry exchange.
        return Queue(f"{self.service}.retry", exchange=retry_exchange,
                     routing_key=f"{self.service}.delay", durable=True, queue_arguments={
                         "x-dead-letter-exchange": RETRY_EXCHANGE,
                         "x-dead-letter-routing-key": self.service})

    @property
    def dead_letter(self) -> Queue:
        return Queue(f"{self.service}.dlq", exchange=dead_letter_exchange,
                     routing_key=self.service, durable=True)

    def declare(self, channel) -> None:
        for exchange in (events_exchange, dead_letter_exchange, retry_exchange):
            exchange(channel).declare()
        queues = [self.main, self.dead_letter] + ([] if self.memory else [self.retry])
        for queue in queues:
            queue(channel).declare()


class Outbox:
    """Writes events into the service's outbox table, inside the caller's transaction."""

    def __init__(self, service: str, kit: KitModels, publishes: Iterable[str]):
        self.service = service
        self.kit = kit
        self.publishes = frozenset(publishes)
        self._thread = threading.local()  # what this thread (a request, a consumer) wrote
        # Every change writes here: the statement is written out, not built each time.
        self._insert = Statement(kit.Outbox._meta.database, f"""
            INSERT INTO {kit.Outbox._meta.table_name} (event_id, routing_key, body, created_at, attempts,
                                                       next_attempt_at)
            VALUES (%s, %s, %s, %s, 0, %s)""")

    def add(self, event_type: str, data: dict, org_id: str | None = None) -> dict:
        if event_type not in self.publishes:
            raise ValueError(f"{self.service} does not declare the event {event_type!r}")
        envelope = make_envelope(event_type, data, producer=self.service, org_id=org_id)
        now = utcnow()
        self._insert.execute(envelope["id"], event_type, json.dumps(envelope, ensure_ascii=False), now, now)
        self._thread.written = True
        return envelope

    def take_written(self) -> bool:
        """Whether this thread added events since it last asked: after a commit,
        the relay is woken for those and not for every request and batch."""
        written = getattr(self._thread, "written", False)
        self._thread.written = False
        return written


class OutboxRelay:
    """Publishes outbox rows with publisher confirms. Several relays may run at
    once: on PostgreSQL each claims its rows with FOR UPDATE SKIP LOCKED."""

    def __init__(self, service: str, db: peewee.Database, kit: KitModels, amqp_url: str,
                 poll_seconds: float = 0.2, batch_size: int = 200):
        self.service = service
        self.db = db
        self.kit = kit
        self.amqp_url = amqp_url
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self._wake = threading.Event()
        self._connection: Connection | None = None
        self._confirms: _Confirms | None = None
        self._errors = connection_errors(amqp_url)
        self.published_total = 0

    def wake(self) -> None:
        self._wake.set()

    def pending(self) -> int:
        with self.db.connection_context():
            return self.kit.Outbox.select().count()

    def run(self, stop: threading.Event) -> None:
        pause = self.poll_seconds
        while not stop.is_set():
            try:
                published = self.relay_once()
                pause = self.poll_seconds
                if published >= self.batch_size:
                    continue
            except BrokerUnavailable as error:
                log.warning("outbox relay of %s: broker unavailable (%s)", self.service, error)
                pause = min(max(pause * 2, 0.5), 5.0)
            except peewee.PeeweeException:
                log.exception("outbox relay of %s: database error", self.service)
                pause = min(max(pause * 2, 0.5), 5.0)
            self._wake.wait(pause)
            self._wake.clear()
        self._close()

    def relay_once(self) -> int:
        Outbox = self.kit.Outbox
        with self.db.connection_context():
            with self.db.atomic():
                query = (Outbox.select().where(Outbox.next_attempt_at <= utcnow())
                         .order_by(Outbox.id).limit(self.batch_size))
                if is_postgres(self.db):
                    query = query.for_update(skip_locked=True)
                rows = list(query)
                if not rows:
                    return 0
                published, refused = self._publish(rows)
                if published:
                    Outbox.delete().where(Outbox.id.in_(published)).execute()
                for row, reason in refused:
                    attempts = row.attempts + 1
                    # An event no service binds yet (returned: NO_ROUTE) waits for its
                    # first consumer to be deployed; retrying it every minute for
                    # weeks would only load the broker.
                    longest = UNROUTED_RETRY_MAX_S if reason.startswith("returned") else 60.0
                    delay = min(longest, 0.5 * 2 ** min(attempts, 13))
                    (Outbox.update(attempts=attempts, last_error=reason[:1000],
                                   next_attempt_at=utcnow() + timedelta(seconds=delay))
                     .where(Outbox.id == row.id).execute())
                    log.warning("event %s %s not accepted by the broker: %s", row.event_id,
                                row.routing_key, reason, extra={"event_id": row.event_id})
        self.published_total += len(published)
        return len(published)

    def _publish(self, rows) -> tuple[list[int], list[tuple[object, str]]]:
        """Every row is sent, then the broker's confirms are awaited together:
        one wait for the batch, not one per event."""
        published, refused = [], []
        channel, confirms = self._connect()
        try:
            for row in rows:
                message = channel.prepare_message(row.body.encode(), 0, "application/json", "utf-8", {},
                                                  {"delivery_mode": 2, "message_id": row.event_id})
                channel.basic_publish(message, exchange=EVENTS_EXCHANGE, routing_key=row.routing_key,
                                      mandatory=True)
                if confirms is not None:
                    confirms.sent(row)
            if confirms is not None:
                deadline = time.monotonic() + CONFIRM_TIMEOUT_S
                while confirms.waiting and (remaining := deadline - time.monotonic()) > 0:
                    try:
                        self._connection.drain_events(timeout=remaining)
                    except socket.timeout:
                        break
        except self._errors as error:
            self._close()
            if confirms is None or not confirms.confirmed:
                raise BrokerUnavailable(str(error)) from error
            # What was confirmed before the broker went away is published; the
            # rest stays in the outbox for the next round.
        except Exception as error:  # a channel error: what it did not confirm was refused
            self._close()
            refused = [(row, f"refused: {error!r}") for row in rows
                       if confirms is None or row.id not in confirms.confirmed]
            rows = [row for row in rows if confirms is not None and row.id in confirms.confirmed]
            if confirms is not None:
                confirms.waiting.clear()
        for row in rows:
            if confirms is None or row.id in confirms.confirmed:  # the in-memory broker confirms nothing
                reason = confirms.returned.pop(row.event_id, None) if confirms else None
                if reason:
                    refused.append((row, reason))
                else:
                    published.append(row.id)
                    log.info("published %s", row.routing_key,
                             extra={"event_id": row.event_id, "event_type": row.routing_key})
            elif row.id in confirms.nacked:
                refused.append((row, "refused: the broker did not take it (nack)"))
        if confirms is not None:
            if confirms.waiting:  # unconfirmed at the deadline: sent again next round
                log.warning("outbox relay of %s: %d events unconfirmed", self.service, len(confirms.waiting))
                self._close()
            confirms.forget()
        return published, refused

    def _connect(self):
        """(channel, confirms) of the relay's connection; confirms is None on
        the in-memory broker."""
        if self._connection is None:
            connection = connect(self.amqp_url)
            try:
                connection.ensure_connection(max_retries=1)
                channel = connection.default_channel
                events_exchange(channel).declare()
                self._confirms = None if is_memory(self.amqp_url) else _Confirms(channel)
            except Exception as error:
                connection.release()
                raise BrokerUnavailable(str(error)) from error
            self._connection = connection
        return self._connection.default_channel, self._confirms

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:
                pass
            self._connection = None
            self._confirms = None


class _Confirms:
    """Publisher confirms on one channel: what the broker acknowledged, refused
    or returned (unroutable) of the rows sent on it."""

    def __init__(self, channel):
        channel.confirm_select()
        self._next_tag = 1  # the broker numbers a confirm channel's messages from 1
        self.waiting: dict[int, object] = {}  # delivery tag -> row
        self.confirmed: set[int] = set()  # row ids
        self.nacked: set[int] = set()
        self.returned: dict[str, str] = {}  # event id -> reason; a return comes before its ack
        channel.events["basic_ack"].add(lambda tag, multiple: self._settle(tag, multiple, self.confirmed))
        channel.events["basic_nack"].add(lambda tag, multiple: self._settle(tag, multiple, self.nacked))
        channel.events["basic_return"].add(self._returned)

    def sent(self, row) -> None:
        self.waiting[self._next_tag] = row
        self._next_tag += 1

    def forget(self) -> None:
        self.confirmed.clear()
        self.nacked.clear()
        self.returned.clear()

    def _settle(self, tag: int, multiple: bool, into: set[int]) -> None:
        for settled in [t for t in self.waiting if t <= tag] if multiple else [tag]:
            row = self.waiting.pop(settled, None)
            if row is not None:
                into.add(row.id)

    def _returned(self, exception, _exchange, _routing_key, message) -> None:
        self.returned[message.properties.get("message_id")] = f"returned: {exception}"


class EventHandlers:
    """The handlers of one service, one function per routing key:

        handlers = EventHandlers()

        @handlers.on("orgstructure.member.expelled")
        def member_expelled(event): ...

    A handler's effects are its database writes and its realtime pushes, both
    undone when it or another event of the same transaction fails; so it may
    run again for the same event, as after any redelivery.
    """

    def __init__(self):
        self.by_type: dict[str, Callable[[dict], None]] = {}
        self.outbox: Outbox | None = None  # the service's, set when its runtime is built

    def on(self, *event_types: str):
        def register(function):
            for event_type in event_types:
                self.by_type[event_type] = function
            return function
        return register

    @property
    def routing_keys(self) -> tuple[str, ...]:
        return tuple(sorted(self.by_type))


class ReconnectingConsumer(ConsumerMixin):
    """kombu's consumer loop, retrying the broker every few seconds (not up to
    half a minute) once it went away, so that consumption resumes promptly,
    and keeping its heartbeats going however busy the feed is."""

    _feed: Connection | None = None
    _next_heartbeat_check = 0.0

    @contextmanager
    def establish_connection(self):
        with self.create_connection() as connection:
            connection.ensure_connection(self.on_connection_error, self.connect_max_retries,
                                         interval_start=0.5, interval_step=0.5, interval_max=3)
            yield connection

    @contextmanager
    def extra_context(self, connection, channel):
        self._feed = connection
        try:
            yield
        finally:
            self._feed = None

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
    def __init__(self, service: str, db: peewee.Database, kit: KitModels,
                 handlers: EventHandlers, amqp_url: str, *, prefetch: int = 32,
                 max_attempts: int = 5, retry_delay_ms: int = 2000,
                 after_commit: Callable[[], None] | None = None,
                 realtime: RealtimePublisher | None = None):
        self.service = service
        self.realtime = realtime
        self.db = db
        self.kit = kit
        self.handlers = handlers
        self.amqp_url = amqp_url
        self.prefetch = prefetch
        self.max_attempts = max_attempts
        self.retry_delay_ms = retry_delay_ms
        self.after_commit = after_commit
        self.queues = ServiceQueues(service, handlers.routing_keys, is_memory(amqp_url))
        # The mixin consumes on a clone of `connection`; retries and dead letters
        # are published on `connection` itself, so that waiting for a publish
        # confirm never dispatches deliveries of the consuming channel.
        self.connection = connect(amqp_url, heartbeat=20)
        self._publisher: Connection | None = None
        self.handled_total = 0
        self.handled_together_total = 0  # of those, applied in a transaction with others
        self.ready = threading.Event()
        self._pending: list = []

    # ConsumerMixin calls these.
    def get_consumers(self, consumer_class, channel):
        self.queues.declare(channel)
        consumer = consumer_class(queues=[self.queues.main], on_message=self.on_message,
                                  prefetch_count=self.prefetch, accept=None)
        return [consumer]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self.ready.set()
        log.info("%s consuming %d event types", self.service, len(self.queues.routing_keys))

    def on_connection_error(self, exc, interval):
        self.ready.clear()
        log.warning("%s consumer lost the broker (%s); reconnecting in %ss",
                    self.service, exc, interval)

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
        with self.consumer_context(**kwargs) as (connection, _channel, _consumers):
            while not self.should_stop:
                self.keep_alive()
                try:
                    connection.drain_events(timeout=TAKE_IN_SECONDS if self._pending else safety_interval)
                    taken_all = len(self._pending) >= self.prefetch
                except socket.timeout:
                    taken_all = True
                except OSError:
                    if self.should_stop:
                        break
                    raise
                if taken_all and self._pending:
                    batch, self._pending = self._pending, []
                    self._apply([event for event in map(self._parse, batch) if event is not None])
                yield

    def _apply(self, events: list) -> None:
        """One transaction for all of `events`. When one of them fails, the ones
        before it are applied together again, it is handled alone (and retried
        or dead-lettered), and the ones after it are applied as a batch."""
        if len(events) < 2:
            for event in events:
                self._handle_alone(*event)
            return
        try:
            self._handle_together(events)
        except _FailedInBatch as failure:
            if failure.index is None:  # an event came twice: sorted out one by one
                for event in events:
                    self._handle_alone(*event)
                return
            self._apply(events[:failure.index])
            self._handle_alone(*events[failure.index])
            self._apply(events[failure.index + 1:])
            return
        except (peewee.OperationalError, peewee.InterfaceError) as error:
            log.warning("database unavailable while handling %d events: %s", len(events), error)
            time.sleep(1.0)
            for message, _envelope, _handler in events:
                message.requeue()
            return
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
        return {"event_id": envelope["id"], "event_type": envelope["type"], "service": self.service}

    def _handle_together(self, events) -> None:
        with self.db.connection_context(), self._deferred_pushes():
            with self.db.atomic():
                try:
                    self.kit.ProcessedEvent.insert_many(
                        [{"event_id": envelope["id"], "event_type": envelope["type"]} for _, envelope, _ in events]
                    ).execute()
                except peewee.IntegrityError:
                    raise _FailedInBatch(None) from None
                for index, (_message, envelope, handler) in enumerate(events):
                    token = correlation_id.set(envelope.get("correlation_id"))
                    try:
                        handler(envelope)
                    except (peewee.OperationalError, peewee.InterfaceError):
                        raise
                    except Exception as error:
                        raise _FailedInBatch(index) from error
                    finally:
                        correlation_id.reset(token)

    def _handle_alone(self, message, envelope: dict, handler) -> None:
        event_id, event_type = envelope["id"], envelope["type"]
        attempts = int((message.headers or {}).get("x-attempts", 0)) + 1
        token = correlation_id.set(envelope.get("correlation_id"))
        extra = self._log_extra(envelope)
        try:
            outcome = self._handle(handler, envelope, event_id, event_type)
        except (peewee.OperationalError, peewee.InterfaceError) as error:
            # The database itself is away: not the event's fault. Put it back
            # without counting a try, and slow down until the database returns.
            log.warning("database unavailable while handling %s: %s", event_type, error, extra=extra)
            time.sleep(1.0)
            message.requeue()
            return
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
                    handler(envelope)
            except peewee.IntegrityError:
                if self.kit.ProcessedEvent.get_or_none(self.kit.ProcessedEvent.event_id == event_id):
                    return "duplicate"
                raise
        return "applied"

    def _deferred_pushes(self):
        return self.realtime.deferred() if self.realtime else nullcontext()

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
            self._republish(message, retry_exchange, self.service, headers)
        else:
            self._republish(message, retry_exchange, f"{self.service}.delay", headers, expiration=delay)
        message.ack()

    def _dead_letter(self, message, error: str, attempts: int) -> None:
        delivery = message.delivery_info or {}
        headers = dict(message.headers or {}, **{
            "x-attempts": attempts, "x-error": error[:1000], "x-service": self.service,
            "x-failed-at": isoformat(utcnow()),
            "x-original-routing-key": delivery.get("routing_key")})
        self._republish(message, dead_letter_exchange, self.service, headers)
        message.ack()
        log.error("event dead-lettered to %s.dlq: %s", self.service, error,
                  extra={"event_id": (message.properties or {}).get("message_id")})


class RealtimePublisher:
    """Transient pushes to connected users, not persisted and not in the outbox:
    a client that was away catches up by reading history."""

    def __init__(self, amqp_url: str):
        self.amqp_url = amqp_url
        self._local = threading.local()

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
        pushes = self._local.held.pop()
        if send:
            for push in pushes:
                self.publish(*push)

    def publish(self, recipients: Iterable[str], event_type: str, data: dict) -> None:
        recipients = sorted(set(recipients))
        if not recipients:
            return
        held = getattr(self._local, "held", None)
        if held:
            held[-1].append((recipients, event_type, data))
            return
        body = json.dumps({"recipients": recipients, "type": event_type, "data": data},
                          ensure_ascii=False)
        for attempt in (1, 2):
            producer = self._producer()
            try:
                producer.publish(body, exchange=realtime_exchange, routing_key="",
                                 content_type="application/json", content_encoding="utf-8",
                                 delivery_mode=1, retry=False)
                return
            except Exception as error:
                self._reset()
                if attempt == 2:
                    log.warning("realtime push %s dropped: %s", event_type, error)

    def _producer(self) -> Producer:
        producer = getattr(self._local, "producer", None)
        if producer is None:
            connection = connect(self.amqp_url)
            channel = connection.channel()
            realtime_exchange(channel).declare()
            producer = Producer(channel, exchange=realtime_exchange)
            self._local.connection, self._local.producer = connection, producer
        return producer

    def _reset(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            try:
                connection.release()
            except Exception:
                pass
        self._local.connection = self._local.producer = None
