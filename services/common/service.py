"""What one service is at run time: its settings, its database, its outbox and
relay, its event consumer, its realtime publisher and its token verifier."""
from __future__ import annotations

import logging
import threading
from typing import Iterable

import peewee
from kombu import Connection

from .auth import KeySet, TokenVerifier
from .bus import EventConsumer, EventHandlers, Outbox, OutboxRelay, RealtimePublisher, is_memory
from .config import Settings
from .db import KitModels, migrate, open_database, pending_migrations

log = logging.getLogger(__name__)


class ServiceRuntime:
    def __init__(self, settings: Settings, database: peewee.DatabaseProxy, *,
                 migrations: str, handlers: EventHandlers | None = None,
                 publishes: Iterable[str] = (), keys: KeySet | None = None):
        self.name = settings.service
        self.settings = settings
        database.initialize(open_database(settings.database_url))
        self.db = database
        self.kit = KitModels(database)
        self.migrations = migrations
        self.handlers = handlers or EventHandlers()
        self.relay = OutboxRelay(self.name, database, self.kit, settings.amqp_url,
                                 poll_seconds=settings.outbox_poll_ms / 1000)
        self.outbox = Outbox(self.name, self.kit, publishes)
        self.handlers.outbox = self.outbox
        self.realtime = RealtimePublisher(settings.amqp_url)
        self.verifier = TokenVerifier(keys or KeySet.from_url(settings.jwks_url),
                                      settings.jwt_issuer, settings.jwt_audience)
        self.consumer: EventConsumer | None = None
        # Other loops of the service (jobs), each called with the stop event.
        self.background: list = []
        # Further readiness checks of the service (name -> callable raising when not ready).
        self.checks: dict = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._schema_current = False

    def migrate(self) -> list[str]:
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
                self.name, self.db, self.kit, self.handlers, s.amqp_url,
                prefetch=s.event_prefetch, max_attempts=s.event_max_attempts,
                retry_delay_ms=s.event_retry_delay_ms, after_commit=self.relay_what_was_written,
                realtime=self.realtime)
            self._spawn(f"{self.name}-consumer", self.consumer.run)
        for loop in self.background:
            self._spawn(f"{self.name}-{loop.__name__}", loop, self._stop)

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
                target(*args)
                return
            except Exception:
                log.exception("%s failed; restarting it", name)
                self._stop.wait(1.0)

    def stop_workers(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.relay.wake()
        if self.consumer is not None:
            self.consumer.stop()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

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
        if is_memory(self.settings.amqp_url):
            checks["broker"] = "ok"
        else:
            try:
                with Connection(self.settings.amqp_url, connect_timeout=2) as connection:
                    connection.ensure_connection(max_retries=1)
                checks["broker"] = "ok"
            except Exception as error:
                checks["broker"] = f"error: {error}"[:200]
        for name, check in self.checks.items():
            try:
                check()
                checks[name] = "ok"
            except Exception as error:
                checks[name] = f"error: {error}"[:200]
        if self.consumer is not None and not self.consumer.ready.is_set():
            checks["consumer"] = "connecting"
        return checks
