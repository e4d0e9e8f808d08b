"""Bad input to messaging's endpoints: every refusal is a 4xx answer in the
JSON error format, and after every refusal nothing has changed (histories,
member counts, invitations, polls, stored files) as the school's people see it.

The chat of most cases is `group`: made by the class head (its moderator),
with the student and the teacher as members (and others who only read it)."""
from __future__ import annotations

import base64
import dataclasses
import io
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from support.chats import created, file_part, invitation_id, invitations, join_official
from support.school import Person, School

from devkit.helpers import Api, assert_error

MAX_TEXT = 4000
MULTIPART = "multipart/form-data"


def named(cases: list) -> list:
    """Table rows as pytest params, each with its name (the first item) as id."""
    return [case if isinstance(case, type(pytest.param())) else pytest.param(*case, id=case[0]) for case in cases]


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cursor_for(offset: str) -> str:
    """An offset cursor as the list endpoints make them."""
    return base64.urlsafe_b64encode(offset.encode()).decode()


class CountingApi(Api):
    """Counts the calls that may change something (all but GET), so that a
    state read once stays known until the next such call."""
    writes = 0

    def request(self, method, path, *args, **kwargs):
        if method != "GET":
            self.writes += 1
        return super().request(method, path, *args, **kwargs)


class World:
    def __init__(self, platform):
        self.platform = platform
        api = self.api = CountingApi(platform.gateway.test_client())
        self._known = (-1, None)
        s = self.school = School(platform, api, "Школа ввода")
        self.head, self.student, self.teacher = s.head, s.student, s.teacher
        self.nobody = Person(api, "nobody")
        # messaging knows them once they are invited to the school channel.
        for person in (*s.everyone.values(), s.other_student):
            join_official(api, person, s.org_id, "school")
        # The director, the admin, the parent and the student of 5Б only read the group chat, for the guard.
        self.group_title = "5А: родительское собрание"
        self.group = self.group_chat(s.head, [s.student, s.teacher, s.director, s.admin, s.parent, s.other_student],
                                     self.group_title)
        self.other_chat = self.group_chat(s.head, [s.student], "5А: кружок")
        self.message = created(api.post(f"/chats/{self.group}/messages", {"text": "Собрание в пятницу"},
                                        token=s.head.token))
        self.foreign_message = created(api.post(f"/chats/{self.other_chat}/messages", {"text": "Кружок в среду"},
                                                token=s.head.token))
        self.student_message = created(api.post(f"/chats/{self.group}/messages", {"text": "Приду"},
                                                token=s.student.token))
        self.student_file = self.upload(s.student, b"my homework", "homework.txt")
        self.teacher_file = self.upload(s.teacher, b"answers", "answers.txt")
        self.poll = created(api.post(f"/chats/{self.group}/polls",
                                     {"question": "Когда собрание?", "options": ["Пятница", "Суббота"]},
                                     token=s.head.token))
        self.multiple_poll = created(api.post(f"/chats/{self.group}/polls", {
            "question": "Что взять?", "options": ["Ручку", "Тетрадь", "Линейку"], "multiple": True},
            token=s.head.token))
        self.closed_poll = created(api.post(f"/chats/{self.group}/polls",
                                            {"question": "Поедем?", "options": ["Да", "Нет"]}, token=s.head.token))
        created(api.post(f"/polls/{self.closed_poll['id']}/votes",
                         {"option_ids": [self.closed_poll["options"][0]["id"]]}, token=s.student.token), 200)
        created(api.post(f"/polls/{self.closed_poll['id']}/close", token=s.head.token), 200)
        # A chat the student is invited to, with rules changed since (version 2).
        self.pending_chat = created(api.post("/chats", {
            "org_id": s.org_id, "kind": "group", "title": "Олимпиада", "rules": ["Без подсказок."],
            "invite_user_ids": [s.student.id]}, token=s.teacher.token))["id"]
        created(api.patch(f"/chats/{self.pending_chat}", {"rules": ["Без подсказок.", "Без списывания."]},
                          token=s.teacher.token), 200)
        self.pending_invitation = invitation_id(api, s.student, self.pending_chat)
        # A chat with a join link, rules version 2 as well.
        self.linked_chat = created(api.post("/chats", {"org_id": s.org_id, "kind": "group", "title": "По ссылке"},
                                            token=s.head.token))["id"]
        created(api.patch(f"/chats/{self.linked_chat}", {"rules": ["Новое правило."]}, token=s.head.token), 200)
        self.link = created(api.post(f"/chats/{self.linked_chat}/invites", {}, token=s.head.token))

    def group_chat(self, creator, members, title: str) -> str:
        api = self.api
        chat_id = created(api.post("/chats", {"org_id": self.school.org_id, "kind": "group", "title": title,
                                              "invite_user_ids": [p.id for p in members]}, token=creator.token))["id"]
        for person in members:
            created(api.post(f"/chat-invitations/{invitation_id(api, person, chat_id)}/accept",
                             {"accepted_rules_version": 1}, token=person.token), 200)
        return chat_id

    def upload(self, person, content: bytes, name: str) -> dict:
        return created(self.api.post("/files", token=person.token, **file_part(content, name)))

    @property
    def storage_root(self):
        return self.platform.apps["messaging"].extensions["sferum.files"].root

    def known_state(self) -> dict:
        """The state, read again only if something may have changed since it was last read."""
        if self._known[0] != self.api.writes:
            self.remember(self.state())
        return self._known[1]

    def remember(self, state: dict) -> None:
        self._known = (self.api.writes, state)

    def state(self) -> dict:
        """What the school's people see. The reads are spread over several
        people (the gateway limits the rate of each user's calls)."""
        api, s = self.api, self.school

        def chat(chat_id, person):
            shown = created(api.get(f"/chats/{chat_id}", token=person.token), 200)
            return {key: shown[key] for key in ("title", "rules", "rules_version", "member_count")}

        def history(chat_id, person):
            items = created(api.get(f"/chats/{chat_id}/messages", params={"limit": 100}, token=person.token), 200)
            return [(m["id"], m["text"], m["edited_at"], [f["id"] for f in m["files"]], m["reply_to"], m["poll_id"])
                    for m in items["items"]]

        def poll(poll_id, person):
            shown = created(api.get(f"/polls/{poll_id}", token=person.token), 200)
            return shown["closed"], [(o["id"], o["votes"]) for o in shown["options"]]

        def chats(person):
            listed = created(api.get("/chats", params={"limit": 200}, token=person.token), 200)
            return sorted((c["id"], c["title"], tuple(c["rules"]), c["rules_version"], c["member_count"],
                           c["unread_count"], c["last_message"] and c["last_message"]["id"]) for c in listed["items"])

        return {
            # The chat lists carry titles, rules versions, member counts, unread counts and last messages.
            "chats": {"student": chats(s.student), "teacher": chats(s.teacher)},
            "linked chat": chat(self.linked_chat, s.head),
            "members": sorted((m["user_id"], m["role"]) for m in created(
                api.get(f"/chats/{self.group}/members", token=s.director.token), 200)["items"]),
            "history": history(self.group, s.admin),
            "polls": [poll(self.poll["id"], s.parent), poll(self.multiple_poll["id"], s.other_student),
                      poll(self.closed_poll["id"], s.director)],
            "invitations": {person.label: sorted(inv["id"] for inv in invitations(api, person))
                            for person in (s.student, s.other_student, s.parent)},
            "stored files": sorted(path.name for path in self.storage_root.rglob("*")
                                   if path.is_file() and not path.name.startswith(".")),
        }


