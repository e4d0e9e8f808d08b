"""Reports of messages: filed by a member of the chat, or opened by the filters
(never a punishment by themselves). The chat's moderators see the queue,
except reports about their own messages, which the school's admins and
director see (they see every report of the school). The reporter learns the
outcome; nobody else learns who reported."""
from __future__ import annotations

import json

from services.common.auth import Principal
from services.common.clock import isoformat, utcnow
from services.common.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.common.service import Service

from . import directory, events, rules
from .models import Chat, Message, Report, db

EXCERPT = 500


def view(report: Report, chat: Chat | None = None, names: dict | None = None) -> dict:
    names = names if names is not None else directory.people([report.author_id, report.reporter_id])
    return {"id": report.id, "chat_id": report.chat_id, "chat_title": chat.title if chat else None,
            "message_id": report.message_id, "author": names.get(report.author_id),
            "reporter": names.get(report.reporter_id) if report.reporter_id else None,
            "source": report.source, "rule": report.rule, "rule_text": report.rule_text, "reason": report.reason,
            "flags": json.loads(report.flags), "excerpt": report.excerpt, "held": report.held,
            "status": report.status, "outcome": report.outcome, "note": report.note,
            "violation_id": report.violation_id, "created_at": isoformat(report.created_at),
            "resolved_at": isoformat(report.resolved_at)}


def views(reports: list[Report]) -> list[dict]:
    names = directory.people([r.author_id for r in reports] + [r.reporter_id for r in reports])
    chat_ids = list({r.chat_id for r in reports})
    chats = {c.chat_id: c for c in Chat.select().where(Chat.chat_id.in_(chat_ids))} if chat_ids else {}
    return [view(r, chats.get(r.chat_id), names) for r in reports]


def reporter_view(report: Report) -> dict:
    """What the reporter sees of their report: never the author's identity
    beyond what they reported, and the outcome."""
    return {"id": report.id, "chat_id": report.chat_id, "message_id": report.message_id, "rule": report.rule,
            "reason": report.reason, "status": report.status, "outcome": report.outcome,
            "created_at": isoformat(report.created_at), "resolved_at": isoformat(report.resolved_at)}


def file(service: Service, user: Principal, message_id: str, rule: int | None, reason: str) -> Report:
    with db.atomic():
        message, chat = directory.message_in_view(user.id, message_id)
        if message.author_id == user.id:
            raise Unprocessable("One does not report one's own message; delete it instead.", code="own_message")
        text = None
        if rule is not None:
            text = rules.rule_text(directory.rules_of(chat), rule)
            if text is None:
                raise Unprocessable("This chat has no rule with that number.", code="unknown_rule",
                                    details={"fields": {"rule": ["No such rule in this chat."]},
                                             "rules": directory.rules_of(chat)})
        directory.lock_message(message.message_id)
        if Report.select().where(Report.message_id == message.message_id, Report.reporter_id == user.id,
                                 Report.status == "open").exists():
            raise Conflict("You have reported this message already.", code="already_reported")
        report = Report.create(org_id=chat.org_id, chat_id=chat.chat_id, message_id=message.message_id,
                               author_id=message.author_id, reporter_id=user.id, source="member", rule=rule,
                               rule_text=text, reason=reason, excerpt=message.text[:EXCERPT], held=message.held)
        announce(service, chat, report)
    return report


def open_by_filter(service: Service, chat: Chat, message: Message, flags: dict) -> Report:
    report = Report.create(org_id=chat.org_id, chat_id=chat.chat_id, message_id=message.message_id,
                           author_id=message.author_id, reporter_id=None, source="filter",
                           flags=json.dumps(flags, ensure_ascii=False), excerpt=message.text[:EXCERPT],
                           held=message.held)
    announce(service, chat, report)
    return report


def announce(service: Service, chat: Chat, report: Report) -> None:
    service.outbox.add(events.REPORT_FILED, {
        "report_id": report.id, "chat_id": chat.chat_id, "org_id": chat.org_id, "message_id": report.message_id,
        "source": report.source, "rule": report.rule, "flags": json.loads(report.flags)}, org_id=chat.org_id)
    reviewers = [uid for uid in directory.moderators_of(chat) if uid != report.author_id]
    service.push(reviewers, "moderation.report.filed", view(report, chat))


def close(service: Service, report: Report, status: str, outcome: str, by: str | None, note: str = "",
          violation_id: str | None = None) -> bool:
    """The report is done: published, and the reporter told of the outcome.
    False when it was done already (a decision and a member's leaving at once)."""
    now = utcnow()
    if not (Report.update(status=status, outcome=outcome, resolved_by=by, resolved_at=now, note=note,
                          violation_id=violation_id)
            .where(Report.id == report.id, Report.status == "open").execute()):
        return False
    report.status, report.outcome, report.resolved_by = status, outcome, by
    report.resolved_at, report.note, report.violation_id = now, note, violation_id
    service.outbox.add(events.REPORT_RESOLVED, {"report_id": report.id, "chat_id": report.chat_id,
                                                "org_id": report.org_id, "status": status, "outcome": outcome},
                       org_id=report.org_id)
    if report.reporter_id:
        service.push([report.reporter_id], "moderation.report.resolved", reporter_view(report))
    return True


def resolve_about(service: Service, message_id: str | None, outcome: str, by: str, note: str,
                  violation_id: str | None) -> None:
    """A moderator acted on a message: every open report about it is answered."""
    if message_id:
        for report in Report.select().where(Report.message_id == message_id, Report.status == "open"):
            close(service, report, "resolved", outcome, by, note, violation_id)


def reviewable(user: Principal, report_id: str) -> tuple[Report, Chat]:
    """A report and its chat, for those who decide on it: the chat's moderators,
    unless it is about their own message; and the school's admins and
    director when no other moderator could."""
    report = Report.get_or_none(Report.id == report_id)
    if report is None:
        raise NotFound("No such report.")
    chat = directory.known_chat(report.chat_id)
    held = directory.roles(chat.org_id, user.id)
    moderates = directory.moderates(chat, user.id)
    others = [uid for uid in directory.moderators_of(chat) if uid != report.author_id]
    if report.author_id != user.id and (moderates or (rules.oversees(held) and not others)):
        directory.require_verified(chat.org_id, user.id)
        return report, chat
    if not held or not (moderates or rules.oversees(held) or directory.is_chat_member(chat.chat_id, user.id)):
        raise NotFound("No such report.")
    raise Forbidden("The chat's moderators decide on its reports; the school's admins when none other can.")


def queue(user: Principal, chat_id: str, status: str):
    chat = directory.moderated_chat(user.id, chat_id)
    query = Report.select().where(Report.chat_id == chat.chat_id, Report.author_id != user.id)
    return _with_status(query, status).order_by(Report.created_at.desc(), Report.id)


def of_org(user: Principal, org_id: str, status: str):
    directory.overseen_org(user.id, org_id)
    query = Report.select().where(Report.org_id == org_id, Report.author_id != user.id)
    return _with_status(query, status).order_by(Report.created_at.desc(), Report.id)


def mine(user: Principal, status: str):
    query = Report.select().where(Report.reporter_id == user.id)
    return _with_status(query, status).order_by(Report.created_at.desc(), Report.id)


def _with_status(query, status: str):
    return query if status == "all" else query.where(Report.status == status)
