"""How a call's media flows: through a Janus VideoRoom (`JanusRooms`), or
peer-to-peer between the participants' clients when no SFU is configured
(`PeerToPeer`). The domain (calls.py) speaks to either through the same few
methods; only `JanusRooms` talks to a server.

Through Janus the calls service is the only client of Janus's API: it holds
each participant's Janus session and handles, joins the room on their behalf
with its own participant id and the room token it issued, and relays the SDP
of their PeerConnections (`/calls/{id}/signal`). The exchange:

    client                      calls service                Janus
    POST /join             ->   session, handle, join   ->   joined (token checked)
    signal offer (publish) ->   publish + the offer     ->   answer  -> 200 {type: answer}
    signal subscribe feeds ->   subscriber join/update  ->   offer   -> 200 {type: offer}
    signal answer          ->   start + the answer      ->   started -> 200 {type: ok}
    signal ice             ->   trickle                 ->           -> 200 {type: ok}

Janus puts its own ICE candidates in its SDP (half-trickle); media then flows
between the client and Janus, directly or through TURN."""
from __future__ import annotations

import json
import logging
import secrets
import time

from services.common.errors import ApiError, Conflict

from .config import CallsConfig
from .janus import (JANUS_HANDLE_NOT_FOUND, JANUS_SESSION_NOT_FOUND, VIDEOROOM, VIDEOROOM_ID_EXISTS,
                    VIDEOROOM_NO_SUCH_FEED, VIDEOROOM_NO_SUCH_ROOM, VIDEOROOM_ROOM_EXISTS, JanusApi, JanusError,
                    VideoRoomAdmin, event_data, raise_for_event)
from .models import Call, Participant

log = logging.getLogger(__name__)

GONE = (JANUS_SESSION_NOT_FOUND, JANUS_HANDLE_NOT_FOUND)


class MediaUnavailable(ApiError):
    status, code, message = 503, "media_unavailable", "The media server does not answer; try again in a moment."

    def __init__(self, message: str | None = None):
        super().__init__(message, headers={"Retry-After": "2"})


class PeerToPeer:
    """No media server: the clients connect to each other, exchanging their
    SDP and ICE candidates through `/calls/{id}/signal` and the realtime
    stream; TURN relays them when they cannot reach each other. Each client
    sends its media to every other, so calls stay small."""

    mode = "p2p"

    def __init__(self, config: CallsConfig):
        self.capacity = config.p2p_max_participants

    def describe(self, call: Call, participant: Participant, peers: list[dict]) -> dict:
        return {"mode": self.mode, "participant_id": participant.id, "peers": peers,
                "max_participants": self.capacity,
                "how": "send an offer to every participant in `peers` through POST /calls/{id}/signal; "
                       "answers and ICE candidates come as call.signal frames"}

    def enter(self, call: Call, participant: Participant, display: str) -> dict:
        return {}

    def leave(self, participant: Participant) -> None:
        pass

    def remove(self, call: Call, participant: Participant) -> None:
        pass

    def enforce_mute(self, call: Call, participant: Participant) -> None:
        pass

    def close(self, call: Call, participants: list[Participant]) -> None:
        pass

    def negotiate(self, call: Call, participant: Participant, kind: str, payload: dict) -> dict:
        raise Conflict("This call is peer-to-peer: signal the other participants, not the media server.",
                       code="peer_to_peer")

    def keepalive(self, participant: Participant) -> bool:
        return True

    def in_room(self, call: Call) -> set[str] | None:
        return None