@pytest.fixture(scope="module")
def world(embedded_module):
    return World(embedded_module)


@pytest.fixture
def guard(world):
    """Asserts a refusal, then that the state is as before the test began."""

    class Guard:
        def __init__(self):
            self.baseline = world.known_state()

        def refused(self, response, status, code=None):
            error = assert_error(response, status, code)
            after = world.state()
            assert after == self.baseline
            world.remember(after)
            return error

        def accept_changes(self):
            self.baseline = world.known_state()

    return Guard()


# Messages.

MESSAGE_BODIES = [
    ("empty text", {"text": ""}),
    ("whitespace-only text", {"text": " \n\t  "}),
    ("no text and no files", {}),
    ("no files", {"text": "", "file_ids": []}),
    ("null text", {"text": None}),
    ("text not a string", {"text": 42}),
    ("text of 4001 characters", {"text": "a" * (MAX_TEXT + 1)}),
    ("an unknown file", {"text": "см. файл", "file_ids": ["0" * 32]}),
    ("file_ids not a list", {"text": "см. файл", "file_ids": "abc"}),
    ("eleven files", {"text": "см. файлы", "file_ids": [f"{n:032d}" for n in range(11)]}),
    ("a reply to an unknown message", {"text": "ответ", "reply_to": "0" * 32}),
]


@pytest.mark.parametrize("name,body", MESSAGE_BODIES, ids=[case[0] for case in MESSAGE_BODIES])
def test_a_bad_message_is_refused(world, guard, name, body):
    guard.refused(world.api.post(f"/chats/{world.group}/messages", body, token=world.student.token), 422)


