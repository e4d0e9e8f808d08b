"""calls's HTTP endpoints: thin adapters around calls.py."""
from __future__ import annotations

from flask import Response, current_app
from flask_smorest import Blueprint

from services.common.auth import current_user
from services.common.idempotency import idempotent
from services.common.pagination import paginate
from services.common.requests import public_url, service

from . import attendance, calls, erasure, schemas

blp = Blueprint("calls", __name__, description="Calls, lessons, meetings and broadcasts; signalling; attendance")
BEARER = [{"bearerAuth": []}]
NOT_FOUND = "a call the caller may not join (and is not an admin of its school) does not exist for them"


def media():
    return current_app.extensions["sferum.calls.media"]


def config():
    return current_app.extensions["sferum.calls.config"]


def shown(call, user_id: str) -> dict:
    return calls.view_for(call, user_id, public_url(f"call/{call.id}"))


@blp.route("/calls", methods=["POST"])
@idempotent
@blp.arguments(schemas.CallCreate())
@blp.response(201, schemas.Call)
@blp.alt_response(409, description="`not_ready`: the chat or school is not known to calls yet (Retry-After); "
                                   "`call_in_progress`: the chat has a call going on (`details.call_id`); "
                                   "`callee_not_in_chat`: the other person has not joined the direct chat")
@blp.doc(security=BEARER)
def create_call(body):
    """Make a call, or plan one.

    A direct call rings the other member of a direct chat (`call.ringing` on
    their stream) until they join, decline or it is missed
    (`CALL_RING_SECONDS`). Any member of a chat starts a group call in it (in
    a channel, its administrators). Verified teachers and admins plan lessons
    for a chat of a class or group (its members and the class's students
    join) and broadcasts (presenters send, everyone else receives); admins and
    the director plan meetings (the invitees and the chat's members join). A
    member blocked in the chat starts no call there. A call with
    `scheduled_at` waits for its host; any other starts now."""
    user = current_user()
    call = calls.create(service(), config(), user, body["org_id"], body["kind"], body["chat_id"],
                        body["title"].strip(), body["scheduled_at"], body["invitee_ids"], body["presenter_ids"],
                        body["waiting_room"])
    return shown(call, user.id)


@blp.route("/calls", methods=["GET"])
@blp.arguments(schemas.CallQuery(), location="query")
@blp.response(200, schemas.CallPage)
@blp.doc(security=BEARER)
def list_calls(query):
    """The calls I may join, newest first.

    `chat_id` narrows to one chat of mine; `status` to one state."""
    user = current_user()
    page = paginate(calls.list_for(user, query["chat_id"], query["status"]), query["limit"], query["cursor"])
    page["items"] = [shown(call, user.id) for call in page["items"]]
    return page


@blp.route("/calls/<call_id>", methods=["GET"])
@blp.response(200, schemas.Call)
@blp.doc(security=BEARER, description=f"404: {NOT_FOUND}.")
def get_call(call_id):
    """A call, with my own place in it."""
    user = current_user()
    call, _ = calls.visible(user, call_id)
    return shown(call, user.id)


@blp.route("/calls/<call_id>", methods=["PATCH"])
@blp.arguments(schemas.CallUpdate())
@blp.response(200, schemas.Call)
@blp.doc(security=BEARER)
def update_call(body, call_id):
    """Rename a call or move a planned one (host).

    Members hear of a move: `calls.call.scheduled` again and a notice in the
    chat. 409 `not_scheduled`: a call that has started is not moved."""
    user = current_user()
    title = body["title"].strip() if "title" in body else None
    call = calls.reschedule(service(), user, call_id, title, body.get("scheduled_at"))
    return shown(call, user.id)


@blp.route("/calls/<call_id>/cancel", methods=["POST"])
@blp.response(200, schemas.Call)
@blp.doc(security=BEARER)
def cancel_call(call_id):
    """Call off a planned call, or stop ringing (host).

    409 `not_scheduled`: a call that has started is ended, not cancelled."""
    user = current_user()
    return shown(calls.cancel(service(), media(), user, call_id), user.id)


