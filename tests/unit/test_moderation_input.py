"""Bad input to moderation gets a 4xx JSON error and changes nothing: unknown
rule numbers, times in the past or more than a month ahead, people who are
not in the chat, texts too long or empty, ids of other chats and schools,
broken bodies and queries. Something moderation has not heard of yet is 409
`not_ready` with Retry-After, never 404."""
from __future__ import annotations

from datetime import timedelta

import pytest
from support.chats import send
from support.moderation import RULES, block, group_chat, in_days, report, violations
from support.school import School, create_region

from devkit.helpers import assert_error, wait_for
from services.common.clock import isoformat, utcnow
from services.moderation.rules import month_after

KB100 = "я" * 100_000


class World:
    def __init__(self, platform):
        api = self.api = platform.api
        region = create_region(platform, "Регион ввода")
        a = self.a = School(platform, api, "Школа № 21", region_id=region)
        self.b = School(platform, api, "Школа № 22", region_id=region)
        self.chat = group_chat(api, a.org_id, a.head, [a.teacher, a.student, a.parent])
        self.other_chat = group_chat(api, a.org_id, a.head, [a.other_student], "Другой кружок")
        self.message = self.known(send(api, a.student, self.chat, "Первое сообщение")["id"])
        self.other_message = self.known(send(api, a.other_student, self.other_chat, "В другом чате")["id"])
        self.four = violations(api, a.head, self.chat, a.student, 4)
        self.other_four = violations(api, a.head, self.other_chat, a.other_student, 4)
        # A blocked member with an open unblock request and an appeal, in a chat of their own.
        self.blocked = group_chat(api, a.org_id, a.head, [a.student, a.parent], "Блок")
        cited = violations(api, a.head, self.blocked, a.student, 4)
        self.block = block(api, a.head, self.blocked, a.student, cited, in_days(10)).json
        self.request = api.post(f"/chats/{self.blocked}/unblock-requests", {"apology": "Простите"},
                                token=a.student.token).json
        self.appeal = api.post(f"/blocks/{self.block['id']}/appeals", {"text": "Несправедливо"},
                               token=a.student.token).json
        self.report = report(api, a.parent, self.message).json
        # School B's request, for objections from school A.
        b = self.b
        b_chat = group_chat(api, b.org_id, b.admin, [b.student, b.parent], "Кружок Б")
        assert block(api, b.admin, b_chat, b.student, violations(api, b.admin, b_chat, b.student, 4),
                     in_days(5)).status_code == 201
        self.b_request = api.post(f"/chats/{b_chat}/unblock-requests", {"apology": "Простите"},
                                  token=b.student.token).json

    def known(self, message_id: str) -> str:
        wait_for(lambda: report(self.api, self.a.head, message_id, rule=99).status_code == 422,
                 message="moderation knowing the message")
        return message_id


@pytest.fixture(scope="module")
def world(embedded_module):
    return World(embedded_module)


def state(w: World) -> dict:
    api, a = w.api, w.a
    return {
        "log": [e["id"] for e in api.get(f"/orgs/{a.org_id}/moderation-log", params={"limit": 200},
                                         token=a.admin.token).json["items"]],
        "reports": sorted((r["id"], r["status"]) for r in api.get(
            f"/orgs/{a.org_id}/reports", params={"status": "all", "limit": 200}, token=a.admin.token).json["items"]),
        "blocks": sorted((b["id"], b["status"]) for chat in (w.chat, w.other_chat, w.blocked) for b in api.get(
            f"/chats/{chat}/blocks", params={"status": "all"}, token=a.head.token).json["items"]),
        "requests": [(r["id"], r["objections"]) for r in api.get(f"/chats/{w.blocked}/unblock-requests",
                                                                 token=a.head.token).json["items"]],
        "appeals": sorted((x["id"], x["status"]) for x in api.get(
            f"/orgs/{a.org_id}/appeals", params={"status": "all"}, token=a.admin.token).json["items"]),
    }


def month_and_a_minute() -> str:
    return isoformat(month_after(utcnow()) + timedelta(minutes=1))


