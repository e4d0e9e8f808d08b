"""The bus on real RabbitMQ and PostgreSQL: outbox, confirms, idempotency,
retries, dead letters, reconnection."""
import json
import threading

import pika
import pytest
from kombu import Connection

from services.common.bus import make_envelope
from services.common.outbox import BrokerUnavailable, OutboxRelay
from devkit.busnode import GOOD, POISON, BusNode, settle
from devkit.helpers import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def nodes(amqp_url, new_database):
    created = []

    def make(name, **kwargs):
        node = BusNode(name, new_database(name), amqp_url, **kwargs)
        created.append(node)
        return node

    yield make
    for node in created:
        node.close()


def pika_channel(amqp_url):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.exchange_declare("sferum.events", "topic", durable=True)
    return connection, channel


def test_broker_down_between_commit_and_publish(rabbitmq_server, nodes):
    consumer = nodes("orgstructure")
    consumer.start_consumer()
    producer = nodes("identity")
    rabbitmq_server.stop()
    try:
        producer.publish(GOOD, {"user_id": "u-a", "display_name": "A"})
        with pytest.raises(BrokerUnavailable):
            producer.relay.relay_once()
        assert len(producer.outbox_rows()) == 1, "the event must wait in the outbox"
    finally:
        rabbitmq_server.start()
    producer.start_relay()
    wait_for(lambda: consumer.effects("u-a") == 1, timeout=60, message="the event applied after the restart")
    wait_for(lambda: not producer.outbox_rows(), message="outbox emptied")
    settle(producer, consumer)
    assert consumer.effects("u-a") == 1


def test_the_same_event_twice_changes_nothing_the_second_time(amqp_url, nodes):
    consumer = nodes("orgstructure")
    consumer.start_consumer()
    envelope = make_envelope(GOOD, {"user_id": "u-b", "display_name": "B"}, producer="identity")
    connection, channel = pika_channel(amqp_url)
    for _ in range(2):
        channel.basic_publish("sferum.events", GOOD, json.dumps(envelope),
                              pika.BasicProperties(content_type="application/json", delivery_mode=2))
    connection.close()
    producer = nodes("identity")
    producer.start_relay()
    settle(producer, consumer)
    assert consumer.effects("u-b") == 1
    with consumer.db.connection_context():
        assert consumer.kit.ProcessedEvent.get_by_id(envelope["id"]).event_type == GOOD


def test_a_handler_that_always_fails_ends_in_the_dead_letter_queue(amqp_url, nodes):
    consumer = nodes("orgstructure", max_attempts=3)
    consumer.start_consumer()
    producer = nodes("identity")
    producer.start_relay()
    poison = producer.publish(POISON, {"user_id": "u-c", "org_id": "o1", "approved_by": "u-x"})
    for n in range(5):
        producer.publish(GOOD, {"user_id": f"later-{n}", "display_name": "later"})
    # Later events keep flowing while the poison one is retried.
    wait_for(lambda: all(consumer.effects(f"later-{n}") == 1 for n in range(5)), timeout=30,
             message="later events applied")
    connection, channel = pika_channel(amqp_url)

    def dead_letter():
        method, properties, body = channel.basic_get("orgstructure.dlq", auto_ack=True)
        return (method, properties, body) if method else None

    _, properties, body = wait_for(dead_letter, timeout=30, message="the poison event in orgstructure.dlq")
    connection.close()
    assert json.loads(body)["id"] == poison["id"]
    assert properties.headers["x-attempts"] == 3
    assert "always fails" in properties.headers["x-error"]
    assert properties.headers["x-original-routing-key"] in (POISON, "orgstructure")
    # Three tries; a try in a batch with other events may run the handler once
    # more, its effects undone with the batch's.
    assert consumer.calls["poison"] >= 3
    with consumer.db.connection_context():
        assert consumer.kit.ProcessedEvent.get_or_none(consumer.kit.ProcessedEvent.event_id == poison["id"]) is None


