"""Janus's own word on who is in which room, as its HTTP event handler posts
it to `POST /internal/janus-events` (basic auth: user `janus`, the password
`JANUS_EVENTS_SECRET`; the gateway never routes there).

The handler posts JSON arrays of events (or one event). `facts` reads the ones
that matter, as plain data; `apply` turns them into attendance and
participants' media state. Everything else Janus sends (SDP, ICE states,
subscriptions) is ignored. Janus's `timestamp` (microseconds since the
epoch) is when it happened, whenever the post arrives."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from services.common.service import Service

from . import attendance
from .calls import tell_participants
from .models import Call, Participant

log = logging.getLogger(__name__)

PLUGIN, WEBRTC = 64, 16
VIDEOROOM = "janus.plugin.videoroom"
ROOM_EVENTS = {"joined": "joined", "leaving": "left", "kicked": "kicked", "published": "published",
               "unpublished": "unpublished", "destroyed": "destroyed"}
CONNECTION_EVENTS = {"webrtcup": "media_up", "hangup": "media_down"}


@dataclass(frozen=True)
class Fact:
    kind: str  # joined | left | kicked | published | unpublished | destroyed | media_up | media_down
    at: datetime
    room: str | None = None
    participant: str | None = None
    session: int | None = None
    reason: str | None = None


def _moment(event: dict) -> datetime:
    micros = event.get("timestamp")
    if not isinstance(micros, int):
        return datetime.now(timezone.utc).replace(tzinfo=None)
    return datetime.fromtimestamp(micros / 1_000_000, timezone.utc).replace(tzinfo=None)


def facts(payload) -> list[Fact]:
    """What the events say, in their order; anything else is skipped."""
    found = []
    for event in payload if isinstance(payload, list) else [payload]:
        if not isinstance(event, dict):
            continue
        body = event.get("event") if isinstance(event.get("event"), dict) else {}
        if event.get("type") == PLUGIN and body.get("plugin") == VIDEOROOM:
            data = body.get("data") if isinstance(body.get("data"), dict) else {}
            kind = ROOM_EVENTS.get(data.get("event"))
            room = data.get("room")
            if kind is None or not isinstance(room, str):
                continue
            participant = data.get("id") if isinstance(data.get("id"), str) else None
            if kind != "destroyed" and participant is None:
                continue
            if kind == "left" and data.get("reason") == "kicked":
                kind = "kicked"
            session = event.get("session_id") if isinstance(event.get("session_id"), int) else None
            found.append(Fact(kind, _moment(event), room, participant, session, data.get("reason")))
        elif event.get("type") == WEBRTC:
            kind = CONNECTION_EVENTS.get(body.get("connection"))
            opaque = event.get("opaque_id")
            if kind is not None and isinstance(opaque, str):
                found.append(Fact(kind, _moment(event), participant=opaque, reason=body.get("reason")))
    return found


def apply(service: Service, found: list[Fact]) -> int:
    """Attendance and media state from the facts; answers how many applied.
    Facts about rooms and participants that are not calls' (or no longer
    in a call) change nothing: the same event may also come twice."""
    applied = 0
    for fact in found:
        if fact.kind == "destroyed":
            call = Call.get_or_none(Call.id == fact.room)
            if call is not None:
                attendance.close_all(service, call, fact.at, "sfu")
                Call.update(room_ready=False).where(Call.id == call.id).execute()
                applied += 1
            continue
        query = Participant.select(Participant, Call).join(Call).where(Participant.id == fact.participant)
        if fact.room is not None:
            query = query.where(Participant.call == fact.room)
        participant = query.first()
        if participant is None:
            continue
        call = participant.call
        if fact.kind == "joined":
            if participant.state == "joined" and call.status == "active":
                attendance.arrived(service, call, participant, fact.at, "sfu", fact.session)
        elif fact.kind in ("left", "kicked"):
            attendance.departed(service, call, participant, fact.at, "kicked" if fact.kind == "kicked" else "sfu")
            Participant.update(publishing=False).where(Participant.id == participant.id).execute()
        elif fact.kind in ("published", "unpublished"):
            publishing = fact.kind == "published"
            if participant.publishing != publishing:
                participant.publishing = publishing
                Participant.update(publishing=publishing).where(Participant.id == participant.id).execute()
                tell_participants(service, call, fact.kind, participant)
        else:
            change = 1 if fact.kind == "media_up" else -1
            participant.media_up = max(0, participant.media_up + change)
            Participant.update(media_up=participant.media_up, media_changed_at=fact.at).where(
                Participant.id == participant.id).execute()
        applied += 1
    return applied


def parse_body(raw: bytes):
    """The posted body (JSON), or None when it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return None