def test_a_message_of_100_kb_is_refused_before_it_is_parsed(world, guard):
    api = world.api
    guard.refused(api.post(f"/chats/{world.group}/messages", {"text": "ы" * (100 * 1024)},
                           token=world.student.token), 413)
    mine = created(api.post(f"/chats/{world.group}/messages", {"text": "исправлю"}, token=world.student.token))
    guard.accept_changes()
    guard.refused(api.patch(f"/messages/{mine['id']}", {"text": "a" * (100 * 1024)}, token=world.student.token), 413)


def test_someone_elses_file_is_as_unknown_as_a_made_up_one(world, guard):
    api = world.api
    for file_ids in ([world.teacher_file["id"]], [world.student_file["id"], world.teacher_file["id"]]):
        error = guard.refused(api.post(f"/chats/{world.group}/messages", {"text": "чужой", "file_ids": file_ids},
                                       token=world.student.token), 422)
        assert world.teacher_file["id"] in str(error["details"])


def test_a_reply_to_another_chat_or_a_deleted_message_is_refused(world, guard):
    api = world.api
    guard.refused(api.post(f"/chats/{world.group}/messages", {"text": "ответ", "reply_to": world.foreign_message["id"]},
                           token=world.student.token), 422)
    doomed = created(api.post(f"/chats/{world.group}/messages", {"text": "удалю"}, token=world.student.token))
    assert api.delete(f"/messages/{doomed['id']}", token=world.student.token).status_code == 204
    guard.accept_changes()
    guard.refused(api.post(f"/chats/{world.group}/messages", {"text": "ответ", "reply_to": doomed["id"]},
                           token=world.student.token), 422)


def test_text_up_to_4000_characters_is_accepted(world):
    api = world.api
    for text in ("a" * MAX_TEXT, "щ" * MAX_TEXT, "  " + "b" * (MAX_TEXT - 4) + "  "):
        posted = created(api.post(f"/chats/{world.group}/messages", {"text": text}, token=world.student.token))
        assert posted["text"] == text.strip()
        assert api.get(f"/chats/{world.group}/messages", params={"limit": 1},
                       token=world.head.token).json["items"][0]["text"] == text.strip()


def test_own_files_only_and_files_alone_are_a_message(world):
    api = world.api
    stored = world.upload(world.student, b"photo of the board", "board.txt")
    posted = created(api.post(f"/chats/{world.group}/messages", {"file_ids": [stored["id"], stored["id"]]},
                              token=world.student.token))
    assert posted["text"] == "" and [f["id"] for f in posted["files"]] == [stored["id"]]
    assert api.get(f"/files/{stored['id']}", token=world.teacher.token).status_code == 200


def test_a_body_that_is_not_a_json_object(world, guard):
    api, path, token = world.api, f"/chats/{world.group}/messages", world.student.token
    guard.refused(api.post(path, token=token, data="not json {", content_type="application/json"), 400)
    guard.refused(api.post(path, token=token, data=b"\xff\xfe\x00", content_type="application/json"), 400)
    guard.refused(api.post(path, ["привет"], token=token), 422)
    guard.refused(api.post(path, "привет", token=token), 422)
    guard.refused(api.post(path, token=token, data='{"text": "привет"}', content_type="text/plain"), 422)
    guard.refused(api.post(path, token=token, **file_part(b"hi", "hi.txt")), 422)
    guard.refused(api.post("/chats", ["group"], token=world.teacher.token), 422)
    guard.refused(api.post("/chats", token=world.teacher.token, data="{", content_type="application/json"), 400)
    guard.refused(api.patch(f"/chats/{world.group}", ["title"], token=world.head.token), 422)
    guard.refused(api.post(f"/polls/{world.poll['id']}/votes", token=token, data="[", content_type="application/json"),
                  400)


EDITS = [
    ("empty text", {"text": ""}), ("whitespace-only text", {"text": "   "}), ("no text", {}),
    ("null text", {"text": None}), ("text of 4001 characters", {"text": "a" * (MAX_TEXT + 1)}),
]


@pytest.mark.parametrize("name,body", EDITS, ids=[case[0] for case in EDITS])
def test_a_bad_edit_is_refused(world, guard, name, body):
    guard.refused(world.api.patch(f"/messages/{world.student_message['id']}", body, token=world.student.token), 422)


READ_MARKS = [
    ("no message", {}), ("an unknown message", {"message_id": "0" * 32}), ("an empty id", {"message_id": ""}),
    ("a message of another chat", "foreign"),
]


@pytest.mark.parametrize("name,body", READ_MARKS, ids=[case[0] for case in READ_MARKS])
def test_a_bad_read_mark_is_refused(world, guard, name, body):
    if body == "foreign":
        body = {"message_id": world.foreign_message["id"]}
    guard.refused(world.api.post(f"/chats/{world.group}/read", body, token=world.student.token), 422)


# History and lists.

