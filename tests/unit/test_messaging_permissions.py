"""Every messaging endpoint for every role (Zulip-style): the admin, the
director, the class head, a teacher, a student, a parent, a signed-in user of
no school and the admin of another school; then tenant isolation: school B's
people, holding school A's ids, find nothing (404) and change nothing.

The rules as the implementation states them: a chat exists for its active
members only (404 for everyone else, the school's admin included); group
chats and channels are created by the staff of the organisation; a chat's
settings and join links are for its moderators; channels are written by
their moderators; a message is edited and deleted by its author only (a
moderator removes others' messages through moderation, citing a rule); a
poll is closed by its author or a moderator; a file
is downloaded by its uploader and by the active members of a chat with a
(not deleted) message carrying it; a student talks one-to-one only with the
staff and with their own parents.

The shared chat of most cases is `group`: made by the class head (its
moderator), with the director, the teacher, the student and the parent as
members, and the student of 5Б as an observer who reads the state before
and after refused calls. The school's admin is not in it."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Callable

import pytest
from support.chats import accept, created, file_part, invitation_id, invitations, join_official, upload
from support.moderation import remove
from support.school import Person, School, create_region

from devkit.helpers import assert_error, wait_for

ROLES = ("admin", "director", "class_head", "teacher", "student", "parent", "nobody", "outsider")
SCHOOL_ROLES = ROLES[:6]
STAFF = ("admin", "director", "class_head", "teacher")
GROUP_MEMBERS = ("director", "class_head", "teacher", "student", "parent")
CHANNEL_MEMBERS = SCHOOL_ROLES  # everybody of school A joined the school channel; the admin moderates it
READ_ONLY = (403, "channel_read_only")


# The world: two schools in one platform, built once for the module.

def upload_ok(api, person, content: bytes = b"hello", name: str = "notes.txt") -> dict:
    return created(upload(api, person, name, content))


class World:
    def __init__(self, platform):
        api = self.api = platform.api
        region = create_region(platform, "Регион переписки")
        a = self.a = School(platform, api, "Школа № 5", region_id=region)
        b = self.b = School(platform, api, "Школа № 7", region_id=region)
        self.nobody = Person(api, "nobody")
        self.people = dict(a.everyone, nobody=self.nobody, outsider=b.admin,
                           other_student=a.other_student, outsider_student=b.student)
        self.observer = a.other_student
        # messaging learns the schools from events: once everybody holds the
        # invitation to their school channel, it knows them (and they join it).
        for person in [*a.everyone.values(), a.other_student]:
            self.channel = join_official(api, person, a.org_id, "school")["id"]
        for person in (b.admin, b.student):
            self.b_channel = join_official(api, person, b.org_id, "school")["id"]
        # ...and the parent's child: the parent is invited to 5А's parents' chat.
        wait_for(lambda: any(inv["chat"]["purpose"] == "class_parents" and inv["chat"]["unit_id"] == a.class_a
                             for inv in invitations(api, a.parent)), message="the parent's link to the child")

        self.group = self.group_chat(a.head, [a.director, a.teacher, a.student, a.parent, a.other_student],
                                     "5А: экскурсия")
        self.message = created(api.post(f"/chats/{self.group}/messages", {"text": "Сбор в 9:00"},
                                        token=a.head.token))
        self.file = upload_ok(api, a.teacher, b"program of the trip", "program.txt")
        created(api.post(f"/chats/{self.group}/messages", {"text": "Программа", "file_ids": [self.file["id"]]},
                         token=a.teacher.token))
        self.poll = created(api.post(f"/chats/{self.group}/polls", {"question": "Едем?", "options": ["Да", "Нет"]},
                                     token=a.head.token))
        self.link = created(api.post(f"/chats/{self.group}/invites", {}, token=a.head.token))
        # A chat the student is invited to and has not joined (yet).
        self.pending_chat = created(api.post("/chats", {
            "org_id": a.org_id, "kind": "group", "title": "Олимпиада", "invite_user_ids": [a.student.id]},
            token=a.teacher.token))["id"]
        self.pending_invitation = invitation_id(api, a.student, self.pending_chat)
        self.channel_message = created(api.post(f"/chats/{self.channel}/messages", {"text": "Каникулы с 28 октября"},
                                                token=a.admin.token))

        # School B's own chat, where B's admin moderates and B's student is a member.
        self.b_group = self.group_chat(b.admin, [b.student], "Кружок школы № 7", org_id=b.org_id)
        self.b_message = created(api.post(f"/chats/{self.b_group}/messages", {"text": "Привет из седьмой"},
                                          token=b.admin.token))
        self.b_poll = created(api.post(f"/chats/{self.b_group}/polls", {"question": "Когда?", "options": ["Пн", "Вт"]},
                                       token=b.admin.token))
        self.uploads = {}  # the teacher's uploads, one for each case about them

    def group_chat(self, creator, members, title: str, org_id: str | None = None) -> str:
        api = self.api
        chat_id = created(api.post("/chats", {
            "org_id": org_id or self.a.org_id, "kind": "group", "title": title, "rules": ["Только по делу."],
            "invite_user_ids": [p.id for p in members]}, token=creator.token))["id"]
        for person in members:
            created(api.post(f"/chat-invitations/{invitation_id(api, person, chat_id)}/accept",
                             {"accepted_rules_version": 1}, token=person.token), 200)
        return chat_id

    def student_message(self) -> str:
        return created(self.api.post(f"/chats/{self.group}/messages", {"text": f"вопрос {uuid.uuid4().hex[:6]}"},
                                     token=self.a.student.token))["id"]


@pytest.fixture(scope="module")
def world(embedded_module):
    return World(embedded_module)


# What must not change when a call is refused, read by school A's people.

def group_state(w: World) -> dict:
    """The group chat, the school channel and the student's invitations. The
    reads are spread over the chat's members: the gateway limits each user's rate."""
    api, a = w.api, w.a
    chat = api.get(f"/chats/{w.group}", token=a.director.token).json
    history = api.get(f"/chats/{w.group}/messages", params={"limit": 100}, token=a.parent.token).json["items"]
    polls = [m["poll_id"] for m in history[:10] if m["poll_id"]] + [w.poll["id"]]
    readers = [a.other_student, a.teacher, a.head, a.director, a.parent]
    return {
        "chat": {key: chat[key] for key in ("title", "rules", "rules_version", "member_count", "archived")},
        "members": sorted((m["user_id"], m["role"]) for m in api.get(
            f"/chats/{w.group}/members", params={"limit": 200}, token=a.teacher.token).json["items"]),
        "history": [(m["id"], m["text"], m["edited_at"], [f["id"] for f in m["files"]]) for m in history],
        "channel": [(m["id"], m["text"]) for m in api.get(
            f"/chats/{w.channel}/messages", params={"limit": 100}, token=a.head.token).json["items"]],
        "polls": {poll_id: _poll_state(api, readers[n % len(readers)].token, poll_id)
                  for n, poll_id in enumerate(dict.fromkeys(polls))},
        "link": api.get(f"/chat-invites/{w.link['token']}", token=w.observer.token).status_code,
        "student_invitations": sorted(inv["id"] for inv in invitations(api, a.student)),
    }


def _poll_state(api, token, poll_id):
    poll = api.get(f"/polls/{poll_id}", token=token).json
    return poll["closed"], [(o["id"], o["votes"]) for o in poll["options"]]


def school_state(w: World) -> dict:
    """Everything school A's people see: their chats with member counts and
    last messages, their invitations, and the group chat in detail."""
    api = w.api
    seen = {}
    for label, person in dict(w.a.everyone, other_student=w.a.other_student).items():
        chats = api.get("/chats", params={"limit": 200}, token=person.token).json["items"]
        seen[label] = {
            "chats": sorted((c["id"], c["title"], c["member_count"], c["rules_version"],
                             c["last_message"]["id"] if c["last_message"] else None,
                             c["last_message"]["text"] if c["last_message"] else None) for c in chats),
            "invitations": sorted(inv["id"] for inv in invitations(api, person)),
        }
    return dict(seen, group=group_state(w))


# The table: (name, status by role, a builder of the call).

@dataclass
class Call:
    method: str
    path: str
    kwargs: dict = field(default_factory=dict)
    witness: Callable[[], object] | None = None  # state of a fresh target, unchanged by a refusal


def by_role(default, **statuses) -> dict:
    return {role: statuses.get(role, default) for role in ROLES}


def group_members(status, **overrides) -> dict:
    """`status` for the group chat's members, 404 for everyone else: the chat does not exist for them."""
    return by_role(404, **{**dict.fromkeys(GROUP_MEMBERS, status), **overrides})


