"""Personal data (152-FZ) in moderation: what it holds of a person, for the
person (`GET /me/export/moderation`), and its erasure when identity publishes
`identity.user.erased`.

The person's open matters close first, each in the log, as when they leave
a school (2.9). Then their violations, blocks, apologies, objections and
appeals go, the texts of their messages kept as evidence go (the messages
stay known, by no one, so that one breaking a rule can still be removed),
and where they acted (as a reporter or a moderator) the records keep what was done but not
who did it nor their words. The log itself is append-only and is not
touched: dropping the person's pseudonym and key (`log.forget`) is what
separates its entries from the person."""
from __future__ import annotations

from services.common.clock import isoformat
from services.common.service import Service

from . import hygiene, log, reports
from .models import (Appeal, Block, Chat, ChatMember, Message, Moderator, Objection, OrgMember, Person, Report,
                     UnblockRequest, VerifiedTeacher, Violation)


def export(user_id: str) -> dict:
    titles = {chat.chat_id: chat.title for chat in Chat.select(Chat.chat_id, Chat.title)}
    return {
        "violations": [{"id": v.id, "chat_id": v.chat_id, "chat_title": titles.get(v.chat_id, ""), "rule": v.rule,
                        "rule_text": v.rule_text, "message_id": v.message_id, "at": isoformat(v.created_at),
                        "voided_at": isoformat(v.voided_at)}
                       for v in Violation.select().where(Violation.user_id == user_id).order_by(Violation.created_at)],
        "blocks": [{"id": b.id, "chat_id": b.chat_id, "chat_title": titles.get(b.chat_id, ""),
                    "from": isoformat(b.created_at), "until": isoformat(b.until), "status": b.status,
                    "ended_at": isoformat(b.ended_at), "end_reason": b.end_reason}
                   for b in Block.select().where(Block.user_id == user_id).order_by(Block.created_at)],
        "reports": [reports.reporter_view(r) for r in Report.select().where(Report.reporter_id == user_id)
                    .order_by(Report.created_at)],
        "apologies": [{"id": r.id, "chat_id": r.chat_id, "apology": r.apology, "at": isoformat(r.created_at),
                       "status": r.status, "outcome": r.outcome}
                      for r in UnblockRequest.select().where(UnblockRequest.user_id == user_id)],
        "objections": [{"request_id": o.request_id, "reason": o.reason, "at": isoformat(o.created_at)}
                       for o in Objection.select().where(Objection.user_id == user_id)],
        "appeals": [{"id": a.id, "block_id": a.block_id, "text": a.text, "status": a.status,
                     "at": isoformat(a.created_at)} for a in Appeal.select().where(Appeal.user_id == user_id)],
    }


def _schools_involved(user_id: str) -> set[str]:
    schools = {m.org_id for m in OrgMember.select(OrgMember.org_id).where(OrgMember.user_id == user_id)}
    for model, fields in ((Report, (Report.author_id, Report.reporter_id)), (Block, (Block.user_id,)),
                          (UnblockRequest, (UnblockRequest.user_id,)), (Appeal, (Appeal.user_id,))):
        for field in fields:
            schools |= {row.org_id for row in model.select(model.org_id).where(field == user_id)}
    return schools


def erase(service: Service, user_id: str) -> None:
    for org_id in sorted(_schools_involved(user_id)):
        hygiene.left_school(service, org_id, user_id, "erased")

    requests = [r.id for r in UnblockRequest.select(UnblockRequest.id).where(UnblockRequest.user_id == user_id)]
    Objection.delete().where(Objection.request.in_(requests) | (Objection.user_id == user_id)).execute()
    UnblockRequest.delete().where(UnblockRequest.id.in_(requests)).execute()
    Appeal.delete().where(Appeal.user_id == user_id).execute()
    Block.delete().where(Block.user_id == user_id).execute()
    Violation.delete().where(Violation.user_id == user_id).execute()
    # Where they acted, what was done stays; who did it and their words go.
    Report.update(author_id="", excerpt="").where(Report.author_id == user_id).execute()
    Report.update(reporter_id="", reason="").where(Report.reporter_id == user_id).execute()
    Report.update(resolved_by="", note="").where(Report.resolved_by == user_id).execute()
    Violation.update(recorded_by="", note="").where(Violation.recorded_by == user_id).execute()
    Block.update(blocked_by="", note="").where(Block.blocked_by == user_id).execute()
    Appeal.update(decided_by="", note="").where(Appeal.decided_by == user_id).execute()
    # Their messages stay in the chats, by no one: moderators can still remove one that breaks a rule.
    Message.update(author_id="", text="").where(Message.author_id == user_id).execute()

    Person.delete().where(Person.user_id == user_id).execute()
    OrgMember.delete().where(OrgMember.user_id == user_id).execute()
    ChatMember.delete().where(ChatMember.user_id == user_id).execute()
    Moderator.delete().where(Moderator.user_id == user_id).execute()
    VerifiedTeacher.delete().where(VerifiedTeacher.user_id == user_id).execute()
    log.forget(user_id)
    kit = service.outbox.kit
    kit.IdempotentRequest.delete().where(kit.IdempotentRequest.user_id == user_id).execute()
