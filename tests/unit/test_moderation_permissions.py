"""Every moderation endpoint for every role: the student, the parent, a
teacher, the class head (who made the chat and moderates it), the school's
admin and director, the operator, another school's admin and student, a user
of no school, and no token; then tenant isolation: a moderator of one chat
moderates nothing in another, and another school's people, holding this
school's ids, find nothing (404) and change nothing.

The rules as the implementation states them: a chat's moderation (queue,
violations, removals, reminders, blocks, its log) is for its moderators (403
for its other members, 404 for everyone else, the school's admins
included); reports are filed by the chat's members; unblock requests by the
blocked member, objections by the other members; appeals by the blocked
member; the school's reports, appeals and log are for its admins and
director."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Callable

import pytest
from support.chats import send
from support.moderation import block, group_chat, in_days, report, violations, wait_member
from support.school import Person, School, create_region

from devkit.helpers import assert_error, wait_for

ROLES = ("student", "parent", "teacher", "class_head", "admin", "director", "operator", "outsider_admin",
         "outsider_member", "nobody")
SCHOOL = ("student", "parent", "teacher", "class_head", "admin", "director")
MEMBERS = ("student", "parent", "teacher", "class_head", "director")  # of the group chat; the admin is not
NOT_IN_SCHOOL = ("operator", "outsider_admin", "outsider_member", "nobody")


class World:
    def __init__(self, platform):
        api = self.api = platform.api
        region = create_region(platform, "Регион модерации")
        a = self.a = School(platform, api, "Школа № 11", region_id=region)
        b = self.b = School(platform, api, "Школа № 12", region_id=region)
        self.people = {"student": a.student, "parent": a.parent, "teacher": a.teacher, "class_head": a.head,
                       "admin": a.admin, "director": a.director, "operator": a.operator,
                       "outsider_admin": b.admin, "outsider_member": b.student, "nobody": Person(api, "nobody")}
        self.group = self.chat("5А: кружок")
        # School B's own chat, moderated by its admin.
        self.b_chat = group_chat(api, b.org_id, b.admin, [b.student], "Кружок школы № 12")
        self.b_message = send(api, b.student, self.b_chat, "Привет из двенадцатой")
        assert report(api, b.admin, self.b_message["id"], reason="Проверка").status_code == 201

    def chat(self, title: str) -> str:
        a = self.a
        return group_chat(self.api, a.org_id, a.head, [a.director, a.teacher, a.student, a.parent, a.other_student],
                          title)

    def student_message(self, chat_id: str | None = None, moderator: Person | None = None) -> str:
        """A message of the student's, known to moderation: its moderator's
        report naming no real rule is refused for that (422), not for being early."""
        chat_id, moderator = chat_id or self.group, moderator or self.a.head
        message = send(self.api, self.a.student, chat_id, f"вопрос {uuid.uuid4().hex[:6]}")
        wait_for(lambda: self.api.post("/reports", {"message_id": message["id"], "reason": "x", "rule": 99},
                                       token=moderator.token).status_code == 422,
                 message="moderation knowing the message")
        return message["id"]

    def blocked_chat(self) -> str:
        """A chat of its own where the student is blocked."""
        chat_id = self.chat(f"блок {uuid.uuid4().hex[:6]}")
        cited = violations(self.api, self.a.head, chat_id, self.a.student, 4)
        assert block(self.api, self.a.head, chat_id, self.a.student, cited, in_days(20)).status_code == 201
        return chat_id

    def block_id(self, chat_id: str) -> str:
        return self.api.get(f"/chats/{chat_id}/blocks", token=self.a.head.token).json["items"][0]["id"]

    def appeal(self) -> str:
        chat_id = self.blocked_chat()
        response = self.api.post(f"/blocks/{self.block_id(chat_id)}/appeals", {"text": "Несправедливо"},
                                 token=self.a.student.token)
        assert response.status_code == 201, response
        return response.json["id"]

    def unblock_request(self) -> tuple[str, str]:
        chat_id = self.blocked_chat()
        response = self.api.post(f"/chats/{chat_id}/unblock-requests", {"apology": "Простите"},
                                 token=self.a.student.token)
        assert response.status_code == 201, response
        return chat_id, response.json["id"]


@pytest.fixture(scope="module")
def world(embedded_module):
    return World(embedded_module)


def school_state(w: World) -> dict:
    """School A's moderation as its admin and the class head see it."""
    api, a = w.api, w.a
    return {
        "log": [e["id"] for e in api.get(f"/orgs/{a.org_id}/moderation-log", params={"limit": 200},
                                         token=a.admin.token).json["items"]],
        "reports": sorted((r["id"], r["status"]) for r in api.get(
            f"/orgs/{a.org_id}/reports", params={"status": "all", "limit": 200}, token=a.director.token).json["items"]),
        "appeals": sorted((x["id"], x["status"]) for x in api.get(
            f"/orgs/{a.org_id}/appeals", params={"status": "all", "limit": 200}, token=a.admin.token).json["items"]),
        "violations": sorted(v["id"] for v in api.get(f"/chats/{w.group}/violations", params={"limit": 200},
                                                      token=a.head.token).json["items"]),
    }


