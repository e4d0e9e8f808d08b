"""calls's decisions as plain functions, without a database: who may make,
see and join which call; what Janus's event handler says; the ICE servers a
join hands out; the settings."""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

import pytest

from services.calls import janus_events, rules
from services.calls.config import CallsConfig
from services.calls.rules import Standing
from services.calls.turn import ice_servers
from services.common.config import Settings
from services.common.errors import Forbidden, NotFound, Unprocessable

TEACHER = frozenset({"teacher"})
ADMIN = frozenset({"admin", "teacher"})
DIRECTOR = frozenset({"director"})
STUDENT = frozenset({"student"})
PARENT = frozenset({"parent"})


def refusal(kind, standing, chat_kind):
    try:
        rules.may_start(kind, standing, chat_kind, org_id="o1", user_id="u1")
    except (Forbidden, NotFound, Unprocessable) as error:
        return error.status, error.code
    return None


@pytest.mark.parametrize("kind,standing,chat_kind,expected", [
    # Nobody outside the school; nobody in a chat they are not in.
    ("group", Standing(), "group", (404, "not_found")),
    ("group", Standing(roles=STUDENT), "group", (404, "not_found")),
    ("group", Standing(roles=STUDENT, in_chat=True), "group", None),
    ("group", Standing(roles=PARENT, in_chat=True), "class", None),
    ("group", Standing(roles=TEACHER, in_chat=True), None, (422, "validation_error")),
    ("group", Standing(roles=TEACHER, in_chat=True), "direct", (422, "validation_error")),
    ("group", Standing(roles=STUDENT, in_chat=True), "channel", (403, "channel_read_only")),
    ("group", Standing(roles=ADMIN, in_chat=True, chat_moderator=True), "channel", None),
    ("group", Standing(roles=STUDENT, in_chat=True, blocked=True), "group", (403, "blocked")),
    ("direct", Standing(roles=STUDENT, in_chat=True), "direct", None),
    ("direct", Standing(roles=STUDENT, in_chat=True), "group", (422, "validation_error")),
    ("direct", Standing(roles=STUDENT, in_chat=True, blocked=True), "direct", (403, "blocked")),
    ("lesson", Standing(roles=TEACHER, in_chat=True), "class", (403, "verification_required")),
    ("lesson", Standing(roles=TEACHER, in_chat=True, verified_teacher=True), "class", None),
    ("lesson", Standing(roles=TEACHER, verified_teacher=True), "class", (404, "not_found")),
    ("lesson", Standing(roles=ADMIN, verified_teacher=True), "class", None),  # for any chat of the school
    ("lesson", Standing(roles=ADMIN), "class", (403, "verification_required")),
    ("lesson", Standing(roles=ADMIN), None, (422, "validation_error")),
    ("lesson", Standing(roles=STUDENT, in_chat=True), "class", (403, "verified_teacher_required")),
    ("lesson", Standing(roles=TEACHER, in_chat=True, verified_teacher=True, blocked=True), "class",
     (403, "blocked")),
    ("meeting", Standing(roles=DIRECTOR, verified_teacher=True), None, None),
    ("meeting", Standing(roles=ADMIN, verified_teacher=True), None, None),
    ("meeting", Standing(roles=DIRECTOR), None, (403, "verification_required")),
    ("meeting", Standing(roles=ADMIN), None, (403, "verification_required")),
    ("meeting", Standing(roles=TEACHER, verified_teacher=True), None, (403, "forbidden")),
    ("meeting", Standing(roles=PARENT), None, (403, "forbidden")),
    ("meeting", Standing(roles=DIRECTOR), "group", (404, "not_found")),
    ("meeting", Standing(roles=DIRECTOR, in_chat=True), "direct", (422, "validation_error")),
    ("broadcast", Standing(roles=TEACHER, verified_teacher=True), None, None),
    ("broadcast", Standing(roles=TEACHER), None, (403, "verification_required")),
    ("broadcast", Standing(roles=DIRECTOR), None, (403, "verification_required")),
    ("broadcast", Standing(roles=PARENT), None, (403, "verified_teacher_required")),
])
def test_who_makes_which_call(kind, standing, chat_kind, expected):
    assert refusal(kind, standing, chat_kind) == expected


@pytest.mark.parametrize("kind,standing,joins,sees,role", [
    ("group", Standing(roles=STUDENT, in_chat=True), True, True, "participant"),
    ("group", Standing(roles=STUDENT), False, False, None),
    ("group", Standing(roles=ADMIN), False, True, None),
    ("group", Standing(in_chat=True), False, False, None),  # left the school: nothing of it any more
    ("direct", Standing(roles=ADMIN), False, False, None),  # a direct call is its two people's alone
    ("direct", Standing(roles=PARENT, invited=True), True, True, "participant"),
    ("lesson", Standing(roles=STUDENT, in_class=True), True, True, "participant"),
    ("meeting", Standing(roles=STUDENT, in_class=True), False, False, None),
    ("meeting", Standing(roles=TEACHER, invited=True), True, True, "participant"),
    ("meeting", Standing(roles=DIRECTOR, host=True), True, True, "host"),
    ("broadcast", Standing(roles=STUDENT, in_chat=True), True, True, "viewer"),
    ("broadcast", Standing(roles=TEACHER, invited=True, presenter=True), True, True, "presenter"),
])
def test_who_sees_and_joins_a_call_and_as_what(kind, standing, joins, sees, role):
    assert rules.may_join(kind, standing) is joins
    assert rules.sees(kind, standing) is sees
    if joins:
        assert rules.participant_role(kind, standing) == role
        assert rules.sends_media(role) is (role != "viewer")


