"""The calls service's periodic work, one loop of its runtime (`background`):

- keep the participants' Janus sessions alive (Janus ends a session after
  `session_timeout`, 60 s by default, without a request): nothing but the
  host or an empty room ends a call;
- tend every active call: compare attendance with Janus's list of the room's
  participants (the event handler drops an event it could not deliver within
  about 3 s, so a lost `leaving` must not leave someone present for ever),
  take out participants whose media Janus saw go down and not come back
  within `CALL_MEDIA_GRACE_SECONDS`, and those whose client stopped confirming
  its presence (`CALL_PRESENCE_TIMEOUT_SECONDS`), and end a call nobody has been in for
  `CALL_EMPTY_GRACE_SECONDS`;
- a direct call nobody answered is missed; members are reminded of a planned
  call at its time; a planned call nobody started is cancelled in the end.

Safe with several replicas: work is claimed in one statement that moves its
due time on (on PostgreSQL over FOR UPDATE SKIP LOCKED), so no two replicas
take the same call or session; changes to a call happen under its lock and
look at its state again first."""
from __future__ import annotations

import logging
from datetime import timedelta

from services.common.clock import utcnow
from services.common.db import is_postgres, lock_for_transaction

from . import attendance, calls, directory, events
from .config import CallsConfig
from .janus import JanusError
from .models import Attendance, Call, Participant, db

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
BATCH = 200


def _claim(query, field, now, limit: int = BATCH) -> list:
    """The ids of due rows of `query`, taken by this replica: `field` moves to
    now in the same statement, so that the others no longer find them due."""
    model = query.model
    due = query.select(model.id).limit(limit)
    if is_postgres(db):
        due = due.for_update(skip_locked=True)
    return [row.id for row in model.update({field: now}).where(model.id.in_(due)).returning(model.id).execute()]


