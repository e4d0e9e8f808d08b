"""The transactional outbox.

- `Outbox.add` writes an event into the service's own `outbox` table, in the
  caller's database transaction.
- `OutboxRelay` publishes outbox rows to `sferum.events` with publisher confirms
  and `mandatory`, deleting a row only once the broker confirmed and routed it;
  rows that were refused, returned or never confirmed stay and are retried.
"""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
from datetime import timedelta
from typing import Iterable

import peewee
from kombu import Connection

from .bus import (EVENTS_EXCHANGE, Confirms, connect, connection_errors, events_exchange, is_memory,
                  make_envelope, node_count)
from .clock import utcnow
from .db import KitModels, Statement, is_postgres
from .metrics import UNCOUNTED, EventCounts

log = logging.getLogger(__name__)

UNROUTED_RETRY_MAX_S = 3600.0
CONFIRM_TIMEOUT_S = 30.0


class BrokerUnavailable(Exception):
    pass


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
                 poll_seconds: float = 0.2, batch_size: int = 200, counts: EventCounts = UNCOUNTED):
        self.counts = counts
        self.service = service
        self.db = db
        self.kit = kit
        self.amqp_url = amqp_url
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self._wake = threading.Event()
        self._connection: Connection | None = None
        self._confirms: Confirms | None = None
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
        self.counts.published.inc(len(published))
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
                    confirms.sent(row.id)
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
                connection.ensure_connection(max_retries=node_count(self.amqp_url))
                channel = connection.default_channel
                events_exchange(channel).declare()
                self._confirms = None if is_memory(self.amqp_url) else Confirms(channel)
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