def channel_members(status, **overrides) -> dict:
    return by_role(404, **{**dict.fromkeys(CHANNEL_MEMBERS, status), **overrides})


def a_fresh_chat_with_everyone(w: World) -> Call:
    """A chat of its own for one call (leaving it must not empty the shared one)."""
    a = w.a
    chat_id = w.group_chat(a.head, [a.director, a.teacher, a.student, a.parent, a.other_student], "на один раз")
    return Call("DELETE", f"/chats/{chat_id}/members/me", witness=lambda: w.api.get(
        f"/chats/{chat_id}", token=a.other_student.token).json["member_count"])


def a_fresh_invitation(w: World, action: str) -> Call:
    a = w.a
    chat_id = created(w.api.post("/chats", {"org_id": a.org_id, "kind": "group", "title": "приглашение",
                                            "invite_user_ids": [a.student.id]}, token=a.head.token))["id"]
    invitation = invitation_id(w.api, a.student, chat_id)
    body = {"json": {"accepted_rules_version": 1}} if action == "accept" else {}
    return Call("POST", f"/chat-invitations/{invitation}/{action}", body, witness=lambda: (
        w.api.get(f"/chats/{chat_id}", token=a.head.token).json["member_count"],
        invitation in {inv["id"] for inv in invitations(w.api, a.student)}))


def a_fresh_link(w: World) -> Call:
    link = created(w.api.post(f"/chats/{w.group}/invites", {}, token=w.a.head.token))
    return Call("DELETE", f"/chats/{w.group}/invites/{link['id']}", witness=lambda: w.api.get(
        f"/chat-invites/{link['token']}", token=w.observer.token).status_code)


