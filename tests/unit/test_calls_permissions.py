"""Every calls endpoint for every role: the admin, the director, the class
head (a verified teacher), a teacher, a student, a parent, the operator, a
signed-in user of no school and another school's admin and student; then
tenant isolation: school B's people, holding school A's ids, find nothing
(404) and change nothing, and the other way round; and without a token,
401 everywhere.

The rules as the implementation states them (services/calls/rules.py): a
call exists for those who may join it (its chat's members, its invitees, a
lesson's class) and for its school's admins, who see it but do not join it
uninvited; group calls are started by the chat's members; lessons and
broadcasts are planned by verified teachers and admins, meetings by admins
and the director; the host alone moves, cancels, ends, mutes, removes,
admits and locks; attendance is for the host and the school's admins.

The shared call of most cases is `call`: a group call in the class head's
chat with the director, the teacher, the student and the parent, all of
whom joined it. The school's admin is not in the chat."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

import pytest
from support.calls import calls_know_members, calls_know_teacher, direct_chat, group_chat
from support.chats import created
from support.school import Person, School, create_region, operator

from devkit.helpers import assert_error
from services.common.clock import isoformat, utcnow

ROLES = ("admin", "director", "class_head", "teacher", "student", "parent", "operator", "nobody", "outsider",
         "outsider_member")
SCHOOL_ROLES = ROLES[:6]
MEMBERS = ("director", "class_head", "teacher", "student", "parent")  # of the group chat and its call


class World:
    def __init__(self, platform):
        api = self.api = platform.api
        self.platform = platform
        region = create_region(platform, "Регион звонков")
        a = self.a = School(platform, api, "Школа № 5", region_id=region)
        b = self.b = School(platform, api, "Школа № 7", region_id=region)
        calls_know_teacher(platform, a.org_id, a.head.id)
        self.people = dict(a.everyone, operator=operator(api), nobody=Person(api, "nobody"), outsider=b.admin,
                           outsider_member=b.student)
        self.members = [a.director, a.teacher, a.student, a.parent]
        self.chat = self.group_chat("5А: кружок")
        self.class_chat = self.group_chat("5А: математика", unit_id=a.class_a)
        self.call = self.start(a.head, kind="group", chat_id=self.chat)
        self.pids = {label: self.join(self.call, self.people[label])["participant_id"] for label in MEMBERS}
        self.direct = direct_chat(api, a.org_id, a.head, a.parent)
        calls_know_members(platform, self.direct, [a.head.id, a.parent.id])
        b_chat = group_chat(api, b.admin, b.org_id, [b.student], "Кружок школы № 7")
        calls_know_members(platform, b_chat, [b.admin.id, b.student.id])
        self.b_call = self.start(b.admin, org_id=b.org_id, kind="group", chat_id=b_chat)
        self.b_pid = self.join(self.b_call, b.student)["participant_id"]

    def group_chat(self, title: str, **fields) -> str:
        chat_id = group_chat(self.api, self.a.head, self.a.org_id, self.members, title, **fields)
        calls_know_members(self.platform, chat_id, [self.a.head.id, *(p.id for p in self.members)])
        return chat_id

    def start(self, host: Person, org_id: str | None = None, **body) -> str:
        return created(self.api.post("/calls", {"org_id": org_id or self.a.org_id, **body}, token=host.token))["id"]

    def join(self, call_id: str, person: Person) -> dict:
        response = self.api.post(f"/calls/{call_id}/join", token=person.token)
        assert response.status_code in (200, 202), response
        return response.json

    def meeting(self, waiting_room: bool = False, joined: tuple[str, ...] = ()) -> str:
        """The admin's meeting with everybody of school A invited."""
        call_id = self.start(self.a.admin, kind="meeting", waiting_room=waiting_room,
                             invitee_ids=[p.id for label, p in self.a.everyone.items() if label != "admin"])
        for label in joined:
            self.join(call_id, self.people[label])
        return call_id

    def ringing(self) -> str:
        a_direct_call_to_make(self)
        return self.start(self.a.head, kind="direct", chat_id=self.direct)

    def lesson(self) -> str:
        return self.start(self.a.head, kind="lesson", chat_id=self.class_chat, title="Дроби",
                          scheduled_at=isoformat(utcnow() + timedelta(days=1)))

    def state(self, call_id: str | None = None, viewer: Person | None = None) -> dict:
        """What the admin (or the host) sees of a call: its status, its participants and their stays."""
        call_id, token = call_id or self.call, (viewer or self.a.admin).token
        host = self.api.get(f"/calls/{call_id}", token=token).json
        people = self.api.get(f"/calls/{call_id}/participants", token=token).json["items"]
        stays = self.api.get(f"/calls/{call_id}/attendance", token=token).json["participants"]
        return {"call": {key: host[key] for key in ("status", "title", "scheduled_at", "locked", "outcome")},
                "participants": sorted((p["id"], p["state"], p["audio_muted"], p["hand_raised"]) for p in people),
                "stays": sorted((row["participant_id"], len(row["intervals"])) for row in stays)}