HISTORY_QUERIES = [
    ("cursor not a number", {"cursor": "abc"}), ("negative cursor", {"cursor": "-1"}),
    ("fractional cursor", {"cursor": "1.5"}), ("cursor too long", {"cursor": "1" * 65}),
    ("limit 0", {"limit": 0}), ("limit 1000", {"limit": 1000}), ("limit 101", {"limit": 101}),
    ("negative limit", {"limit": -1}), ("limit not a number", {"limit": "ten"}),
    ("a superscript digit as cursor", {"cursor": "²"}),
    ("a cursor beyond 64 bits", {"cursor": "9" * 30}),
]


@pytest.mark.parametrize("name,params", named(HISTORY_QUERIES))
def test_a_bad_history_query_is_refused(world, name, params):
    before = world.known_state()
    assert_error(world.api.get(f"/chats/{world.group}/messages", params=params, token=world.student.token), 422)
    assert world.state() == before


def test_history_pages_with_its_cursor(world):
    api = world.api
    first = api.get(f"/chats/{world.group}/messages", params={"limit": 2}, token=world.student.token).json
    second = api.get(f"/chats/{world.group}/messages", params={"limit": 2, "cursor": first["next_cursor"]},
                     token=world.student.token).json
    assert first["next_cursor"] and second["items"]
    assert {m["id"] for m in first["items"]}.isdisjoint(m["id"] for m in second["items"])


LIST_PATHS = ["/chats", "/chats/{group}/members", "/me/chat-invitations"]
LIST_QUERIES = [
    ("limit 0", {"limit": 0}), ("limit 1000", {"limit": 1000}), ("limit not a number", {"limit": "ten"}),
    ("cursor not base64", {"cursor": "abc"}), ("cursor of junk", {"cursor": "!!!!"}),
    ("cursor of no number", {"cursor": cursor_for("ten")}),
]


@pytest.mark.parametrize("path", LIST_PATHS)
@pytest.mark.parametrize("name,params", LIST_QUERIES, ids=[case[0] for case in LIST_QUERIES])
def test_a_bad_list_query_is_refused(world, guard, path, name, params):
    guard.refused(world.api.get(path.format(group=world.group), params=params, token=world.student.token), 422)


@pytest.mark.parametrize("path", LIST_PATHS)
def test_a_negative_offset_cursor_is_refused(world, path):
    assert_error(world.api.get(path.format(group=world.group), params={"cursor": cursor_for("-1")},
                               token=world.student.token), 422)


def test_an_enormous_offset_cursor_is_refused_or_empty(world):
    response = world.api.get("/me/chat-invitations", params={"cursor": cursor_for("9" * 25)},
                             token=world.student.token)
    assert response.status_code in (200, 422), response
    if response.status_code == 200:
        assert response.json["items"] == []


# Chats.

def org(w: World) -> str:
    return w.school.org_id


NEW_CHATS = [
    ("unknown kind", lambda w: {"org_id": org(w), "kind": "secret", "title": "x"}),
    ("official kind", lambda w: {"org_id": org(w), "kind": "class", "title": "x"}),
    ("no kind", lambda w: {"org_id": org(w), "title": "x"}),
    ("no org", lambda w: {"kind": "group", "title": "x"}),
    ("empty org", lambda w: {"org_id": "", "kind": "group", "title": "x"}),
    ("no title", lambda w: {"org_id": org(w), "kind": "group"}),
    ("empty title", lambda w: {"org_id": org(w), "kind": "group", "title": ""}),
    ("whitespace-only title", lambda w: {"org_id": org(w), "kind": "channel", "title": "   "}),
    ("title of 201 characters", lambda w: {"org_id": org(w), "kind": "group", "title": "т" * 201}),
    ("21 rules", lambda w: {"org_id": org(w), "kind": "group", "title": "x",
                            "rules": [f"правило {n}" for n in range(21)]}),
    ("a rule of 501 characters", lambda w: {"org_id": org(w), "kind": "group", "title": "x", "rules": ["п" * 501]}),
    ("an empty rule", lambda w: {"org_id": org(w), "kind": "group", "title": "x", "rules": [""]}),
    ("rules not a list", lambda w: {"org_id": org(w), "kind": "group", "title": "x", "rules": "будьте вежливы"}),
    ("direct chat without user_id", lambda w: {"org_id": org(w), "kind": "direct"}),
    ("direct chat with an empty user_id", lambda w: {"org_id": org(w), "kind": "direct", "user_id": ""}),
    ("direct chat with oneself", lambda w: {"org_id": org(w), "kind": "direct", "user_id": w.teacher.id}),
    ("direct chat with an outsider", lambda w: {"org_id": org(w), "kind": "direct", "user_id": w.nobody.id}),
    ("direct chat with an unknown user", lambda w: {"org_id": org(w), "kind": "direct", "user_id": "0" * 32}),
    ("inviting an outsider", lambda w: {"org_id": org(w), "kind": "group", "title": "x",
                                        "invite_user_ids": [w.student.id, w.nobody.id]}),
    ("inviting an unknown user", lambda w: {"org_id": org(w), "kind": "group", "title": "x",
                                            "invite_user_ids": [w.school.parent.id, "0" * 32]}),
    ("inviting oneself", lambda w: {"org_id": org(w), "kind": "group", "title": "x",
                                    "invite_user_ids": [w.school.other_student.id, w.teacher.id]}),
    ("invite_user_ids not a list", lambda w: {"org_id": org(w), "kind": "group", "title": "x",
                                              "invite_user_ids": w.student.id}),
    ("an unknown class", lambda w: {"org_id": org(w), "kind": "group", "title": "x", "unit_id": "0" * 32}),
]