@dataclass
class Call:
    method: str
    path: str
    body: dict | None = None
    params: dict = field(default_factory=dict)


def by_role(default, **statuses) -> dict:
    return {role: statuses.get(role, default) for role in ROLES}


def moderators_only(ok) -> dict:
    """The group chat's class head; 403 for its other members; 404 for everyone else."""
    return by_role(404, **{**dict.fromkeys(MEMBERS, 403), "class_head": ok})


def overseers_only(ok) -> dict:
    return by_role(404, **{**dict.fromkeys(SCHOOL, 403), "admin": ok, "director": ok})


def everyone(ok) -> dict:
    return by_role(ok)


def report_of(w: World) -> str:
    return report(w.api, w.a.parent, w.student_message()).json["id"]


CASES: list[tuple[str, dict, Callable[[World], Call]]] = [
    ("file a report", by_role(404, parent=201, teacher=201, class_head=201, director=201, student=(422, "own_message")),
     lambda w: Call("POST", "/reports", {"message_id": w.student_message(), "reason": "Грубость"})),
    ("read the chat's reports", moderators_only(200), lambda w: Call("GET", f"/chats/{w.group}/reports")),
    ("resolve a report", by_role(404, class_head=200, admin=403, director=403, student=403, parent=403,
                                 teacher=403),
     lambda w: Call("POST", f"/reports/{report_of(w)}/resolve", {"action": "dismiss"})),
    ("read the school's reports", overseers_only(200), lambda w: Call("GET", f"/orgs/{w.a.org_id}/reports")),
    ("read my reports", everyone(200), lambda w: Call("GET", "/me/reports")),
    ("record a violation", moderators_only(201),
     lambda w: Call("POST", f"/chats/{w.group}/violations", {"user_id": w.a.other_student.id, "rule": 2})),
    ("read the chat's violations", moderators_only(200), lambda w: Call("GET", f"/chats/{w.group}/violations")),
    ("read my violations", everyone(200), lambda w: Call("GET", "/me/violations")),
    ("remove a message by rule", moderators_only(201),
     lambda w: Call("POST", f"/messages/{w.student_message()}/removal", {"rule": 1})),
    ("remind of the rules", moderators_only(202), lambda w: Call("POST", f"/chats/{w.group}/reminders")),
    ("block a member", moderators_only(201), lambda w: (lambda chat_id: Call(
        "POST", f"/chats/{chat_id}/blocks", {"user_id": w.a.other_student.id, "until": in_days(5),
                                             "violation_ids": violations(w.api, w.a.head, chat_id,
                                                                         w.a.other_student, 4)}))(w.chat("блок"))),
    ("read the chat's blocks", moderators_only(200), lambda w: Call("GET", f"/chats/{w.group}/blocks")),
    ("unblock early", moderators_only((409, "no_unblock_request")),
     lambda w: Call("DELETE", f"/chats/{w.blocked_chat()}/blocks/{w.a.student.id}")),
    ("read my blocks", everyone(200), lambda w: Call("GET", "/me/blocks")),
    ("ask to be unblocked", by_role(404, **{**dict.fromkeys(MEMBERS, (409, "not_blocked")), "student": 201}),
     lambda w: Call("POST", f"/chats/{w.blocked_chat()}/unblock-requests", {"apology": "Простите"})),
    ("read unblock requests", by_role(404, **dict.fromkeys(MEMBERS, 200)),
     lambda w: Call("GET", f"/chats/{w.group}/unblock-requests")),
    ("object to an unblock request", by_role(404, **{**dict.fromkeys(MEMBERS, 201), "student": (403, "own_request")}),
     lambda w: Call("POST", f"/unblock-requests/{w.unblock_request()[1]}/objections", {"reason": "Против"})),
    ("appeal a block", by_role(404, student=201, class_head=403, admin=403, director=403),
     lambda w: Call("POST", f"/blocks/{w.block_id(w.blocked_chat())}/appeals", {"text": "Я не нарушал"})),
    ("read the school's appeals", overseers_only(200), lambda w: Call("GET", f"/orgs/{w.a.org_id}/appeals")),
    ("decide an appeal", overseers_only(200),
     lambda w: Call("POST", f"/appeals/{w.appeal()}/decision", {"lift": False, "note": "Блокировка по правилам"})),
    ("read the chat's log", moderators_only(200), lambda w: Call("GET", f"/chats/{w.group}/moderation-log")),
    ("read the school's log", overseers_only(200), lambda w: Call("GET", f"/orgs/{w.a.org_id}/moderation-log")),
    ("export the school's log", overseers_only(200),
     lambda w: Call("GET", f"/orgs/{w.a.org_id}/moderation-log", params={"format": "csv"})),
]


