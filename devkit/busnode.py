"""A minimal producer or consumer built from the bus kit alone, for testing
the kit itself on any database and broker."""
import threading

import peewee

from services.common.consumer import EventConsumer, EventHandlers
from services.common.outbox import Outbox, OutboxRelay
from services.common.db import KitModels, open_database
from services.common.realtime import RealtimePublisher
from services.common.service import Service
from devkit.helpers import wait_for

GOOD = "identity.user.updated"
POISON = "identity.teacher.verified"
# Handled a transaction's worth at a time (EventHandlers.gathered); a batch
# holding a user id that starts with "bad" fails.
GATHERED = "identity.user.erasure_requested"


class BusNode:
    """One side of the bus with its own PostgreSQL database: a producer with an
    outbox and relay, or a consumer whose handler records its effects."""

    def __init__(self, name, database_url, amqp_url, max_attempts=3, delivery_limit=20):
        self.name = name
        self.db = open_database(database_url)
        self.kit = KitModels(self.db)

        class Effect(peewee.Model):
            key = peewee.CharField()  # deliberately not unique: a double effect would show

            class Meta:
                database = self.db
                table_name = "effects"

        self.Effect = Effect
        with self.db.connection_context():
            self.db.create_tables(self.kit.tables + [Effect])
        self.outbox = Outbox(name, self.kit, [GOOD, POISON, GATHERED, "identity.user.registered"])
        self.relay = OutboxRelay(name, self.db, self.kit, amqp_url, poll_seconds=0.05)
        self.calls = {"poison": 0}
        self.gathered_batches: list[list[str]] = []  # the user ids of each call, committed or not
        self.order: list[str] = []  # the user ids as the handlers saw them, committed or not
        handlers = EventHandlers()

        @handlers.on(GOOD)
        def record(service, event):
            self.order.append(event["data"]["user_id"])
            Effect.create(key=event["data"]["user_id"])

        @handlers.on(POISON)
        def always_fails(service, event):
            self.calls["poison"] += 1
            raise RuntimeError("this handler always fails")

        @handlers.gathered(GATHERED)
        def gather(service, events):
            users = [event["data"]["user_id"] for event in events]
            self.gathered_batches.append(users)
            self.order.extend(users)
            Effect.insert_many([{"key": user} for user in users]).execute()
            if any(user.startswith("bad") for user in users):
                raise RuntimeError("this batch always fails")

        service = Service(name, self.db, self.outbox, RealtimePublisher(amqp_url))
        self.consumer = EventConsumer(service, self.kit, handlers, amqp_url, prefetch=8,
                                      max_attempts=max_attempts, retry_delay_ms=200,
                                      delivery_limit=delivery_limit)
        self.stop = threading.Event()
        self.threads = []

    def start_consumer(self):
        self._spawn(self.consumer.run)
        wait_for(self.consumer.ready.is_set, timeout=30, message=f"{self.name} consumer ready")

    def start_relay(self):
        self._spawn(self.relay.run, self.stop)

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)

    def effects(self, key):
        with self.db.connection_context():
            return self.Effect.select().where(self.Effect.key == key).count()

    def outbox_rows(self):
        with self.db.connection_context():
            return list(self.kit.Outbox.select())

    def publish(self, event_type, data):
        with self.db.connection_context():
            with self.db.atomic():
                return self.outbox.add(event_type, data)

    def close(self):
        self.stop.set()
        self.relay.wake()
        self.consumer.should_stop = True
        for thread in self.threads:
            thread.join(10)
        self.db.close()


def settle(producer: BusNode, consumer: BusNode, label: str = "marker") -> None:
    """Publish a marker after everything else and wait until it is applied: the
    queue is FIFO, so whatever came before it has been handled by then."""
    producer.publish(GOOD, {"user_id": label, "display_name": label})
    wait_for(lambda: consumer.effects(label) == 1, timeout=60, message=f"{label} applied")