class JanusRooms:
    """Calls through a Janus VideoRoom (see the module's docstring)."""

    mode = "sfu"
    capacity = None

    def __init__(self, config: CallsConfig, timeout: float = 10.0):
        self.config = config
        self.timeout = timeout
        self.api = JanusApi(config.janus_url, config.janus_api_secret, timeout=timeout)
        self.rooms = VideoRoomAdmin(self.api, config.janus_admin_key)

    def describe(self, call: Call, participant: Participant, peers: list[dict]) -> dict:
        return {"mode": self.mode, "room": call.id, "participant_id": participant.id,
                "publishers": [peer for peer in peers if peer["publishing"]],
                "how": "send your offer to `sfu` through POST /calls/{id}/signal (type offer) for the answer; "
                       "ask for others' media with type subscribe and answer Janus's offer with type answer"}

    # Rooms.

    def _room(self, call: Call, tokens: list[str]) -> None:
        """The call's room, made when it is first needed (again after Janus lost it)."""
        if call.room_ready:
            return
        call.room_secret = call.room_secret or secrets.token_urlsafe(24)
        publishers = self.config.max_publishers
        try:
            self.rooms.create_room(call.id, secret=call.room_secret, allowed=tokens, publishers=publishers,
                                   description=call.title or call.kind)
        except JanusError as exc:
            if exc.code != VIDEOROOM_ROOM_EXISTS:
                raise
            self.rooms.allow(call.id, call.room_secret, tokens)
        call.room_ready = True
        Call.update(room_secret=call.room_secret, room_ready=True).where(Call.id == call.id).execute()

    def _admit_token(self, call: Call, participant: Participant) -> None:
        for attempt in (1, 2):
            self._room(call, [participant.token])
            try:
                self.rooms.allow(call.id, call.room_secret, [participant.token])
                return
            except JanusError as exc:
                if exc.code != VIDEOROOM_NO_SUCH_ROOM or attempt == 2:
                    raise
                call.room_ready = False  # Janus restarted: the room is made again

    def close(self, call: Call, participants: list[Participant]) -> None:
        """The room goes (everyone in it is told and their media stops), and so
        do the participants' sessions."""
        for participant in participants:
            self.leave(participant)
        if call.room_secret:
            try:
                self.rooms.destroy_room(call.id, call.room_secret)
            except JanusError as exc:
                if exc.code != VIDEOROOM_NO_SUCH_ROOM:
                    log.warning("could not destroy the room of call %s: %s", call.id, exc)

    def in_room(self, call: Call) -> set[str] | None:
        """Who Janus says is in the room; None when the room is gone."""
        try:
            return {entry["id"] for entry in self.rooms.participants(call.id)}
        except JanusError as exc:
            if exc.code == VIDEOROOM_NO_SUCH_ROOM:
                return None
            raise

    # Participants.

    def _ask(self, session_id: int, handle_id: int, body: dict, jsep: dict | None = None) -> dict:
        """An asynchronous VideoRoom request and the event answering it, read
        from the session's long poll. Other events queued for the session are
        not needed (attendance comes from the event handler) and are dropped."""
        session = self.api.session(session_id)
        transaction = session.handle(handle_id).send(body, jsep)
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise JanusError(None, f"no answer to {body.get('request')} within {self.timeout}s")
            for event in session.events(timeout=remaining, max_events=20):
                if event.get("transaction") == transaction and event.get("janus") == "event":
                    raise_for_event(event)
                    return event

    def enter(self, call: Call, participant: Participant, display: str) -> dict:
        """Joins the room on the participant's behalf, in a session of its own:
        a reconnect leaves the old session first. Answers the participant's new
        Janus fields."""
        if not participant.token:
            participant.token = secrets.token_urlsafe(24)
        self._admit_token(call, participant)
        self.leave(participant)
        for attempt in (1, 2):
            session = self.api.create_session()
            handle = session.attach(VIDEOROOM, opaque_id=participant.id)
            try:
                event = self._ask(session.id, handle.id, {
                    "request": "join", "ptype": "publisher", "room": call.id, "id": participant.id,
                    "display": display, "token": participant.token})
                break
            except JanusError as exc:
                self._destroy(session.id)
                if exc.code != VIDEOROOM_ID_EXISTS or attempt == 2:
                    raise
                # Still in from a session whose end Janus has not finished: out with it.
                self._kick(call, participant)
        data = event_data(event)
        return {"janus_session": session.id, "janus_handle": handle.id, "janus_subscriber": None,
                "janus_private_id": data.get("private_id"), "streams": "{}", "publishing": False}

    def _kick(self, call: Call, participant: Participant) -> None:
        try:
            self.rooms.kick(call.id, call.room_secret, participant.id)
        except JanusError as exc:
            if exc.code != VIDEOROOM_NO_SUCH_FEED:
                raise

    def _destroy(self, session_id: int) -> None:
        try:
            self.api.session(session_id).destroy()
        except JanusError as exc:
            if exc.code not in GONE and exc.code is not None:
                log.warning("could not destroy Janus session %s: %s", session_id, exc)

    def leave(self, participant: Participant) -> None:
        """Their Janus session ends: Janus takes them out of the room."""
        if participant.janus_session:
            self._destroy(participant.janus_session)

    def remove(self, call: Call, participant: Participant) -> None:
        """Their token off the allowed list, kicked (their media stops both
        ways), their session ended: they cannot come back with that token."""
        if call.room_secret and participant.token:
            try:
                self.rooms.remove(call.id, call.room_secret, participant.id, participant.token)
            except JanusError as exc:
                if exc.code != VIDEOROOM_NO_SUCH_ROOM:
                    raise
        self.leave(participant)

    def enforce_mute(self, call: Call, participant: Participant) -> None:
        """What the host muted stops reaching the others, whatever the client does."""
        if not (call.room_secret and participant.janus_session):
            return
        for mid, kind in json.loads(participant.streams).items():
            mute = participant.audio_muted if kind == "audio" else participant.video_muted
            try:
                self.rooms.moderate(call.id, call.room_secret, participant.id, mid, mute)
            except JanusError as exc:
                if exc.code not in (VIDEOROOM_NO_SUCH_FEED, VIDEOROOM_NO_SUCH_ROOM):
                    raise

    def keepalive(self, participant: Participant) -> bool:
        """False when Janus no longer has the session."""
        try:
            self.api.session(participant.janus_session).keepalive()
            return True
        except JanusError as exc:
            if exc.code in GONE:
                return False
            raise

    # Signalling: the service is the other side of the client's exchange with Janus.

    def negotiate(self, call: Call, participant: Participant, kind: str, payload: dict) -> dict:
        """Answers the reply to the client and the participant's changed fields."""
        session = participant.janus_session
        if kind == "offer":
            request = "configure" if participant.streams != "{}" else "publish"
            event = self._ask(session, participant.janus_handle, {"request": request},
                              jsep={"type": "offer", "sdp": payload["sdp"]})
            streams = {entry["mid"]: entry["type"] for entry in event_data(event).get("streams", [])
                       if entry.get("type") in ("audio", "video") and "mid" in entry}
            jsep = event.get("jsep") or {}
            return {"reply": {"type": "answer", "payload": {"sdp": jsep.get("sdp", "")}},
                    "changes": {"streams": json.dumps(streams)}}
        if kind == "subscribe":
            streams = [{"feed": feed} for feed in payload["feeds"]]
            try:
                if participant.janus_subscriber is None:
                    handle = self.api.session(session).attach(VIDEOROOM, opaque_id=participant.id)
                    event = self._ask(session, handle.id, {
                        "request": "join", "ptype": "subscriber", "room": call.id, "streams": streams,
                        "private_id": participant.janus_private_id, "autoupdate": False})
                    changes = {"janus_subscriber": handle.id}
                else:
                    event = self._ask(session, participant.janus_subscriber,
                                      {"request": "update", "subscribe": streams})
                    changes = {}
            except JanusError as exc:
                if exc.code == VIDEOROOM_NO_SUCH_FEED:
                    raise Conflict("That participant is not sending media (yet).", code="feed_not_ready") from exc
                raise
            jsep = event.get("jsep")
            if not jsep:
                return {"reply": {"type": "unchanged", "payload": {}}, "changes": changes}
            return {"reply": {"type": "offer", "payload": {"sdp": jsep["sdp"]}}, "changes": changes}
        if kind == "answer":
            if participant.janus_subscriber is None:
                raise Conflict("Nothing was offered to answer: subscribe first.", code="nothing_to_answer")
            self._ask(session, participant.janus_subscriber, {"request": "start"},
                      jsep={"type": "answer", "sdp": payload["sdp"]})
            return {"reply": {"type": "ok", "payload": {}}, "changes": {}}
        # ICE: a candidate of the publishing or the receiving PeerConnection.
        target = participant.janus_subscriber if payload.get("target") == "subscriber" else participant.janus_handle
        if target is None:
            raise Conflict("That PeerConnection does not exist yet.", code="nothing_to_answer")
        candidate = {key: payload[key] for key in ("candidate", "sdpMid", "sdpMLineIndex") if key in payload}
        self.api.session(session).handle(target).trickle(candidate if candidate.get("candidate") else None)
        return {"reply": {"type": "ok", "payload": {}}, "changes": {}}


def open_media(config: CallsConfig) -> JanusRooms | PeerToPeer:
    return JanusRooms(config) if config.sfu else PeerToPeer(config)
