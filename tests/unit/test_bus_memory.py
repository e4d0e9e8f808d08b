"""The same bus code on the embedded mode's in-memory transport and SQLite."""
import pytest

from services.common.testing.busnode import GOOD, POISON, BusNode, settle
from services.common.testing.helpers import reset_memory_bus, wait_for


@pytest.fixture
def nodes(tmp_path):
    reset_memory_bus()
    created = []

    def make(name, **kwargs):
        node = BusNode(name, f"sqlite:///{tmp_path / name}.db", "memory://", **kwargs)
        created.append(node)
        return node

    yield make
    for node in created:
        node.close()
    reset_memory_bus()


def test_outbox_to_consumer_applies_each_event_once(nodes):
    consumer = nodes("orgstructure")
    consumer.start_consumer()
    producer = nodes("identity")
    producer.start_relay()
    for n in range(20):
        producer.publish(GOOD, {"user_id": f"m{n}", "display_name": "m"})
    settle(producer, consumer)
    assert all(consumer.effects(f"m{n}") == 1 for n in range(20))
    wait_for(lambda: not producer.outbox_rows(), message="outbox emptied")


def test_failing_handler_is_retried_then_dead_lettered(nodes):
    consumer = nodes("orgstructure", max_attempts=2)
    consumer.start_consumer()
    producer = nodes("identity")
    producer.start_relay()
    producer.publish(POISON, {"user_id": "p", "org_id": "o", "approved_by": "a"})
    settle(producer, consumer)
    wait_for(lambda: consumer.calls["poison"] == 2, message="two tries")
    from kombu import Connection
    with Connection("memory://") as connection:
        dead = connection.SimpleQueue("orgstructure.dlq")
        message = dead.get(timeout=5)
        assert message.headers["x-attempts"] == 2
        message.ack()
        dead.close()