@blp.route("/calls/<call_id>/join", methods=["POST"])
@blp.response(200, schemas.JoinAnswer)
@blp.alt_response(202, schema=schemas.JoinAnswer, description="in the waiting room: the host admits "
                                                              "(call.updated, change admitted), then join again")
@blp.alt_response(409, description="`call_ended`, `call_not_started` (a planned call its host has not "
                                   "started), `call_full` (peer-to-peer: at most CALL_P2P_MAX_PARTICIPANTS)")
@blp.doc(security=BEARER, description=(
    "Into the call, or back into it after a dropped connection (the same participant id). The answer has "
    "`ice_servers` with TURN credentials of this participant's own (TURN REST, short-lived) and `media`: "
    "through the SFU (`mode: sfu`) send your offer to `sfu` with POST /calls/{id}/signal and subscribe to "
    "the participants who publish; peer-to-peer (`mode: p2p`) offer to each of `peers`. Answering a "
    "ringing direct call starts it. 403: `not_invited` (an admin who may see the call), `removed`, "
    f"`call_locked`. 404: {NOT_FOUND}. 503 `media_unavailable`: the SFU does not answer."))
def join_call(call_id):
    """Join a call (answer it, when it rings)."""
    status, answer = calls.join(service(), media(), config(), current_user(), call_id)
    return answer, status


@blp.route("/calls/<call_id>/decline", methods=["POST"])
@blp.response(200, schemas.Call)
@blp.doc(security=BEARER)
def decline_call(call_id):
    """Decline a direct call that rings (the person rung).

    403 `not_the_callee`; 409 `not_ringing`."""
    user = current_user()
    return shown(calls.decline(service(), media(), user, call_id), user.id)


@blp.route("/calls/<call_id>/leave", methods=["POST"])
@blp.response(204)
@blp.doc(security=BEARER)
def leave_call(call_id):
    """Leave the call.

    A direct call ends for both. Others stay; the call ends when nobody has
    been in it for CALL_EMPTY_GRACE_SECONDS (60 s by default: room for
    reconnects). 409 `not_in_call`."""
    calls.leave(service(), media(), current_user(), call_id)


@blp.route("/calls/<call_id>/end", methods=["POST"])
@blp.response(200, schemas.Call)
@blp.doc(security=BEARER)
def end_call(call_id):
    """End the call for everyone (host).

    409 `not_started`: a planned call that has not started is cancelled instead."""
    user = current_user()
    return shown(calls.end_for_all(service(), media(), user, call_id), user.id)


@blp.route("/calls/<call_id>/participants", methods=["GET"])
@blp.response(200, schemas.ParticipantList)
@blp.doc(security=BEARER)
def list_participants(call_id):
    """Who is in the call.

    With whose media can be received (`publishing`); the host also sees the
    waiting room."""
    return {"items": calls.participants(current_user(), call_id)}


@blp.route("/calls/<call_id>/participants/<participant_id>/mute", methods=["POST"])
@blp.arguments(schemas.Mute())
@blp.response(200, schemas.Participant)
@blp.doc(security=BEARER)
def mute_participant(body, call_id, participant_id):
    """Mute a participant's audio or video, or let it again (host).

    Through the SFU, Janus stops passing it on (VideoRoom `moderate`),
    whatever the client does; the participant's client is told (call.updated,
    change muted) in every mode."""
    participant = calls.mute(service(), media(), current_user(), call_id, participant_id, body["audio"], body["video"])
    return calls.participant_views(participant.call, [participant])[0]


@blp.route("/calls/<call_id>/participants/<participant_id>/remove", methods=["POST"])
@blp.response(200, schemas.Participant)
@blp.doc(security=BEARER)
def remove_participant(call_id, participant_id):
    """Remove a participant (host).

    Out of the media room at once (their media stops both ways) and they
    cannot join this call again (403 `removed`). 409 `host_stays`."""
    participant = calls.remove(service(), media(), current_user(), call_id, participant_id)
    return calls.participant_views(participant.call, [participant])[0]


