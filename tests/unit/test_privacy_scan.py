"""The privacy scan finds a phone or an address however it is written, names
where it was shown and to whom, and lets pass only a person's own profile and
export and the operator's review of applications."""
from support.privacy import Answer, PrivacyScan


class Someone:
    def __init__(self, label: str, phone: str | None = None, email: str | None = None):
        self.label, self.token, self.phone, self.email = label, f"t-{label}", phone, email


PUPIL = Someone("pupil", email="Pupil@Family.example.ru")
PARENT = Someone("parent", phone="+79001234567")
OPERATOR = Someone("operator", phone="+79009999999")
SCAN = PrivacyScan([PUPIL, PARENT, OPERATOR], OPERATOR)


def leaks(token, path, body: bytes):
    return SCAN.leaks_in_answers([Answer(token, "GET", path, "200 OK", body)])


def test_a_contact_shown_to_someone_else_is_named_with_where_and_to_whom():
    assert leaks("t-pupil", "/api/v1/orgs/o1/members", b'[{"phone": "+79001234567"}]') == [
        "GET /api/v1/orgs/o1/members (200 OK) showed parent's +79001234567 to pupil"]
    assert leaks(None, "/api/v1/users/u1", b'{"contact": "8 (900) 123-45-67"}')
    assert leaks("t-parent", "/api/v1/chats", b'{"text": "write to pupil@family.example.ru"}')
    assert SCAN.leaks_in_frames({PARENT: [{"type": "chat.member.joined", "data": {"email": "PUPIL@family.example.ru"}}]})


def test_own_data_and_the_operators_review_are_no_leak():
    assert leaks("t-parent", "/api/v1/me", b'{"phone": "+79001234567"}') == []
    assert leaks("t-pupil", "/api/v1/me/export/identity", b'{"email": "pupil@family.example.ru"}') == []
    assert leaks("t-parent", "/api/v1/me/applications", b'{"admin": {"phone": "+79001234567"}}') == []
    assert leaks("t-pupil", "/api/v1/me/applications", b'{"admin": {"phone": "+79001234567"}}')
    assert leaks("t-parent", "/api/v1/members", b'{"phone": "+79001234567"}')
    assert leaks("t-operator", "/api/v1/applications", b'{"admin": {"phone": "+79001234567"}}') == []
    assert leaks("t-pupil", "/api/v1/me", b'{"phone": "+79001234567"}')
    assert leaks("t-parent", "/api/v1/applications", b'{"admin": {"phone": "+79001234567"}}')