def expectation(value) -> tuple[int, str | None]:
    if isinstance(value, tuple):
        return value
    return value, {403: "forbidden", 404: "not_found"}.get(value)


@pytest.mark.parametrize("name,expected,build", CASES, ids=[case[0] for case in CASES])
def test_role_by_endpoint(world, name, expected, build):
    """Refused roles go first, on one shared target, and change nothing; then
    every allowed role on a target of its own."""
    api = world.api
    refused = [role for role in ROLES if expectation(expected[role])[0] >= 400]
    shared = build(world)
    before = school_state(world)
    for role in refused:
        status, code = expectation(expected[role])
        assert_error(api.request(shared.method, shared.path, token=world.people[role].token, json=shared.body,
                                 params=shared.params), status, code)
    assert school_state(world) == before
    for role in ROLES:
        if role not in refused:
            call = build(world)
            response = api.request(call.method, call.path, token=world.people[role].token, json=call.body,
                                   params=call.params)
            assert response.status_code == expected[role], (role, response)


def test_without_a_valid_token_every_endpoint_answers_401(world):
    w = world
    ids = {"chat": w.group, "org": w.a.org_id, "message": "0" * 32, "report": "r", "block": "b", "user": w.a.student.id,
           "request": "q", "appeal": "p"}
    calls = [("POST", "/reports"), ("GET", "/chats/{chat}/reports"), ("POST", "/reports/{report}/resolve"),
             ("GET", "/orgs/{org}/reports"), ("GET", "/me/reports"), ("POST", "/chats/{chat}/violations"),
             ("GET", "/chats/{chat}/violations"), ("GET", "/me/violations"), ("POST", "/messages/{message}/removal"),
             ("POST", "/chats/{chat}/reminders"), ("POST", "/chats/{chat}/blocks"), ("GET", "/chats/{chat}/blocks"),
             ("DELETE", "/chats/{chat}/blocks/{user}"), ("GET", "/me/blocks"),
             ("POST", "/chats/{chat}/unblock-requests"), ("GET", "/chats/{chat}/unblock-requests"),
             ("POST", "/unblock-requests/{request}/objections"), ("POST", "/blocks/{block}/appeals"),
             ("GET", "/orgs/{org}/appeals"), ("POST", "/appeals/{appeal}/decision"),
             ("GET", "/chats/{chat}/moderation-log"), ("GET", "/orgs/{org}/moderation-log")]
    before = school_state(w)
    for method, path in calls:
        assert_error(w.api.request(method, path.format(**ids), json={}), 401, "unauthorized")
        assert_error(w.api.request(method, path.format(**ids), json={}, token="not-a-token"), 401)
    assert school_state(w) == before