def a_fresh_chat_with_a_link(w: World) -> Call:
    a = w.a
    chat_id = created(w.api.post("/chats", {"org_id": a.org_id, "kind": "group", "title": "по ссылке"},
                                 token=a.head.token))["id"]
    token = created(w.api.post(f"/chats/{chat_id}/invites", {}, token=a.head.token))["token"]
    return Call("POST", f"/chat-invites/{token}/accept", {"json": {"accepted_rules_version": 1}},
                witness=lambda: w.api.get(f"/chats/{chat_id}", token=a.head.token).json["member_count"])


def a_fresh_student_poll(w: World) -> Call:
    poll = created(w.api.post(f"/chats/{w.group}/polls", {"question": "Куда?", "options": ["Музей", "Парк"]},
                              token=w.a.student.token))
    return Call("POST", f"/polls/{poll['id']}/close", witness=lambda: _poll_state(w.api, w.observer.token, poll["id"]))


def a_file_of_a_deleted_message(w: World) -> Call:
    stored = upload_ok(w.api, w.a.teacher, b"withdrawn", "draft.txt")
    message = created(w.api.post(f"/chats/{w.group}/messages", {"file_ids": [stored["id"]]}, token=w.a.teacher.token))
    assert w.api.delete(f"/messages/{message['id']}", token=w.a.teacher.token).status_code == 204
    return Call("GET", f"/files/{stored['id']}")


def new_chat(kind: str) -> Callable[[World], Call]:
    return lambda w: Call("POST", "/chats", {"json": {"org_id": w.a.org_id, "kind": kind,
                                                      "title": f"{kind} {uuid.uuid4().hex[:6]}"}})


def a_file() -> dict:
    return file_part(b"%PDF-1.4 homework", "homework.pdf")


LESSON = (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 1000)[:1000]


def the_teachers_upload(action: str) -> Callable[[World], Call]:
    """One upload of the teacher's for the case (every role's call is about the
    same one: the refused change nothing, the teacher's own call succeeds)."""
    def build(w: World) -> Call:
        if action not in w.uploads:
            upload = created(w.api.post("/uploads", {"name": "урок.mp4", "size": len(LESSON)},
                                        token=w.a.teacher.token))["id"]
            if action == "complete":
                assert w.api.request("PUT", f"/uploads/{upload}/parts/1", w.a.teacher.token, data=LESSON,
                                     headers={"Content-Type": "application/octet-stream"}).status_code == 200
            state = lambda: w.api.get(f"/uploads/{upload}", token=w.a.teacher.token).json  # noqa: E731
            w.uploads[action] = {
                "see": Call("GET", f"/uploads/{upload}", witness=state),
                "send a part": Call("PUT", f"/uploads/{upload}/parts/1", {
                    "data": LESSON, "headers": {"Content-Type": "application/octet-stream"}}, witness=state),
                "complete": Call("POST", f"/uploads/{upload}/complete", witness=state),
                "cancel": Call("DELETE", f"/uploads/{upload}", witness=state)}[action]
        return w.uploads[action]
    return build