@pytest.fixture(scope="module")
def world(embedded_module_with):
    return World(embedded_module_with(CALL_P2P_MAX_PARTICIPANTS=50))


@dataclass
class Call:
    method: str
    path: str
    kwargs: dict = field(default_factory=dict)
    witness: Callable[[], object] | None = None  # state of a fresh target, unchanged by a refusal


def by_role(default, **statuses) -> dict:
    return {role: statuses.get(role, default) for role in ROLES}


def in_school(status, **overrides) -> dict:
    """`status` for school A's people, 404 for everyone else: school A's calls do not exist for them."""
    return by_role(404, **{**dict.fromkeys(SCHOOL_ROLES, status), **overrides})


def hosted_by_admin(**overrides) -> dict:
    return in_school((403, "host_only"), admin=200, **overrides)


def a_group_call_to_make(w: World) -> Call:
    """A chat of its own for each attempt: one call at a time in a chat."""
    chat_id = w.group_chat(f"чат {uuid.uuid4().hex[:6]}")
    return Call("POST", "/calls", {"json": {"org_id": w.a.org_id, "kind": "group", "chat_id": chat_id}},
                witness=lambda: w.api.get("/calls", params={"chat_id": chat_id}, token=w.a.head.token).json["items"])


def a_direct_call_to_make(w: World) -> Call:
    """Whoever rang last in the head's direct chat with the parent hangs up
    first: one call at a time in a chat."""
    for live in w.api.get("/calls", params={"chat_id": w.direct, "status": "ringing"}, token=w.a.head.token).json["items"]:
        w.api.post(f"/calls/{live['id']}/cancel", token=w.people["class_head" if live["host"]["id"] == w.a.head.id
                                                                  else "parent"].token)
    return Call("POST", "/calls", {"json": {"org_id": w.a.org_id, "kind": "direct", "chat_id": w.direct}})


def tomorrow() -> str:
    return isoformat(utcnow() + timedelta(days=1))


def a_ringing_call(w: World) -> Call:
    call_id = w.ringing()
    return Call("POST", f"/calls/{call_id}/decline", witness=lambda: w.state(call_id, w.a.head))


def a_fresh_lesson(action: str, **kwargs) -> Callable[[World], Call]:
    def build(w: World) -> Call:
        call_id = w.lesson()
        method = "PATCH" if action == "" else "POST"
        return Call(method, f"/calls/{call_id}{action}", kwargs, witness=lambda: w.state(call_id))
    return build


def a_fresh_meeting(action: str, target: str | None = None, waiting_room: bool = False,
                    **kwargs) -> Callable[[World], Call]:
    """The admin's meeting with the student in it (or in its waiting room)."""
    def build(w: World) -> Call:
        call_id = w.meeting(waiting_room=waiting_room)
        pid = w.join(call_id, w.a.student)["participant_id"]
        path = f"/calls/{call_id}/participants/{pid}/{target}" if target else f"/calls/{call_id}/{action}"
        return Call("POST", path, kwargs, witness=lambda: w.state(call_id))
    return build


def a_meeting_everyone_joined(w: World) -> Call:
    call_id = w.meeting(joined=SCHOOL_ROLES[1:])
    w.join(call_id, w.a.admin)
    return Call("POST", f"/calls/{call_id}/leave", witness=lambda: w.state(call_id))


