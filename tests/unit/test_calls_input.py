"""Bad input to calls gets a 4xx JSON error and changes nothing: no call is
made, none changes, no event is published. And the internal path Janus's
event handler posts to is closed to everyone else."""
from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest
from support.calls import EventTap, calls_know_members, calls_know_teacher, calls_published_everything, \
    group_chat
from support.chats import created
from support.school import School

from devkit.helpers import assert_error
from services.calls.schemas import MAX_INVITEES
from services.common.clock import isoformat, utcnow

EVENTS_SECRET = "janus-events-secret-for-tests"


class World:
    def __init__(self, platform):
        self.platform = platform
        api = self.api = platform.api
        a = self.a = School(platform, api)
        calls_know_teacher(platform, a.org_id, a.head.id)
        self.chat = group_chat(api, a.head, a.org_id, [a.student, a.teacher], "Кружок")
        self.plain_chat = self.chat
        self.class_chat = group_chat(api, a.head, a.org_id, [a.student], "5А: алгебра", unit_id=a.class_a)
        for chat_id in (self.chat, self.class_chat):
            calls_know_members(platform, chat_id, [a.head.id, a.student.id])
        self.call = created(api.post("/calls", {"org_id": a.org_id, "kind": "group", "chat_id": self.chat},
                                     token=a.head.token))["id"]
        self.pid = created(api.post(f"/calls/{self.call}/join", token=a.head.token), 200)["participant_id"]
        self.lesson = created(api.post("/calls", {"org_id": a.org_id, "kind": "lesson", "chat_id": self.class_chat,
                                                  "title": "Дроби", "scheduled_at": in_days(1)},
                                       token=a.head.token))["id"]
        ended = created(api.post("/calls", {"org_id": a.org_id, "kind": "meeting", "title": "Было"},
                                 token=a.admin.token))["id"]
        created(api.post(f"/calls/{ended}/join", token=a.admin.token), 200)
        created(api.post(f"/calls/{ended}/end", token=a.admin.token), 200)
        self.ended = ended
        cancelled = created(api.post("/calls", {"org_id": a.org_id, "kind": "meeting", "scheduled_at": in_days(1)},
                                     token=a.admin.token))["id"]
        created(api.post(f"/calls/{cancelled}/cancel", token=a.admin.token), 200)
        self.cancelled = cancelled
        calls_published_everything(platform)

    def state(self) -> dict:
        """Every call the head, the student and the admin see, and their participants."""
        seen = {}
        for person in (self.a.head, self.a.student, self.a.admin):
            for call in self.api.get("/calls", params={"limit": 200}, token=person.token).json["items"]:
                people = self.api.get(f"/calls/{call['id']}/participants", token=person.token).json["items"]
                seen[call["id"]] = (call["status"], call["title"], call["scheduled_at"], call["locked"],
                                    sorted((p["id"], p["state"], p["audio_muted"]) for p in people))
        return seen


def in_days(days: float) -> str:
    return isoformat(utcnow() + timedelta(days=days))


@pytest.fixture(scope="module")
def world(embedded_module_with):
    return World(embedded_module_with(JANUS_EVENTS_SECRET=EVENTS_SECRET))


def create_cases(w: World) -> list[tuple[dict, int, str]]:
    org, a = w.a.org_id, w.a
    return [
        ({}, 422, "validation_error"),
        ({"org_id": org}, 422, "validation_error"),
        ({"org_id": org, "kind": "webinar", "chat_id": w.chat}, 422, "validation_error"),
        ({"org_id": org, "kind": "group", "chat_id": w.chat, "title": "т" * 201}, 422, "validation_error"),
        ({"org_id": org, "kind": "group", "chat_id": w.chat, "colour": "red"}, 422, "validation_error"),
        ({"org_id": org, "kind": "lesson", "chat_id": w.class_chat, "scheduled_at": in_days(-1)}, 422,
         "validation_error"),
        ({"org_id": org, "kind": "lesson", "chat_id": w.class_chat, "scheduled_at": isoformat(utcnow())}, 422,
         "validation_error"),
        ({"org_id": org, "kind": "lesson", "chat_id": w.class_chat, "scheduled_at": in_days(400)}, 422,
         "validation_error"),
        ({"org_id": org, "kind": "lesson", "chat_id": w.class_chat, "scheduled_at": "tomorrow at nine"}, 422,
         "validation_error"),
        ({"org_id": org, "kind": "lesson", "chat_id": w.plain_chat, "scheduled_at": in_days(1)}, 422,
         "validation_error"),
        ({"org_id": org, "kind": "lesson", "scheduled_at": in_days(1)}, 422, "validation_error"),
        ({"org_id": org, "kind": "group"}, 422, "validation_error"),
        ({"org_id": org, "kind": "direct", "chat_id": w.chat}, 422, "validation_error"),
        ({"org_id": org, "kind": "meeting", "invitee_ids": [uuid.uuid4().hex for _ in range(MAX_INVITEES + 1)]}, 422,
         "validation_error"),
        ({"org_id": org, "kind": "meeting", "invitee_ids": [uuid.uuid4().hex]}, 422, "validation_error"),
        ({"org_id": org, "kind": "meeting", "invitee_ids": [a.admin.id]}, 422, "validation_error"),
        ({"org_id": org, "kind": "meeting", "invitee_ids": ["x" * 33]}, 422, "validation_error"),
        ({"org_id": org, "kind": "meeting", "presenter_ids": [a.teacher.id]}, 422, "validation_error"),
        ({"org_id": org, "kind": "broadcast", "presenter_ids": [a.teacher.id] * 21}, 422, "validation_error"),
        # A chat calls has not heard of may have been made a moment ago; a made-up id is no chat.
        ({"org_id": org, "kind": "group", "chat_id": uuid.uuid4().hex}, 409, "not_ready"),
        ({"org_id": org, "kind": "group", "chat_id": "no-such-chat"}, 404, "not_found"),
        ({"org_id": uuid.uuid4().hex, "kind": "meeting"}, 409, "not_ready"),
        ({"org_id": "no-such-school", "kind": "meeting"}, 404, "not_found"),
    ]