@pytest.mark.parametrize("name,body", NEW_CHATS, ids=[case[0] for case in NEW_CHATS])
def test_a_bad_new_chat_is_refused_and_nobody_is_invited(world, guard, name, body):
    # The teacher's chats, and the invitations of the student, the parent and
    # the student of 5Б, are in the guarded state: no chat, no invitation.
    guard.refused(world.api.post("/chats", body(world), token=world.teacher.token), 422)


CHAT_CHANGES = [
    ("empty title", {"title": ""}), ("title of 201 characters", {"title": "т" * 201}),
    ("title not a string", {"title": 5}), ("21 rules", {"rules": [f"правило {n}" for n in range(21)]}),
    ("an empty rule", {"rules": [""]}), ("rules not a list", {"rules": "будьте вежливы"}),
    ("whitespace-only title", {"title": "   "}),
]


@pytest.mark.parametrize("name,body", named(CHAT_CHANGES))
def test_a_bad_chat_change_is_refused(world, name, body):
    before = world.known_state()
    response = world.api.patch(f"/chats/{world.group}", body, token=world.head.token)
    try:
        assert_error(response, 422)
    finally:
        if response.status_code == 200:  # put the title back for the other tests
            world.api.patch(f"/chats/{world.group}", {"title": world.group_title}, token=world.head.token)
    assert world.state() == before


# Joining: the rules version the user was shown.

RULES_VERSIONS = [
    ("missing", {}, 422, None), ("zero", {"accepted_rules_version": 0}, 422, None),
    ("negative", {"accepted_rules_version": -1}, 422, None), ("null", {"accepted_rules_version": None}, 422, None),
    ("not a number", {"accepted_rules_version": "two"}, 422, None),
    ("the old version", {"accepted_rules_version": 1}, 409, "rules_changed"),
    ("a future version", {"accepted_rules_version": 3}, 409, "rules_changed"),
]


@pytest.mark.parametrize("name,body,status,code", RULES_VERSIONS, ids=[case[0] for case in RULES_VERSIONS])
def test_accepting_an_invitation_needs_the_current_rules_version(world, guard, name, body, status, code):
    error = guard.refused(world.api.post(f"/chat-invitations/{world.pending_invitation}/accept", body,
                                         token=world.student.token), status, code)
    if status == 409:
        assert error["details"]["rules_version"] == 2
        assert error["details"]["rules"] == ["Без подсказок.", "Без списывания."]


@pytest.mark.parametrize("name,body,status,code", RULES_VERSIONS, ids=[case[0] for case in RULES_VERSIONS])
def test_joining_by_a_link_needs_the_current_rules_version(world, guard, name, body, status, code):
    error = guard.refused(world.api.post(f"/chat-invites/{world.link['token']}/accept", body,
                                         token=world.school.other_student.token), status, code)
    if status == 409:
        assert error["details"]["rules"] == ["Новое правило."]


def test_unknown_invitations_and_links(world, guard):
    api, token = world.api, world.student.token
    guard.refused(api.post(f"/chat-invitations/{'0' * 32}/accept", {"accepted_rules_version": 1}, token=token), 404)
    guard.refused(api.post(f"/chat-invitations/{'0' * 32}/decline", token=token), 404)
    for bad in ("0" * 43, "x", world.link["token"][:-1]):
        guard.refused(api.get(f"/chat-invites/{bad}", token=token), 404)
        guard.refused(api.post(f"/chat-invites/{bad}/accept", {"accepted_rules_version": 2}, token=token), 404)
    guard.refused(api.delete(f"/chats/{world.linked_chat}/invites/{'0' * 32}", token=world.head.token), 404)


