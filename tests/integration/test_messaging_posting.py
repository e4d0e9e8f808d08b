"""Posting on PostgreSQL, where the platform's busiest request runs its own
hand-written statements: what the author and the members see, who may post,
and message numbers that stay consecutive when many post into one chat at once."""
import threading
from dataclasses import replace
from datetime import timedelta

import pytest

from services.common.auth import Principal
from services.common.clock import utcnow
from services.common.errors import Conflict, Forbidden, NotFound

pytestmark = pytest.mark.integration


class Recorder:
    """Stands in for the realtime publisher: who would have been pushed what."""

    def __init__(self):
        self.pushes = []

    def publish(self, recipients, event_type, data):
        self.pushes.append((sorted(recipients), event_type, data))

    def announce(self, keys):
        """Facts announced to the gateways are not what these tests look at."""


@pytest.fixture
def messaging(service_on_postgres):
    runtime = service_on_postgres("messaging")
    runtime.recorder = Recorder()
    # What the tests hand the domain code: the service with the recorder for its pushes.
    runtime.service = replace(runtime.service, realtime=runtime.recorder)
    return runtime


def person(n: int) -> Principal:
    return Principal(id=f"{n:032d}", session_id=None)


def test_what_a_post_shows_and_whom_it_reaches(messaging):
    from services.messaging import chats, messages, official
    from services.messaging.models import Block, Person, VerifiedTeacher

    db, service = messaging.db, messaging.service
    teacher, student, leaver, outsider = person(1), person(2), person(3), person(4)
    with messaging.connection(), db.atomic():
        for user, roles in ((teacher, ["teacher"]), (student, ["student"]), (leaver, ["student"]),
                            (outsider, ["student"])):
            official.member_joined(service, "org", user.id, roles, None)
        Person.create(user_id=teacher.id, display_name="Анна Петровна")
        VerifiedTeacher.create(org_id="org", user_id=teacher.id)
        chat = chats.create(service, teacher, "org", "group", "Кружок", [], [])
        for user in (student, leaver):
            chats.join(service, chat, user.id, role="member", via="link")
        chats.leave(service, leaver, chat.id)

    with messaging.connection():
        shown = messages.post(service, teacher, chat.id, "  Завтра экскурсия  ", [], None)
        assert shown["author"] == {"id": teacher.id, "display_name": "Анна Петровна", "teacher_verified": True}
        assert (shown["text"], shown["seq"], shown["kind"]) == ("Завтра экскурсия", 1, "text")
        reply = messages.post(service, student, chat.id, "Ура", [], shown["id"])
        assert reply["author"] == {"id": student.id, "display_name": "", "teacher_verified": False}
        assert reply["reply_to"] == shown["id"] and reply["seq"] == 2
        recipients, event_type, data = messaging.recorder.pushes[-1]
        assert recipients == sorted([teacher.id, student.id]) and event_type == "message.created"
        assert data == reply
        history = messages.history(student, chat.id, 50, None)["items"]
        assert [m["text"] for m in history] == ["Ура", "Завтра экскурсия"]
        assert history[1]["author"] == shown["author"]

        for user in (leaver, outsider):
            with pytest.raises(NotFound):
                messages.post(service, user, chat.id, "Привет", [], None)
        with db.atomic():
            Block.create(chat_id=chat.id, user_id=student.id, until=utcnow() + timedelta(hours=1))
        with pytest.raises(Forbidden) as blocked:
            messages.post(service, student, chat.id, "Привет", [], None)
        assert blocked.value.code == "blocked"
        with db.atomic():
            Block.update(until=utcnow() - timedelta(seconds=1)).execute()
        messages.post(service, student, chat.id, "Снова можно", [], None)
        with db.atomic():
            type(chat).update(archived_at=utcnow()).where(type(chat).id == chat.id).execute()
        with pytest.raises(Conflict):
            messages.post(service, teacher, chat.id, "Привет", [], None)


def test_messages_posted_at_once_into_one_chat_get_consecutive_numbers(messaging):
    from services.messaging import chats, messages, official
    from services.messaging.models import VerifiedTeacher
    from services.messaging.models import Message

    db, service = messaging.db, messaging.service
    teacher, students = person(1), [person(10 + n) for n in range(4)]
    with messaging.connection(), db.atomic():
        official.member_joined(service, "org", teacher.id, ["teacher"], None)
        VerifiedTeacher.create(org_id="org", user_id=teacher.id)  # staff create chats once confirmed
        chat = chats.create(service, teacher, "org", "group", "Кружок", [], [])
        for student in students:
            official.member_joined(service, "org", student.id, ["student"], None)
            chats.join(service, chat, student.id, role="member", via="link")

    def write(student):
        with messaging.connection():
            for n in range(25):
                messages.post(service, student, chat.id, f"{n}", [], None)

    threads = [threading.Thread(target=write, args=(student,)) for student in students]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with messaging.connection():
        numbers = sorted(m.seq for m in Message.select(Message.seq).where(Message.chat == chat.id))
        assert numbers == list(range(1, 101))
        assert type(chat).get_by_id(chat.id).last_seq == 100