# (name, who, method, path builder, body builder, status, code)
CASES = [
    # Reports.
    ("report: no reason", "parent", "POST", lambda w: "/reports", lambda w: {"message_id": w.message}, 422, None),
    ("report: blank reason", "teacher", "POST", lambda w: "/reports",
     lambda w: {"message_id": w.message, "reason": "   "}, 422, None),
    ("report: reason too long", "teacher", "POST", lambda w: "/reports",
     lambda w: {"message_id": w.message, "reason": "x" * 2001}, 422, None),
    ("report: unknown rule", "teacher", "POST", lambda w: "/reports",
     lambda w: {"message_id": w.message, "reason": "x", "rule": len(RULES) + 1}, 422, "unknown_rule"),
    ("report: rule zero", "teacher", "POST", lambda w: "/reports",
     lambda w: {"message_id": w.message, "reason": "x", "rule": 0}, 422, None),
    ("report: rule as text", "teacher", "POST", lambda w: "/reports",
     lambda w: {"message_id": w.message, "reason": "x", "rule": "1"}, 422, None),
    ("report: own message", "student", "POST", lambda w: "/reports",
     lambda w: {"message_id": w.message, "reason": "x"}, 422, "own_message"),
    ("report: twice", "parent", "POST", lambda w: "/reports",
     lambda w: {"message_id": w.message, "reason": "ещё раз"}, 409, "already_reported"),
    ("report: a message of a chat one is not in", "teacher", "POST", lambda w: "/reports",
     lambda w: {"message_id": w.other_message, "reason": "x"}, 404, "not_found"),
    ("report: a malformed message id", "teacher", "POST", lambda w: "/reports",
     lambda w: {"message_id": "../../etc", "reason": "x"}, 404, "not_found"),
    ("report: an id too long", "teacher", "POST", lambda w: "/reports",
     lambda w: {"message_id": "a" * 33, "reason": "x"}, 422, None),
    ("report: not an object", "teacher", "POST", lambda w: "/reports", lambda w: ["message_id"], 422, None),
    ("resolve: unknown action", "class_head", "POST", lambda w: f"/reports/{w.report['id']}/resolve",
     lambda w: {"action": "ban"}, 422, None),
    ("resolve: violation without a rule", "class_head", "POST", lambda w: f"/reports/{w.report['id']}/resolve",
     lambda w: {"action": "violation"}, 422, None),
    ("resolve: removal with an unknown rule", "class_head", "POST", lambda w: f"/reports/{w.report['id']}/resolve",
     lambda w: {"action": "removal", "rule": 42}, 422, "unknown_rule"),
    ("resolve: note too long", "class_head", "POST", lambda w: f"/reports/{w.report['id']}/resolve",
     lambda w: {"action": "dismiss", "note": "x" * 1001}, 422, None),
    ("resolve: no such report", "class_head", "POST", lambda w: "/reports/nope/resolve",
     lambda w: {"action": "dismiss"}, 404, "not_found"),
    ("reports: unknown status", "class_head", "GET", lambda w: f"/chats/{w.chat}/reports?status=pending",
     lambda w: None, 422, None),
    ("reports: a cursor not ours", "class_head", "GET", lambda w: f"/chats/{w.chat}/reports?cursor=-1",
     lambda w: None, 422, None),
    ("reports: limit too big", "class_head", "GET", lambda w: f"/chats/{w.chat}/reports?limit=1000",
     lambda w: None, 422, None),
    # Violations and removals.
    ("violation: unknown rule number", "class_head", "POST", lambda w: f"/chats/{w.chat}/violations",
     lambda w: {"user_id": w.a.student.id, "rule": 7}, 422, "unknown_rule"),
    ("violation: no rule", "class_head", "POST", lambda w: f"/chats/{w.chat}/violations",
     lambda w: {"user_id": w.a.student.id}, 422, None),
    ("violation: for a non-member", "class_head", "POST", lambda w: f"/chats/{w.chat}/violations",
     lambda w: {"user_id": w.a.other_student.id, "rule": 1}, 422, None),
    ("violation: for someone of another school", "class_head", "POST", lambda w: f"/chats/{w.chat}/violations",
     lambda w: {"user_id": w.b.student.id, "rule": 1}, 422, None),
    ("violation: against oneself", "class_head", "POST", lambda w: f"/chats/{w.chat}/violations",
     lambda w: {"user_id": w.a.head.id, "rule": 1}, 422, "own_conduct"),
    ("violation: a message of another chat", "class_head", "POST", lambda w: f"/chats/{w.chat}/violations",
     lambda w: {"user_id": w.a.student.id, "rule": 1, "message_id": w.other_message}, 422, None),
    ("violation: someone else's message", "class_head", "POST", lambda w: f"/chats/{w.chat}/violations",
     lambda w: {"user_id": w.a.parent.id, "rule": 1, "message_id": w.message}, 422, None),
    ("violation: note too long", "class_head", "POST", lambda w: f"/chats/{w.chat}/violations",
     lambda w: {"user_id": w.a.student.id, "rule": 1, "note": "x" * 1001}, 422, None),
    ("removal: without a rule", "class_head", "POST", lambda w: f"/messages/{w.message}/removal",
     lambda w: {}, 422, None),
    ("removal: unknown rule", "class_head", "POST", lambda w: f"/messages/{w.message}/removal",
     lambda w: {"rule": 4}, 422, "unknown_rule"),
    ("removal: a negative rule", "class_head", "POST", lambda w: f"/messages/{w.message}/removal",
     lambda w: {"rule": -1}, 422, None),
    # Blocks.
    ("block: until in the past", "class_head", "POST", lambda w: f"/chats/{w.chat}/blocks",
     lambda w: {"user_id": w.a.student.id, "until": in_days(-0.01), "violation_ids": w.four}, 422,
     "until_in_the_past"),
    ("block: more than a month", "class_head", "POST", lambda w: f"/chats/{w.chat}/blocks",
     lambda w: {"user_id": w.a.student.id, "until": month_and_a_minute(), "violation_ids": w.four}, 422,
     "block_too_long"),
    ("block: until not a time", "class_head", "POST", lambda w: f"/chats/{w.chat}/blocks",
     lambda w: {"user_id": w.a.student.id, "until": "завтра", "violation_ids": w.four}, 422, None),
    ("block: three violations", "class_head", "POST", lambda w: f"/chats/{w.chat}/blocks",
     lambda w: {"user_id": w.a.student.id, "until": in_days(3), "violation_ids": w.four[:3]}, 422,
     "not_enough_violations"),
    ("block: one violation four times", "class_head", "POST", lambda w: f"/chats/{w.chat}/blocks",
     lambda w: {"user_id": w.a.student.id, "until": in_days(3), "violation_ids": w.four[:1] * 4}, 422,
     "not_enough_violations"),
    ("block: another member's violations", "class_head", "POST", lambda w: f"/chats/{w.chat}/blocks",
     lambda w: {"user_id": w.a.student.id, "until": in_days(3), "violation_ids": w.other_four}, 422, None),
    ("block: no violations", "class_head", "POST", lambda w: f"/chats/{w.chat}/blocks",
     lambda w: {"user_id": w.a.student.id, "until": in_days(3), "violation_ids": []}, 422, None),
    ("block: a non-member", "class_head", "POST", lambda w: f"/chats/{w.chat}/blocks",
     lambda w: {"user_id": w.a.other_student.id, "until": in_days(3), "violation_ids": w.other_four}, 422, None),
    ("block: the blocked again", "class_head", "POST", lambda w: f"/chats/{w.blocked}/blocks",
     lambda w: {"user_id": w.a.student.id, "until": in_days(3), "violation_ids": w.four}, 409, "already_blocked"),
    ("unblock: not blocked", "class_head", "DELETE", lambda w: f"/chats/{w.chat}/blocks/{w.a.parent.id}",
     lambda w: None, 404, "not_blocked"),
    ("unblock: the window is open", "class_head", "DELETE", lambda w: f"/chats/{w.blocked}/blocks/{w.a.student.id}",
     lambda w: None, 409, "objection_window_open"),
    ("blocks: unknown status", "class_head", "GET", lambda w: f"/chats/{w.chat}/blocks?status=soon",
     lambda w: None, 422, None),
    # Unblock requests and objections.
    ("apology of 100 KB", "student", "POST", lambda w: f"/chats/{w.blocked}/unblock-requests",
     lambda w: {"apology": KB100}, 413, "payload_too_large"),
    ("apology: empty", "student", "POST", lambda w: f"/chats/{w.blocked}/unblock-requests",
     lambda w: {"apology": ""}, 422, None),
    ("apology: a second one while the first is open", "student", "POST",
     lambda w: f"/chats/{w.blocked}/unblock-requests", lambda w: {"apology": "Ещё раз простите"}, 409,
     "request_open"),
    ("apology: not blocked", "parent", "POST", lambda w: f"/chats/{w.blocked}/unblock-requests",
     lambda w: {"apology": "Простите"}, 409, "not_blocked"),
    ("objection: reason too long", "parent", "POST", lambda w: f"/unblock-requests/{w.request['id']}/objections",
     lambda w: {"reason": "x" * 1001}, 422, None),
    ("objection: to another school's request", "parent", "POST",
     lambda w: f"/unblock-requests/{w.b_request['id']}/objections", lambda w: {"reason": "Против"}, 404,
     "not_found"),
    ("objection: to an unknown request", "parent", "POST", lambda w: "/unblock-requests/nope/objections",
     lambda w: {}, 404, "not_found"),
    # Appeals.
    ("appeal: empty", "student", "POST", lambda w: f"/blocks/{w.block['id']}/appeals", lambda w: {"text": " "},
     422, None),
    ("appeal: too long", "student", "POST", lambda w: f"/blocks/{w.block['id']}/appeals",
     lambda w: {"text": "x" * 4001}, 422, None),
    ("appeal: a second one", "student", "POST", lambda w: f"/blocks/{w.block['id']}/appeals",
     lambda w: {"text": "Ещё раз"}, 409, "appeal_open"),
    ("decision: no note", "admin", "POST", lambda w: f"/appeals/{w.appeal['id']}/decision",
     lambda w: {"lift": True}, 422, None),
    ("decision: lift as text", "admin", "POST", lambda w: f"/appeals/{w.appeal['id']}/decision",
     lambda w: {"lift": "может быть", "note": "x"}, 422, None),
    # The log.
    ("log: from after to", "admin", "GET",
     lambda w: f"/orgs/{w.a.org_id}/moderation-log?from=2026-10-02T00:00:00Z&to=2026-10-01T00:00:00Z",
     lambda w: None, 422, None),
    ("log: from not a time", "admin", "GET", lambda w: f"/orgs/{w.a.org_id}/moderation-log?from=вчера",
     lambda w: None, 422, None),
    ("log: unknown format", "admin", "GET", lambda w: f"/orgs/{w.a.org_id}/moderation-log?format=xlsx",
     lambda w: None, 422, None),
]


