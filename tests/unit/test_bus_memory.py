"""The same bus code on the embedded mode's in-memory transport and SQLite."""
from collections import Counter

import pytest
from kombu import Connection

from devkit.busnode import GATHERED, GOOD, POISON, BusNode, settle
from devkit.helpers import phone, reset_memory_bus, wait_for
from services.orgstructure.models import KnownUser


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
    assert_dead_lettered_after(2)


def assert_dead_lettered_after(tries: int) -> None:
    with Connection("memory://") as connection:
        dead = connection.SimpleQueue("orgstructure.dlq")
        message = dead.get(timeout=15)
        assert message.headers["x-attempts"] == tries
        assert message.headers["x-error"] == "RuntimeError('this handler always fails')"
        message.ack()
        dead.close()


def test_events_that_arrive_together_are_applied_together_and_a_failing_one_alone(nodes):
    """Five events wait in the queue before the consumer starts: the first batch
    fails on the second event, which is retried alone; the events before and
    after it are applied, those after it together in one transaction."""
    consumer = nodes("orgstructure", max_attempts=2)
    with Connection("memory://") as connection:
        consumer.consumer.queues.prepare(connection)
    producer = nodes("identity")
    producer.publish(GOOD, {"user_id": "m0", "display_name": "m"})
    producer.publish(POISON, {"user_id": "p", "org_id": "o", "approved_by": "a"})
    for n in (1, 2, 3):
        producer.publish(GOOD, {"user_id": f"m{n}", "display_name": "m"})
    producer.start_relay()
    wait_for(lambda: not producer.outbox_rows(), message="all five in the queue")
    consumer.start_consumer()
    settle(producer, consumer)
    assert [consumer.effects(f"m{n}") for n in range(4)] == [1, 1, 1, 1]
    assert consumer.consumer.handled_together_total >= 3
    assert_dead_lettered_after(2)


def queued_before_the_consumer_starts(consumer, producer, events):
    with Connection("memory://") as connection:
        consumer.consumer.queues.prepare(connection)
    for event_type, user_id in events:
        producer.publish(event_type, {"user_id": user_id, "display_name": "m", "erase_at": "2026-12-01T00:00:00Z"})
    producer.start_relay()
    wait_for(lambda: not producer.outbox_rows(), message="all in the queue")


def test_consecutive_gathered_events_are_handled_together_in_their_place(nodes):
    consumer, producer = nodes("orgstructure"), nodes("identity")
    queued_before_the_consumer_starts(consumer, producer, [
        (GATHERED, "g1"), (GOOD, "m1"), (GATHERED, "g2"), (GATHERED, "g3"), (GOOD, "m2")])
    consumer.start_consumer()
    settle(producer, consumer)
    assert consumer.gathered_batches == [["g1"], ["g2", "g3"]]
    assert consumer.order[:5] == ["g1", "m1", "g2", "g3", "m2"]
    assert [consumer.effects(key) for key in ("g1", "g2", "g3", "m1", "m2")] == [1, 1, 1, 1, 1]
    assert consumer.consumer.handled_together_total >= 5


def test_a_failing_gathered_batch_is_handled_event_by_event(nodes):
    """The gathering handler cannot say which event it failed on: each event
    of the batch is handled alone, the good ones applied once, the bad one
    retried and dead-lettered."""
    consumer, producer = nodes("orgstructure", max_attempts=2), nodes("identity")
    queued_before_the_consumer_starts(consumer, producer, [
        (GOOD, "m1"), (GATHERED, "g1"), (GATHERED, "bad"), (GATHERED, "g2")])
    consumer.start_consumer()
    settle(producer, consumer)
    assert consumer.gathered_batches[0] == ["g1", "bad", "g2"]
    assert ["g1"] in consumer.gathered_batches and ["g2"] in consumer.gathered_batches
    assert [consumer.effects(key) for key in ("g1", "g2", "m1")] == [1, 1, 1]
    with Connection("memory://") as connection:
        dead = connection.SimpleQueue("orgstructure.dlq")
        message = dead.get(timeout=15)
        assert message.headers["x-attempts"] == 2
        assert message.headers["x-error"] == "RuntimeError('this batch always fails')"
        message.ack()
        dead.close()
    assert consumer.effects("bad") == 0


def test_the_relay_is_woken_by_a_commit_that_wrote_events_and_by_nothing_else(embedded_with, monkeypatch):
    """Reading, and a consumer's transaction that published nothing, cost the
    database no relay round; a sign-in that registers a user is relayed at
    once, though the relays poll only every ten minutes."""
    platform = embedded_with(OUTBOX_POLL_MS="600000")
    wakes = Counter()
    for name in ("identity", "orgstructure"):
        relay = platform.apps[name].extensions["sferum"].relay
        monkeypatch.setattr(relay, "wake", lambda name=name, wake=relay.wake: (wakes.update([name]), wake()))
    orgstructure = platform.apps["orgstructure"].extensions["sferum"]

    def known(user_id):
        with orgstructure.connection():
            return KnownUser.get_or_none(KnownUser.user_id == user_id)

    tokens = platform.api.sign_in(phone(11))  # identity.user.registered
    wait_for(lambda: known(tokens["user"]["id"]), message="orgstructure learnt of the new user")
    woken = wakes["identity"]
    assert woken >= 1
    for _ in range(3):
        assert platform.api.get("/me", token=tokens["access_token"]).status_code == 200
    assert wakes["identity"] == woken
    # orgstructure's consumer handles one event at a time: once the second
    # user is known, whatever followed the first one's commit has run.
    second = platform.api.sign_in(phone(12))
    wait_for(lambda: known(second["user"]["id"]), message="orgstructure learnt of the second user")
    assert wakes["orgstructure"] == 0