CASES = [
    ("list my chats", by_role(200), lambda w: Call("GET", "/chats")),
    ("create a group chat", by_role(404, admin=201, director=201, class_head=201, teacher=201, student=403,
                                    parent=403), new_chat("group")),
    ("create a channel", by_role(404, admin=201, director=201, class_head=201, teacher=201, student=403,
                                 parent=403), new_chat("channel")),
    ("read a chat", group_members(200), lambda w: Call("GET", f"/chats/{w.group}")),
    ("rename a chat", group_members(403, class_head=200),
     lambda w: Call("PATCH", f"/chats/{w.group}", {"json": {"title": f"5А {uuid.uuid4().hex[:6]}"}})),
    ("change the rules", group_members(403, class_head=200),
     lambda w: Call("PATCH", f"/chats/{w.group}", {"json": {"rules": [f"Правило {uuid.uuid4().hex[:6]}"]}})),
    ("change the channel's rules", channel_members(403, admin=200),
     lambda w: Call("PATCH", f"/chats/{w.channel}", {"json": {"rules": [f"Правило {uuid.uuid4().hex[:6]}"]}})),
    ("list members", group_members(200), lambda w: Call("GET", f"/chats/{w.group}/members")),
    ("leave a chat", group_members(204), a_fresh_chat_with_everyone),
    ("list my invitations", by_role(200), lambda w: Call("GET", "/me/chat-invitations")),
    ("accept an invitation", by_role(404, student=200), lambda w: a_fresh_invitation(w, "accept")),
    ("decline an invitation", by_role(404, student=204), lambda w: a_fresh_invitation(w, "decline")),
    ("make a join link", group_members(403, class_head=201), lambda w: Call("POST", f"/chats/{w.group}/invites",
                                                                          {"json": {"max_uses": 5}})),
    ("revoke a join link", group_members(403, class_head=204), a_fresh_link),
    ("preview a join link", by_role(404, **dict.fromkeys(SCHOOL_ROLES, 200)),
     lambda w: Call("GET", f"/chat-invites/{w.link['token']}")),
    ("join by a link", by_role(404, **dict.fromkeys(SCHOOL_ROLES, 200)), a_fresh_chat_with_a_link),
    ("post a message", group_members(201),
     lambda w: Call("POST", f"/chats/{w.group}/messages", {"json": {"text": "Добрый день"}})),
    ("make a join link to the channel", channel_members(403, admin=201),
     lambda w: Call("POST", f"/chats/{w.channel}/invites", {"json": {}})),
    ("post in a channel", channel_members(READ_ONLY, admin=201),
     lambda w: Call("POST", f"/chats/{w.channel}/messages", {"json": {"text": "Объявление"}})),
    ("read the history", group_members(200), lambda w: Call("GET", f"/chats/{w.group}/messages")),
    ("edit a message", group_members(403, student=200),
     lambda w: Call("PATCH", f"/messages/{w.student_message()}", {"json": {"text": "исправлено"}})),
    ("delete a message", group_members(403, student=204, class_head=(403, "removal_requires_rule")),
     lambda w: Call("DELETE", f"/messages/{w.student_message()}")),
    ("mark as read", group_members(200),
     lambda w: Call("POST", f"/chats/{w.group}/read", {"json": {"message_id": w.message["id"]}})),
    ("upload a file", by_role(201), lambda w: Call("POST", "/files", a_file())),
    ("download a file shared in a chat", group_members(200), lambda w: Call("GET", f"/files/{w.file['id']}")),
    ("download a file not shared", by_role(404, teacher=200),
     lambda w: Call("GET", f"/files/{upload_ok(w.api, w.a.teacher)['id']}")),
    ("download a file of a deleted message", by_role(404, teacher=200), a_file_of_a_deleted_message),
    ("create a poll", group_members(201), lambda w: Call("POST", f"/chats/{w.group}/polls", {
        "json": {"question": "Во сколько?", "options": ["9:00", "10:00"]}})),
    ("create a poll in a channel", channel_members(READ_ONLY, admin=201), lambda w: Call(
        "POST", f"/chats/{w.channel}/polls", {"json": {"question": "Ёлка?", "options": ["Да", "Нет"]}})),
    ("see a poll", group_members(200), lambda w: Call("GET", f"/polls/{w.poll['id']}")),
    ("vote", group_members(200), lambda w: Call("POST", f"/polls/{w.poll['id']}/votes", {
        "json": {"option_ids": [w.poll["options"][0]["id"]]}})),
    ("close a poll", group_members(403, student=200, class_head=200), a_fresh_student_poll),
    ("list a chat's files", group_members(200), lambda w: Call("GET", f"/chats/{w.group}/files")),
    ("start an upload", by_role(201), lambda w: Call("POST", "/uploads", {"json": {"name": "урок.mp4", "size": 1000}})),
    ("see an upload", by_role(404, teacher=200), the_teachers_upload("see")),
    ("send a part", by_role(404, teacher=200), the_teachers_upload("send a part")),
    ("complete an upload", by_role(404, teacher=201), the_teachers_upload("complete")),
    ("cancel an upload", by_role(404, teacher=204), the_teachers_upload("cancel")),
    ("count a post's reads", channel_members(403, admin=200),
     lambda w: Call("GET", f"/messages/{w.channel_message['id']}/reads")),
    ("count a group message's reads", group_members((422, "not_a_channel")),
     lambda w: Call("GET", f"/messages/{w.message['id']}/reads")),
    ("make a chat for a class", by_role(404, admin=201, director=201, class_head=201,
                                        teacher=(403, "not_teaching_this_class"), student=403, parent=403),
     lambda w: Call("POST", "/chats", {"json": {"org_id": w.a.org_id, "kind": "group", "title": "Для 5А",
                                                "unit_id": w.a.class_a, "audience": "parents"}})),
    ("make a join link for a class", group_members(403, class_head=201),
     lambda w: Call("POST", f"/chats/{w.group}/invites", {"json": {"unit_id": w.a.class_a}})),
]


def expectation(value) -> tuple[int, str | None]:
    if isinstance(value, tuple):
        return value
    return value, {403: "forbidden", 404: "not_found"}.get(value)


@pytest.mark.parametrize("name,expected,build", CASES, ids=[case[0] for case in CASES])
def test_role_by_endpoint(world, name, expected, build):
    api = world.api
    calls = {role: build(world) for role in ROLES}
    refused = [role for role in ROLES if expectation(expected[role])[0] >= 400]
    before, witnessed = group_state(world), {role: calls[role].witness() for role in refused if calls[role].witness}
    # Those who are refused go first, and change nothing.
    for role in refused:
        call = calls[role]
        status, code = expectation(expected[role])
        assert_error(api.request(call.method, call.path, token=world.people[role].token, **call.kwargs),
                     status, code)
    assert group_state(world) == before
    assert {role: calls[role].witness() for role in witnessed} == witnessed
    for role in ROLES:
        if role not in refused:
            call = calls[role]
            response = api.request(call.method, call.path, token=world.people[role].token, **call.kwargs)
            assert response.status_code == expected[role], (role, response)