def a_signal(w: World) -> Call:
    return Call("POST", f"/calls/{w.call}/signal", {"json": {"to": w.pids["student"], "type": "offer",
                                                             "payload": {"sdp": "v=0"}}})


def members_in_call(status, **overrides) -> dict:
    """The group call's participants `status`; the admin sees the call but is not in it."""
    return in_school(status, admin=(409, "not_in_call"), **overrides)


CASES = [
    ("list calls", by_role(200), lambda w: Call("GET", "/calls")),
    ("list a chat's calls", in_school(200, admin=404), lambda w: Call("GET", "/calls", {"params": {"chat_id": w.chat}})),
    ("start a group call", in_school(201, admin=404), a_group_call_to_make),
    ("start a direct call", in_school(404, class_head=201, parent=201), a_direct_call_to_make),
    ("plan a lesson", in_school((403, "verified_teacher_required"), class_head=201, admin=201, director=201,
                                teacher=201),
     lambda w: Call("POST", "/calls", {"json": {"org_id": w.a.org_id, "kind": "lesson", "chat_id": w.class_chat,
                                                "title": "Дроби", "scheduled_at": tomorrow()}})),
    ("plan a meeting", in_school((403, "forbidden"), admin=201, director=201),
     lambda w: Call("POST", "/calls", {"json": {"org_id": w.a.org_id, "kind": "meeting", "title": "Педсовет",
                                                "invitee_ids": [w.a.teacher.id]}})),
    ("plan a broadcast", in_school((403, "verified_teacher_required"), admin=201, class_head=201, director=201,
                                   teacher=201),
     lambda w: Call("POST", "/calls", {"json": {"org_id": w.a.org_id, "kind": "broadcast", "title": "Линейка",
                                                "scheduled_at": tomorrow()}})),
    ("read a call", in_school(200), lambda w: Call("GET", f"/calls/{w.call}")),
    ("list participants", in_school(200), lambda w: Call("GET", f"/calls/{w.call}/participants")),
    ("move a lesson", in_school((403, "host_only"), class_head=200),
     a_fresh_lesson("", json={"scheduled_at": isoformat(utcnow() + timedelta(days=2))})),
    ("cancel a lesson", in_school((403, "host_only"), class_head=200), a_fresh_lesson("/cancel")),
    ("join", in_school(200, admin=(403, "not_invited")), lambda w: Call("POST", f"/calls/{w.call}/join")),
    # A direct call is its two people's alone, as their direct chat.
    ("decline a direct call", in_school(404, class_head=(403, "not_the_callee"), parent=200), a_ringing_call),
    ("read a direct call", in_school(404, class_head=200, parent=200), lambda w: Call("GET", f"/calls/{w.ringing()}")),
    ("leave", in_school(204), a_meeting_everyone_joined),
    ("end for everyone", hosted_by_admin(), a_fresh_meeting("end")),
    ("mute", hosted_by_admin(), a_fresh_meeting("", target="mute", json={"video": True})),
    ("remove", hosted_by_admin(), a_fresh_meeting("", target="remove")),
    ("admit", hosted_by_admin(), a_fresh_meeting("", target="admit", waiting_room=True)),
    ("lock", hosted_by_admin(), a_fresh_meeting("lock", json={"locked": True})),
    ("raise a hand", members_in_call(200), lambda w: Call("POST", f"/calls/{w.call}/hand", {"json": {"raised": True}})),
    ("confirm presence", members_in_call(200), lambda w: Call("POST", f"/calls/{w.call}/presence")),
    ("signal", members_in_call(200, student=404), a_signal),
    ("read the attendance", in_school((403, "forbidden"), admin=200, class_head=200),
     lambda w: Call("GET", f"/calls/{w.call}/attendance")),
    ("read the attendance as CSV", in_school((403, "forbidden"), admin=200, class_head=200),
     lambda w: Call("GET", f"/calls/{w.call}/attendance", {"params": {"format": "csv"}})),
]


def expectation(value) -> tuple[int, str | None]:
    if isinstance(value, tuple):
        return value
    return value, {403: "forbidden", 404: "not_found"}.get(value)


