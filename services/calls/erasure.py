"""Personal data (152-FZ) in calls: what it holds of a person, for the person
(`GET /me/export/calls`), and its erasure when identity publishes
`identity.user.erased`.

The projections of who the person was (name, memberships, chats, badges,
blocks) and the invitations naming them go. Their places in calls and
their stays stay, so that a lesson's attendance and the school's call
minutes keep adding up, but no longer lead to them: each is known by its
participant id alone, an opaque id of that one call. A call they hosted
keeps no host."""
from __future__ import annotations

from services.common.clock import isoformat
from services.common.service import Service

from .models import (Attendance, Block, Call, ChatMember, Invitee, OrgMember, Participant, Person,
                     VerifiedTeacher)


def export(user_id: str) -> dict:
    places = list(Participant.select(Participant, Call).join(Call).where(Participant.user_id == user_id)
                  .order_by(Participant.created_at))
    stays: dict[str, list[dict]] = {}
    for stay in Attendance.select().where(Attendance.user_id == user_id).order_by(Attendance.joined_at):
        stays.setdefault(stay.participant_id, []).append(
            {"joined_at": isoformat(stay.joined_at), "left_at": isoformat(stay.left_at)})
    return {
        "hosted": [{"id": c.id, "kind": c.kind, "title": c.title, "chat_id": c.chat_id, "status": c.status,
                    "scheduled_at": isoformat(c.scheduled_at), "started_at": isoformat(c.started_at),
                    "ended_at": isoformat(c.ended_at)}
                   for c in Call.select().where(Call.host_id == user_id).order_by(Call.created_at)],
        "calls": [{"call_id": p.call.id, "kind": p.call.kind, "title": p.call.title, "role": p.role,
                   "state": p.state, "stays": stays.get(p.id, [])} for p in places],
        "invitations": [{"call_id": i.call_id, "role": i.role}
                        for i in Invitee.select().where(Invitee.user_id == user_id)],
    }


def erase(service: Service, user_id: str) -> None:
    for participant in Participant.select(Participant.id).where(Participant.user_id == user_id):
        # The participant id stands in for the person: unique in the call, and leads to no one.
        Attendance.update(user_id=participant.id).where(Attendance.participant == participant.id).execute()
        Participant.update(user_id=participant.id, token=None).where(Participant.id == participant.id).execute()
    Call.update(host_id="").where(Call.host_id == user_id).execute()
    for model in (Invitee, Person, OrgMember, VerifiedTeacher, ChatMember, Block):
        model.delete().where(model.user_id == user_id).execute()
    kit = service.outbox.kit
    kit.IdempotentRequest.delete().where(kit.IdempotentRequest.user_id == user_id).execute()
