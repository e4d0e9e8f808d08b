"""Realtime pushes when the broker is away or slow: handing a push over never
waits for the broker, and a push that cannot be sent is never lost silently."""
import json
import logging
import socket
import time

from kombu import Connection, Queue

from devkit.helpers import phone, reset_memory_bus, wait_for
from devkit.servers import free_port
from services.common.bus import realtime_exchange
from services.common.realtime import RESYNC, LostPushes, RealtimePublisher


def test_pushes_never_wait_for_an_unreachable_broker_and_their_recipients_are_noted(caplog):
    publisher = RealtimePublisher(f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    try:
        with caplog.at_level(logging.WARNING, logger="services.common.realtime"):
            started = time.perf_counter()
            for n in range(200):
                publisher.publish([f"u{n % 5}", "teacher"], "message.created", {"n": n})
            elapsed = time.perf_counter() - started
            wait_for(lambda: publisher.lost.dropped_total == 200, message="every push counted as dropped")
        # Each waited about 2 s for the broker before: 400 s in all.
        assert elapsed < 5, f"200 pushes took {elapsed:.2f}s to hand over"
        assert publisher.broker_down
        assert any("dropped" in record.getMessage() for record in caplog.records)
        assert publisher.lost.take() == [["teacher", "u0", "u1", "u2", "u3", "u4"]]
        assert publisher.sent_total == 0
    finally:
        publisher.close()


def test_a_broker_that_never_answers_holds_up_no_push_and_only_so_many_wait():
    """A broker that takes the connection and says nothing (a hung node): the
    sender waits for it, pushes beyond `max_queued` are dropped at once."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    publisher = RealtimePublisher(f"amqp://guest:guest@127.0.0.1:{silent.getsockname()[1]}/", max_queued=3)
    try:
        started = time.perf_counter()
        for n in range(10):
            publisher.publish([f"u{n}"], "message.created", {"n": n})
        assert time.perf_counter() - started < 2  # a hung broker held each push for its whole timeout
        assert publisher.lost.dropped_total == 7
        # The three that waited are dropped too once the connection gives up.
        wait_for(lambda: publisher.lost.dropped_total == 10, timeout=20, message="the waiting pushes dropped")
        assert publisher.lost.take() == [[f"u{n}" for n in range(10)]]
    finally:
        publisher.close()
        silent.close()


def test_too_many_users_who_missed_pushes_are_resynced_all_at_once():
    lost = LostPushes(limit=3)
    lost.add(["a", "b"], "test")
    assert lost.take() == [["a", "b"]]
    assert lost.take() == []
    lost.add(["a", "b"], "test")
    lost.add(["c", "d"], "test")
    assert lost.take() == [None]
    lost.add(None, "test", dropped=0)
    lost.add(["e"], "test")
    assert lost.take() == [None]
    assert lost.dropped_total == 4


def test_the_answer_stands_and_the_teardown_finishes_whatever_the_pushes_do(identity_app, monkeypatch):
    """The request's transaction committed: a failure handing its pushes over
    neither takes its answer away nor keeps its connection from closing or
    the outbox relay from being woken."""
    runtime = identity_app.extensions["sferum"]

    def refused(send):
        raise ConnectionRefusedError(111, "Connection refused")

    woken = []
    monkeypatch.setattr(runtime.realtime, "release", refused)
    monkeypatch.setattr(runtime, "relay_what_was_written", lambda: woken.append(True))
    response = identity_app.test_client().post("/api/v1/auth/otp", json={"phone": phone(4242)})
    assert response.status_code == 202, response.get_json()
    assert runtime.db.is_closed()
    assert woken == [True]


def test_closing_sends_what_waits_first():
    reset_memory_bus()
    with Connection("memory://") as connection:
        observed = Queue("observed", exchange=realtime_exchange)(connection.default_channel)
        observed.declare()
        publisher = RealtimePublisher("memory://")
        for n in range(50):
            publisher.publish([f"u{n}"], "message.created", {"n": n})
        publisher.close()
        sent = []
        while (message := observed.get(no_ack=True)) is not None:
            sent.append(json.loads(message.body)["data"]["n"])
    assert sent == list(range(50))
    assert publisher.sent_total == 50 and publisher.lost.dropped_total == 0


def test_a_publisher_closed_while_the_broker_was_away_finds_it_again():
    reset_memory_bus()
    port = free_port()
    publisher = RealtimePublisher(f"amqp://guest:guest@127.0.0.1:{port}/")
    publisher.publish(["u1"], "message.created", {"n": 1})
    wait_for(lambda: publisher.broker_down, message="the broker found unreachable")
    publisher.close(timeout=1)
    publisher.amqp_url = "memory://"  # the broker is back (here: one that is always there)
    with Connection("memory://") as connection:
        observed = Queue("observed", exchange=realtime_exchange)(connection.default_channel)
        observed.declare()
        publisher.publish(["u2"], "message.created", {"n": 2})
        wait_for(lambda: not publisher.broker_down, message="a new sender connected")
        assert publisher.flush(timeout=5)
        bodies = []
        while (message := observed.get(no_ack=True)) is not None:
            bodies.append(json.loads(message.body))
    publisher.close()
    resynced = {user for body in bodies if body["type"] == RESYNC for user in body["recipients"]}
    delivered = [body["data"]["n"] for body in bodies if body["type"] == "message.created"]
    # u1's push was dropped while the broker was away; u2's went out, or was
    # dropped too if it came before the new sender found the broker.
    assert "u1" in resynced and (delivered == [2] or (delivered == [] and "u2" in resynced)), bodies
