"""A process's feed of revocations on real RabbitMQ: it hears identity's events
on a queue of its own, every process alike, and what was revoked while the
broker was away it reads from identity's snapshot once it is back."""
import json
import uuid
from datetime import timedelta

import pika
import pytest

from devkit.helpers import wait_for
from services.common.clock import isoformat, utcnow
from services.common.revocation import SESSION_ENDED, SESSION_REVOKED, Revocations

pytestmark = pytest.mark.integration


def revoked(session_id: str) -> dict:
    return {"session_id": session_id, "until": isoformat(utcnow() + timedelta(minutes=15))}


def publish(amqp_url: str, session_id: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.exchange_declare("sferum.events", "topic", durable=True)
    envelope = {"id": str(uuid.uuid4()), "type": SESSION_REVOKED, "version": 1, "producer": "identity",
                "occurred_at": isoformat(utcnow()), "org_id": None, "correlation_id": None,
                "data": {"user_id": "u1", "reason": "logout", **revoked(session_id)}}
    channel.basic_publish("sferum.events", SESSION_REVOKED, json.dumps(envelope))
    connection.close()


def test_every_process_hears_a_revocation_and_catches_up_after_the_broker_was_away(rabbitmq_server, amqp_url):
    snapshot = {"sessions": [], "retired_keys": []}
    processes = [Revocations(lambda: snapshot) for _ in range(2)]
    for n, revocations in enumerate(processes):
        revocations.ensure_loaded()
        revocations.follow(amqp_url, f"worker-{n}")
    try:
        # Published again until heard: a feed hears only what comes after its queue is bound.
        def heard_by_all() -> bool:
            publish(amqp_url, "s-heard")
            return all(r.refusal("s-heard", None) == SESSION_ENDED for r in processes)

        # The snapshot is empty so far: only the event can have told them.
        wait_for(heard_by_all, timeout=30, interval=0.5, message="the revocation heard by every process")

        rabbitmq_server.stop()
        # Revoked while the broker was away: its event never reached the feeds.
        snapshot["sessions"].append(revoked("s-missed"))
        rabbitmq_server.start()
        wait_for(lambda: all(r.refusal("s-missed", None) == SESSION_ENDED for r in processes), timeout=60,
                 message="the snapshot read again after the feeds reconnected")
    finally:
        for revocations in processes:
            revocations.stop_following()
