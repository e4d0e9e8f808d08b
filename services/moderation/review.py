"""Deciding on a report (2.8: no action without a rule): dismissing it, which
releases a held message; recording the violation it shows, which releases a
held message too; or removing the message for the rule it breaks. Every open
report about the same message gets the same answer."""
from __future__ import annotations

from services.common.auth import Principal
from services.common.errors import Conflict
from services.common.requests import field_error
from services.common.service import Service

from . import directory, events, log, reports, violations
from .models import Chat, Message, Report, db


def resolve(service: Service, user: Principal, report_id: str, action: str, rule: int | None,
            note: str) -> Report:
    with db.atomic():
        report, chat = reports.reviewable(user, report_id)
        directory.lock_message(report.message_id)
        report = Report.get_by_id(report.id)  # as the one who held the lock before left it
        if report.status != "open":
            raise Conflict("This report has been decided already.", code="report_closed")
        message = Message.get_or_none(Message.message_id == report.message_id)
        number = rule if rule is not None else report.rule
        if action == "dismiss":
            cited = [{"number": number, "text": violations.rule_of(chat, number)}] if number is not None else []
            log.write(org_id=chat.org_id, chat_id=chat.chat_id, action="report_dismissed", actor_id=user.id,
                      subject_id=report.author_id, rules=cited, note=note, report_id=report.id,
                      message_id=report.message_id)
            reports.resolve_about(service, report.message_id, "dismissed", user.id, note, None)
            release(service, chat, message, user.id)
        elif number is None:
            raise field_error("rule", "Name the chat's rule that was broken.")
        elif action == "violation":
            violation = violations.write(service, chat, user.id, report.author_id, number, report.message_id, note)
            reports.resolve_about(service, report.message_id, "violation", user.id, note, violation.id)
            release(service, chat, message, user.id)
        else:
            if message is None:
                raise Conflict("This message is gone already.", code="message_gone")
            violations.remove(service, chat, user.id, message, number, note)
    return Report.get_by_id(report.id)


def release(service: Service, chat: Chat, message: Message | None, by: str) -> None:
    """A held message that a moderator let through is shown to everyone."""
    if message is None or not message.held or message.deleted_at is not None:
        return
    Message.update(held=False).where(Message.message_id == message.message_id).execute()
    service.outbox.add(events.MESSAGE_RELEASED, {"message_id": message.message_id, "chat_id": chat.chat_id,
                                                 "org_id": chat.org_id, "by": by}, org_id=chat.org_id)