def test_without_signing_in_every_endpoint_answers_401(world):
    w = world
    ids = {"chat": w.group, "message": w.message["id"], "poll": w.poll["id"], "file": w.file["id"],
           "link": w.link["id"], "token": w.link["token"], "invitation": w.pending_invitation,
           "upload": created(w.api.post("/uploads", {"name": "урок.mp4", "size": 10}, token=w.a.teacher.token))["id"]}
    calls = [("GET", "/chats"), ("POST", "/chats"), ("GET", "/chats/{chat}"), ("PATCH", "/chats/{chat}"),
             ("GET", "/chats/{chat}/members"), ("DELETE", "/chats/{chat}/members/me"),
             ("GET", "/me/chat-invitations"), ("POST", "/chat-invitations/{invitation}/accept"),
             ("POST", "/chat-invitations/{invitation}/decline"), ("POST", "/chats/{chat}/invites"),
             ("DELETE", "/chats/{chat}/invites/{link}"), ("GET", "/chat-invites/{token}"),
             ("POST", "/chat-invites/{token}/accept"), ("POST", "/chats/{chat}/messages"),
             ("GET", "/chats/{chat}/messages"), ("PATCH", "/messages/{message}"), ("DELETE", "/messages/{message}"),
             ("POST", "/chats/{chat}/read"), ("POST", "/files"), ("GET", "/files/{file}"),
             ("POST", "/chats/{chat}/polls"), ("GET", "/polls/{poll}"), ("POST", "/polls/{poll}/votes"),
             ("POST", "/polls/{poll}/close"), ("GET", "/chats/{chat}/files"), ("GET", "/messages/{message}/reads"),
             ("POST", "/uploads"), ("GET", "/uploads/{upload}"), ("PUT", "/uploads/{upload}/parts/1"),
             ("POST", "/uploads/{upload}/complete"), ("DELETE", "/uploads/{upload}")]
    before = group_state(w)
    for method, path in calls:
        assert_error(w.api.request(method, path.format(**ids), json={}), 401, "unauthorized")
        assert_error(w.api.request(method, path.format(**ids), json={}, token="not-a-token"), 401)
    assert group_state(w) == before


# Who sees what.

def test_a_chat_is_listed_for_its_members_only(world):
    w = world
    for role in ROLES:
        listed = {chat["id"] for chat in w.api.get("/chats", params={"limit": 200},
                                                   token=w.people[role].token).json["items"]}
        assert (w.group in listed) == (role in GROUP_MEMBERS), role
        assert (w.channel in listed) == (role in CHANNEL_MEMBERS), role
        orgs = {chat["org_id"] for chat in w.api.get("/chats", params={"limit": 200},
                                                       token=w.people[role].token).json["items"]}
        if role in ("nobody",):
            assert orgs == set()
        elif role == "outsider":
            assert w.a.org_id not in orgs


def test_invitations_are_seen_by_the_invited_only(world):
    w = world
    for role in ROLES:
        mine = {inv["chat"]["id"] for inv in invitations(w.api, w.people[role])}
        assert (w.pending_chat in mine) == (role == "student"), role


def test_invited_is_not_a_member(world):
    """The student holds an invitation to `pending_chat` but has not accepted it."""
    w, token = world, world.a.student.token
    chat = w.pending_chat
    for method, path, body in [("GET", f"/chats/{chat}", None), ("GET", f"/chats/{chat}/members", None),
                               ("GET", f"/chats/{chat}/messages", None),
                               ("POST", f"/chats/{chat}/messages", {"text": "я тут"}),
                               ("POST", f"/chats/{chat}/polls", {"question": "?", "options": ["a", "b"]}),
                               ("DELETE", f"/chats/{chat}/members/me", None)]:
        assert_error(w.api.request(method, path, json=body, token=token), 404, "not_found")
    assert w.pending_invitation in {inv["id"] for inv in invitations(w.api, w.a.student)}
    assert w.api.get(f"/chats/{chat}", token=w.a.teacher.token).json["member_count"] == 1


def test_a_member_who_left_loses_the_chat_and_its_files(world):
    w, api, a = world, world.api, world.a
    chat = w.group_chat(a.head, [a.student], "уходящий")
    stored = upload_ok(api, a.head, b"schedule", "schedule.txt")
    message = created(api.post(f"/chats/{chat}/messages", {"text": "Расписание", "file_ids": [stored["id"]]},
                               token=a.head.token))
    poll = created(api.post(f"/chats/{chat}/polls", {"question": "?", "options": ["a", "b"]}, token=a.head.token))
    downloaded = api.get(f"/files/{stored['id']}", token=a.student.token)
    assert downloaded.status_code == 200
    assert downloaded.headers["Content-Disposition"].startswith("attachment")
    assert downloaded.headers["X-Content-Type-Options"] == "nosniff"
    assert api.delete(f"/chats/{chat}/members/me", token=a.student.token).status_code == 204
    for method, path, body in [("GET", f"/chats/{chat}", None), ("GET", f"/chats/{chat}/messages", None),
                               ("POST", f"/chats/{chat}/messages", {"text": "я вернулся"}),
                               ("POST", f"/chats/{chat}/read", {"message_id": message["id"]}),
                               ("GET", f"/files/{stored['id']}", None), ("GET", f"/polls/{poll['id']}", None),
                               ("POST", f"/polls/{poll['id']}/votes", {"option_ids": [poll["options"][0]["id"]]}),
                               ("PATCH", f"/messages/{message['id']}", {"text": "x"}),
                               ("DELETE", f"/messages/{message['id']}", None)]:
        assert_error(api.request(method, path, json=body, token=a.student.token), 404, "not_found")
    assert api.get(f"/chats/{chat}", token=a.head.token).json["member_count"] == 1
    assert api.get(f"/polls/{poll['id']}", token=a.head.token).json["total_voters"] == 0