def test_attendance_is_for_the_host_and_the_schools_admins():
    assert rules.may_read_attendance("lesson", Standing(roles=TEACHER, host=True))
    assert rules.may_read_attendance("lesson", Standing(roles=ADMIN))
    assert not rules.may_read_attendance("lesson", Standing(roles=DIRECTOR, in_chat=True))
    assert not rules.may_read_attendance("direct", Standing(roles=ADMIN))
    assert not rules.may_read_attendance("lesson", Standing(host=True))


# Janus's event handler, as the media tests recorded its posts (README.md, "Calls").

ROOM, PID = "c" * 32, "p" * 32


def plugin_event(event: str, **data) -> dict:
    return {"emitter": "sferum", "type": 64, "timestamp": 1_790_000_000_123_456, "session_id": 11, "handle_id": 22,
            "opaque_id": PID, "event": {"plugin": "janus.plugin.videoroom",
                                        "data": {"event": event, "room": ROOM, "id": PID, **data}}}


def test_the_facts_in_janus_events():
    at = datetime(2026, 9, 21, 14, 13, 20, 123456)
    posted = [
        plugin_event("joined", token="t", private_id=5, display="Ученик"),
        plugin_event("published"),
        {"type": 16, "timestamp": 1_790_000_000_123_456, "opaque_id": PID, "handle_id": 22,
         "event": {"connection": "webrtcup"}},
        {"type": 16, "timestamp": 1_790_000_000_123_456, "opaque_id": PID, "event": {"connection": "hangup",
                                                                                      "reason": "DTLS alert"}},
        {"type": 16, "timestamp": 1, "opaque_id": PID, "event": {"ice": "connected"}},
        plugin_event("unpublished"),
        {"type": 64, "timestamp": 1_790_000_000_123_456,
         "event": {"plugin": "janus.plugin.videoroom", "data": {"event": "leaving", "room": ROOM, "id": PID}}},
        plugin_event("leaving", reason="kicked"),
        plugin_event("kicked"),
        plugin_event("destroyed", id=None),
        plugin_event("configured"),
        {"type": 64, "event": {"plugin": "janus.plugin.echotest", "data": {"event": "joined", "room": ROOM,
                                                                           "id": PID}}},
        {"type": 64, "event": {"plugin": "janus.plugin.videoroom", "data": {"event": "joined", "room": 1234,
                                                                            "id": 7}}},
        {"type": 1, "session_id": 11, "event": {"name": "timeout"}},
        "not an event", None, {"type": 64, "event": "broken"},
    ]
    found = janus_events.facts(posted)
    assert [(fact.kind, fact.participant) for fact in found] == [
        ("joined", PID), ("published", PID), ("media_up", PID), ("media_down", PID), ("unpublished", PID),
        ("left", PID), ("kicked", PID), ("kicked", PID), ("destroyed", None)]
    assert found[0] == janus_events.Fact("joined", at, ROOM, PID, 11, None)
    assert found[3].reason == "DTLS alert"
    assert found[5].session is None  # Janus names no session when one leaves
    # One event alone, not in an array, is read the same way.
    assert janus_events.facts(plugin_event("joined")) == [found[0]]
    assert janus_events.facts({"something": "else"}) == []


# ICE servers and settings.

def test_ice_servers_carry_short_lived_turn_credentials_of_the_participant():
    servers, expires = ice_servers("p1", ["turn:turn.example.org:3478?transport=udp"], "s3cret", 600,
                                   ["stun:turn.example.org:3478"], now=1_800_000_000)
    assert expires == 1_800_000_600
    assert servers[0] == {"urls": ["stun:turn.example.org:3478"]}
    turn = servers[1]
    assert turn["urls"] == ["turn:turn.example.org:3478?transport=udp"]
    assert turn["username"] == "1800000600:p1"
    assert turn["credential"] == base64.b64encode(hmac.new(b"s3cret", b"1800000600:p1", hashlib.sha1).digest()).decode()
    assert ice_servers("p1", [], "", 600) == ([], None)


def config(**env) -> CallsConfig:
    return CallsConfig.from_settings(Settings.from_env("calls", {"SFERUM_VAR_DIR": "/tmp", **env}))


def test_settings_say_how_calls_run_and_refuse_half_configurations():
    assert config().mode == "p2p" and "peer-to-peer" in config().describe() and "at most 4" in config().describe()
    sfu = config(JANUS_URL="http://janus:8088/janus", JANUS_API_SECRET="a", JANUS_ADMIN_KEY="k",
                 TURN_URLS="turn:t:3478, turns:t:5349", TURN_SECRET="s")
    assert sfu.mode == "sfu" and sfu.turn_urls == ("turn:t:3478", "turns:t:5349")
    assert "http://janus:8088/janus" in sfu.describe() and "turn:t:3478" in sfu.describe()
    with pytest.raises(RuntimeError, match="JANUS_API_SECRET"):
        config(JANUS_URL="http://janus:8088/janus")
    with pytest.raises(RuntimeError, match="TURN_SECRET"):
        config(TURN_URLS="turn:t:3478")
    with pytest.raises(ValueError, match="CALL_EMPTY_GRACE_SECONDS"):
        config(CALL_EMPTY_GRACE_SECONDS="soon")
    with pytest.raises(ValueError, match="TURN_TTL_SECONDS"):
        config(TURN_TTL_SECONDS="10")
