"""Calls, from making or planning one to its end: who may do what is in
rules.py, how the media flows in media.py, attendance in attendance.py.

A call's life: a direct call rings the other person (`ringing`) until they
answer, decline or it is missed; a planned call waits (`scheduled`) until its
host joins; any other call is `active` from the start. Nothing ends an
active call but its host ending it for everyone or nobody being in it for
`CALL_EMPTY_GRACE_SECONDS` (a reconnect takes seconds; jobs.py ends it). A
direct call ends when one of the two hangs up."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from services.common.auth import Principal
from services.common.clock import isoformat, utcnow
from services.common.db import lock_for_transaction
from services.common.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.common.service import Service

from . import attendance, directory, events, rules
from .config import CallsConfig
from .janus import JanusError
from .media import MediaUnavailable
from .models import Call, ChatMember, Invitee, OrgMember, Participant, db
from .rules import field_error
from .turn import ice_servers

log = logging.getLogger(__name__)

OVER = ("ended", "cancelled")
MAX_AHEAD = timedelta(days=366)
# Who is in the call now (the others: waiting, admitted, left, removed, declined).
IN_CALL = ("joined",)


class CallEnded(Conflict):
    code, message = "call_ended", "This call is over."


# Views.

def view(call: Call, join_url: str | None = None) -> dict:
    names = directory.names([call.host_id])
    shown = {
        "id": call.id, "org_id": call.org_id, "kind": call.kind, "chat_id": call.chat_id,
        "unit_id": call.unit_id, "title": call.title, "status": call.status, "mode": call.mode,
        "host": {"id": call.host_id, "display_name": names[call.host_id]},
        "scheduled_at": isoformat(call.scheduled_at), "started_at": isoformat(call.started_at),
        "ended_at": isoformat(call.ended_at), "outcome": call.outcome,
        "waiting_room": call.waiting_room, "locked": call.locked, "created_at": isoformat(call.created_at),
    }
    if join_url is not None:
        shown["join_url"] = join_url
    return shown


def view_for(call: Call, user_id: str, join_url: str) -> dict:
    """The call as one person sees it: with their own place in it."""
    participant = mine(call, user_id)
    return dict(view(call, join_url), my_participant_id=participant.id if participant else None,
                my_state=participant.state if participant else None)


def participant_view(participant: Participant, name: str, present: bool) -> dict:
    return {"id": participant.id, "user_id": participant.user_id, "display_name": name,
            "role": participant.role, "state": participant.state, "present": present,
            "publishing": participant.publishing, "audio_muted": participant.audio_muted,
            "video_muted": participant.video_muted, "hand_raised": participant.hand_raised}


def participant_views(call: Call, participants: list[Participant]) -> list[dict]:
    names = directory.names([p.user_id for p in participants])
    here = set(attendance.present(call))
    return [participant_view(p, names[p.user_id], p.id in here or (call.mode == "p2p" and p.state == "joined"))
            for p in participants]


def event_data(call: Call) -> dict:
    return {"call_id": call.id, "org_id": call.org_id, "chat_id": call.chat_id, "unit_id": call.unit_id,
            "kind": call.kind, "title": call.title, "host_id": call.host_id,
            "scheduled_at": isoformat(call.scheduled_at), "started_at": isoformat(call.started_at),
            "ended_at": isoformat(call.ended_at)}


def _in_call(call: Call) -> list[Participant]:
    return list(Participant.select().where(Participant.call == call.id, Participant.state.in_(IN_CALL)))


def tell(service: Service, call: Call, recipients, change: str, participant: Participant | None = None) -> None:
    """A `call.updated` frame: what changed, with the call and the participant concerned."""
    data = {"call": view(call), "change": change}
    if participant is not None:
        data["participant"] = participant_views(call, [participant])[0]
    service.push(recipients, "call.updated", data)


def tell_participants(service: Service, call: Call, change: str, participant: Participant | None = None,
                      also=()) -> None:
    recipients = {p.user_id for p in _in_call(call)} | {call.host_id} | set(also)
    tell(service, call, recipients, change, participant)


# Finding a call.

def _get(call_id: str) -> Call:
    call = Call.get_or_none(Call.id == call_id)
    if call is None:
        raise NotFound("No such call.")
    return call


def visible(user: Principal, call_id: str) -> tuple[Call, rules.Standing]:
    """A call exists for those who may join it and for its school's admins."""
    call = _get(call_id)
    standing = directory.standing_in_call(call, user.id)
    if not rules.sees(call.kind, standing):
        raise NotFound("No such call.", lacking=directory.facts_lacking(call.org_id, user.id, call.chat_id))
    return call, standing