def test_bad_calls_are_refused_and_nothing_is_made(world):
    tap = EventTap()
    before = world.state()
    for body, status, code in create_cases(world):
        person = world.a.admin if body.get("kind") == "meeting" or "org_id" not in body else world.a.head
        assert_error(world.api.post("/calls", body, token=person.token), status, code)
    assert world.state() == before
    assert tap.read() == []
    tap.close()


def test_scheduling_in_the_past_says_which_field(world):
    error = assert_error(world.api.post("/calls", {"org_id": world.a.org_id, "kind": "lesson",
                                                   "chat_id": world.class_chat, "scheduled_at": in_days(-1)},
                                        token=world.a.head.token), 422)
    assert error["details"]["fields"] == {"scheduled_at": ["Must be in the future."]}
    error = assert_error(world.api.post("/calls", {"org_id": world.a.org_id, "kind": "meeting",
                                                   "invitee_ids": ["u"] * (MAX_INVITEES + 1)}, token=world.a.admin.token), 422)
    assert "invitee_ids" in error["details"]["fields"]


def test_bad_requests_to_a_call_are_refused_and_change_nothing(world):
    w, api, a = world, world.api, world.a
    tap = EventTap()
    before = w.state()
    cases = [
        (a.admin, "POST", f"/calls/{w.ended}/join", None, 409, "call_ended"),
        (a.admin, "POST", f"/calls/{w.cancelled}/join", None, 409, "call_ended"),
        (a.admin, "POST", f"/calls/{w.ended}/end", None, 409, "call_ended"),
        (a.admin, "POST", f"/calls/{w.cancelled}/cancel", None, 409, "call_ended"),
        (a.head, "PATCH", f"/calls/{w.lesson}", {"scheduled_at": in_days(-1)}, 422, "validation_error"),
        (a.head, "PATCH", f"/calls/{w.lesson}", {"scheduled_at": "soon"}, 422, "validation_error"),
        (a.head, "PATCH", f"/calls/{w.lesson}", {"title": "т" * 201}, 422, "validation_error"),
        (a.head, "PATCH", f"/calls/{w.call}", {"scheduled_at": in_days(1)}, 409, "not_scheduled"),
        (a.head, "POST", f"/calls/{w.call}/cancel", None, 409, "not_scheduled"),
        (a.head, "POST", f"/calls/{w.lesson}/end", None, 409, "not_started"),
        (a.student, "POST", f"/calls/{w.lesson}/join", None, 409, "call_not_started"),
        (a.student, "POST", f"/calls/{w.call}/leave", None, 409, "not_in_call"),
        (a.head, "POST", f"/calls/{w.call}/decline", None, 403, "not_the_callee"),
        (a.head, "POST", f"/calls/{w.call}/participants/{w.pid}/remove", None, 409, "host_stays"),
        (a.head, "POST", f"/calls/{w.call}/participants/{uuid.uuid4().hex}/mute", {"audio": True}, 404, "not_found"),
        (a.head, "POST", f"/calls/{w.call}/participants/{w.pid}/mute", {}, 422, "validation_error"),
        (a.head, "POST", f"/calls/{w.call}/participants/{w.pid}/mute", {"audio": "loud"}, 422, "validation_error"),
        (a.head, "POST", f"/calls/{w.call}/lock", {"locked": "yes please"}, 422, "validation_error"),
        (a.head, "POST", f"/calls/{w.call}/hand", {"raised": [1]}, 422, "validation_error"),
        (a.head, "POST", f"/calls/{w.call}/signal", {}, 422, "validation_error"),
        (a.head, "POST", f"/calls/{w.call}/signal", {"to": "sfu", "type": "hello", "payload": {}}, 422,
         "validation_error"),
        (a.head, "POST", f"/calls/{w.call}/signal", {"to": "x" * 33, "type": "offer", "payload": {}}, 422,
         "validation_error"),
        (a.head, "POST", f"/calls/{w.call}/signal", {"to": w.pid, "type": "offer", "payload": "sdp"}, 422,
         "validation_error"),
        (a.head, "POST", f"/calls/{w.call}/signal", {"to": w.pid, "type": "offer",
                                                     "payload": {"sdp": "v=0" * 12_000}}, 422, "validation_error"),
        (a.head, "POST", f"/calls/{w.call}/signal", {"to": w.pid, "type": "offer", "payload": {"sdp": "x"}}, 404,
         "not_found"),
        (a.head, "POST", f"/calls/{w.call}/signal", {"to": uuid.uuid4().hex, "type": "ice", "payload": {}}, 404,
         "not_found"),
        (a.head, "POST", f"/calls/{w.call}/signal", {"to": "sfu", "type": "subscribe", "payload": {}}, 409,
         "peer_to_peer"),
        (a.head, "GET", f"/calls/{w.call}/attendance?format=xml", None, 422, "validation_error"),
        (a.head, "GET", "/calls?status=maybe", None, 422, "validation_error"),
        (a.head, "GET", "/calls?limit=0", None, 422, "validation_error"),
        (a.head, "GET", f"/calls?cursor={base64.urlsafe_b64encode(b'-5').decode()}", None, 422, "validation_error"),
        (a.head, "GET", f"/calls?chat_id={'x' * 40}", None, 422, "validation_error"),
        (a.head, "POST", f"/calls/{'../' * 3}join", None, 404, None),
    ]
    for person, method, path, body, status, code in cases:
        assert_error(api.request(method, path, json=body, token=person.token), status, code)
    assert w.state() == before
    assert tap.read() == []
    tap.close()


