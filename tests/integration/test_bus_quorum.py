"""Quorum queues on one RabbitMQ node: what they are declared with, the
delivery limit against an event that kills its consumer, and the classic
queues of an earlier version replaced under a running consumer."""
import json
import subprocess
import sys
from urllib.parse import quote, unquote, urlsplit

import pika
import pytest
from kombu import Connection

from services.common.bus import make_envelope
from devkit.busnode import GOOD, BusNode, settle
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


def queue_info(rabbitmq_server, amqp_url, name):
    vhost = unquote(urlsplit(amqp_url).path[1:])
    return rabbitmq_server._api("GET", f"/queues/{quote(vhost, safe='')}/{quote(name, safe='')}").json()


def queue_names(rabbitmq_server, amqp_url):
    vhost = unquote(urlsplit(amqp_url).path[1:])
    return {queue["name"] for queue in rabbitmq_server._api("GET", f"/queues/{quote(vhost, safe='')}").json()}


def publish(channel, user_id):
    envelope = make_envelope(GOOD, {"user_id": user_id, "display_name": user_id}, producer="identity")
    channel.basic_publish("sferum.events", GOOD, json.dumps(envelope),
                          pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                               message_id=envelope["id"]))
    return envelope


def test_a_services_queues_are_quorum_queues_with_a_delivery_limit(rabbitmq_server, amqp_url, nodes):
    nodes("orgstructure", delivery_limit=7).start_consumer()
    main = queue_info(rabbitmq_server, amqp_url, "orgstructure")
    assert main["type"] == "quorum"
    assert main["arguments"]["x-delivery-limit"] == 7
    assert main["arguments"]["x-dead-letter-strategy"] == "at-least-once"
    assert main["arguments"]["x-single-active-consumer"] is True
    for name in ("orgstructure.retry", "orgstructure.dlq"):
        assert queue_info(rabbitmq_server, amqp_url, name)["type"] == "quorum"


def test_an_event_whose_consumer_dies_holding_it_again_and_again_ends_in_the_dead_letters(amqp_url, nodes):
    consumer = nodes("orgstructure", delivery_limit=2)
    with Connection(amqp_url) as connection:
        consumer.consumer.queues.prepare(connection)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    envelope = publish(connection.channel(), "killer")
    connection.close()

    def dies_holding_it():
        # A consumer that takes the event and dies before settling it, as a
        # process killed by the event would.
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        method, _properties, _body = next(connection.channel().consume("orgstructure", inactivity_timeout=2))
        connection.close()
        return method is None

    wait_for(dies_holding_it, timeout=30, interval=0.2, message="the event taken from its queue")
    listed = wait_for(lambda: [line for line in subprocess.run(
        [sys.executable, "-m", "services", "dlq", "orgstructure", "list"], env={"AMQP_URL": amqp_url, "PATH": ""},
        capture_output=True, text=True, check=True).stdout.splitlines() if line.startswith("{")],
        timeout=30, interval=0.5, message="the event in orgstructure.dlq")
    assert [(entry["id"], entry["error"]) for entry in map(json.loads, listed)] == [
        (envelope["id"], "delivery_limit in orgstructure")]
    # Handed back to the service, it is applied once.
    subprocess.run([sys.executable, "-m", "services", "dlq", "orgstructure", "replay"],
                   env={"AMQP_URL": amqp_url, "PATH": ""}, capture_output=True, check=True)
    consumer.start_consumer()
    wait_for(lambda: consumer.effects("killer") == 1, timeout=30, message="the replayed event applied")


def declare_as_an_earlier_version(channel):
    """The classic queues of orgstructure as versions before quorum queues declared them."""
    for exchange, kind in (("sferum.events", "topic"), ("sferum.dlx", "direct"), ("sferum.retry", "direct")):
        channel.exchange_declare(exchange, kind, durable=True)
    channel.queue_declare("orgstructure", durable=True, arguments={
        "x-dead-letter-exchange": "sferum.dlx", "x-dead-letter-routing-key": "orgstructure",
        "x-single-active-consumer": True})
    channel.queue_bind("orgstructure", "sferum.events", GOOD)
    channel.queue_bind("orgstructure", "sferum.retry", "orgstructure")
    channel.queue_declare("orgstructure.retry", durable=True, arguments={
        "x-dead-letter-exchange": "sferum.retry", "x-dead-letter-routing-key": "orgstructure"})
    channel.queue_bind("orgstructure.retry", "sferum.retry", "orgstructure.delay")
    channel.queue_declare("orgstructure.dlq", durable=True)
    channel.queue_bind("orgstructure.dlq", "sferum.dlx", "orgstructure")


def test_classic_queues_of_an_earlier_version_give_way_without_losing_or_reordering_events(
        rabbitmq_server, amqp_url, nodes):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    declare_as_an_earlier_version(channel)
    waiting = [publish(channel, f"old-{n}") for n in range(30)]
    channel.basic_publish("sferum.dlx", "orgstructure", json.dumps(waiting[0]), pika.BasicProperties(
        delivery_mode=2, message_id="dead", headers={"x-error": "failed long ago"}))
    connection.close()

    consumer = nodes("orgstructure")
    producer = nodes("identity")
    producer.start_relay()
    consumer.start_consumer()
    for n in range(30):  # published while the queues are replaced
        producer.publish(GOOD, {"user_id": f"new-{n}", "display_name": "new"})
    settle(producer, consumer)
    wait_for(lambda: "orgstructure.migrating" not in queue_names(rabbitmq_server, amqp_url), timeout=60,
             message="the interim queue drained and deleted")
    settle(producer, consumer, "after the move")

    with consumer.db.connection_context():
        applied = [effect.key for effect in consumer.Effect.select().order_by(consumer.Effect.id)]
    expected = [f"old-{n}" for n in range(30)] + [f"new-{n}" for n in range(30)] + ["marker", "after the move"]
    assert applied == expected  # each once, in the order published
    for name in ("orgstructure", "orgstructure.retry", "orgstructure.dlq"):
        assert queue_info(rabbitmq_server, amqp_url, name)["type"] == "quorum"
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    assert connection.channel().queue_declare("orgstructure.dlq", passive=True).method.message_count == 1
    connection.close()
    assert not {"orgstructure.retry.migrating", "orgstructure.dlq.migrating"} & queue_names(rabbitmq_server,
                                                                                                amqp_url)


def test_a_changed_delivery_limit_replaces_the_queue_with_its_events(rabbitmq_server, amqp_url, nodes):
    first = nodes("orgstructure", delivery_limit=20)
    with Connection(amqp_url) as connection:
        first.consumer.queues.prepare(connection)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    for n in range(10):
        publish(channel, f"waiting-{n}")
    connection.close()
    consumer = nodes("orgstructure", delivery_limit=5)
    consumer.start_consumer()
    wait_for(lambda: "orgstructure.migrating" not in queue_names(rabbitmq_server, amqp_url)
             and queue_info(rabbitmq_server, amqp_url, "orgstructure")["arguments"]["x-delivery-limit"] == 5,
             timeout=60, interval=0.5, message="the queue replaced with the new limit")
    assert all(consumer.effects(f"waiting-{n}") == 1 for n in range(10))
