"""Read-your-writes for calls: someone who joined a chat a moment ago, and
at once joins the call going on in it or starts one, is let in once calls has
heard of their joining (the gateway asks again meanwhile; settling.py),
however long that takes up to the gateway's wait; a stranger is told 404 at
once."""
from __future__ import annotations

import time

import pytest
from support.calls import calls_know_members, group_chat
from support.chats import created
from support.held import Held
from support.school import School

from devkit.helpers import assert_error


@pytest.fixture
def hold(embedded):
    held = []

    def start(service: str) -> Held:
        held.append(Held(embedded, service))
        return held[-1]

    yield start
    for one in held:
        one.release()


def test_a_new_member_of_a_chat_joins_its_call_and_starts_the_next_at_once(embedded, hold):
    api = embedded.api
    school = School(embedded, api)
    chat_id = group_chat(api, school.head, school.org_id, [school.teacher], "Кружок")
    calls_know_members(embedded, chat_id, [school.head.id, school.teacher.id])
    call = created(api.post("/calls", {"org_id": school.org_id, "kind": "group", "chat_id": chat_id},
                            token=school.head.token))["id"]
    created(api.post(f"/calls/{call}/join", token=school.head.token), 200)

    calls = hold("calls")
    invited = api.post(f"/chats/{chat_id}/invites", {}, token=school.head.token)
    assert invited.status_code == 201
    accepted = api.post(f"/chat-invites/{invited.json['token']}/accept", {"accepted_rules_version": 1},
                        token=school.student.token)
    assert accepted.status_code == 200
    # On its own calls would say there is no such call: it has not heard that the student joined the chat.
    alone = calls.direct("POST", f"/calls/{call}/join", school.student)
    assert_error(alone, 404)
    assert f"chat-member:{chat_id}:{school.student.id}" in alone.headers["X-Sferum-Lacking"]
    calls.release_after(0.5)
    started = time.monotonic()
    joined = api.post(f"/calls/{call}/join", token=school.student.token)
    assert joined.status_code == 200, joined
    assert time.monotonic() - started >= 0.4  # answered once calls caught up, not before
    api.post(f"/calls/{call}/end", token=school.head.token)

    # The same for starting a call in a chat one joined a moment ago.
    other = group_chat(api, school.head, school.org_id, [], "Олимпиада")
    calls_know_members(embedded, other, [school.head.id])
    calls = hold("calls")
    link = created(api.post(f"/chats/{other}/invites", {}, token=school.head.token))
    created(api.post(f"/chat-invites/{link['token']}/accept", {"accepted_rules_version": 1},
                     token=school.teacher.token), 200)
    calls.release_after(0.5)
    assert api.post("/calls", {"org_id": school.org_id, "kind": "group", "chat_id": other},
                    token=school.teacher.token).status_code == 201

    # A stranger is told at once: nobody announced their joining of anything,
    # so calls names nothing it waits for and the gateway does not ask again.
    stranger = School(embedded, api, "Чужая школа").admin
    calls = hold("calls")
    alone = calls.direct("POST", f"/calls/{call}/join", stranger)
    assert_error(alone, 404)
    settler = embedded.gateway.extensions["sferum.gateway"]["settler"]
    assert not settler.settling.any_of(alone.headers["X-Sferum-Lacking"].split(","))
    started = time.monotonic()
    assert_error(api.post(f"/calls/{call}/join", token=stranger.token), 404)
    assert time.monotonic() - started < settler.wait_seconds  # calls is still held: no waiting for it