def hosted(user: Principal, call_id: str) -> Call:
    call, standing = visible(user, call_id)
    if not standing.host:
        raise Forbidden("Only the call's host may do this.", code="host_only")
    return call


def _live(call: Call) -> None:
    if call.status in OVER:
        raise CallEnded()


def mine(call: Call, user_id: str) -> Participant | None:
    return Participant.get_or_none(Participant.call == call.id, Participant.user_id == user_id)


def _in(user: Principal, call_id: str) -> tuple[Call, Participant]:
    """The caller's own place in a call they are in."""
    call, _ = visible(user, call_id)
    _live(call)
    participant = mine(call, user.id)
    if participant is None or participant.state not in IN_CALL:
        raise Conflict("You are not in this call: join it first.", code="not_in_call")
    return call, participant


def _target(call: Call, participant_id: str) -> Participant:
    participant = Participant.get_or_none(Participant.id == participant_id, Participant.call == call.id)
    if participant is None:
        raise NotFound("No such participant in this call.")
    return participant


# Making and planning.

def create(service: Service, config: CallsConfig, user: Principal, org_id: str, kind: str,
           chat_id: str | None, title: str, scheduled_at: datetime | None, invitee_ids: list[str],
           presenter_ids: list[str], waiting_room: bool | None) -> Call:
    directory.known_org(org_id)
    chat = directory.known_chat(chat_id) if chat_id else None
    if chat is not None and chat.org_id != org_id:
        raise NotFound("No such chat.")  # another school's chat does not exist here
    try:
        rules.may_start(kind, directory.standing_in_chat(org_id, user.id, chat), chat.kind if chat else None,
                        org_id=org_id, user_id=user.id)
    except NotFound as refusal:
        # Perhaps they joined the school or the chat a moment ago and calls has not heard yet.
        raise NotFound(refusal.message, lacking=directory.facts_lacking(org_id, user.id, chat_id)) from None
    if chat is not None and chat.archived:
        raise Conflict("This chat is archived.", code="chat_archived")
    if kind == "lesson" and not chat.unit_id:
        raise field_error("chat_id", "A lesson is planned for a chat of a class or a group.")
    _check_time(kind, scheduled_at)
    invitees = _check_people(org_id, user.id, "invitee_ids", invitee_ids)
    presenters = _check_people(org_id, user.id, "presenter_ids", presenter_ids)
    if presenters and kind != "broadcast":
        raise field_error("presenter_ids", "Only a broadcast has presenters.")
    if kind == "direct" and invitees:
        raise field_error("invitee_ids", "A direct call rings the other member of the direct chat.")
    with db.atomic():
        if chat is not None and kind in ("direct", "group"):
            # One call at a time in a chat: a second would split the people.
            lock_for_transaction(db, f"chat-call:{chat.chat_id}")
            running = Call.get_or_none(Call.chat_id == chat.chat_id, Call.kind.in_(("direct", "group")),
                                       Call.status.in_(("ringing", "active")))
            if running is not None:
                raise Conflict("A call is already going on in this chat: join it.", code="call_in_progress",
                               details={"call_id": running.id})
        callee = _callee(chat, user.id) if kind == "direct" else None
        now = utcnow()
        status = "ringing" if kind == "direct" else ("scheduled" if scheduled_at else "active")
        call = Call.create(
            org_id=org_id, kind=kind, chat_id=chat.chat_id if chat else None,
            unit_id=chat.unit_id if (chat is not None and kind == "lesson") else None, title=title,
            host_id=user.id, status=status, mode=config.mode, scheduled_at=scheduled_at,
            started_at=now if status == "active" else None, empty_since=now if status == "active" else None,
            waiting_room=(kind == "meeting") if waiting_room is None else (waiting_room and kind != "direct"),
            checked_at=now)
        named = [(uid, "invitee") for uid in invitees] + [(uid, "presenter") for uid in presenters]
        if callee:
            named.append((callee, "callee"))
        for user_id, role in dict(named).items():
            Invitee.create(call=call, user_id=user_id, role=role)
        if status == "scheduled":
            service.outbox.add(events.CALL_SCHEDULED, event_data(call), org_id=org_id)
            tell(service, call, directory.audience(call), "scheduled")
        elif status == "active":
            service.outbox.add(events.CALL_STARTED, event_data(call), org_id=org_id)
            tell(service, call, set(directory.audience(call)) - {user.id}, "started")
        else:
            service.push([callee], "call.ringing", {"call": view(call), "caller": {
                "id": user.id, "display_name": directory.names([user.id])[user.id]}})
    return call