class Jobs:
    def __init__(self, runtime, media, config: CallsConfig):
        self.runtime = runtime
        self.service = runtime.service
        self.media = media
        self.config = config

    def run(self, stop) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("calls jobs")
            stop.wait(TICK_SECONDS)

    def tick(self) -> None:
        with db.connection_context():
            if self.media.mode == "sfu":
                self.keep_sessions_alive()
            self._in_transaction(self.planned_and_ringing)
            for call_id in self._due_active():
                self._tend(call_id)

    def _in_transaction(self, step, *args) -> None:
        with self.runtime.realtime.deferred():
            with db.atomic():
                step(*args)
        self.runtime.relay_what_was_written()

    # Janus sessions.

    def keep_sessions_alive(self) -> None:
        now = utcnow()
        due = Participant.select().where(Participant.janus_session.is_null(False),
                                         Participant.kept_alive_at <= now - timedelta(seconds=self.config.janus_keepalive))
        with db.atomic():
            claimed = _claim(due, "kept_alive_at", now, limit=1000)
        for participant in Participant.select().where(Participant.id.in_(claimed)):
            try:
                alive = self.media.keepalive(participant)
            except JanusError as exc:
                log.warning("keepalive of participant %s: %s", participant.id, exc)
                continue
            if not alive:
                self._in_transaction(self._session_lost, participant.id)

    def _session_lost(self, participant_id: str) -> None:
        """Janus no longer has the session (it restarted, or the session timed
        out before a keepalive came): they are out of the room."""
        participant = Participant.get_by_id(participant_id)
        call = participant.call
        lock_for_transaction(db, f"call:{call.id}")
        attendance.departed(self.service, call, participant, utcnow(), "sfu")
        gone = (Participant.update(state="left", janus_session=None, janus_handle=None, janus_subscriber=None,
                                   publishing=False, media_up=0)
                .where(Participant.id == participant_id, Participant.state == "joined").execute())
        if gone:
            # Their app hears it and joins again (a new session, the room made again if Janus restarted).
            calls.tell_participants(self.service, call, "left", Participant.get_by_id(participant_id),
                                    also=[participant.user_id])

    # Calls that ring, are planned or expire.

    def planned_and_ringing(self) -> None:
        self.ring_out()
        self.remind()
        self.expire_planned()

    def ring_out(self) -> None:
        now = utcnow()
        for call in Call.select().where(Call.status == "ringing",
                                        Call.created_at <= now - timedelta(seconds=self.config.ring_seconds)):
            lock_for_transaction(db, f"call:{call.id}")
            call = Call.get_by_id(call.id)
            if call.status == "ringing":
                calls.end(self.service, self.media, call, "missed")

    def remind(self) -> None:
        """At a planned call's time its members are reminded, once."""
        now = utcnow()
        due = Call.select().where(Call.status == "scheduled", Call.reminded_at.is_null(),
                                  Call.scheduled_at <= now)
        for call_id in _claim(due, "reminded_at", now):
            call = Call.get_by_id(call_id)
            calls.tell(self.service, call, directory.audience(call), "reminder")

    def expire_planned(self) -> None:
        now = utcnow()
        for call in Call.select().where(Call.status == "scheduled", Call.scheduled_at <= now - timedelta(
                seconds=self.config.scheduled_expiry)):
            lock_for_transaction(db, f"call:{call.id}")
            call = Call.get_by_id(call.id)
            if call.status == "scheduled":
                call.status, call.outcome, call.ended_at = "cancelled", "expired", now
                call.save()
                self.service.outbox.add(events.CALL_CANCELLED, dict(calls.event_data(call), reason="expired"),
                                        org_id=call.org_id)
                calls.tell(self.service, call, directory.audience(call), "cancelled")

    # Active calls.

    def _due_active(self) -> list[str]:
        now = utcnow()
        every = min(self.config.janus_reconcile, self.config.empty_grace, 5)
        due = Call.select().where(Call.status == "active", Call.checked_at <= now - timedelta(seconds=every))
        with db.atomic():
            return _claim(due, "checked_at", now)

    def _tend(self, call_id: str) -> None:
        call = Call.get_by_id(call_id)
        in_room, looked_at = None, utcnow()
        if call.mode == "sfu" and call.room_ready:
            try:
                in_room = self.media.in_room(call)
            except JanusError as exc:
                log.warning("call %s: Janus's list of participants: %s", call.id, exc)
                return
        stale = []
        if call.mode == "sfu":
            # Down by Janus's word (a hangup): an event lost on its way can
            # only keep someone longer, never take out someone whose media flows.
            grace = looked_at - timedelta(seconds=self.config.media_grace)
            stale = [p.id for p in Participant.select().where(
                Participant.call == call.id, Participant.state == "joined", Participant.media_up == 0,
                Participant.media_changed_at.is_null(False), Participant.media_changed_at <= grace)]
        self._in_transaction(self._reconcile, call_id, in_room, looked_at, stale)

    def _reconcile(self, call_id: str, in_room: set[str] | None, looked_at, stale: list[str]) -> None:
        lock_for_transaction(db, f"call:{call_id}")
        call = Call.get_by_id(call_id)
        if call.status != "active":
            return
        now = utcnow()
        if call.mode == "sfu":
            self._match_room(call, in_room, looked_at)
            for participant in Participant.select().where(Participant.id.in_(stale), Participant.state == "joined",
                                                          Participant.media_up == 0):
                # Their network went and did not come back: Janus would keep them for as long as we
                # keep their session alive.
                calls.drop(self.service, self.media, call, participant, "media_lost")
        # A client that stopped confirming it is there (closed, crashed, offline) is not.
        silent = now - timedelta(seconds=self.config.presence_timeout)
        for participant in Participant.select().where(Participant.call == call.id, Participant.state == "joined",
                                                      Participant.seen_at <= silent):
            calls.drop(self.service, self.media, call, participant, "timeout")
        call = Call.get_by_id(call_id)
        if not attendance.present(call):
            if call.empty_since is None:
                Call.update(empty_since=now).where(Call.id == call.id).execute()
            elif call.empty_since <= now - timedelta(seconds=self.config.empty_grace):
                calls.end(self.service, self.media, call, "answered" if call.kind == "direct" else "empty")

    def _match_room(self, call: Call, in_room: set[str] | None, looked_at) -> None:
        """Attendance agrees with Janus as it was at `looked_at`: a stay opened
        since then is not Janus's to deny."""
        if in_room is None:
            if call.room_ready:
                attendance.close_all(self.service, call, looked_at, "reconciled")
                Call.update(room_ready=False).where(Call.id == call.id).execute()
            return
        open_stays = {stay.participant_id: stay for stay in Attendance.select().where(
            Attendance.call == call.id, Attendance.left_at.is_null())}
        for participant_id, stay in open_stays.items():
            if participant_id not in in_room and stay.joined_at < looked_at:
                attendance.departed(self.service, call, stay.participant, looked_at, "reconciled")
        missing = in_room - set(open_stays)
        if missing:
            for participant in Participant.select().where(Participant.id.in_(list(missing)),
                                                          Participant.call == call.id, Participant.state == "joined"):
                last = (Attendance.select().where(Attendance.participant == participant.id)
                        .order_by(Attendance.left_at.desc()).first())
                if last is None or last.left_at < looked_at:
                    attendance.arrived(self.service, call, participant, looked_at, "reconciled",
                                       participant.janus_session)