def test_an_anonymous_poll_shows_counts_and_hides_voters_from_everyone(world):
    w, api, a = world, world.api, world.a
    poll = created(api.post(f"/chats/{w.group}/polls", {"question": "Тайное?", "options": ["Да", "Нет"],
                                                         "anonymous": True}, token=a.head.token))
    for person in (a.student, a.parent):
        created(api.post(f"/polls/{poll['id']}/votes", {"option_ids": [poll["options"][0]["id"]]},
                         token=person.token), 200)
    for role in GROUP_MEMBERS:  # the author and moderator included
        shown = created(api.get(f"/polls/{poll['id']}", token=w.people[role].token), 200)
        assert [o["votes"] for o in shown["options"]] == [2, 0], role
        assert all(o["voters"] is None for o in shown["options"]), role
        assert shown["my_option_ids"] == ([poll["options"][0]["id"]] if role in ("student", "parent") else []), role


def test_a_poll_deleted_by_its_author_is_gone(world):
    w, api, a = world, world.api, world.a
    poll = created(api.post(f"/chats/{w.group}/polls", {"question": "Спам?", "options": ["Да", "Нет"]},
                            token=a.student.token))
    assert_error(api.delete(f"/messages/{poll['message_id']}", token=a.head.token), 403, "removal_requires_rule")
    assert api.delete(f"/messages/{poll['message_id']}", token=a.student.token).status_code == 204
    assert_error(api.post(f"/polls/{poll['id']}/votes", {"option_ids": [poll["options"][0]["id"]]},
                          token=a.teacher.token), 404)
    assert_error(api.get(f"/polls/{poll['id']}", token=a.teacher.token), 404)


def test_a_poll_removed_by_a_moderator_for_a_rule_is_gone(world):
    w, api, a = world, world.api, world.a
    poll = created(api.post(f"/chats/{w.group}/polls", {"question": "Реклама?", "options": ["Да", "Нет"]},
                            token=a.student.token))
    assert remove(api, a.head, poll["message_id"], rule=1).status_code == 201
    wait_for(lambda: api.get(f"/polls/{poll['id']}", token=a.teacher.token).status_code == 404,
             message="the removed poll gone")
    assert_error(api.post(f"/polls/{poll['id']}/votes", {"option_ids": [poll["options"][0]["id"]]},
                          token=a.teacher.token), 404)


def test_a_link_for_some_roles_refuses_the_others(world):
    api, a = world.api, world.a
    chat = created(api.post("/chats", {"org_id": a.org_id, "kind": "group", "title": "Родительский комитет"},
                            token=a.head.token))["id"]
    token = created(api.post(f"/chats/{chat}/invites", {"roles": ["parent"]}, token=a.head.token))["token"]
    for person in (a.student, a.teacher, a.admin):
        assert_error(api.post(f"/chat-invites/{token}/accept", {"accepted_rules_version": 1}, token=person.token),
                     403, "role_not_invited")
    assert api.get(f"/chats/{chat}", token=a.head.token).json["member_count"] == 1
    assert api.post(f"/chat-invites/{token}/accept", {"accepted_rules_version": 1},
                    token=a.parent.token).status_code == 200
    assert api.get(f"/chats/{chat}", token=a.head.token).json["member_count"] == 2


def test_the_official_class_chat_is_for_its_class(world):
    """5А's students' chat: the class head moderates it, 5А's students are in
    it; nobody else of the school is, the school's admin included."""
    w, api, a = world, world.api, world.a
    chat = join_official(api, a.head, a.org_id, "class_students", a.class_a)
    assert chat["my_role"] == "moderator"
    join_official(api, a.student, a.org_id, "class_students", a.class_a)
    chat_id = chat["id"]
    for role in ("admin", "director", "teacher", "parent", "nobody", "outsider"):
        token = w.people[role].token
        assert_error(api.get(f"/chats/{chat_id}", token=token), 404, "not_found")
        assert_error(api.post(f"/chats/{chat_id}/messages", {"text": "можно?"}, token=token), 404, "not_found")
    assert_error(api.get(f"/chats/{chat_id}", token=a.other_student.token), 404, "not_found")
    posted = created(api.post(f"/chats/{chat_id}/messages", {"text": "Здравствуйте!"}, token=a.student.token))
    assert_error(api.patch(f"/chats/{chat_id}", {"rules": ["Мои правила"]}, token=a.student.token), 403)
    assert_error(api.post(f"/chats/{chat_id}/invites", {}, token=a.student.token), 403)
    # The platform names official chats; the moderator changes the rules, and
    # removes messages only through moderation, citing a rule.
    assert_error(api.patch(f"/chats/{chat_id}", {"title": "Лучший класс"}, token=a.head.token), 422, "title_fixed")
    assert api.patch(f"/chats/{chat_id}", {"rules": ["Без спама."]}, token=a.head.token).json["rules_version"] == 2
    assert_error(api.delete(f"/messages/{posted['id']}", token=a.head.token), 403, "removal_requires_rule")