def _check_time(kind: str, scheduled_at: datetime | None) -> None:
    if scheduled_at is None:
        return
    if kind == "direct":
        raise field_error("scheduled_at", "A direct call is not planned: it rings now.")
    now = utcnow()
    if scheduled_at <= now:
        raise field_error("scheduled_at", "Must be in the future.")
    if scheduled_at > now + MAX_AHEAD:
        raise field_error("scheduled_at", "At most a year ahead.")


def _check_people(org_id: str, user_id: str, field: str, user_ids: list[str]) -> list[str]:
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return []
    members = {m.user_id for m in OrgMember.select(OrgMember.user_id).where(
        OrgMember.org_id == org_id, OrgMember.user_id.in_(ids))}
    outsiders = [uid for uid in ids if uid not in members]
    if outsiders:
        # Never say whether they exist elsewhere: they are not members here.
        raise Unprocessable("Only members of this organisation can be named.",
                                  details={"fields": {field: [f"Not a member: {uid}" for uid in outsiders[:20]]}})
    if user_id in ids:
        raise field_error(field, "You host this call already.")
    return ids


def _callee(chat, user_id: str) -> str:
    others = [uid for uid in directory.chat_members(chat.chat_id) if uid != user_id]
    if len(others) != 1:
        raise Conflict("The other person has not joined this direct chat yet.", code="callee_not_in_chat")
    return others[0]


def reschedule(service: Service, user: Principal, call_id: str, title: str | None,
               scheduled_at: datetime | None) -> Call:
    """The host moves a planned call or renames it; members hear of the new time."""
    with db.atomic():
        call = hosted(user, call_id)
        _live(call)
        if scheduled_at is not None and call.status != "scheduled":
            raise Conflict("Only a call that has not started can be moved.", code="not_scheduled")
        _check_time(call.kind, scheduled_at)
        previous = call.scheduled_at
        if title is not None:
            call.title = title
        if scheduled_at is not None:
            call.scheduled_at, call.reminded_at = scheduled_at, None
        call.save()
        if call.status == "scheduled":
            service.outbox.add(events.CALL_SCHEDULED, dict(event_data(call), previous_scheduled_at=isoformat(previous)),
                               org_id=call.org_id)
        tell(service, call, directory.audience(call), "rescheduled" if scheduled_at is not None else "renamed")
    return call


def cancel(service: Service, media, user: Principal, call_id: str) -> Call:
    """The host calls off a planned call, or the caller stops ringing."""
    with db.atomic():
        lock_for_transaction(db, f"call:{call_id}")
        call = hosted(user, call_id)
        _live(call)
        if call.status == "ringing":
            end(service, media, call, "cancelled")
            return call
        if call.status != "scheduled":
            raise Conflict("A call that has started is ended, not cancelled.", code="not_scheduled")
        call.status, call.outcome, call.ended_at = "cancelled", "cancelled", utcnow()
        call.save()
        service.outbox.add(events.CALL_CANCELLED, dict(event_data(call), reason="host"), org_id=call.org_id)
        tell(service, call, directory.audience(call), "cancelled")
    return call


