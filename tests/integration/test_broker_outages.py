"""RabbitMQ going away under the distributed platform (every service and the
gateway as gunicorn processes on real RabbitMQ and PostgreSQL): posts keep
their answers and their latency, nothing accepted is missing, and every open
socket either gets every message or is told to resync; the dead-letter tool
answers for every service."""
import importlib
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from types import SimpleNamespace

import pika
import pytest
import requests

from services.common.config import SERVICES
from devkit.distributed import ROOT, Cluster
from devkit.helpers import OPERATOR_PHONE, Api, wait_for
from support.chats import join_official
from support.school import School
from support.streams import Post, RecordedStream, covered

pytestmark = pytest.mark.integration

CONSUMING = [name for name in SERVICES if importlib.import_module(f"services.{name}.handlers").handlers.by_type]


@pytest.fixture(scope="module")
def cluster(rabbitmq_server, postgres_server, tmp_path_factory):
    amqp_url = rabbitmq_server.add_vhost(f"outages-{uuid.uuid4().hex[:8]}")
    databases = {name: postgres_server.create_database(f"o_{name}_{uuid.uuid4().hex[:8]}") for name in SERVICES}
    cluster = Cluster(amqp_url, databases, log_dir=tmp_path_factory.mktemp("logs"),
                      extra_env={"OUTBOX_POLL_MS": "50", "OPERATOR_PHONES": OPERATOR_PHONE,
                                 "OTP_PER_IP_PER_HOUR": "100000", "GATEWAY_RATE_PER_SECOND": "1000",
                                 "GATEWAY_RATE_BURST": "1000"})
    try:
        for name in SERVICES:
            if name == "messaging":  # as in production: several workers, each with its threads
                cluster.start_service(name, workers=2, threads=4)
            else:
                cluster.start_service(name)
        cluster.start_gateway("gateway")
        cluster.wait_ready(timeout=120)
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def chat(cluster):
    """The official chat of 5А: its class head, who posts, and four students
    who read it on their sockets."""
    api = Api(cluster.url("gateway"))
    school = School(None, api, "Школа перебоев", region_id=cluster.create_region("Регион перебоев"))
    readers = [school.student] + [school.invite_and_join("student", f"student {n} of 5А", unit_id=school.class_a)
                                  for n in range(3)]
    chat = join_official(api, school.head, school.org_id, "class_students", school.class_a)
    for reader in readers:
        join_official(api, reader, school.org_id, "class_students", school.class_a)
    return SimpleNamespace(api=api, id=chat["id"], author=school.head, readers=readers)


@pytest.fixture
def streams(cluster, chat):
    opened = {reader.label: RecordedStream(cluster.url("gateway"), reader.token) for reader in chat.readers}
    yield opened
    for stream in opened.values():
        stream.close()


def feed_ready(cluster) -> bool:
    return requests.get(cluster.internal_url("gateway") + "/readyz/self", timeout=5).status_code == 200


def timed_read(chat) -> float:
    started = time.perf_counter()
    response = chat.api.get(f"/chats/{chat.id}/messages", token=chat.author.token, params={"limit": 50})
    assert response.status_code == 200, response
    return time.perf_counter() - started


def post(chat, text: str) -> Post:
    return Post(text).send(chat.api, chat.author.token, chat.id, deadline=time.monotonic() + 60)


