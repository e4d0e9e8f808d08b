"""What one service is at run time: its settings, its database, its outbox and
relay, its event consumer, its realtime publisher and its token verifier.

`Service` is the small part of it that domain code and event handlers are
handed; `ServiceRuntime` builds it and runs the loops around it. Each app (or
worker) of a service builds its own: two apps of one service in one process
share nothing."""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable

import peewee
from kombu import Connection

from . import settling
from .auth import TokenVerifier, Trust
from .bus import is_memory, node_count
from .cache import Recent
from .metrics import EventCounts, Metrics
from .consumer import EventConsumer, EventHandlers
from .outbox import Outbox, OutboxRelay
from .realtime import RealtimePublisher
from .config import Settings
from .db import KitModels, ServiceDatabase, migrate, open_database, pending_migrations

log = logging.getLogger(__name__)

BROKER_CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class Service:
    """One service instance as its domain code and handlers see it: the
    database its models are bound to for the current unit of work, the outbox
    its changes write events into, and its realtime publisher."""
    name: str
    db: peewee.Database
    outbox: Outbox
    realtime: RealtimePublisher
    # The service's own settings, read once at start-up (e.g. moderation's objection window).
    config: Any = None

    def push(self, recipients: Iterable[str], event_type: str, data: dict) -> None:
        """A realtime frame to these users, sent once the transaction committed."""
        self.realtime.publish(recipients, event_type, data)

    def announce(self, *keys: str) -> None:
        """These facts just changed, and other services will hear of them by
        events: the gateways ask again while a refusal lacks them (settling.py)."""
        self.realtime.announce(keys)

    def withdraw(self, *keys: str) -> None:
        """These facts ended (the person left): nothing waits for them any more."""
        self.realtime.announce(settling.withdrawn(key) for key in keys)


class ServiceRuntime:
    def __init__(self, settings: Settings, models_db: ServiceDatabase, *,
                 migrations: str, handlers: EventHandlers | None = None,
                 publishes: Iterable[str] = (), trust: Trust | None = None, config: Any = None):
        self.name = settings.service
        self.settings = settings
        self.db = open_database(settings.database_url)  # this instance's own
        self.models_db = models_db
        self.kit = KitModels(self.db)
        self.migrations = migrations
        self.handlers = handlers or EventHandlers()
        self.metrics = Metrics()
        self.events = EventCounts.of(self.metrics, self.name)
        self.relay = OutboxRelay(self.name, self.db, self.kit, settings.amqp_url,
                                 poll_seconds=settings.outbox_poll_ms / 1000, counts=self.events)
        self.outbox = Outbox(self.name, self.kit, publishes)
        self.realtime = RealtimePublisher(settings.amqp_url)
        self.service = Service(self.name, self.db, self.outbox, self.realtime, config)
        self.trust = trust or Trust.from_jwks_url(settings.jwks_url)
        self.verifier = TokenVerifier(self.trust, settings.jwt_issuer, settings.jwt_audience)
        self._follows_revocations = False
        self.consumer: EventConsumer | None = None
        # Other loops of the service (jobs), each called with the stop event.
        self.background: list = []
        # Further readiness checks of the service (name -> callable raising when not ready).
        self.checks: dict = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._schema_current = False
        # Each probe opens a connection to the broker: one every few seconds
        # answers every readiness check in between.
        self._broker_state = Recent(self._probe_broker, BROKER_CHECK_SECONDS)

    def bound(self):
        """This instance's database behind the service's models, for one unit
        of work (a request, a batch of events, a job) in this thread."""
        return self.models_db.bind(self.db)

    @contextmanager
    def connection(self):
        """Bound, with a connection open: for work outside a request or handler."""
        with self.bound(), self.db.connection_context():
            yield self.db

    def migrate(self) -> list[str]:
        with self.bound():
            applied = migrate(self.db, self.kit, self.migrations)
        self._schema_current = True
        return applied

    def start_workers(self, relay: bool = True, consumer: bool = True) -> None:
        """The outbox relay and the event consumer, as daemon threads (greenlets
        under gevent). Idempotent."""
        if self._threads:
            return
        self._stop.clear()
        if relay:
            self._spawn(f"{self.name}-relay", self.relay.run, self._stop)
        if consumer and self.handlers.by_type:
            s = self.settings
            self.consumer = EventConsumer(
                self.service, self.kit, self.handlers, s.amqp_url,
                prefetch=s.event_prefetch, max_attempts=s.event_max_attempts,
                retry_delay_ms=s.event_retry_delay_ms, delivery_limit=s.event_delivery_limit,
                after_commit=self.relay_what_was_written,
                counts=self.events)
            self._spawn(f"{self.name}-consumer", self.consumer.run)
        for loop in self.background:
            self._spawn(f"{self.name}-{loop.__name__}", loop, self._stop)

    def follow_revocations(self) -> None:
        """This process hears of every session and key identity takes back:
        each process that verifies tokens (a web worker, whether or not it runs
        the service's workers) needs it; a worker-only process does not."""
        self.trust.revocations.follow(self.settings.amqp_url, self.name)
        self._follows_revocations = True

    def relay_what_was_written(self) -> None:
        """Called after a commit: events this thread wrote are relayed at once
        instead of at the next poll; a commit that wrote none costs the
        database no relay round."""
        if self.outbox.take_written():
            self.relay.wake()

    def _spawn(self, name: str, target, *args) -> None:
        thread = threading.Thread(target=self._guard, args=(name, target, *args), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _guard(self, name: str, target, *args) -> None:
        """A worker that fails unexpectedly is restarted, never left dead."""
        while not self._stop.is_set():
            try:
                with self.bound():
                    target(*args)
                return
            except Exception:
                log.exception("%s failed; restarting it", name)
                self._stop.wait(1.0)

    def ask_workers_to_stop(self) -> None:
        """Without waiting: a consumer notices at its next poll (up to a second
        on the in-memory bus), so several services asked first stop together."""
        if self._follows_revocations:
            self.trust.revocations.stop_following()
            self._follows_revocations = False
        self._stop.set()
        self.relay.wake()
        if self.consumer is not None:
            self.consumer.stop()

    def stop_workers(self, timeout: float = 5.0) -> None:
        self.ask_workers_to_stop()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        self.realtime.close(timeout)

    def readiness(self) -> dict[str, str]:
        checks = {}
        try:
            with self.db.connection_context():
                self.db.execute_sql("SELECT 1")
                if not self._schema_current:
                    if pending_migrations(self.db, self.kit, self.migrations):
                        raise RuntimeError("migrations pending")
                    self._schema_current = True
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"error: {error}"[:200]
        checks["broker"] = self._broker_state.get()
        for name, check in self.checks.items():
            try:
                check()
                checks[name] = "ok"
            except Exception as error:
                checks[name] = f"error: {error}"[:200]
        if self.consumer is not None and not self.consumer.ready.is_set():
            checks["consumer"] = "connecting"
        return checks

    def _probe_broker(self) -> str:
        if is_memory(self.settings.amqp_url):
            return "ok"
        try:
            with Connection(self.settings.amqp_url, connect_timeout=2) as connection:
                connection.ensure_connection(max_retries=node_count(self.settings.amqp_url))
            return "ok"
        except Exception as error:
            return f"error: {error}"[:200]