# Joining.

def join(service: Service, media, config: CallsConfig, user: Principal, call_id: str) -> tuple[int, dict]:
    """Into the call: 200 with how to reach its media, or 202 while the host
    has not admitted them from the waiting room."""
    with db.atomic():
        lock_for_transaction(db, f"call:{call_id}")
        call, standing = visible(user, call_id)
        if not rules.may_join(call.kind, standing):
            raise Forbidden("This call is for its chat's members and invitees.", code="not_invited")
        _live(call)
        participant = mine(call, user.id)
        if participant is not None and participant.state == "removed":
            raise Forbidden("The host removed you from this call.", code="removed")
        if participant is not None and participant.state == "declined":
            raise CallEnded()
        host = standing.host
        if call.status == "scheduled" and not host and not call.waiting_room:
            raise Conflict("This call has not started yet.", code="call_not_started",
                           details={"scheduled_at": isoformat(call.scheduled_at)})
        known = participant is not None and participant.state != "waiting"
        if call.locked and not host and not known:
            raise Forbidden("The host has locked this call.", code="call_locked")
        role = rules.participant_role(call.kind, standing)
        if participant is None:
            waits = call.waiting_room and not host
            participant = Participant.create(call=call, user_id=user.id, role=role,
                                             state="waiting" if waits else "admitted")
            if waits:
                tell(service, call, [call.host_id], "waiting", participant)
        if participant.state == "waiting" or call.status == "scheduled" and not host:
            # In the waiting room, or admitted to a planned call its host has not
            # started: the `started` frame says when to join again.
            return 202, {"participant_id": participant.id, "role": participant.role, "status": participant.state,
                         "call": view(call)}
        if media.capacity and participant.state not in IN_CALL and len(_in_call(call)) >= media.capacity:
            raise Conflict(f"Without a media server a call holds at most {media.capacity} people.",
                           code="call_full", details={"max_participants": media.capacity})
        if call.status == "scheduled" or (call.status == "ringing" and not host):
            _start(service, call)
        participant.role, participant.state = role, "joined"
        participant.joined_at = participant.seen_at = utcnow()
        participant.save()
    try:
        with db.atomic():
            lock_for_transaction(db, f"participant:{participant.id}")
            participant = Participant.get_by_id(participant.id)
            fields = media.enter(call, participant, directory.names([user.id])[user.id])
            if fields:
                now = utcnow()
                fields.update(token=participant.token, kept_alive_at=now, media_up=0, media_changed_at=None)
                Participant.update(**fields).where(Participant.id == participant.id).execute()
                participant = Participant.get_by_id(participant.id)
            if call.mode == "p2p" and call.status == "active":
                attendance.arrived(service, call, participant, utcnow(), "client")
            if participant.audio_muted or participant.video_muted:
                tell(service, call, [user.id], "muted", participant)
            tell_participants(service, call, "joined", participant)
    except JanusError as exc:
        with db.atomic():
            Participant.update(state="left").where(Participant.id == participant.id).execute()
        raise MediaUnavailable() from exc
    peers = [shown for shown in participant_views(call, _in_call(call)) if shown["id"] != participant.id]
    servers, expires = ice_servers(participant.id, config.turn_urls, config.turn_secret, config.turn_ttl,
                                   config.stun_urls)
    return 200, {"participant_id": participant.id, "role": participant.role, "status": "joined",
                 "call": view(call), "ice_servers": servers,
                 "ice_servers_expire_at": isoformat(datetime.fromtimestamp(expires, timezone.utc)) if expires else None,
                 "media": media.describe(call, participant, peers)}


