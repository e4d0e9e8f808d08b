"""Attendance: every stay of a participant in a call, from when to when.

In calls through Janus a stay opens and closes on Janus's own events (a
participant joined the room, left it, was kicked, their session ended),
reconciled with Janus's list of the room's participants so that a lost event
leaves nobody present for ever; a reconnect is a new stay. In peer-to-peer
calls there is no media server: stays follow what the clients say (join,
leave) and their presence confirmations.

The report (`GET /calls/{id}/attendance`) lists each participant's stays and
time in the call; for a lesson, the class's roster beside it with who never
came."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from services.common.clock import isoformat, utcnow
from services.common.service import Service

from . import directory, events
from .models import Attendance, Call, Participant


def open_stay(participant: Participant) -> Attendance | None:
    return (Attendance.select().where(Attendance.participant == participant.id, Attendance.left_at.is_null())
            .order_by(Attendance.joined_at.desc()).first())


def _participant_event(service: Service, call: Call, participant: Participant, key: str, at: datetime,
                       **extra) -> None:
    service.outbox.add(key, {"call_id": call.id, "org_id": call.org_id, "chat_id": call.chat_id,
                             "kind": call.kind, "participant_id": participant.id,
                             "user_id": participant.user_id, "at": isoformat(at), **extra}, org_id=call.org_id)


def arrived(service: Service, call: Call, participant: Participant, at: datetime, by: str,
            janus_session: int | None = None) -> bool:
    """A stay begins at `at`, unless one is open: a stay opened by the
    reconciliation takes the session and the earlier time of the event it
    stood in for; a stay of another session (whose end was never heard of)
    ends where the new one begins."""
    stay = open_stay(participant)
    if stay is not None:
        if janus_session is None or stay.janus_session in (None, janus_session):
            changed = False
            if janus_session is not None and stay.janus_session is None:
                stay.janus_session, changed = janus_session, True
            if at < stay.joined_at:
                stay.joined_at, changed = at, True
            if changed:
                stay.save()
            return False
        departed(service, call, participant, max(at, stay.joined_at), "sfu")
    Attendance.create(call=call.id, participant=participant.id, user_id=participant.user_id,
                      janus_session=janus_session, joined_at=at, opened_by=by)
    if call.empty_since is not None:
        Call.update(empty_since=None).where(Call.id == call.id).execute()
        call.empty_since = None
    _participant_event(service, call, participant, events.PARTICIPANT_JOINED, at, by=by)
    return True


def departed(service: Service, call: Call, participant: Participant, at: datetime, by: str) -> bool:
    """The open stay ends at `at` (never before it began)."""
    stay = open_stay(participant)
    if stay is None:
        return False
    stay.left_at, stay.closed_by = max(at, stay.joined_at), by
    stay.save()
    _participant_event(service, call, participant, events.PARTICIPANT_LEFT, stay.left_at, by=by,
                       seconds=round((stay.left_at - stay.joined_at).total_seconds(), 3))
    if call.status == "active" and not present(call):
        Call.update(empty_since=stay.left_at).where(Call.id == call.id, Call.empty_since.is_null()).execute()
    return True


def present(call: Call) -> list[str]:
    """Participant ids with an open stay."""
    return [row.participant_id for row in Attendance.select(Attendance.participant)
            .where(Attendance.call == call.id, Attendance.left_at.is_null())]


def close_all(service: Service, call: Call, at: datetime, by: str) -> None:
    for participant in Participant.select().where(Participant.id.in_(present(call))):
        departed(service, call, participant, at, by)


def totals(call: Call) -> dict:
    """For `calls.call.ended`: how many people were there and their time, in
    seconds and in participant-minutes."""
    seconds, people = 0.0, set()
    for stay in Attendance.select().where(Attendance.call == call.id):
        people.add(stay.user_id)
        seconds += ((stay.left_at or utcnow()) - stay.joined_at).total_seconds()
    return {"participant_count": len(people), "participant_seconds": round(seconds, 3),
            "minutes": round(seconds / 60, 2)}


def report(call: Call) -> dict:
    stays: dict[str, list[Attendance]] = {}
    for stay in Attendance.select().where(Attendance.call == call.id).order_by(Attendance.joined_at):
        stays.setdefault(stay.participant_id, []).append(stay)
    participants = list(Participant.select().where(Participant.call == call.id).order_by(Participant.created_at))
    roster = directory.students_of(call.unit_id) if call.kind == "lesson" else []
    people = directory.names([p.user_id for p in participants] + roster)
    now = utcnow()
    rows = []
    for participant in participants:
        mine = stays.get(participant.id, [])
        if not mine and participant.state in ("waiting", "declined"):
            continue
        rows.append({
            "participant_id": participant.id, "user_id": participant.user_id,
            "display_name": people.get(participant.user_id, ""), "role": participant.role,
            "removed": participant.state == "removed",
            "intervals": [{"joined_at": isoformat(s.joined_at), "left_at": isoformat(s.left_at),
                           "seconds": round(((s.left_at or now) - s.joined_at).total_seconds(), 3),
                           "source": s.opened_by} for s in mine],
            "total_seconds": round(sum(((s.left_at or now) - s.joined_at).total_seconds() for s in mine), 3),
        })
    came = {row["user_id"] for row in rows if row["intervals"]}
    answer = {"call_id": call.id, "kind": call.kind, "title": call.title, "status": call.status,
              "started_at": isoformat(call.started_at), "ended_at": isoformat(call.ended_at),
              "participants": rows}
    if call.kind == "lesson":
        answer["roster"] = [{"user_id": user_id, "display_name": people.get(user_id, ""),
                             "attended": user_id in came} for user_id in roster]
        answer["absent"] = [user_id for user_id in roster if user_id not in came]
    return answer


CSV_COLUMNS = ("user_id", "display_name", "role", "status", "joined_at", "left_at", "seconds")


def as_csv(shown: dict) -> str:
    """One line per stay; for a lesson, one more per student who never came."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in shown["participants"]:
        status = "removed" if row["removed"] else "present"
        for stay in row["intervals"]:
            writer.writerow([row["user_id"], _cell(row["display_name"]), row["role"], status, stay["joined_at"],
                             stay["left_at"] or "", stay["seconds"]])
    names = {entry["user_id"]: entry["display_name"] for entry in shown.get("roster", [])}
    for user_id in shown.get("absent", []):
        writer.writerow([user_id, _cell(names.get(user_id, "")), "student", "absent", "", "", 0])
    return out.getvalue()


def _cell(text: str) -> str:
    """A name that a spreadsheet would take for a formula is kept as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