def test_events_waiting_together_are_applied_in_shared_transactions(amqp_url, nodes):
    consumer = nodes("orgstructure", max_attempts=2)
    with Connection(amqp_url) as connection:
        consumer.consumer.queues.prepare(connection)
    connection, channel = pika_channel(amqp_url)
    for n in range(20):
        # One that always fails, among them: the batch splits around it.
        event_type, data = (POISON, {"user_id": "w-x", "org_id": "o1", "approved_by": "u-x"}) if n == 7 else (
            GOOD, {"user_id": f"w-{n}", "display_name": "W"})
        envelope = make_envelope(event_type, data, producer="identity")
        channel.basic_publish("sferum.events", event_type, json.dumps(envelope),
                              pika.BasicProperties(content_type="application/json", delivery_mode=2))
    connection.close()
    consumer.start_consumer()
    producer = nodes("identity")
    producer.start_relay()
    settle(producer, consumer)
    assert all(consumer.effects(f"w-{n}") == 1 for n in range(20) if n != 7)
    assert consumer.consumer.handled_together_total >= 2
    connection, channel = pika_channel(amqp_url)
    wait_for(lambda: channel.queue_declare("orgstructure.dlq", passive=True).method.message_count == 1,
             timeout=30, message="the failing event dead-lettered")
    # Everything was acknowledged: once the consumer is gone nothing comes back.
    consumer.consumer.should_stop = True
    for thread in consumer.threads:
        thread.join(10)
    assert channel.queue_declare(consumer.consumer.queues.main.name, passive=True).method.message_count == 0
    connection.close()


def test_a_malformed_message_is_dead_lettered_not_dropped(amqp_url, nodes):
    consumer = nodes("orgstructure")
    consumer.start_consumer()
    connection, channel = pika_channel(amqp_url)
    channel.basic_publish("sferum.events", GOOD, b"{not json", pika.BasicProperties(delivery_mode=2))

    def dead_letter():
        method, properties, body = channel.basic_get("orgstructure.dlq", auto_ack=True)
        return (properties, body) if method else None

    properties, body = wait_for(dead_letter, timeout=30, message="the malformed message in the DLQ")
    connection.close()
    assert body == b"{not json" and "malformed" in properties.headers["x-error"]


def test_consumer_resumes_by_itself_after_the_broker_restarts(rabbitmq_server, amqp_url, nodes):
    consumer = nodes("orgstructure")
    consumer.start_consumer()
    rabbitmq_server.stop()
    rabbitmq_server.start()
    envelope = make_envelope(GOOD, {"user_id": "u-d", "display_name": "D"}, producer="identity")
    connection, channel = pika_channel(amqp_url)
    channel.basic_publish("sferum.events", GOOD, json.dumps(envelope),
                          pika.BasicProperties(content_type="application/json", delivery_mode=2))
    connection.close()
    wait_for(lambda: consumer.effects("u-d") == 1, timeout=60, message="applied after the restart")
    assert consumer.consumer.ready.is_set()


def test_unroutable_events_stay_in_the_outbox_until_someone_listens(amqp_url, nodes):
    producer = nodes("identity")
    producer.publish("identity.user.registered", {"user_id": "u-e", "display_name": "E"})
    assert producer.relay.relay_once() == 0
    [row] = producer.outbox_rows()
    assert row.attempts == 1 and "returned" in row.last_error
    # A queue is bound to the key: the event goes out on a later round.
    connection, channel = pika_channel(amqp_url)
    channel.queue_declare("late-listener", durable=True)
    channel.queue_bind("late-listener", "sferum.events", "identity.user.registered")
    with producer.db.connection_context():
        producer.kit.Outbox.update(next_attempt_at=row.created_at).execute()
    assert producer.relay.relay_once() == 1
    assert not producer.outbox_rows()
    method, _properties, body = channel.basic_get("late-listener", auto_ack=True)
    connection.close()
    assert json.loads(body)["data"]["user_id"] == "u-e"


