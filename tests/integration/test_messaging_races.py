"""A student joins a chat by link at the very moment the school expels them,
on PostgreSQL: the expulsion wins whatever the timing; a child who left the
school is never left behind in one of its chats."""
import threading

import pytest

from services.common.auth import Principal
from services.common.errors import NotFound

pytestmark = pytest.mark.integration


@pytest.fixture
def messaging(service_on_postgres):
    return service_on_postgres("messaging")


def test_joining_by_link_during_an_expulsion_leaves_the_student_out(messaging):
    from services.messaging import chats, official

    db, outbox = messaging.db, messaging.outbox
    teacher, student = Principal(id="t" * 32, session_id=None), Principal(id="s" * 32, session_id=None)
    with db.connection_context(), db.atomic():
        official.member_joined(outbox, "org", teacher.id, ["teacher"], None)
        official.member_joined(outbox, "org", student.id, ["student"], None)
        chat = chats.create(outbox, teacher, "org", "group", "Кружок", [], [])
        _link, token = chats.create_link(teacher, chat.id, [], None, None)
    expelled_not_committed, join_tried = threading.Event(), threading.Event()
    outcome = {}

    def expel():
        with db.connection_context(), db.atomic():
            official.expelled(outbox, "org", student.id, None, [], [])
            expelled_not_committed.set()
            join_tried.wait(0.5)  # give the join every chance to commit first

    def join_by_link():
        expelled_not_committed.wait(30)
        try:
            with db.connection_context():
                chats.accept_link(outbox, student, token, chat.rules_version)
            outcome["join"] = "joined"
        except NotFound:
            outcome["join"] = "refused"
        join_tried.set()

    threads = [threading.Thread(target=expel), threading.Thread(target=join_by_link)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with db.connection_context():
        assert chats.membership(chat.id, student.id) is None
    assert outcome["join"] == "refused"