# Direct chats: (who starts, with whom, expected).

DIRECT = [
    ("student", "class_head", 201), ("student", "teacher", 201), ("student", "admin", 201),
    ("student", "director", 201), ("student", "parent", 201),
    ("student", "other_student", (403, "direct_chat_not_allowed")),
    ("other_student", "student", (403, "direct_chat_not_allowed")),
    ("parent", "other_student", (403, "direct_chat_not_allowed")),
    ("other_student", "parent", (403, "direct_chat_not_allowed")),
    ("teacher", "other_student", 201), ("parent", "teacher", 201), ("director", "admin", 201),
    ("class_head", "class_head", 422), ("class_head", "outsider", 422), ("student", "nobody", 422),
    ("nobody", "class_head", 404), ("outsider", "class_head", 404), ("outsider_student", "class_head", 404),
]


@pytest.mark.parametrize("starts,other,expected", DIRECT, ids=[f"{s}-{o}" for s, o, _ in DIRECT])
def test_direct_chats(world, starts, other, expected):
    api, people = world.api, world.people
    me, them = people[starts], people[other]

    def state():
        return (sorted(c["id"] for c in api.get("/chats", params={"limit": 200}, token=me.token).json["items"]),
                sorted(inv["id"] for inv in invitations(api, them)))

    before = state()
    response = api.post("/chats", {"org_id": world.a.org_id, "kind": "direct", "user_id": them.id}, token=me.token)
    status, code = expectation(expected)
    if status >= 400:
        assert_error(response, status, code)
        assert state() == before
        return
    assert response.status_code == status, response
    chat = response.json
    assert chat["kind"] == "direct" and chat["member_count"] == 1 and chat["my_role"] == "member"
    # The other person is invited, not added, and joins by consent.
    invitation = next(inv for inv in invitations(api, them) if inv["chat"]["id"] == chat["id"])
    assert accept(api, them, invitation)["member_count"] == 2
    # Nobody moderates a direct chat: no links, no renaming.
    assert_error(api.post(f"/chats/{chat['id']}/invites", {}, token=me.token), 403)
    assert_error(api.patch(f"/chats/{chat['id']}", {"title": "наш"}, token=them.token), 403)


# Tenant isolation.

def a_ids_in_a(w: World) -> list[tuple[str, str, dict | None]]:
    """Every messaging endpoint with ids of school A."""
    g, m, p, opt = w.group, w.message["id"], w.poll["id"], w.poll["options"][0]["id"]
    return [
        ("GET", f"/chats/{g}", None), ("PATCH", f"/chats/{g}", {"title": "захвачено"}),
        ("PATCH", f"/chats/{g}", {"rules": ["Нет правил"]}), ("GET", f"/chats/{g}/members", None),
        ("DELETE", f"/chats/{g}/members/me", None),
        ("GET", f"/chats/{w.channel}", None), ("POST", f"/chats/{w.channel}/messages", {"text": "реклама"}),
        ("POST", f"/chat-invitations/{w.pending_invitation}/accept", {"accepted_rules_version": 1}),
        ("POST", f"/chat-invitations/{w.pending_invitation}/decline", None),
        ("POST", f"/chats/{g}/invites", {}), ("DELETE", f"/chats/{g}/invites/{w.link['id']}", None),
        ("GET", f"/chat-invites/{w.link['token']}", None),
        ("POST", f"/chat-invites/{w.link['token']}/accept", {"accepted_rules_version": 1}),
        ("POST", f"/chat-invites/{w.link['token']}/accept", {"accepted_rules_version": 2}),
        ("POST", f"/chats/{g}/messages", {"text": "привет, я из седьмой"}),
        ("GET", f"/chats/{g}/messages", None), ("PATCH", f"/messages/{m}", {"text": "взлом"}),
        ("DELETE", f"/messages/{m}", None), ("PATCH", f"/messages/{w.channel_message['id']}", {"text": "взлом"}),
        ("DELETE", f"/messages/{w.channel_message['id']}", None),
        ("POST", f"/chats/{g}/read", {"message_id": m}), ("GET", f"/files/{w.file['id']}", None),
        ("POST", f"/chats/{g}/polls", {"question": "?", "options": ["a", "b"]}), ("GET", f"/polls/{p}", None),
        ("POST", f"/polls/{p}/votes", {"option_ids": [opt]}), ("POST", f"/polls/{p}/close", None),
        ("POST", "/chats", {"org_id": w.a.org_id, "kind": "group", "title": "захват"}),
        ("POST", "/chats", {"org_id": w.a.org_id, "kind": "channel", "title": "захват"}),
        ("POST", "/chats", {"org_id": w.a.org_id, "kind": "group", "title": "захват",
                            "invite_user_ids": [w.a.student.id]}),
        ("POST", "/chats", {"org_id": w.a.org_id, "kind": "direct", "user_id": w.a.student.id}),
        ("POST", "/chats", {"org_id": w.a.org_id, "kind": "group", "title": "захват", "unit_id": w.a.class_a,
                            "audience": "both"}),
        ("GET", f"/chats/{g}/files", None), ("GET", f"/messages/{w.channel_message['id']}/reads", None),
        ("GET", f"/messages/{m}/reads", None), ("POST", f"/chats/{g}/invites", {"unit_id": w.a.class_a}),
    ]