def test_events_the_broker_refuses_stay_in_the_outbox_and_the_rest_go_out(amqp_url, nodes):
    """A full queue that rejects new messages makes the broker nack them: those
    wait in the outbox for a later round, the ones confirmed are gone from it,
    and the relay goes on over the same connection."""
    producer = nodes("identity")
    connection, channel = pika_channel(amqp_url)
    channel.queue_declare("small", durable=True, arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
    channel.queue_bind("small", "sferum.events", "identity.user.registered")
    sent = [producer.publish("identity.user.registered", {"user_id": f"u-{n}", "display_name": "N"})["id"]
            for n in range(5)]
    assert producer.relay.relay_once() == 2
    waiting = producer.outbox_rows()
    assert sorted(row.event_id for row in waiting) == sorted(sent[2:])
    assert all(row.attempts == 1 and "refused" in row.last_error for row in waiting)
    taken = [json.loads(channel.basic_get("small", auto_ack=True)[2])["id"] for _ in range(2)]
    assert taken == sent[:2]
    with producer.db.connection_context():
        producer.kit.Outbox.update(next_attempt_at=waiting[0].created_at).execute()
    assert producer.relay.relay_once() == 2
    assert [row.event_id for row in producer.outbox_rows()] == [sent[4]]
    connection.close()


def test_two_relays_publish_every_row_exactly_once(amqp_url, nodes, new_database):
    producer = nodes("identity")
    connection, channel = pika_channel(amqp_url)
    channel.queue_declare("tap", durable=True)
    channel.queue_bind("tap", "sferum.events", "#")
    ids = {producer.publish(GOOD, {"user_id": f"r{n}", "display_name": "r"})["id"] for n in range(300)}
    second = OutboxRelay("identity", producer.db, producer.kit, amqp_url, batch_size=20)
    producer.relay.batch_size = 20
    producer.start_relay()
    replica_stop = threading.Event()
    replica = threading.Thread(target=second.run, args=(replica_stop,), daemon=True)
    replica.start()
    wait_for(lambda: not producer.outbox_rows(), timeout=60, message="outbox drained by two relays")
    replica_stop.set()
    second.wake()
    replica.join(10)
    seen = []
    while True:
        method, _properties, body = channel.basic_get("tap", auto_ack=True)
        if method is None:
            break
        seen.append(json.loads(body)["id"])
    connection.close()
    assert len(seen) == len(set(seen)) == 300
    assert set(seen) == ids
    assert producer.relay.published_total + second.published_total == 300



def test_ops_can_list_and_replay_a_dead_letter_queue(amqp_url, nodes):
    import os
    import subprocess
    import sys

    from devkit.distributed import ROOT

    consumer = nodes("orgstructure", max_attempts=1)
    consumer.start_consumer()
    producer = nodes("identity")
    producer.start_relay()
    poison = producer.publish(POISON, {"user_id": "u-f", "org_id": "o1", "approved_by": "a"})
    connection, channel = pika_channel(amqp_url)
    wait_for(lambda: channel.queue_declare("orgstructure.dlq", passive=True).method.message_count == 1,
             timeout=30, message="one dead letter")

    def ops(action):
        env = dict(os.environ, AMQP_URL=amqp_url, SECRET_KEY="x", LOG_LEVEL="WARNING")
        return subprocess.run([sys.executable, "-m", "services", "dlq", "orgstructure", action],
                              cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout

    listed = ops("list")
    assert poison["id"] in listed and "always fails" in listed
    assert channel.queue_declare("orgstructure.dlq", passive=True).method.message_count == 1
    consumer.calls["poison"] = 0
    assert "1 message(s) replayed" in ops("replay")
    wait_for(lambda: consumer.calls["poison"] == 1, timeout=30, message="the replayed event handled again")
    wait_for(lambda: channel.queue_declare("orgstructure.dlq", passive=True).method.message_count == 1,
             timeout=30, message="back in the DLQ after failing again")
    connection.close()
