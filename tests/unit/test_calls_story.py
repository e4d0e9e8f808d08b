"""Calls of domain.md through the gateway of the in-process platform, with no
SFU configured (peer-to-peer, as `make run` starts it): direct calls that
ring, group calls in chats, planned lessons and meetings with their notices,
the waiting room and the other host controls, attendance, and the jobs that
end calls nobody is in. Media through Janus: tests/integration/test_calls_media.py."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from support.calls import EventTap, Stream, calls_know_members, calls_know_teacher, class_chat, direct_chat, \
    group_chat
from support.chats import created
from support.school import Person, School

from devkit.helpers import assert_error, wait_for
from services.calls.handlers import handlers
from services.common.clock import isoformat, utcnow

GRACE = 1


@pytest.fixture(scope="module")
def platform(embedded_module_with):
    return embedded_module_with(CALL_EMPTY_GRACE_SECONDS=GRACE, CALL_RING_SECONDS=2,
                                CALL_PRESENCE_TIMEOUT_SECONDS=3, CALL_P2P_MAX_PARTICIPANTS=3)


@pytest.fixture(scope="module")
def school(platform):
    school = School(platform, platform.api)
    calls_know_teacher(platform, school.org_id, school.head.id)
    return school


@pytest.fixture
def tap():
    events = EventTap()
    yield events
    events.close()


def a_group(platform, school, *members, title="Кружок") -> str:
    chat_id = group_chat(platform.api, school.head, school.org_id, list(members), title)
    calls_know_members(platform, chat_id, [school.head.id, *(m.id for m in members)])
    return chat_id


def start(api, person, **body):
    return created(api.post("/calls", body, token=person.token))


def join(api, call_id, person, status=200):
    response = api.post(f"/calls/{call_id}/join", token=person.token)
    assert response.status_code == status, response
    return response.json


def status_of(api, call_id, person) -> str:
    return api.get(f"/calls/{call_id}", token=person.token).json["status"]


def notices(api, person, chat_id) -> list[dict]:
    return [m for m in api.get(f"/chats/{chat_id}/messages", token=person.token).json["items"] if m["kind"] == "notice"]


def test_a_group_call_peer_to_peer_from_start_to_its_end(platform, school, tap):
    api = platform.api
    chat_id = a_group(platform, school, school.student, school.teacher)
    student, teacher = Stream(platform, school.student), Stream(platform, school.teacher)
    call = start(api, school.student, org_id=school.org_id, kind="group", chat_id=chat_id, title="Повторение")
    assert call["status"] == "active" and call["mode"] == "p2p" and call["join_url"].endswith(f"/call/{call['id']}")
    started = tap.wait("calls.call.started", call_id=call["id"])
    assert started["data"]["kind"] == "group" and started["data"]["chat_id"] == chat_id
    assert teacher.wait("call.updated", change="started")["call"]["id"] == call["id"]
    # A second call in the same chat would split the people: join this one.
    again = assert_error(api.post("/calls", {"org_id": school.org_id, "kind": "group", "chat_id": chat_id},
                                  token=school.head.token), 409, "call_in_progress")
    assert again["details"]["call_id"] == call["id"]

    first = join(api, call["id"], school.student)
    assert first["role"] == "host" and first["media"] == dict(first["media"], mode="p2p", peers=[])
    second = join(api, call["id"], school.teacher)
    assert [peer["id"] for peer in second["media"]["peers"]] == [first["participant_id"]]
    student.wait("call.updated", change="joined", match=lambda d: d["participant"]["user_id"] == school.teacher.id)

    # The newcomer offers to everyone present; the offer reaches that participant only.
    relayed = api.post(f"/calls/{call['id']}/signal", {"to": first["participant_id"], "type": "offer",
                                                        "payload": {"sdp": "v=0 offer"}}, token=school.teacher.token)
    assert relayed.status_code == 200 and relayed.json["type"] == "relayed"
    frame = student.wait("call.signal")
    assert frame == {"call_id": call["id"], "from": second["participant_id"], "from_user_id": school.teacher.id,
                     "type": "offer", "payload": {"sdp": "v=0 offer"}}
    assert not teacher.of("call.signal")
    assert_error(api.post(f"/calls/{call['id']}/signal", {"to": "sfu", "type": "offer", "payload": {"sdp": "x"}},
                          token=school.teacher.token), 409, "peer_to_peer")

    # The teacher drops out and comes back: two stays; then everyone leaves.
    assert api.post(f"/calls/{call['id']}/leave", token=school.teacher.token).status_code == 204
    assert join(api, call["id"], school.teacher)["participant_id"] == second["participant_id"]
    for person in (school.teacher, school.student):
        assert api.post(f"/calls/{call['id']}/leave", token=person.token).status_code == 204
    ended = tap.wait("calls.call.ended", call_id=call["id"], timeout=GRACE + 10)
    assert ended["data"]["outcome"] == "empty" and ended["data"]["participant_count"] == 2
    joins = tap.of("calls.participant.joined", call_id=call["id"])
    lefts = tap.of("calls.participant.left", call_id=call["id"])
    assert len(joins) == len(lefts) == 3
    assert ended["data"]["participant_seconds"] == pytest.approx(sum(e["data"]["seconds"] for e in lefts), abs=0.01)
    assert ended["data"]["minutes"] == round(ended["data"]["participant_seconds"] / 60, 2)
    assert status_of(api, call["id"], school.student) == "ended"
    # messaging says so in the chat, each notice with its call for the join button.
    wait_for(lambda: len(notices(api, school.student, chat_id)) == 2, message="the call's notices")
    said = notices(api, school.student, chat_id)
    assert [n["text"] for n in said][::-1] == ["Начался видеозвонок", "Звонок завершён, длительность 0 мин."]
    assert {n["call_id"] for n in said} == {call["id"]}
    assert_error(api.post(f"/calls/{call['id']}/join", token=school.student.token), 409, "call_ended")


def test_a_direct_call_rings_is_answered_and_ends_when_one_hangs_up(platform, school, tap):
    api = platform.api
    chat_id = direct_chat(api, school.org_id, school.head, school.parent)
    calls_know_members(platform, chat_id, [school.head.id, school.parent.id])
    parent = Stream(platform, school.parent)
    call = start(api, school.head, org_id=school.org_id, kind="direct", chat_id=chat_id)
    assert call["status"] == "ringing"
    ringing = parent.wait("call.ringing")
    assert ringing["call"]["id"] == call["id"] and ringing["caller"]["id"] == school.head.id
    join(api, call["id"], school.head)
    assert status_of(api, call["id"], school.head) == "ringing"
    join(api, call["id"], school.parent)
    assert status_of(api, call["id"], school.head) == "active"
    tap.wait("calls.call.started", call_id=call["id"])
    assert api.post(f"/calls/{call['id']}/leave", token=school.parent.token).status_code == 204
    assert status_of(api, call["id"], school.head) == "ended"
    ended = tap.wait("calls.call.ended", call_id=call["id"])
    assert ended["data"]["outcome"] == "answered" and ended["data"]["participant_count"] == 2


def test_a_missed_and_a_declined_call_leave_notices_and_count_as_no_calls(platform, school, tap):
    api = platform.api
    chat_id = direct_chat(api, school.org_id, school.teacher, school.director)
    calls_know_members(platform, chat_id, [school.teacher.id, school.director.id])
    before = weeks_calls(api, school)
    missed = start(api, school.teacher, org_id=school.org_id, kind="direct", chat_id=chat_id)
    join(api, missed["id"], school.teacher)
    ended = tap.wait("calls.call.ended", call_id=missed["id"], timeout=15)
    assert ended["data"]["outcome"] == "missed" and ended["data"]["started_at"] is None
    declined = start(api, school.teacher, org_id=school.org_id, kind="direct", chat_id=chat_id)
    assert_error(api.post(f"/calls/{declined['id']}/decline", token=school.teacher.token), 403, "not_the_callee")
    assert api.post(f"/calls/{declined['id']}/decline", token=school.director.token).status_code == 200
    assert tap.wait("calls.call.ended", call_id=declined["id"])["data"]["outcome"] == "declined"
    assert_error(api.post(f"/calls/{declined['id']}/join", token=school.director.token), 409, "call_ended")
    wait_for(lambda: [n["text"] for n in notices(api, school.director, chat_id)] ==
             ["Звонок отклонён", "Пропущенный звонок"], message="the missed and declined notices")
    # orgstructure's statistics: rung and not answered is no call.
    answered = start(api, school.teacher, org_id=school.org_id, kind="direct", chat_id=chat_id)
    join(api, answered["id"], school.teacher)
    join(api, answered["id"], school.director)
    assert api.post(f"/calls/{answered['id']}/end", token=school.teacher.token).status_code == 200
    wait_for(lambda: weeks_calls(api, school) == before + 1, message="the answered call in the statistics")
    assert weeks_calls(api, school) == before + 1


def weeks_calls(api, school) -> int:
    today = utcnow().date().isoformat()
    report = api.get(f"/orgs/{school.org_id}/stats", params={"from": today, "to": today},
                     token=school.admin.token).json
    return sum(week["calls"] for week in report["weeks"])


def test_a_planned_lesson_its_notices_reminder_start_and_roster(platform, school, tap):
    api = platform.api
    chat_id = class_chat(api, school)
    calls_know_members(platform, chat_id, [school.head.id, school.student.id])
    student = Stream(platform, school.student)
    at = utcnow() + timedelta(seconds=3)
    lesson = start(api, school.head, org_id=school.org_id, kind="lesson", chat_id=chat_id, title="Дроби",
                   scheduled_at=isoformat(at))
    assert lesson["status"] == "scheduled" and lesson["unit_id"] == school.class_a
    scheduled = tap.wait("calls.call.scheduled", call_id=lesson["id"])
    assert scheduled["data"]["scheduled_at"] == isoformat(at) and scheduled["data"]["title"] == "Дроби"
    wait_for(lambda: notices(api, school.student, chat_id), message="the lesson's notice")
    notice = notices(api, school.student, chat_id)[0]
    assert notice["text"].startswith("Запланирован урок «Дроби»: ") and notice["call_id"] == lesson["id"]
    # Moved: a notice again, then the reminder at the new time.
    at = utcnow() + timedelta(seconds=2)
    moved = api.patch(f"/calls/{lesson['id']}", {"scheduled_at": isoformat(at)}, token=school.head.token)
    assert moved.status_code == 200 and moved.json["scheduled_at"] == isoformat(at)
    assert tap.wait("calls.call.scheduled", call_id=lesson["id"], scheduled_at=isoformat(at))["data"][
        "previous_scheduled_at"] == scheduled["data"]["scheduled_at"]
    wait_for(lambda: "перенесён" in notices(api, school.student, chat_id)[0]["text"], message="the moved notice")
    assert student.wait("call.updated", change="reminder", timeout=10)["call"]["id"] == lesson["id"]
    assert len(student.of("call.updated", change="reminder")) == 1
    # The students wait for their teacher.
    error = assert_error(api.post(f"/calls/{lesson['id']}/join", token=school.student.token), 409,
                         "call_not_started")
    assert error["details"]["scheduled_at"] == isoformat(at)
    join(api, lesson["id"], school.head)
    assert status_of(api, lesson["id"], school.student) == "active"
    join(api, lesson["id"], school.student)
    # The roster beside the attendance: the class's other students never came.
    newcomer = school.invite_and_join("student", "new student of 5А", unit_id=school.class_a)
    wait_for(lambda: newcomer.id in api.get(f"/calls/{lesson['id']}/attendance", token=school.head.token)
             .json["absent"], message="calls knowing the new student")
    report = api.get(f"/calls/{lesson['id']}/attendance", token=school.head.token).json
    assert {entry["user_id"]: entry["attended"] for entry in report["roster"]} == {
        school.student.id: True, newcomer.id: False}
    assert report["absent"] == [newcomer.id]
    assert {row["user_id"]: len(row["intervals"]) for row in report["participants"]} == {
        school.head.id: 1, school.student.id: 1}
    table = list(csv.DictReader(io.StringIO(_raw_csv(platform, lesson["id"], school.admin))))
    assert {(row["user_id"], row["status"]) for row in table} == {
        (school.head.id, "present"), (school.student.id, "present"), (newcomer.id, "absent")}
    assert api.post(f"/calls/{lesson['id']}/end", token=school.head.token).status_code == 200
    assert tap.wait("calls.call.ended", call_id=lesson["id"])["data"]["outcome"] == "ended"


def _raw_csv(platform, call_id: str, person: Person) -> str:
    response = platform.gateway.test_client().get(f"/api/v1/calls/{call_id}/attendance?format=csv",
                                                  headers={"Authorization": f"Bearer {person.token}"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment")
    return response.get_data(as_text=True)


def test_a_cancelled_meeting_is_said_in_its_chat(platform, school, tap):
    api = platform.api
    chat_id = a_group(platform, school, school.teacher, title="Методобъединение")
    meeting = start(api, school.director, org_id=school.org_id, kind="meeting", title="Педсовет",
                    scheduled_at=isoformat(utcnow() + timedelta(days=2)), invitee_ids=[school.teacher.id])
    assert meeting["waiting_room"] is True and meeting["chat_id"] is None
    assert_error(api.post(f"/calls/{meeting['id']}/cancel", token=school.teacher.token), 403, "host_only")
    cancelled = api.post(f"/calls/{meeting['id']}/cancel", token=school.director.token)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert tap.wait("calls.call.cancelled", call_id=meeting["id"])["data"]["reason"] == "host"
    with_chat = start(api, school.admin, org_id=school.org_id, kind="meeting", chat_id=chat_id, title="МО",
                      scheduled_at=isoformat(utcnow() + timedelta(days=1)))
    api.post(f"/calls/{with_chat['id']}/cancel", token=school.admin.token)
    wait_for(lambda: [n["text"] for n in notices(api, school.teacher, chat_id)][:1] == ["Отменено собрание «МО»"],
             message="the cancelled meeting's notice")


def test_the_waiting_room_lock_mute_hand_and_removal(platform, school, tap):
    api = platform.api
    host = Stream(platform, school.director)
    teacher = Stream(platform, school.teacher)
    meeting = start(api, school.director, org_id=school.org_id, kind="meeting", title="Совещание",
                    invitee_ids=[school.teacher.id, school.head.id, school.admin.id])
    join(api, meeting["id"], school.director)
    waiting = join(api, meeting["id"], school.teacher, status=202)
    assert waiting["status"] == "waiting"
    assert host.wait("call.updated", change="waiting")["participant"]["id"] == waiting["participant_id"]
    assert [p["state"] for p in api.get(f"/calls/{meeting['id']}/participants", token=school.director.token)
            .json["items"] if p["user_id"] == school.teacher.id] == ["waiting"]
    assert school.teacher.id not in {p["user_id"] for p in api.get(
        f"/calls/{meeting['id']}/participants", token=school.head.token).json["items"]}
    admitted = api.post(f"/calls/{meeting['id']}/participants/{waiting['participant_id']}/admit",
                        token=school.director.token)
    assert admitted.status_code == 200 and admitted.json["state"] == "admitted"
    teacher.wait("call.updated", change="admitted")
    assert join(api, meeting["id"], school.teacher)["participant_id"] == waiting["participant_id"]

    # Locked: nobody new comes in; who was in may come back.
    assert api.post(f"/calls/{meeting['id']}/lock", {"locked": True}, token=school.director.token).json["locked"]
    assert_error(api.post(f"/calls/{meeting['id']}/join", token=school.head.token), 403, "call_locked")
    assert api.post(f"/calls/{meeting['id']}/leave", token=school.teacher.token).status_code == 204
    join(api, meeting["id"], school.teacher)
    assert not api.post(f"/calls/{meeting['id']}/lock", {"locked": False}, token=school.director.token).json["locked"]

    hand = api.post(f"/calls/{meeting['id']}/hand", {"raised": True}, token=school.teacher.token)
    assert hand.status_code == 200 and hand.json["hand_raised"]
    assert host.wait("call.updated", change="hand_raised")["participant"]["user_id"] == school.teacher.id
    muted = api.post(f"/calls/{meeting['id']}/participants/{waiting['participant_id']}/mute", {"audio": True},
                     token=school.director.token)
    assert muted.status_code == 200 and muted.json["audio_muted"] and not muted.json["video_muted"]
    assert teacher.wait("call.updated", change="muted")["participant"]["audio_muted"]

    removed = api.post(f"/calls/{meeting['id']}/participants/{waiting['participant_id']}/remove",
                       token=school.director.token)
    assert removed.status_code == 200 and removed.json["state"] == "removed"
    assert teacher.wait("call.updated", change="removed")["participant"]["id"] == waiting["participant_id"]
    assert_error(api.post(f"/calls/{meeting['id']}/join", token=school.teacher.token), 403, "removed")
    assert_error(api.post(f"/calls/{meeting['id']}/hand", {"raised": True}, token=school.teacher.token), 409,
                 "not_in_call")
    # Published by the outbox's relay, which may still be on its way.
    tap.wait("calls.participant.left", call_id=meeting["id"], user_id=school.teacher.id, by="removed")
    left = tap.of("calls.participant.left", call_id=meeting["id"], user_id=school.teacher.id)
    assert [event["data"]["by"] for event in left] == ["client", "removed"]
    me = api.get(f"/calls/{meeting['id']}", token=school.teacher.token).json
    assert me["my_state"] == "removed"
    assert_error(api.post(f"/calls/{meeting['id']}/participants/{me['my_participant_id']}/remove",
                          token=school.teacher.token), 403, "host_only")


def test_peer_to_peer_calls_hold_a_few_people_and_forget_silent_ones(platform, school, tap):
    api = platform.api
    chat_id = a_group(platform, school, school.teacher, school.director, school.student)
    call = start(api, school.head, org_id=school.org_id, kind="group", chat_id=chat_id)
    for person in (school.head, school.teacher, school.director):
        join(api, call["id"], person)
    full = assert_error(api.post(f"/calls/{call['id']}/join", token=school.student.token), 409, "call_full")
    assert full["details"] == {"max_participants": 3}
    assert "media server" in full["message"]
    # The director's client goes quiet; the others keep confirming their presence.

    def others_confirm():
        for person in (school.head, school.teacher):
            assert api.post(f"/calls/{call['id']}/presence", token=person.token).status_code == 200
        return tap.of("calls.participant.left", call_id=call["id"], user_id=school.director.id)
    left = wait_for(others_confirm, timeout=15, interval=0.5, message="the silent participant taken out")
    assert left[0]["data"]["by"] == "timeout"
    assert not tap.of("calls.participant.left", call_id=call["id"], user_id=school.head.id)
    join(api, call["id"], school.student)
    assert api.post(f"/calls/{call['id']}/end", token=school.head.token).json["status"] == "ended"


def test_a_blocked_member_starts_no_call_in_that_chat(platform, school):
    api = platform.api
    chat_id = a_group(platform, school, school.student, title="Олимпиада")
    runtime = platform.apps["calls"].extensions["sferum"]

    def moderation_says(event_type, **data):
        with runtime.connection(), runtime.db.atomic():
            handlers.by_type[event_type](runtime.service, {"type": event_type, "data": {"chat_id": chat_id, **data}})

    moderation_says("moderation.member.blocked", user_id=school.student.id,
                    until=isoformat(utcnow() + timedelta(days=3)), violation_ids=["v1", "v2", "v3", "v4"])
    assert_error(api.post("/calls", {"org_id": school.org_id, "kind": "group", "chat_id": chat_id},
                          token=school.student.token), 403, "blocked")
    assert api.get("/calls", params={"chat_id": chat_id}, token=school.student.token).json["items"] == []
    # Joining a call someone else started is not starting one.
    call = start(api, school.head, org_id=school.org_id, kind="group", chat_id=chat_id)
    join(api, call["id"], school.student)
    api.post(f"/calls/{call['id']}/end", token=school.head.token)
    moderation_says("moderation.member.unblocked", user_id=school.student.id, reason="apologised")
    call = start(api, school.student, org_id=school.org_id, kind="group", chat_id=chat_id)
    api.post(f"/calls/{call['id']}/end", token=school.student.token)


def test_what_calls_has_not_heard_of_yet_is_not_ready_and_other_schools_are_not_there(platform, school):
    api = platform.api
    fresh = "0" * 32
    refused = api.post("/calls", {"org_id": school.org_id, "kind": "group", "chat_id": fresh},
                       token=school.head.token)
    assert_error(refused, 409, "not_ready")
    assert int(refused.headers["Retry-After"]) >= 1
    other = School(platform, api, "Школа № 9")
    chat_id = class_chat(api, other)
    calls_know_members(platform, chat_id, [other.head.id])
    assert_error(api.post("/calls", {"org_id": school.org_id, "kind": "group", "chat_id": chat_id},
                          token=school.head.token), 404)
    assert_error(api.post("/calls", {"org_id": other.org_id, "kind": "group", "chat_id": chat_id},
                          token=school.head.token), 404)
    assert_error(api.get("/calls", params={"chat_id": chat_id}, token=school.head.token), 404)


def test_only_the_host_starts_a_planned_call_whoever_waits_for_it(platform, school):
    api = platform.api
    meeting = start(api, school.director, org_id=school.org_id, kind="meeting", title="Родительское собрание",
                    scheduled_at=isoformat(utcnow() + timedelta(hours=1)), invitee_ids=[school.parent.id])
    waiting = join(api, meeting["id"], school.parent, status=202)
    assert waiting["status"] == "waiting"
    api.post(f"/calls/{meeting['id']}/participants/{waiting['participant_id']}/admit", token=school.director.token)
    early = join(api, meeting["id"], school.parent, status=202)
    assert early["status"] == "admitted" and status_of(api, meeting["id"], school.parent) == "scheduled"
    join(api, meeting["id"], school.director)
    assert status_of(api, meeting["id"], school.parent) == "active"
    assert join(api, meeting["id"], school.parent)["status"] == "joined"
    api.post(f"/calls/{meeting['id']}/end", token=school.director.token)
