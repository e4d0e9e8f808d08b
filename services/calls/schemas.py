"""calls's request and response schemas (the OpenAPI contract)."""
import json

import marshmallow as ma
from marshmallow import validate

from services.common.fields import JsonBoolean, UtcDateTime
from services.common.pagination import PageQuery, page_schema

from .rules import KINDS

Id = ma.fields.String
MAX_INVITEES = 500
MAX_PRESENTERS = 20
# Below the 64 KiB every JSON endpoint takes, so an oversized SDP is told which field.
MAX_SIGNAL_BYTES = 32 << 10
STATUSES = ("scheduled", "ringing", "active", "ended", "cancelled")
ID = validate.Length(min=1, max=32)


class Host(ma.Schema):
    id = ma.fields.String()
    display_name = ma.fields.String()


class Call(ma.Schema):
    id = ma.fields.String()
    org_id = ma.fields.String()
    kind = ma.fields.String(metadata={"description": "direct | group | lesson | meeting | broadcast"})
    chat_id = ma.fields.String(allow_none=True)
    unit_id = ma.fields.String(allow_none=True, metadata={"description": "a lesson's class or group"})
    title = ma.fields.String()
    status = ma.fields.String(metadata={"description": "ringing (a direct call not answered yet) | scheduled | "
                                                       "active | ended | cancelled"})
    mode = ma.fields.String(metadata={"description": "sfu: media through the platform's Janus; p2p: between the "
                                                     "clients, at most CALL_P2P_MAX_PARTICIPANTS people"})
    host = ma.fields.Nested(Host)
    scheduled_at = ma.fields.String(allow_none=True)
    started_at = ma.fields.String(allow_none=True)
    ended_at = ma.fields.String(allow_none=True)
    outcome = ma.fields.String(allow_none=True, metadata={
        "description": "when over: answered, missed, declined, cancelled (direct calls); ended (by the host), "
                       "empty (nobody left), cancelled, expired (a planned call nobody started)"})
    waiting_room = ma.fields.Boolean()
    locked = ma.fields.Boolean()
    created_at = ma.fields.String()
    join_url = ma.fields.String(metadata={"description": "the web client's page of the call"})
    my_participant_id = ma.fields.String(allow_none=True)
    my_state = ma.fields.String(allow_none=True, metadata={
        "description": "waiting | admitted | joined | left | removed | declined, or null"})


CallPage = page_schema(Call, "CallPage")


class CallCreate(ma.Schema):
    org_id = Id(required=True, validate=ID)
    kind = ma.fields.String(required=True, validate=validate.OneOf(KINDS))
    chat_id = Id(load_default=None, validate=ID, metadata={
        "description": "direct: the direct chat (the other member is rung); group and lesson: required; "
                       "meeting and broadcast: optional (its members join)"})
    title = ma.fields.String(load_default="", validate=validate.Length(max=200))
    scheduled_at = UtcDateTime(load_default=None, metadata={
        "description": "lessons, meetings, broadcasts and group calls may be planned, in the future and at most "
                       "a year ahead; members are reminded then (call.updated, change reminder)"})
    invitee_ids = ma.fields.List(Id(validate=ID), load_default=list, validate=validate.Length(max=MAX_INVITEES),
                                 metadata={"description": f"members of the school; at most {MAX_INVITEES}"})
    presenter_ids = ma.fields.List(Id(validate=ID), load_default=list, validate=validate.Length(max=MAX_PRESENTERS),
                                   metadata={"description": "broadcasts: who sends besides the host; everyone "
                                                            f"else only receives; at most {MAX_PRESENTERS}"})
    waiting_room = JsonBoolean(load_default=None, metadata={
        "description": "the host admits each participant; default: on for meetings, off otherwise"})


class CallUpdate(ma.Schema):
    title = ma.fields.String(validate=validate.Length(max=200))
    scheduled_at = UtcDateTime(metadata={"description": "moves a planned call (not yet started)"})


class CallQuery(PageQuery):
    chat_id = Id(load_default=None, validate=ID)
    status = ma.fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class IceServer(ma.Schema):
    urls = ma.fields.List(ma.fields.String())
    username = ma.fields.String(metadata={"description": "TURN REST: `<expiry unix time>:<participant id>`"})
    credential = ma.fields.String(metadata={"description": "base64(HMAC-SHA1(TURN secret, username))"})


class Participant(ma.Schema):
    id = ma.fields.String(metadata={"description": "the participant id: others address it, "
                                                   "and subscribe to its media"})
    user_id = ma.fields.String()
    display_name = ma.fields.String()
    role = ma.fields.String(metadata={"description": "host | presenter | participant | viewer (receives only)"})
    state = ma.fields.String()
    present = ma.fields.Boolean(metadata={"description": "in the media room now (SFU), or joined (p2p)"})
    publishing = ma.fields.Boolean(metadata={"description": "its media can be subscribed to"})
    audio_muted = ma.fields.Boolean(metadata={"description": "by the host: the SFU drops it"})
    video_muted = ma.fields.Boolean()
    hand_raised = ma.fields.Boolean()