def test_a_moderator_of_one_chat_moderates_nothing_in_another(world):
    """The class head moderates the group chat; the teacher's own chat, where
    the class head is a plain member, and one they are not in, are not theirs."""
    w, api, a = world, world.api, world.a
    as_member = group_chat(api, a.org_id, a.teacher, [a.head, a.student], "Кружок учителя")
    not_in = group_chat(api, a.org_id, a.teacher, [a.student], "Факультатив")
    for chat_id, status in ((as_member, 403), (not_in, 404)):
        message = w.student_message(chat_id, a.teacher)
        cited = violations(api, a.teacher, chat_id, a.student, 4)
        before = (school_state(w), api.get(f"/chats/{chat_id}/moderation-log", token=a.teacher.token).json)
        for method, path, body in [
                ("GET", f"/chats/{chat_id}/reports", None), ("GET", f"/chats/{chat_id}/violations", None),
                ("POST", f"/chats/{chat_id}/violations", {"user_id": a.student.id, "rule": 1}),
                ("POST", f"/messages/{message}/removal", {"rule": 1}), ("POST", f"/chats/{chat_id}/reminders", None),
                ("POST", f"/chats/{chat_id}/blocks", {"user_id": a.student.id, "until": in_days(3),
                                                      "violation_ids": cited}),
                ("GET", f"/chats/{chat_id}/blocks", None), ("DELETE", f"/chats/{chat_id}/blocks/{a.student.id}", None),
                ("GET", f"/chats/{chat_id}/moderation-log", None)]:
            assert_error(api.request(method, path, json=body, token=a.head.token), status)
        assert (school_state(w), api.get(f"/chats/{chat_id}/moderation-log", token=a.teacher.token).json) == before


def test_another_school_finds_nothing_and_changes_nothing(world):
    """School B's admin and student, holding school A's ids."""
    w, api, a = world, world.api, world.a
    message = w.student_message()
    filed = report(api, a.parent, message).json["id"]
    chat_id, request_id = w.unblock_request()
    block_id = w.block_id(chat_id)
    appeal = w.appeal()
    cited = violations(api, a.head, w.group, a.other_student, 1)
    before = school_state(w)
    for intruder in (w.b.admin, w.b.student):
        for method, path, body in [
                ("POST", "/reports", {"message_id": message, "reason": "x"}),
                ("GET", f"/chats/{w.group}/reports", None), ("POST", f"/reports/{filed}/resolve", {"action": "dismiss"}),
                ("GET", f"/orgs/{a.org_id}/reports", None),
                ("POST", f"/chats/{w.group}/violations", {"user_id": a.student.id, "rule": 1}),
                ("GET", f"/chats/{w.group}/violations", None), ("POST", f"/messages/{message}/removal", {"rule": 1}),
                ("POST", f"/chats/{w.group}/reminders", None),
                ("POST", f"/chats/{w.group}/blocks", {"user_id": a.other_student.id, "until": in_days(1),
                                                      "violation_ids": cited}),
                ("GET", f"/chats/{chat_id}/blocks", None), ("DELETE", f"/chats/{chat_id}/blocks/{a.student.id}", None),
                ("POST", f"/chats/{chat_id}/unblock-requests", {"apology": "x"}),
                ("GET", f"/chats/{chat_id}/unblock-requests", None),
                ("POST", f"/unblock-requests/{request_id}/objections", {"reason": "Против"}),
                ("POST", f"/blocks/{block_id}/appeals", {"text": "x"}), ("GET", f"/orgs/{a.org_id}/appeals", None),
                ("POST", f"/appeals/{appeal}/decision", {"lift": True, "note": "x"}),
                ("GET", f"/chats/{w.group}/moderation-log", None), ("GET", f"/orgs/{a.org_id}/moderation-log", None),
                ("GET", f"/orgs/{a.org_id}/moderation-log?format=csv", None)]:
            assert_error(api.request(method, path, json=body, token=intruder.token), 404, "not_found")
        # Nothing of school A in B's own lists either.
        for path in ("/me/reports", "/me/violations", "/me/blocks"):
            assert all(item["chat_id"] in (w.b_chat,) for item in
                       api.get(path, params={"status": "all"}, token=intruder.token).json["items"])
    assert school_state(w) == before
    # And school A's admin sees nothing of B's.
    for path in (f"/orgs/{w.b.org_id}/moderation-log", f"/orgs/{w.b.org_id}/reports", f"/orgs/{w.b.org_id}/appeals",
                 f"/chats/{w.b_chat}/reports", f"/chats/{w.b_chat}/moderation-log"):
        assert_error(api.get(path, token=a.admin.token), 404, "not_found")
    assert api.get(f"/orgs/{w.b.org_id}/moderation-log", token=w.b.admin.token).status_code == 200
    wait_member(api, a.student, w.group)