def link_bodies() -> list[tuple[str, dict]]:
    now = datetime.now(timezone.utc)
    return [
        ("max_uses 0", {"max_uses": 0}), ("negative max_uses", {"max_uses": -3}),
        ("max_uses over 10000", {"max_uses": 10001}), ("max_uses not a number", {"max_uses": "many"}),
        ("expires_at in the past", {"expires_at": iso(now - timedelta(minutes=1))}),
        ("expires_at now", {"expires_at": iso(now - timedelta(seconds=1))}),
        ("expires_at not a date", {"expires_at": "tomorrow"}),
        ("an unknown role", {"roles": ["janitor"]}), ("roles not a list", {"roles": "parent"}),
    ]


@pytest.mark.parametrize("name", [name for name, _ in link_bodies()])
def test_a_bad_link_is_refused(world, guard, name):
    body = dict(link_bodies())[name]
    guard.refused(world.api.post(f"/chats/{world.linked_chat}/invites", body, token=world.head.token), 422)


# Polls.

def poll_bodies() -> list[tuple[str, dict]]:
    past = iso(datetime.now(timezone.utc) - timedelta(hours=1))
    return [
        ("one option", {"question": "Да?", "options": ["Да"]}),
        ("no options", {"question": "Да?", "options": []}),
        ("missing options", {"question": "Да?"}),
        ("13 options", {"question": "Сколько?", "options": [str(n) for n in range(13)]}),
        ("duplicate options", {"question": "Когда?", "options": ["Пятница", "Пятница"]}),
        ("options equal once trimmed", {"question": "Когда?", "options": ["Пятница", "  Пятница "]}),
        ("an empty option", {"question": "Когда?", "options": ["Пятница", ""]}),
        ("a whitespace-only option", {"question": "Когда?", "options": ["Пятница", "   "]}),
        ("an option of 201 characters", {"question": "Когда?", "options": ["Пятница", "с" * 201]}),
        ("options not a list", {"question": "Когда?", "options": "Пятница, Суббота"}),
        ("no question", {"options": ["Да", "Нет"]}),
        ("empty question", {"question": "", "options": ["Да", "Нет"]}),
        ("question of 301 characters", {"question": "в" * 301, "options": ["Да", "Нет"]}),
        ("closes_at in the past", {"question": "Когда?", "options": ["Да", "Нет"], "closes_at": past}),
        ("closes_at not a date", {"question": "Когда?", "options": ["Да", "Нет"], "closes_at": "завтра"}),
        ("multiple not a boolean", {"question": "Когда?", "options": ["Да", "Нет"], "multiple": "maybe"}),
    ]


@pytest.mark.parametrize("name", [name for name, _ in poll_bodies()])
def test_a_bad_poll_is_refused(world, guard, name):
    body = dict(poll_bodies())[name]
    guard.refused(world.api.post(f"/chats/{world.group}/polls", body, token=world.student.token), 422)


def test_a_poll_with_a_whitespace_only_question_is_refused(world, guard):
    guard.refused(world.api.post(f"/chats/{world.group}/polls", {"question": "   ", "options": ["Да", "Нет"]},
                                 token=world.student.token), 422)


def options(poll: dict) -> list[str]:
    return [option["id"] for option in poll["options"]]


# (name, poll, body, status, code)
VOTES = [
    ("a closed poll", lambda w: w.closed_poll, lambda w: [options(w.closed_poll)[1]], 409, "poll_closed"),
    ("an option of another poll", lambda w: w.poll, lambda w: [options(w.multiple_poll)[0]], 422, None),
    ("an option of this and of another poll", lambda w: w.multiple_poll,
     lambda w: [options(w.multiple_poll)[0], options(w.poll)[0]], 422, None),
    ("two options of a single-choice poll", lambda w: w.poll, lambda w: options(w.poll), 422, None),
    ("no options", lambda w: w.poll, lambda w: [], 422, None),
    ("missing option_ids", lambda w: w.poll, lambda w: None, 422, None),
    ("an unknown option", lambda w: w.poll, lambda w: ["0" * 32], 422, None),
    ("option_ids not a list", lambda w: w.poll, lambda w: options(w.poll)[0], 422, None),
    ("13 options", lambda w: w.multiple_poll, lambda w: options(w.multiple_poll) * 5, 422, None),
]


@pytest.mark.parametrize("name,poll,option_ids,status,code", VOTES, ids=[case[0] for case in VOTES])
def test_a_bad_vote_is_refused(world, guard, name, poll, option_ids, status, code):
    chosen = option_ids(world)
    body = {} if chosen is None else {"option_ids": chosen}
    guard.refused(world.api.post(f"/polls/{poll(world)['id']}/votes", body, token=world.student.token),
                  status, code)


def test_a_closed_poll_stays_closed_and_counted(world, guard):
    api = world.api
    poll = world.closed_poll
    for person in (world.student, world.teacher, world.head):
        guard.refused(api.post(f"/polls/{poll['id']}/votes", {"option_ids": [poll["options"][1]["id"]]},
                               token=person.token), 409, "poll_closed")
    shown = api.get(f"/polls/{poll['id']}", token=world.teacher.token).json
    assert shown["closed"] is True and [o["votes"] for o in shown["options"]] == [1, 0]