def test_a_retried_create_makes_one_call(world):
    key = str(uuid.uuid4())
    body = {"org_id": world.a.org_id, "kind": "meeting", "title": "Один раз", "scheduled_at": in_days(3)}
    first = world.api.post("/calls", body, token=world.a.admin.token, headers={"Idempotency-Key": key})
    again = world.api.post("/calls", body, token=world.a.admin.token, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201 and first.json["id"] == again.json["id"]
    titles = [c["title"] for c in world.api.get("/calls", params={"limit": 200}, token=world.a.admin.token).json["items"]]
    assert titles.count("Один раз") == 1


def test_janus_events_path_is_closed_to_all_but_janus(world):
    """Not routed by the gateway; on the calls service itself only with
    Janus's credentials, and only JSON."""
    calls = world.platform.apps["calls"].test_client()
    gateway = world.platform.gateway.test_client()
    path = "/internal/janus-events"
    event = [{"type": 64, "timestamp": 1, "event": {"plugin": "janus.plugin.videoroom",
                                                    "data": {"event": "leaving", "room": world.call, "id": world.pid}}}]
    before = world.state()
    signed_in = {"Authorization": f"Bearer {world.a.head.token}"}
    for via_gateway in (path, f"/api/v1/..{path}", f"/api/v1/calls/..{path}", f"/api/v1/calls/../..{path}"):
        assert gateway.post(via_gateway, json=event, headers=signed_in).status_code == 404, via_gateway
    assert calls.post(path, json=event).status_code == 401
    for user, password in (("janus", "wrong"), ("admin", EVENTS_SECRET), ("", "")):
        answer = calls.post(path, json=event, headers={"Authorization": "Basic " + base64.b64encode(
            f"{user}:{password}".encode()).decode()})
        assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "unauthorized"
    assert calls.post(path, json=event, headers={"Authorization": f"Bearer {world.a.head.token}"}).status_code == 401
    good = {"Authorization": "Basic " + base64.b64encode(f"janus:{EVENTS_SECRET}".encode()).decode()}
    assert calls.post(path, data=b"not json", headers=good, content_type="application/json").status_code == 400
    assert world.state() == before
    # Janus itself is heard: unknown rooms and participants change nothing either.
    answer = calls.post(path, json=[{"type": 64, "event": {"plugin": "janus.plugin.videoroom", "data": {
        "event": "joined", "room": uuid.uuid4().hex, "id": uuid.uuid4().hex}}}, {"type": 1}], headers=good)
    assert answer.status_code == 200 and answer.get_json() == {"received": 2, "applied": 0}
    assert world.state() == before
