"""Idempotency-Key on PostgreSQL: a phone that retries while its first request
is still running, and a key used again after its day is over."""
import json
import uuid
from datetime import timedelta

import pytest
from kombu import Connection, Queue
from support.races import while_first_is_uncommitted

from services.common.auth import Principal
from services.common.bus import realtime_exchange
from services.common.clock import utcnow
from devkit.helpers import TokensAreUserIds

pytestmark = pytest.mark.integration


class Pushes:
    """What messaging's realtime publisher sent, read from the broker it uses."""

    def __init__(self, amqp_url):
        self.connection = Connection(amqp_url)
        self.queue = Queue("observed-pushes", exchange=realtime_exchange)(self.connection.default_channel)
        self.queue.declare()

    def types(self, publisher):
        """Everything `publisher` was handed so far, once it was sent."""
        assert publisher.flush(timeout=10)
        sent = []
        while (message := self.queue.get(no_ack=True)) is not None:
            sent.append(json.loads(message.body)["type"])
        return sent


@pytest.fixture
def messaging(service_on_postgres):
    from services.messaging import chats, official
    from services.messaging.models import VerifiedTeacher

    runtime = service_on_postgres("messaging")
    runtime.app.extensions["sferum.verifier"] = TokensAreUserIds()
    runtime.student = "s" * 32
    teacher = Principal(id="t" * 32, session_id=None)
    db, service = runtime.db, runtime.service
    with runtime.connection(), db.atomic():
        official.member_joined(service, "org", teacher.id, ["teacher"], None)
        VerifiedTeacher.create(org_id="org", user_id=teacher.id)  # staff create chats once confirmed
        official.member_joined(service, "org", runtime.student, ["student"], None)
        runtime.chat = chats.create(service, teacher, "org", "group", "Кружок", [], []).id
        chats.join(service, chats.Chat.get_by_id(runtime.chat), runtime.student, role="member", via="link")
    # The setup's own pushes are out before anyone listens for the test's.
    assert runtime.realtime.flush(timeout=10)
    runtime.pushes = Pushes(runtime.settings.amqp_url)
    return runtime


def post(messaging, key, text="Я опоздаю"):
    return messaging.app.test_client().post(
        f"/api/v1/chats/{messaging.chat}/messages", json={"text": text},
        headers={"Authorization": f"Bearer {messaging.student}", "Idempotency-Key": key})


def posted_texts(messaging):
    from services.messaging.models import Message

    with messaging.connection():
        return [m.text for m in Message.select().where(Message.chat == messaging.chat).order_by(Message.seq)]


def test_a_retry_during_the_first_request_waits_and_replays_its_answer(messaging):
    key, answers = str(uuid.uuid4()), {}

    def first():
        answers["first"] = post(messaging, key)

    def retry():
        answers["retry"] = post(messaging, key)

    # The retry arrives while the first request's transaction is still open.
    while_first_is_uncommitted(messaging, first, retry)
    first_answer, retried = answers["first"], answers["retry"]
    assert first_answer.status_code == 201 and "Idempotent-Replayed" not in first_answer.headers
    assert retried.status_code == 201 and retried.headers["Idempotent-Replayed"] == "true"
    assert retried.get_json() == first_answer.get_json()
    assert posted_texts(messaging) == ["Я опоздаю"]
    # What the retry did was rolled back, and nobody heard of it.
    assert messaging.pushes.types(messaging.realtime) == ["message.created"]


def test_a_key_is_free_again_after_a_day(messaging):
    Remembered = messaging.kit.IdempotentRequest
    key = str(uuid.uuid4())
    first = post(messaging, key, "Вчера")
    assert first.status_code == 201
    with messaging.connection():
        Remembered.update(created_at=utcnow() - timedelta(hours=25)).execute()
    today = post(messaging, key, "Сегодня")
    assert today.status_code == 201 and "Idempotent-Replayed" not in today.headers
    assert today.get_json()["id"] != first.get_json()["id"]
    assert posted_texts(messaging) == ["Вчера", "Сегодня"]
    again = post(messaging, key, "Сегодня")
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == today.get_json()
    assert posted_texts(messaging) == ["Вчера", "Сегодня"]
    assert messaging.pushes.types(messaging.realtime) == ["message.created", "message.created"]


def test_a_retry_refused_now_still_gets_the_first_answer(messaging):
    from services.messaging.models import Block

    key = str(uuid.uuid4())
    first = post(messaging, key)
    assert first.status_code == 201
    # The answer was lost on the way; by the retry a moderator has blocked the student.
    with messaging.connection():
        Block.create(chat_id=messaging.chat, user_id=messaging.student, until=utcnow() + timedelta(hours=1))
    assert post(messaging, str(uuid.uuid4())).status_code == 403
    retried = post(messaging, key)
    assert retried.status_code == 201 and retried.get_json() == first.get_json()
    assert posted_texts(messaging) == ["Я опоздаю"]