def test_a_poll_past_its_closing_time_takes_no_votes(world, guard):
    api = world.api
    closes_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=2)
    poll = created(api.post(f"/chats/{world.group}/polls", {"question": "Успеем?", "options": ["Да", "Нет"],
                                                             "closes_at": iso(closes_at)}, token=world.head.token))
    assert poll["closed"] is False
    time.sleep(max(0.0, (closes_at - datetime.now(timezone.utc)).total_seconds()) + 0.1)
    guard.accept_changes()
    guard.refused(api.post(f"/polls/{poll['id']}/votes", {"option_ids": [poll["options"][0]["id"]]},
                           token=world.student.token), 409, "poll_closed")
    shown = api.get(f"/polls/{poll['id']}", token=world.student.token).json
    assert shown["closed"] is True and shown["total_voters"] == 0


# Files.

def test_a_file_over_the_limit_is_refused_and_not_stored(world, guard):
    extensions = world.platform.apps["messaging"].extensions
    saved = extensions["sferum.file_settings"]
    extensions["sferum.file_settings"] = dataclasses.replace(saved, file_max_bytes=1024)
    try:
        error = guard.refused(world.api.post("/files", token=world.student.token,
                                             **file_part(b"a" * 1025, "essay.txt")), 413, "file_too_large")
        assert error["details"]["max_bytes"] == 1024
        guard.refused(world.api.post("/files", token=world.student.token,
                                     **file_part(b"%PDF-1.7" + b"0" * 4096, "essay.pdf")), 413, "file_too_large")
        exactly = world.api.post("/files", token=world.student.token, **file_part(b"b" * 1024, "essay.txt"))
        assert exactly.status_code == 201 and exactly.json["size"] == 1024, exactly
    finally:
        extensions["sferum.file_settings"] = saved