def history(chat) -> list[str]:
    texts, cursor = [], None
    while True:
        page = chat.api.get(f"/chats/{chat.id}/messages", token=chat.author.token,
                            params={"limit": 100, **({"cursor": cursor} if cursor else {})}).json
        texts += [message["text"] for message in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return texts


def until_a_post_reaches_every_socket(chat, streams: dict, label: str) -> list[Post]:
    """Posts once a second until one arrives on every socket: the pushes flow
    again. A sender that has not found the broker back yet drops its push
    (and has it covered by a resync): answers all the posts made."""
    made: list[Post] = []

    def one_arrived_everywhere():
        if made and all(stream.has(chat.id, made[-1].text) for stream in streams.values()):
            return True
        made.append(post(chat, f"{label} {len(made)}"))
        return False

    wait_for(one_arrived_everywhere, timeout=30, interval=1.0, message="a post reaching every socket again")
    return made


def assert_no_silent_gap(posts: list[Post], streams: dict, chat) -> dict:
    """Every accepted post reached every reader's socket live or is covered by
    a resync frame that came after it was sent; answers the counts."""
    counts = {"live": 0, "resync": 0}
    gaps = []
    for post_ in posts:
        for label, stream in streams.items():
            how = covered(post_, stream, chat.id)
            if how is None:
                gaps.append((post_.text, label))
            else:
                counts[how] += 1
    assert not gaps, f"{len(gaps)} silent gaps, e.g. {gaps[:5]}"
    return counts


def test_with_the_broker_stopped_posts_answer_at_once_and_reads_stay_fast(rabbitmq_server, cluster, chat, streams):
    run = uuid.uuid4().hex[:6]
    before = [post(chat, f"{run} before {n}") for n in range(10)]
    reads_before = [timed_read(chat) for _ in range(10)]
    wait_for(lambda: all(stream.has(chat.id, before[-1].text) for stream in streams.values()),
             message="the first posts on every socket")
    rabbitmq_server.stop()
    try:
        during = [post(chat, f"{run} during {n}") for n in range(20)]
        reads_during = [timed_read(chat) for _ in range(10)]
    finally:
        rabbitmq_server.start()
    # Saved posts get their real answer, on the first try and at their usual pace.
    assert [post_.tries[-1][1] for post_ in during] == [201] * 20
    assert all(len(post_.tries) == 1 for post_ in during), [post_.tries for post_ in during if len(post_.tries) > 1]
    # The usual pace is this machine's at this moment; a busy machine may make
    # one post slow, never every post as slow as a broker's retry (2 s and more).
    usual = statistics.median(post_.tries[0][0] for post_ in before)
    seconds = [post_.tries[0][0] for post_ in during]
    assert statistics.median(seconds) < 3 * usual + 0.1 and max(seconds) < 2.0, (usual, seconds)
    assert statistics.median(reads_during) < 3 * statistics.median(reads_before) + 0.1 and max(reads_during) < 2.0, (
        reads_before, reads_during)
    # The broker is back: so are the pushes, and what could not be pushed is covered.
    wait_for(lambda: feed_ready(cluster), timeout=30, message="the gateway's feed back")
    after = until_a_post_reaches_every_socket(chat, streams, f"{run} after")
    counts = assert_no_silent_gap(before + during + after, streams, chat)
    assert counts["resync"] >= 20 * len(streams), counts  # the outage's pushes could not be sent
    assert not any(stream.closed for stream in streams.values())
    texts = history(chat)
    for post_ in before + during + after:
        assert texts.count(post_.text) == 1, post_.text


def test_a_socket_open_through_a_broker_restart_under_steady_posting_misses_nothing_silently(
        rabbitmq_server, cluster, chat, streams):
    """Posting every 50 ms, as phones do (an Idempotency-Key and retries),
    while the broker stops and comes back: checked for every message on every
    socket."""
    run = uuid.uuid4().hex[:6]
    posts: list[Post] = []
    stop = threading.Event()

    def keep_posting():
        n = 0
        while not stop.is_set():
            started = time.monotonic()
            posts.append(post(chat, f"{run} steady {n}"))
            n += 1
            stop.wait(max(0.0, 0.05 - (time.monotonic() - started)))

    poster = threading.Thread(target=keep_posting, daemon=True)
    poster.start()
    try:
        wait_for(lambda: len(posts) >= 20, timeout=60, message="posts before the restart")
        rabbitmq_server.stop()
        stopped_at = len(posts)
        wait_for(lambda: len(posts) >= stopped_at + 20, timeout=60, message="posts while the broker is away")
        rabbitmq_server.start()
        wait_for(lambda: feed_ready(cluster), timeout=30, message="the gateway's feed back")
        back_at = len(posts)
        wait_for(lambda: len(posts) >= back_at + 20, timeout=60, message="posts after the restart")
    finally:
        stop.set()
        poster.join(70)
    posts += until_a_post_reaches_every_socket(chat, streams, f"{run} steady after")
    assert all(post_.accepted for post_ in posts), [post_.tries for post_ in posts if not post_.accepted]
    assert_no_silent_gap(posts, streams, chat)
    for label, stream in streams.items():
        # The gateway's feed was interrupted: each of its sockets was told so.
        assert stream.resyncs(), f"{label} never told to resync"
        assert not stream.closed, f"{label}'s socket was closed"
        # Message frames carry the chat's sequence number: a gap is visible too.
        seqs = [message["seq"] for _, message in stream.messages(chat.id)]
        assert all(isinstance(seq, int) for seq in seqs) and len(seqs) == len(set(seqs)), seqs
    texts = history(chat)
    assert [text for text in texts if text.startswith(f"{run} ")] == [post_.text for post_ in reversed(posts)]


def dead_letters(amqp_url: str, name: str, action: str = "list") -> subprocess.CompletedProcess:
    env = dict(os.environ, AMQP_URL=amqp_url, SECRET_KEY="x", LOG_LEVEL="WARNING")
    return subprocess.run([sys.executable, "-m", "services", "dlq", name, action], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_every_service_answers_the_dead_letter_tool_and_the_consuming_ones_have_their_queues(cluster):
    connection = pika.BlockingConnection(pika.URLParameters(cluster.amqp_url))
    try:
        for name in CONSUMING:
            for queue in (name, f"{name}.retry", f"{name}.dlq"):
                connection.channel().queue_declare(queue, passive=True)  # declared when the service started
    finally:
        connection.close()
    for name in SERVICES:
        for action in ("list", "replay"):
            done = dead_letters(cluster.amqp_url, name, action)
            assert done.returncode == 0, done.stderr
            if name in CONSUMING:
                assert done.stdout.strip().endswith(f"0 message(s) {action}ed from {name}.dlq"), done.stdout
            else:
                assert done.stdout.strip() == f"{name}: no dead-letter queue (this service consumes no events)"


def test_the_dead_letter_tool_says_so_when_a_service_never_consumed_on_that_broker(amqp_url):
    done = dead_letters(amqp_url, "orgstructure")
    assert done.returncode == 1
    assert "no queue orgstructure.dlq on this broker" in done.stderr and "Traceback" not in done.stderr