class ParticipantList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(Participant))


class JoinAnswer(ma.Schema):
    participant_id = ma.fields.String()
    role = ma.fields.String()
    status = ma.fields.String(metadata={"description": "joined, or waiting (202: the host admits, then join again)"})
    call = ma.fields.Nested(Call)
    ice_servers = ma.fields.List(ma.fields.Nested(IceServer), metadata={
        "description": "STUN and TURN servers; TURN credentials are this participant's own and short-lived"})
    ice_servers_expire_at = ma.fields.String(allow_none=True, metadata={
        "description": "when the TURN credentials stop working: POST /calls/{id}/presence hands out new ones"})
    media = ma.fields.Dict(metadata={
        "description": "sfu: {mode, room, participant_id, publishers: [participant]}: signal `sfu`; "
                       "p2p: {mode, participant_id, peers: [participant], max_participants}: offer to every peer"})


class Presence(ma.Schema):
    participant_id = ma.fields.String()
    ice_servers = ma.fields.List(ma.fields.Nested(IceServer))
    ice_servers_expire_at = ma.fields.String(allow_none=True)


def _small(payload: dict) -> None:
    if len(json.dumps(payload)) > MAX_SIGNAL_BYTES:
        raise ma.ValidationError(f"At most {MAX_SIGNAL_BYTES} bytes.")


class Signal(ma.Schema):
    to = Id(required=True, validate=ID, metadata={
        "description": "`sfu` in calls through the media server; another participant's id in p2p calls"})
    type = ma.fields.String(required=True, validate=validate.OneOf(("offer", "answer", "ice", "subscribe")),
                            metadata={"description": "offer, answer, ice; to `sfu` also subscribe"})
    payload = ma.fields.Dict(required=True, validate=_small, metadata={
        "description": "offer / answer: {sdp}; ice: {candidate, sdpMid, sdpMLineIndex, target: publisher | "
                       "subscriber} (no candidate: the end of them); subscribe: {feeds: [participant id]}. "
                       f"At most {MAX_SIGNAL_BYTES} bytes"})


class SignalReply(ma.Schema):
    type = ma.fields.String(metadata={"description": "sfu: answer (to an offer), offer (to subscribe), ok, "
                                                     "unchanged (nothing new to receive); p2p: relayed"})
    payload = ma.fields.Dict()


class Mute(ma.Schema):
    audio = JsonBoolean(load_default=None, allow_none=True)
    video = JsonBoolean(load_default=None, allow_none=True)

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if data.get("audio") is None and data.get("video") is None:
            raise ma.ValidationError("Say what to mute: audio, video or both.", "audio")


class Lock(ma.Schema):
    locked = JsonBoolean(load_default=True)


class Hand(ma.Schema):
    raised = JsonBoolean(load_default=True)


class AttendanceQuery(ma.Schema):
    format = ma.fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


class Stay(ma.Schema):
    joined_at = ma.fields.String()
    left_at = ma.fields.String(allow_none=True)
    seconds = ma.fields.Float()
    source = ma.fields.String(metadata={"description": "sfu (Janus's events), reconciled (Janus's list of the "
                                                       "room), client (peer-to-peer calls), started, removed"})


class AttendanceRow(ma.Schema):
    participant_id = ma.fields.String()
    user_id = ma.fields.String()
    display_name = ma.fields.String()
    role = ma.fields.String()
    removed = ma.fields.Boolean()
    intervals = ma.fields.List(ma.fields.Nested(Stay))
    total_seconds = ma.fields.Float()


class RosterEntry(ma.Schema):
    user_id = ma.fields.String()
    display_name = ma.fields.String()
    attended = ma.fields.Boolean()


class Attendance(ma.Schema):
    call_id = ma.fields.String()
    kind = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.String()
    started_at = ma.fields.String(allow_none=True)
    ended_at = ma.fields.String(allow_none=True)
    participants = ma.fields.List(ma.fields.Nested(AttendanceRow))
    roster = ma.fields.List(ma.fields.Nested(RosterEntry), metadata={"description": "lessons: the class's students"})
    absent = ma.fields.List(ma.fields.String(), metadata={"description": "lessons: students who never came"})


class CallsExport(ma.Schema):
    hosted = ma.fields.List(ma.fields.Dict(), metadata={"description": "calls the user made or planned"})
    calls = ma.fields.List(ma.fields.Dict(), metadata={"description": "calls the user was in, with each stay"})
    invitations = ma.fields.List(ma.fields.Dict(), metadata={"description": "calls that named the user"})