def _start(service: Service, call: Call) -> None:
    """A ringing or planned call begins: whoever waited in it (a caller) is in it from now."""
    now = utcnow()
    call.status, call.started_at, call.empty_since = "active", now, now
    call.save()
    for waiting in _in_call(call):
        attendance.arrived(service, call, waiting, now, "client" if call.mode == "p2p" else "sfu",
                           waiting.janus_session)
    service.outbox.add(events.CALL_STARTED, event_data(call), org_id=call.org_id)
    tell(service, call, directory.audience(call), "started")


def decline(service: Service, media, user: Principal, call_id: str) -> Call:
    with db.atomic():
        lock_for_transaction(db, f"call:{call_id}")
        call, _ = visible(user, call_id)
        callee = Invitee.get_or_none(Invitee.call == call.id, Invitee.user_id == user.id, Invitee.role == "callee")
        if callee is None:
            raise Forbidden("Only the person called declines a call.", code="not_the_callee")
        if call.status != "ringing":
            raise Conflict("This call is not ringing.", code="not_ringing")
        Participant.insert(call=call.id, user_id=user.id, role="participant", state="declined").on_conflict(
            conflict_target=[Participant.call, Participant.user_id],
            update={Participant.state: "declined"}).execute()
        end(service, media, call, "declined")
    return call


def leave(service: Service, media, user: Principal, call_id: str) -> None:
    with db.atomic():
        lock_for_transaction(db, f"call:{call_id}")
        call, _ = visible(user, call_id)
        participant = mine(call, user.id)
        if participant is None or participant.state not in ("joined", "admitted", "waiting"):
            raise Conflict("You are not in this call.", code="not_in_call")
        _live(call)
        _out(service, media, call, participant, "left", "client")
        if call.kind == "direct":
            end(service, media, call, "cancelled" if call.status == "ringing" else "answered")
            return
        tell_participants(service, call, "left", participant)


def _out(service: Service, media, call: Call, participant: Participant, state: str, by: str) -> None:
    """Out of the call: the stay ends now, the Janus session too."""
    attendance.departed(service, call, participant, utcnow(), by)
    if state == "removed":
        media.remove(call, participant)
    else:
        media.leave(participant)
    participant.state = state
    participant.janus_session = participant.janus_handle = participant.janus_subscriber = None
    participant.publishing, participant.hand_raised, participant.media_up = False, False, 0
    participant.save()


def drop(service: Service, media, call: Call, participant: Participant, by: str) -> None:
    """Out of the call without having said goodbye (their media or their
    presence went away); they may come back."""
    _out(service, media, call, participant, "left", by)
    tell_participants(service, call, "left", participant)


def end(service: Service, media, call: Call, outcome: str) -> None:
    """The call is over for everyone: stays close, the room goes, members hear of it."""
    now = utcnow()
    attendance.close_all(service, call, now, "ended")
    participants = list(Participant.select().where(Participant.call == call.id,
                                                   Participant.state.in_(("joined", "admitted", "waiting"))))
    call.status, call.ended_at, call.outcome = "ended", now, outcome
    call.save()
    totals = attendance.totals(call)
    service.outbox.add(events.CALL_ENDED, dict(
        event_data(call), outcome=outcome, participant_count=totals["participant_count"],
        participant_seconds=totals["participant_seconds"], minutes=totals["minutes"],
        duration_seconds=round((now - call.started_at).total_seconds(), 3) if call.started_at else 0),
        org_id=call.org_id)
    tell(service, call, set(directory.audience(call)) | {p.user_id for p in participants}, "ended")
    try:
        media.close(call, participants)
    except JanusError as exc:
        # Nobody keeps the participants' sessions alive any more: Janus ends them, and the room empties.
        log.warning("call %s: the media server did not close the room: %s", call.id, exc)
    for participant in participants:
        participant.state = "left"
        participant.janus_session = participant.janus_handle = participant.janus_subscriber = None
        participant.save()