@pytest.mark.parametrize("name,who,method,path,body,status,code", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_refused_and_changes_nothing(world, name, who, method, path, body, status, code):
    w = world
    person = {"class_head": w.a.head, "student": w.a.student, "parent": w.a.parent, "teacher": w.a.teacher,
              "admin": w.a.admin}[who]
    before = state(w)
    assert_error(w.api.request(method, path(w), json=body(w), token=person.token), status, code)
    assert state(w) == before


def test_a_body_that_is_not_json_is_refused(world):
    w = world
    before = state(w)
    response = w.api.request("POST", f"/chats/{w.chat}/violations", token=w.a.head.token, data="{not json",
                             headers={"Content-Type": "application/json"})
    assert_error(response, 400)
    assert state(w) == before


def test_what_moderation_has_not_heard_of_yet_is_not_ready_never_missing(world):
    """A well-formed id moderation does not know may be on its way: 409 with Retry-After."""
    w = world
    before = state(w)
    unknown = "f" * 32
    for method, path, body in [("POST", "/reports", {"message_id": unknown, "reason": "x"}),
                               ("POST", f"/messages/{unknown}/removal", {"rule": 1}),
                               ("GET", f"/chats/{unknown}/reports", None),
                               ("POST", f"/chats/{unknown}/violations", {"user_id": w.a.student.id, "rule": 1}),
                               ("POST", f"/chats/{w.chat}/violations",
                                {"user_id": w.a.student.id, "rule": 1, "message_id": unknown})]:
        response = w.api.request(method, path, json=body, token=w.a.head.token)
        assert_error(response, 409, "not_ready")
        assert response.headers["Retry-After"] == "1"
    assert state(w) == before