@blp.route("/calls/<call_id>/participants/<participant_id>/admit", methods=["POST"])
@blp.response(200, schemas.Participant)
@blp.doc(security=BEARER)
def admit_participant(call_id, participant_id):
    """Admit someone from the waiting room (host); they join again."""
    participant = calls.admit(service(), current_user(), call_id, participant_id)
    return calls.participant_views(participant.call, [participant])[0]


@blp.route("/calls/<call_id>/lock", methods=["POST"])
@blp.arguments(schemas.Lock())
@blp.response(200, schemas.Call)
@blp.doc(security=BEARER)
def lock_call(body, call_id):
    """Lock the call, or open it again (host).

    Locked, nobody new joins (403 `call_locked`); those who were in may come back."""
    user = current_user()
    return shown(calls.lock(service(), user, call_id, body["locked"]), user.id)


@blp.route("/calls/<call_id>/hand", methods=["POST"])
@blp.arguments(schemas.Hand())
@blp.response(200, schemas.Participant)
@blp.doc(security=BEARER)
def raise_hand(body, call_id):
    """Raise (or lower) my hand: the others see it (call.updated)."""
    participant = calls.hand(service(), current_user(), call_id, body["raised"])
    return calls.participant_views(participant.call, [participant])[0]


@blp.route("/calls/<call_id>/presence", methods=["POST"])
@blp.response(200, schemas.Presence)
@blp.doc(security=BEARER)
def confirm_presence(call_id):
    """Confirm I am still in the call.

    Clients say so every 30 s: silent for CALL_PRESENCE_TIMEOUT_SECONDS (90 s
    by default), they are taken out, so that a closed laptop leaves no one
    present for ever. Fresh TURN credentials come with the answer, for calls
    longer than `ice_servers_expire_at`. 409 `not_in_call`."""
    return calls.presence(config(), current_user(), call_id)


@blp.route("/calls/<call_id>/signal", methods=["POST"])
@blp.arguments(schemas.Signal())
@blp.response(200, schemas.SignalReply)
@blp.doc(security=BEARER, description=(
    "Through the SFU the service is the other side of the client's exchange with Janus, answering in the "
    "reply: `offer` (the client's publishing PeerConnection; again to renegotiate) -> `answer`; "
    "`subscribe` {feeds} -> `offer` (the receiving PeerConnection: one for all feeds, later feeds are "
    "added with a new offer), which the client answers with `answer` -> `ok`; `ice` -> `ok` (Janus's own "
    "candidates are in its SDP). Viewers of a broadcast do not publish (403 `viewer`). Peer-to-peer, the "
    "offer, answer or candidate goes to the participant `to` as a `call.signal` frame {call_id, from, "
    "from_user_id, type, payload}; the newcomer offers to everyone present. 409 `not_in_call`, "
    "`feed_not_ready` (that participant does not publish yet), `peer_to_peer`, `sfu_call`."))
def signal(body, call_id):
    """Signalling: an offer, an answer, an ICE candidate, a subscription."""
    return calls.signal(service(), media(), current_user(), call_id, body["to"], body["type"], body["payload"])


@blp.route("/calls/<call_id>/attendance", methods=["GET"])
@blp.arguments(schemas.AttendanceQuery(), location="query")
@blp.response(200, schemas.Attendance)
# Both kinds of answer under one status: a second response of the same status would replace the first.
@blp.doc(security=BEARER, responses={"200": {
    "description": "the attendance, or with format=csv a CSV file: one line per stay, for a lesson one per "
                   "absent student", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Attendance"}},
        "text/csv": {"schema": {"type": "string"}}}}})
def call_attendance(query, call_id):
    """Who was there, from when to when (host, the school's admins).

    Several stays after reconnects, from the SFU's own events; for a lesson,
    the class's roster beside it (`absent`: who never came)."""
    report = calls.attendance_of(current_user(), call_id)
    if query["format"] == "csv":
        return Response(attendance.as_csv(report), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="attendance-{call_id}.csv"'})
    return report


@blp.route("/me/export/calls", methods=["GET"])
@blp.response(200, schemas.CallsExport)
@blp.doc(security=BEARER)
def export_mine():
    """calls' part of `GET /me/export`: the calls the user made, was in (with
    each stay) and was named in."""
    return erasure.export(current_user().id)