def end_for_all(service: Service, media, user: Principal, call_id: str) -> Call:
    with db.atomic():
        lock_for_transaction(db, f"call:{call_id}")
        call = hosted(user, call_id)
        _live(call)
        if call.status == "scheduled":
            raise Conflict("This call has not started: cancel it instead.", code="not_started")
        end(service, media, call, "answered" if call.kind == "direct" else "ended")
    return call


# Host controls.

def mute(service: Service, media, user: Principal, call_id: str, participant_id: str,
         audio: bool | None, video: bool | None) -> Participant:
    with db.atomic():
        call = hosted(user, call_id)
        _live(call)
        target = _target(call, participant_id)
        if audio is not None:
            target.audio_muted = audio
        if video is not None:
            target.video_muted = video
        target.save()
        try:
            media.enforce_mute(call, target)
        except JanusError as exc:
            raise MediaUnavailable() from exc
        tell_participants(service, call, "muted", target, also=[target.user_id])
    return target


def remove(service: Service, media, user: Principal, call_id: str, participant_id: str) -> Participant:
    with db.atomic():
        lock_for_transaction(db, f"call:{call_id}")
        call = hosted(user, call_id)
        _live(call)
        target = _target(call, participant_id)
        if target.user_id == call.host_id:
            raise Conflict("The host ends the call instead.", code="host_stays")
        if target.state != "removed":
            try:
                _out(service, media, call, target, "removed", "removed")
            except JanusError as exc:
                raise MediaUnavailable() from exc
            tell_participants(service, call, "removed", target, also=[target.user_id])
    return target


def admit(service: Service, user: Principal, call_id: str, participant_id: str) -> Participant:
    with db.atomic():
        call = hosted(user, call_id)
        _live(call)
        target = _target(call, participant_id)
        if target.state == "removed":
            raise Conflict("This participant was removed from the call.", code="removed")
        if target.state == "waiting":
            target.state = "admitted"
            target.save()
            tell(service, call, [target.user_id, call.host_id], "admitted", target)
    return target


def lock(service: Service, user: Principal, call_id: str, locked: bool) -> Call:
    with db.atomic():
        call = hosted(user, call_id)
        _live(call)
        call.locked = locked
        call.save()
        tell_participants(service, call, "locked" if locked else "unlocked")
    return call


def hand(service: Service, user: Principal, call_id: str, raised: bool) -> Participant:
    with db.atomic():
        call, participant = _in(user, call_id)
        participant.hand_raised = raised
        participant.save()
        tell_participants(service, call, "hand_raised" if raised else "hand_lowered", participant)
    return participant


def presence(config: CallsConfig, user: Principal, call_id: str) -> dict:
    """The client is still there; fresh TURN credentials for long calls come with the answer."""
    with db.atomic():
        call, participant = _in(user, call_id)
        Participant.update(seen_at=utcnow()).where(Participant.id == participant.id).execute()
    servers, expires = ice_servers(participant.id, config.turn_urls, config.turn_secret, config.turn_ttl,
                                   config.stun_urls)
    return {"participant_id": participant.id, "ice_servers": servers,
            "ice_servers_expire_at": isoformat(datetime.fromtimestamp(expires, timezone.utc)) if expires else None}


# Signalling.

def signal(service: Service, media, user: Principal, call_id: str, to: str, kind: str, payload: dict) -> dict:
    call, participant = _in(user, call_id)
    if to == "sfu":
        if call.mode != "sfu":
            raise Conflict("This call is peer-to-peer: signal the other participants.", code="peer_to_peer")
        return _negotiate(service, media, call, participant, kind, payload)
    if call.mode == "sfu":
        raise Conflict("This call goes through the media server: signal `sfu`.", code="sfu_call")
    if kind not in ("offer", "answer", "ice"):
        raise field_error("type", "Peers exchange offer, answer and ice.")
    peer = Participant.get_or_none(Participant.id == to, Participant.call == call.id)
    if peer is None or peer.state not in IN_CALL or peer.id == participant.id:
        raise NotFound("No such participant in this call.")
    service.push([peer.user_id], "call.signal", {"call_id": call.id, "from": participant.id,
                                                 "from_user_id": user.id, "type": kind, "payload": payload})
    return {"type": "relayed", "payload": {}}


