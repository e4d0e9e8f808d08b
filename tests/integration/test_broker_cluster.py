"""A three-node RabbitMQ cluster on this machine: under steady load through an
outbox relay and a consumer, the node both are connected to, which also leads
the service's quorum queue, is killed (SIGKILL) and later comes back. Nothing
is lost or applied twice, and relay and consumer move to the other nodes by
themselves."""
import threading
import time
from urllib.parse import quote

import pika
import pytest

from devkit.busnode import GOOD, BusNode, settle
from devkit.helpers import wait_for
from devkit.servers import RabbitMQCluster

pytestmark = pytest.mark.integration

RATE_PER_SECOND = 40


@pytest.fixture(scope="module")
def cluster():
    cluster = RabbitMQCluster(3)
    cluster.start()
    yield cluster
    cluster.close()


class SteadyLoad:
    """Writes events into the producer's outbox at a steady rate, each with a key of its own."""

    def __init__(self, producer: BusNode):
        self.producer = producer
        self.keys: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        started = time.monotonic()
        while not self._stop.is_set():
            key = f"load-{len(self.keys)}"
            self.producer.publish(GOOD, {"user_id": key, "display_name": key})
            self.keys.append(key)
            self._stop.wait(max(0.0, started + len(self.keys) / RATE_PER_SECOND - time.monotonic()))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join(10)


def test_losing_a_node_loses_and_doubles_nothing(cluster, new_database):
    first, second, _third = cluster.nodes
    producer = BusNode("identity", new_database("identity"), cluster.amqp_url)
    consumer = BusNode("orgstructure", new_database("orgstructure"), cluster.amqp_url)
    try:
        consumer.start_consumer()
        producer.start_relay()
        queue = second._api("GET", f"/queues/{quote('/', safe='')}/orgstructure").json()
        assert queue["type"] == "quorum" and len(queue["members"]) == 3
        assert queue["leader"] == first.node  # declared through the first node, which all connect to first

        with SteadyLoad(producer) as load:
            wait_for(lambda: len(load.keys) > 100 and consumer.effects(load.keys[100]) == 1, timeout=30,
                     message="the load flowing")
            first.kill()
            killed_at = len(load.keys)
            # Events written after the kill are applied while the node is still
            # down: the relay and the consumer found the other nodes.
            wait_for(lambda: len(load.keys) > killed_at + 2 * RATE_PER_SECOND, timeout=30,
                     message="two seconds of load after the kill")
            after_kill = load.keys[killed_at + 2 * RATE_PER_SECOND]
            wait_for(lambda: consumer.effects(after_kill) == 1, timeout=60,
                     message="an event written after the kill applied on the remaining nodes")
            first.start()
            back_at = len(load.keys)
            wait_for(lambda: len(load.keys) > back_at + 3 * RATE_PER_SECOND, timeout=30,
                     message="load after the node came back")
        settle(producer, consumer)

        with consumer.db.connection_context():
            applied = [effect.key for effect in consumer.Effect.select()]
        counts = {}
        for key in applied:
            counts[key] = counts.get(key, 0) + 1
        lost = [key for key in load.keys if key not in counts]
        doubled = [key for key, count in counts.items() if count > 1]
        assert (lost, doubled) == ([], []), f"{len(load.keys)} written"
        assert producer.outbox_rows() == []
        connection = pika.BlockingConnection(pika.URLParameters(second.amqp_url))
        assert connection.channel().queue_declare("orgstructure.dlq", passive=True).method.message_count == 0
        connection.close()
        print(f"cluster: {len(load.keys)} events written, node killed after {killed_at}, back after {back_at}, "
              f"0 lost, 0 duplicated")
    finally:
        producer.close()
        consumer.close()