def a_ids_in_b(w: World, intruder: str) -> list[tuple[str, str, dict | None, int]]:
    """School B's own chats and polls, carrying ids of school A: there is no id
    of A to hide behind a 404, the field is simply not valid (422), unless the
    intruder may not do the thing at all."""
    student = intruder == "student"
    b = w.b.org_id
    return [
        ("POST", "/chats", {"org_id": b, "kind": "group", "title": "x", "invite_user_ids": [w.a.student.id]},
         403 if student else 422),
        ("POST", "/chats", {"org_id": b, "kind": "group", "title": "x", "unit_id": w.a.class_a},
         403 if student else 422),
        ("POST", "/chats", {"org_id": b, "kind": "direct", "user_id": w.a.student.id}, 422),
        ("POST", "/chats", {"org_id": b, "kind": "direct", "user_id": w.a.head.id}, 422),
        ("POST", f"/chats/{w.b_group}/messages", {"text": "см. файл", "file_ids": [w.file["id"]]}, 422),
        ("POST", f"/chats/{w.b_group}/messages", {"text": "ответ", "reply_to": w.message["id"]}, 422),
        ("POST", f"/chats/{w.b_group}/read", {"message_id": w.message["id"]}, 422),
        ("POST", f"/polls/{w.b_poll['id']}/votes", {"option_ids": [w.poll["options"][0]["id"]]}, 422),
        ("DELETE", f"/chats/{w.b_group}/invites/{w.link['id']}", None, 403 if student else 404),
        ("POST", "/chats", {"org_id": b, "kind": "group", "title": "x", "unit_id": w.a.class_a, "audience": "both"},
         403 if student else 422),
        ("POST", f"/chats/{w.b_group}/invites", {"unit_id": w.a.class_a}, 403 if student else 422),
    ]


def b_state(w: World) -> dict:
    api, token = w.api, w.b.admin.token
    return {"history": [(m["id"], m["text"], m["files"], m["reply_to"]) for m in
                        api.get(f"/chats/{w.b_group}/messages", token=token).json["items"]],
            "poll": _poll_state(api, token, w.b_poll["id"]),
            "chats": sorted(c["id"] for c in api.get("/chats", params={"limit": 200}, token=token).json["items"])}


@pytest.mark.parametrize("intruder", ["admin", "student"])
def test_another_school_finds_nothing_and_changes_nothing(world, intruder):
    w, api = world, world.api
    person = w.b.admin if intruder == "admin" else w.b.student
    # An Idempotency-Key is its user's own: B's key equal to one of A's replays nothing of A.
    key = str(uuid.uuid4())
    created(api.post(f"/chats/{w.group}/messages", {"text": "С ключом"}, token=w.a.student.token,
                     headers={"Idempotency-Key": key}))
    before, b_before = school_state(w), b_state(w)
    assert_error(api.post(f"/chats/{w.group}/messages", {"text": "С ключом"}, token=person.token,
                          headers={"Idempotency-Key": key}), 404, "not_found")
    for method, path, body in a_ids_in_a(w):
        assert_error(api.request(method, path, json=body, token=person.token), 404, "not_found")
    for method, path, body, status in a_ids_in_b(w, intruder):
        assert_error(api.request(method, path, json=body, token=person.token), status)
    # Nothing of school A shows up in B's lists either.
    assert all(chat["org_id"] == w.b.org_id for chat in
               api.get("/chats", params={"limit": 200}, token=person.token).json["items"])
    assert all(inv["chat"]["org_id"] == w.b.org_id for inv in invitations(api, person))
    assert school_state(w) == before
    assert b_state(w) == b_before
    # The school's own people still have it all.
    assert api.get(f"/files/{w.file['id']}", token=w.a.student.token).status_code == 200
    assert api.get(f"/chat-invites/{w.link['token']}", token=w.a.admin.token).status_code == 200


def test_school_a_cannot_use_school_b_links_or_invite_b_people(world):
    w, api, a = world, world.api, world.a
    link = created(api.post(f"/chats/{w.b_group}/invites", {}, token=w.b.admin.token))
    before = b_state(w)
    for person in (a.admin, a.student, w.nobody):
        assert_error(api.get(f"/chat-invites/{link['token']}", token=person.token), 404, "not_found")
        assert_error(api.post(f"/chat-invites/{link['token']}/accept", {"accepted_rules_version": 1},
                              token=person.token), 404, "not_found")
    chats_before = sorted(c["id"] for c in api.get("/chats", params={"limit": 200}, token=a.head.token).json["items"])
    assert_error(api.post("/chats", {"org_id": a.org_id, "kind": "group", "title": "смешанный",
                                     "invite_user_ids": [w.b.student.id]}, token=a.head.token), 422)
    assert sorted(c["id"] for c in api.get("/chats", params={"limit": 200},
                                           token=a.head.token).json["items"]) == chats_before
    assert b_state(w) == before
    assert api.get(f"/chats/{w.b_group}", token=w.b.admin.token).json["member_count"] == 2
