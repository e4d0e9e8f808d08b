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
    from services.messaging.models import VerifiedTeacher

    db, service = messaging.db, messaging.service
    teacher, student = Principal(id="t" * 32, session_id=None), Principal(id="s" * 32, session_id=None)
    with messaging.connection(), db.atomic():
        official.member_joined(service, "org", teacher.id, ["teacher"], None)
        VerifiedTeacher.create(org_id="org", user_id=teacher.id)  # staff create chats once confirmed
        official.member_joined(service, "org", student.id, ["student"], None)
        chat = chats.create(service, teacher, "org", "group", "Кружок", [], [])
        _link, token = chats.create_link(teacher, chat.id, [], None, None)
    outcome = {}

    def expel():
        official.expelled(service, "org", student.id, None, [], [])

    def join_by_link():
        try:
            with messaging.connection():
                chats.accept_link(service, student, token, chat.rules_version)
            outcome["join"] = "joined"
        except NotFound:
            outcome["join"] = "refused"

    while_first_is_uncommitted(messaging, expel, join_by_link)
    with messaging.connection():
        assert chats.membership(chat.id, student.id) is None
    assert outcome["join"] == "refused"