@pytest.mark.parametrize("name,expected,build", CASES, ids=[case[0] for case in CASES])
def test_role_by_endpoint(world, name, expected, build):
    api = world.api
    refused = [role for role in ROLES if expectation(expected[role])[0] >= 400]
    before = world.state()
    # Those who are refused go first, and change nothing.
    for role in refused:
        call = build(world)
        witnessed = call.witness() if call.witness else None
        status, code = expectation(expected[role])
        assert_error(api.request(call.method, call.path, token=world.people[role].token, **call.kwargs), status, code)
        if call.witness:
            assert call.witness() == witnessed, role
    assert world.state() == before
    for role in ROLES:
        if role not in refused:
            call = build(world)
            response = api.request(call.method, call.path, token=world.people[role].token, **call.kwargs)
            assert response.status_code == expected[role], (role, response)


ENDPOINTS = [("GET", "/calls"), ("POST", "/calls"), ("GET", "/calls/{call}"), ("PATCH", "/calls/{call}"),
             ("POST", "/calls/{call}/cancel"), ("POST", "/calls/{call}/join"), ("POST", "/calls/{call}/decline"),
             ("POST", "/calls/{call}/leave"), ("POST", "/calls/{call}/end"), ("GET", "/calls/{call}/participants"),
             ("POST", "/calls/{call}/participants/{pid}/mute"), ("POST", "/calls/{call}/participants/{pid}/remove"),
             ("POST", "/calls/{call}/participants/{pid}/admit"), ("POST", "/calls/{call}/lock"),
             ("POST", "/calls/{call}/hand"), ("POST", "/calls/{call}/presence"), ("POST", "/calls/{call}/signal"),
             ("GET", "/calls/{call}/attendance")]
BODIES = {"/calls": {"org_id": "x", "kind": "group"}, "/calls/{call}": {"title": "другое"},
          "/calls/{call}/signal": {"to": "sfu", "type": "ice", "payload": {}},
          "/calls/{call}/participants/{pid}/mute": {"audio": True}, "/calls/{call}/lock": {"locked": True},
          "/calls/{call}/hand": {"raised": True}}


def test_without_signing_in_every_endpoint_answers_401(world):
    before = world.state()
    for method, path in ENDPOINTS:
        url = path.format(call=world.call, pid=world.pids["student"])
        body = BODIES.get(path, {}) if method != "GET" else None
        assert_error(world.api.request(method, url, json=body), 401, "unauthorized")
        assert_error(world.api.request(method, url, json=body, token="not-a-token"), 401)
    assert world.state() == before


@pytest.mark.parametrize("side", ["school B with school A's ids", "school A with school B's ids"])
def test_another_schools_calls_do_not_exist_and_nothing_changes(world, side):
    """Everyone of one school, every endpoint, the other school's call,
    participant and chat ids: 404, and the call is as it was."""
    if side.startswith("school B"):
        people, call, pid, chat, host = [world.b.admin, world.b.student], world.call, world.pids["student"], \
            world.chat, world.a.admin
    else:
        people, call, pid, chat, host = list(world.a.everyone.values()), world.b_call, world.b_pid, None, world.b.admin

    def seen():
        shown = world.api.get(f"/calls/{call}/participants", token=host.token).json["items"]
        return world.api.get(f"/calls/{call}", token=host.token).json["status"], sorted(
            (p["id"], p["state"], p["audio_muted"], p["hand_raised"]) for p in shown)
    before = seen()
    for person in people:
        for method, path in ENDPOINTS[2:]:
            url = path.format(call=call, pid=pid)
            body = BODIES.get(path, {}) if method != "GET" else None
            assert_error(world.api.request(method, url, json=body, token=person.token), 404)
        listed = world.api.get("/calls", params={"limit": 200}, token=person.token).json["items"]
        assert call not in {item["id"] for item in listed}
        if chat is not None:
            org = world.b.org_id if person in (world.b.admin, world.b.student) else world.a.org_id
            assert_error(world.api.post("/calls", {"org_id": org, "kind": "group", "chat_id": chat},
                                        token=person.token), 404)
            assert_error(world.api.post("/calls", {"org_id": world.a.org_id, "kind": "meeting"},
                                        token=person.token), 404)
            assert_error(world.api.get("/calls", params={"chat_id": chat}, token=person.token), 404)
    assert seen() == before
