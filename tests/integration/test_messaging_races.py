"""A student joins a chat by link at the very moment the school expels them,
on PostgreSQL: the expulsion wins whatever the timing; a child who left the
school is never left behind in one of its chats."""
import pytest
from support.races import while_first_is_uncommitted

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
    outcome = {}

    def expel():
        official.expelled(outbox, "org", student.id, None, [], [])

    def join_by_link():
        try:
            with db.connection_context():
                chats.accept_link(outbox, student, token, chat.rules_version)
            outcome["join"] = "joined"
        except NotFound:
            outcome["join"] = "refused"

    while_first_is_uncommitted(db, expel, join_by_link)
    with db.connection_context():
        assert chats.membership(chat.id, student.id) is None
    assert outcome["join"] == "refused"