UNSUPPORTED = [
    ("a program", b"MZ\x90\x00\x03\x00\x00\x00", "setup.exe"),
    ("a program named notes.txt", b"MZ\x90\x00\x03\x00\x00\x00", "notes.txt"),
    ("a program named like a pdf", b"MZ\x90\x00", "report.pdf"),
    ("an ELF binary named notes.txt", b"\x7fELF\x02\x01\x01", "notes.txt"),
    ("a script named notes.txt", b"#!/bin/sh\nrm -rf /\n", "notes.txt"),
    ("a shell script", b"echo hi\n", "run.sh"),
    ("a web page", b"<html><script>alert(1)</script></html>", "page.html"),
    ("an SVG picture", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg"),
    ("a text named like a picture", b"just some text", "photo.png"),
    ("a text named like a pdf", b"just some text", "report.pdf"),
    ("no extension", b"just some text", "README"),
    ("a double extension", b"MZ\x90\x00", "homework.pdf.exe"),
]


@pytest.mark.parametrize("name,content,filename", UNSUPPORTED, ids=[case[0] for case in UNSUPPORTED])
def test_an_unsupported_file_is_refused_and_not_stored(world, guard, name, content, filename):
    guard.refused(world.api.post("/files", token=world.student.token, **file_part(content, filename)), 415,
                  "unsupported_file_type")


def test_an_upload_without_a_file_is_refused(world, guard):
    api, token = world.api, world.student.token
    guard.refused(api.post("/files", token=token, data={}, content_type=MULTIPART), 422)
    guard.refused(api.post("/files", token=token, data={"attachment": (io.BytesIO(b"hi"), "hi.txt")},
                           content_type=MULTIPART), 422)
    guard.refused(api.post("/files", token=token, data={"file": "just a string"}, content_type=MULTIPART), 422)
    guard.refused(api.post("/files", {"file": "aGVsbG8="}, token=token), 422)
    guard.refused(api.post("/files", token=token), 422)
    guard.refused(api.post("/files", token=token, **file_part(b"hi", "")), 422)
    guard.refused(api.post("/files", token=token, **file_part(b"hi", "../")), 422)


def test_an_uploaded_name_keeps_only_its_last_part(world):
    stored = world.upload(world.student, b"hi", "../../etc/passwd.txt")
    assert stored["name"] == "passwd.txt" and stored["content_type"] == "text/plain"
    stored = world.upload(world.student, b"hi", "home/pupil/notes.txt")
    assert stored["name"] == "notes.txt"


def test_unknown_files_are_not_found(world, guard):
    for file_id in ("0" * 32, "x", "..%2F..%2Fetc%2Fpasswd"):
        guard.refused(world.api.get(f"/files/{file_id}", token=world.student.token), 404)


# Idempotency-Key.

@pytest.mark.parametrize("key", ["not-a-uuid", "", "12345", "4b688fe4-f229-44d6-83ce-2fbec279c8e"])
def test_an_idempotency_key_that_is_not_a_uuid_is_refused(world, guard, key):
    api = world.api
    headers = {"Idempotency-Key": key}
    guard.refused(api.post(f"/chats/{world.group}/messages", {"text": "с ключом"}, token=world.student.token,
                           headers=headers), 422, "bad_idempotency_key")
    guard.refused(api.post("/chats", {"org_id": world.school.org_id, "kind": "group", "title": "с ключом"},
                           token=world.teacher.token, headers=headers), 422, "bad_idempotency_key")
    guard.refused(api.post(f"/chats/{world.group}/polls", {"question": "?", "options": ["a", "b"]},
                           token=world.student.token, headers=headers), 422, "bad_idempotency_key")


def history_ids(world) -> list[str]:
    return [m["id"] for m in world.api.get(f"/chats/{world.group}/messages", params={"limit": 100},
                                           token=world.head.token).json["items"]]


def test_the_same_key_twice_posts_once(world):
    api, key = world.api, str(uuid.uuid4())
    before = history_ids(world)
    first = api.post(f"/chats/{world.group}/messages", {"text": "Повтор"}, token=world.student.token,
                     headers={"Idempotency-Key": key})
    assert first.status_code == 201, first
    assert "Idempotent-Replayed" not in first.headers
    again = api.post(f"/chats/{world.group}/messages", {"text": "Повтор"}, token=world.student.token,
                     headers={"Idempotency-Key": key.upper()})
    assert again.status_code == 201 and again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert history_ids(world) == [first.json["id"], *before]


def test_a_key_reused_on_another_endpoint_is_refused(world, guard):
    api, key, token = world.api, str(uuid.uuid4()), world.student.token
    created(api.post(f"/chats/{world.group}/messages", {"text": "С ключом"}, token=token,
                     headers={"Idempotency-Key": key}))
    guard.accept_changes()
    headers = {"Idempotency-Key": key}
    guard.refused(api.post(f"/chats/{world.group}/polls", {"question": "?", "options": ["a", "b"]}, token=token,
                           headers=headers), 422, "idempotency_key_reused")
    guard.refused(api.post(f"/chats/{world.other_chat}/messages", {"text": "С ключом"}, token=token,
                           headers=headers), 422, "idempotency_key_reused")
    guard.refused(api.post(f"/polls/{world.multiple_poll['id']}/votes",
                           {"option_ids": [world.multiple_poll["options"][0]["id"]]}, token=token,
                           headers=headers), 422, "idempotency_key_reused")


def test_a_key_reused_with_another_body_is_refused(world, guard):
    """A key names one request: another body under it is no retry of the first."""
    api, token = world.api, world.student.token
    for path, body in ((f"/chats/{world.group}/messages", {"text": "Первый"}),
                       ("/uploads", {"name": "lesson.png", "size": 1})):
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        first = created(api.post(path, body, token=token, headers=headers))
        guard.accept_changes()
        assert created(api.post(path, body, token=token, headers=headers)) == first
        guard.refused(api.post(path, {**body, "text": "Второй"} if "text" in body else {**body, "size": 2},
                               token=token, headers=headers), 422, "idempotency_key_reused")
        guard.refused(api.request("POST", path, token, data=b"\x00",
                                  headers={**headers, "Content-Type": "application/json"}),
                      422, "idempotency_key_reused")


def test_a_refused_request_does_not_use_up_its_key(world, guard):
    api, key, token = world.api, str(uuid.uuid4()), world.student.token
    guard.refused(api.post(f"/chats/{world.group}/messages", {"text": "  "}, token=token,
                           headers={"Idempotency-Key": key}), 422)
    posted = api.post(f"/chats/{world.group}/messages", {"text": "Теперь с текстом"}, token=token,
                      headers={"Idempotency-Key": key})
    assert posted.status_code == 201 and posted.json["text"] == "Теперь с текстом"
    assert "Idempotent-Replayed" not in posted.headers


def test_keys_belong_to_their_user(world):
    api, key = world.api, str(uuid.uuid4())
    mine = created(api.post(f"/chats/{world.group}/messages", {"text": "Моё"}, token=world.student.token,
                            headers={"Idempotency-Key": key}))
    theirs = created(api.post(f"/chats/{world.group}/messages", {"text": "Моё"}, token=world.teacher.token,
                              headers={"Idempotency-Key": key}))
    assert theirs["id"] != mine["id"] and theirs["author"]["id"] == world.teacher.id
    assert history_ids(world)[:2] == [theirs["id"], mine["id"]]