def _negotiate(service: Service, media, call: Call, participant: Participant, kind: str, payload: dict) -> dict:
    if kind == "offer" and not rules.sends_media(participant.role):
        raise Forbidden("Viewers of a broadcast only receive.", code="viewer")
    if kind in ("offer", "answer") and not isinstance(payload.get("sdp"), str):
        raise field_error("payload", "An offer or an answer carries `sdp`.")
    if kind == "subscribe":
        feeds = payload.get("feeds")
        if not isinstance(feeds, list) or not feeds or not all(isinstance(feed, str) for feed in feeds):
            raise field_error("payload", "`feeds`: the participant ids whose media to receive.")
        known = {p.id for p in Participant.select(Participant.id).where(
            Participant.call == call.id, Participant.id.in_(feeds), Participant.state.in_(IN_CALL))}
        unknown = [feed for feed in feeds if feed not in known or feed == participant.id]
        if unknown:
            raise field_error("payload", f"Not another participant of this call: {', '.join(unknown[:10])}")
    with db.atomic():
        lock_for_transaction(db, f"participant:{participant.id}")
        participant = Participant.get_by_id(participant.id)
        if participant.state not in IN_CALL or not participant.janus_session:
            raise Conflict("You are not in this call: join it first.", code="not_in_call")
        try:
            done = media.negotiate(call, participant, kind, payload)
            if done["changes"]:
                Participant.update(**done["changes"]).where(Participant.id == participant.id).execute()
                for name, value in done["changes"].items():
                    setattr(participant, name, value)
            if kind == "offer" and (participant.audio_muted or participant.video_muted):
                media.enforce_mute(call, participant)
        except JanusError as exc:
            raise MediaUnavailable() from exc
    return done["reply"]


# Reading.

def participants(user: Principal, call_id: str) -> list[dict]:
    """Who is in the call (and, for the host, who waits to be admitted)."""
    call, standing = visible(user, call_id)
    states = ("joined", "waiting") if standing.host else ("joined",)
    rows = list(Participant.select().where(Participant.call == call.id, Participant.state.in_(states))
                .order_by(Participant.created_at))
    return participant_views(call, rows)


def list_for(user: Principal, chat_id: str | None, status: str | None):
    """The calls of the caller's schools they may join, newest first."""
    orgs = OrgMember.select(OrgMember.org_id).where(OrgMember.user_id == user.id)
    if chat_id is not None:
        chat = directory.known_chat(chat_id)
        if not directory.in_chat(chat.chat_id, user.id):
            raise NotFound("No such chat.", lacking=directory.facts_lacking(chat.org_id, user.id, chat.chat_id))
    classes = OrgMember.select(OrgMember.unit_id).where(OrgMember.user_id == user.id,
                                                        OrgMember.unit_id.is_null(False))
    theirs = ((Call.host_id == user.id)
              | Call.id.in_(Invitee.select(Invitee.call).where(Invitee.user_id == user.id))
              | Call.id.in_(Participant.select(Participant.call).where(Participant.user_id == user.id))
              | Call.chat_id.in_(ChatMember.select(ChatMember.chat_id).where(ChatMember.user_id == user.id))
              | ((Call.kind == "lesson") & Call.unit_id.in_(classes)))
    query = Call.select().where(Call.org_id.in_(orgs), theirs)
    if chat_id is not None:
        query = query.where(Call.chat_id == chat_id)
    if status is not None:
        query = query.where(Call.status == status)
    return query.order_by(Call.created_at.desc(), Call.id)


def attendance_of(user: Principal, call_id: str) -> dict:
    call, standing = visible(user, call_id)
    if not rules.may_read_attendance(call.kind, standing):
        raise Forbidden("The call's host and the school's admins read its attendance.")
    return attendance.report(call)
