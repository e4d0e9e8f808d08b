"""The broker's shape (architecture.md "The event bus"): the exchanges, the
envelope every event travels in, how a service's durable queues are wired,
and the connections. The moving parts live beside it, one file each:

- `outbox`: events written in the caller's transaction, and the relay that
  publishes them with publisher confirms;
- `consumer`: a service's handlers and the consumer that applies events
  idempotently, retries them and dead-letters the ones that keep failing;
- `realtime`: transient pushes to connected users, sent by a background sender.

The same code runs on RabbitMQ and, in the embedded mode, on kombu's in-memory
transport; the only difference is how a retry waits (a TTL'd queue on RabbitMQ,
a pause in the consumer in memory).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from amqp.exceptions import NotFound, PreconditionFailed
from kombu import Connection, Exchange, Queue, binding

from .clock import isoformat, utcnow
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


def is_memory(url: str) -> bool:
    return url.startswith("memory://")


def broker_urls(url: str) -> list[str]:
    """The nodes of `AMQP_URL`: one URL, or several separated by `;` (the
    nodes of a cluster, tried in turn when one does not answer)."""
    return [part.strip() for part in url.split(";") if part.strip()]


def node_count(url: str) -> int:
    """For kombu's `ensure_connection(max_retries=...)`, which moves to the
    next node after each failed try: with `node_count(url) - 1` every node is
    tried once."""
    return len(broker_urls(url))


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
    """The durable queues of one consuming service, and how they are wired.

    On RabbitMQ they are quorum queues, replicated over the cluster's nodes, so
    that losing a node loses no event and stops no consumer for longer than an
    election. A quorum queue cannot be redeclared from a classic one of the same
    name (PRECONDITION_FAILED), so `prepare` replaces the classic queues an
    earlier version declared without losing or reordering what they hold."""
    service: str
    routing_keys: tuple[str, ...]
    memory: bool
    # Deliveries of one event that ended without a settlement (the consumer's
    # process or connection died while holding it) before the broker moves it to
    # the dead letters: the guard against an event that kills its consumer. A
    # handler's errors never count here: they are retried and dead-lettered by
    # the consumer itself, each retry a fresh message.
    delivery_limit: int = 20

    def _quorum(self, **arguments) -> dict:
        if self.memory:
            return arguments
        return {"x-queue-type": "quorum", **arguments}

    def _dead_lettering(self, exchange: str, routing_key: str) -> dict:
        # At-least-once: a quorum queue otherwise drops what the dead-letter
        # target did not confirm (a target on a node that is down).
        return self._quorum(**{"x-dead-letter-exchange": exchange, "x-dead-letter-routing-key": routing_key},
                            **({} if self.memory else {"x-dead-letter-strategy": "at-least-once",
                                                       "x-overflow": "reject-publish"}))

    def _main(self, name: str) -> Queue:
        bindings = [binding(events_exchange, routing_key=key) for key in self.routing_keys]
        bindings.append(binding(retry_exchange, routing_key=self.service))
        arguments = self._dead_lettering(DEAD_LETTER_EXCHANGE, self.service)
        if not self.memory:
            arguments["x-delivery-limit"] = self.delivery_limit
        # One consumer at a time among a service's replicas, the others standing
        # by: events about one school are handled in the order they were
        # published (a head assigned after the class was created, a role added
        # after the joining), whatever the number of replicas.
        arguments["x-single-active-consumer"] = True
        return Queue(name, bindings=bindings, durable=True, queue_arguments=arguments)

    @property
    def main(self) -> Queue:
        return self._main(self.service)

    @property
    def retry(self) -> Queue:
        # A message waits here for its per-message expiration, then is
        # dead-lettered back into the main queue through the retry exchange.
        return Queue(f"{self.service}.retry", exchange=retry_exchange, routing_key=f"{self.service}.delay",
                     durable=True, queue_arguments=self._dead_lettering(RETRY_EXCHANGE, self.service))

    @property
    def dead_letter(self) -> Queue:
        return Queue(f"{self.service}.dlq", exchange=dead_letter_exchange, routing_key=self.service,
                     durable=True, queue_arguments=self._quorum())

    def prepare(self, connection: Connection) -> tuple[Queue, bool]:
        """Declares the exchanges and queues; answers the queue to consume now
        and whether it is a retired one, to be drained and then deleted
        (`retire`) before the service's own queue is consumed.

        A classic main queue is retired through `<service>.migrating`, a quorum
        queue that takes its bindings: the consumer drains the classic queue,
        which nothing reaches any more, then the migrating one once the quorum
        queue `<service>` took the bindings back, then `<service>`. Events
        routed to two of them meanwhile are handled once (`processed_events`),
        and in the order they were published. The retry and dead-letter queues,
        which nobody consumes, are replaced in place."""
        with connection.channel() as channel:
            for exchange in (events_exchange, dead_letter_exchange, retry_exchange):
                exchange(channel).declare()
        if self.memory:
            for queue in (self.main, self.dead_letter):
                _declare(connection, queue)
            return self.main, False
        for queue in (self.dead_letter, self.retry):
            self._replace(connection, queue)
        migrating = self._main(f"{self.service}.migrating")
        if _declare(connection, self.main):
            if not _exists(connection, migrating.name):
                return self.main, False
            retired = migrating
        else:
            log.warning("%s: the queue %s was declared otherwise (a classic queue of an earlier version); "
                        "replacing it", self.service, self.service)
            _declare(connection, migrating, refused_is_error=True)
            retired = self.main
        _unbind(connection, retired)
        return Queue(retired.name, no_declare=True), True

    def _replace(self, connection: Connection, queue: Queue) -> None:
        """A classic queue of `queue`'s name gives its bindings and messages to
        a quorum queue beside it, is deleted, and comes back as a quorum queue
        that takes them over (the order of dead letters and retries is free)."""
        interim = Queue(f"{queue.name}.migrating", exchange=queue.exchange, routing_key=queue.routing_key,
                        durable=True, queue_arguments=queue.queue_arguments)
        if not _declare(connection, queue):
            log.warning("%s: replacing the classic queue %s by a quorum queue", self.service, queue.name)
            _declare(connection, interim, refused_is_error=True)
            _unbind(connection, queue)
            _move(connection, queue.name, interim.name)
            _attempt(connection, lambda channel: channel.queue_delete(queue.name))
            _declare(connection, queue, refused_is_error=True)
        if _exists(connection, interim.name):
            _unbind(connection, interim)
            _move(connection, interim.name, queue.name)
            _attempt(connection, lambda channel: channel.queue_delete(interim.name))

    @staticmethod
    def messages_in(connection: Connection, name: str) -> int | None:
        """How many messages wait in the queue `name` (None: there is no such queue)."""
        found = []
        if _attempt(connection, lambda channel: found.append(channel.queue_declare(name, passive=True)),
                    refused=(NotFound,)):
            return found[0].message_count
        return None

    def retire(self, connection: Connection, name: str) -> bool:
        """Deletes a drained, retired queue once nobody consumes it (every
        replica stepped back from it); False while it holds messages or consumers."""
        found = []
        if not _attempt(connection, lambda channel: found.append(channel.queue_declare(name, passive=True)),
                        refused=(NotFound,)):
            return True
        if found[0].message_count or found[0].consumer_count:
            return False
        # Not deleted on the broker's conditions (if-unused, if-empty), which a
        # quorum queue refuses by closing the whole connection: nothing is
        # routed to it any more, and no consumer holds anything of it.
        return _attempt(connection, lambda channel: channel.queue_delete(name), refused=(NotFound,))


def _attempt(connection: Connection, action, refused=(PreconditionFailed,), refused_is_error=False) -> bool:
    """Runs `action(channel)` on a channel of its own (the broker closes a
    channel whose request it refuses); False when the broker refused it."""
    channel = connection.channel()
    try:
        action(channel)
        return True
    except refused:
        if refused_is_error:
            raise
        return False
    finally:
        try:
            channel.close()
        except Exception:
            pass


def _declare(connection: Connection, queue: Queue, refused_is_error=False) -> bool:
    """Declares `queue` with its bindings; False when a queue of its name but
    of other arguments (a classic one) is there."""
    return _attempt(connection, lambda channel: queue(channel).declare(), refused_is_error=refused_is_error)


def _exists(connection: Connection, name: str) -> bool:
    return ServiceQueues.messages_in(connection, name) is not None


def _bindings(queue: Queue) -> list[tuple[str, str]]:
    if queue.bindings:
        return [(b.exchange.name, b.routing_key) for b in queue.bindings]
    return [(queue.exchange.name, queue.routing_key)]


def _unbind(connection: Connection, queue: Queue) -> None:
    def unbind(channel):
        for exchange, routing_key in _bindings(queue):
            channel.queue_unbind(queue.name, exchange, routing_key)
    _attempt(connection, unbind, refused=(NotFound,))


def _move(connection: Connection, source: str, target: str) -> None:
    """Every message of `source` to `target`, in order, each removed from
    `source` only once the broker confirmed it in `target`."""
    def move(channel):
        channel.confirm_select()
        while (message := channel.basic_get(source, no_ack=False)) is not None:
            channel.basic_publish_confirm(message, exchange="", routing_key=target, mandatory=True,
                                          confirm_timeout=30)
            channel.basic_ack(message.delivery_tag)
    _attempt(connection, move, refused=(NotFound,))


class Confirms:
    """Publisher confirms on one channel: which of the messages sent on it the
    broker acknowledged, refused (nack) or returned (unroutable, with
    `mandatory`). Each message is known by the key it was sent with."""

    def __init__(self, channel):
        channel.confirm_select()
        self._next_tag = 1  # the broker numbers a confirm channel's messages from 1
        self.waiting: dict[int, object] = {}  # delivery tag -> key
        self.confirmed: set = set()
        self.nacked: set = set()
        self.returned: dict[str, str] = {}  # message id -> reason; a return comes before its ack
        channel.events["basic_ack"].add(lambda tag, multiple: self._settle(tag, multiple, self.confirmed))
        channel.events["basic_nack"].add(lambda tag, multiple: self._settle(tag, multiple, self.nacked))
        channel.events["basic_return"].add(self._returned)

    def sent(self, key) -> None:
        self.waiting[self._next_tag] = key
        self._next_tag += 1

    def forget(self) -> None:
        self.confirmed.clear()
        self.nacked.clear()
        self.returned.clear()

    def _settle(self, tag: int, multiple: bool, into: set) -> None:
        for settled in [t for t in self.waiting if t <= tag] if multiple else [tag]:
            key = self.waiting.pop(settled, None)
            if key is not None:
                into.add(key)

    def _returned(self, exception, _exchange, _routing_key, message) -> None:
        self.returned[message.properties.get("message_id")] = f"returned: {exception}"
