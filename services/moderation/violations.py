"""Violations of a chat's numbered rules, removals of messages that cite one,
and reminders of the rules (2.2, 2.5, 2.8). A violation keeps the rule's text
as it was when it was recorded. The member learns privately which rule they
broke (a `moderation.violation` frame, and `GET /me/violations`); the chat
hears only a reminder of its rules, naming nobody."""
from __future__ import annotations

from services.common.auth import Principal
from services.common.clock import isoformat, utcnow
from services.common.errors import Conflict, Unprocessable
from services.common.requests import field_error
from services.common.service import Service

from . import directory, events, log, reports, rules
from .models import Chat, Message, Violation, db


def refused(refusal: rules.Refusal) -> Unprocessable:
    details = {key: isoformat(value) if hasattr(value, "isoformat") else value
               for key, value in (refusal.details or {}).items()}
    if refusal.field:
        details["fields"] = {refusal.field: [refusal.message]}
    return Unprocessable(refusal.message, code=refusal.code, details=details)


def rule_of(chat: Chat, number: int) -> str:
    text = rules.rule_text(directory.rules_of(chat), number)
    if text is None:
        raise Unprocessable("This chat has no rule with that number.", code="unknown_rule",
                            details={"fields": {"rule": [f"The chat's rules are numbered 1 to "
                                                         f"{len(directory.rules_of(chat))}."]},
                                     "rules": directory.rules_of(chat)})
    return text


def uncited(chat_id: str, user_id: str):
    """The member's violations in the chat that no block has cited (nor the school voided)."""
    return Violation.select().where(Violation.chat_id == chat_id, Violation.user_id == user_id,
                                    Violation.block_id.is_null(), Violation.voided_at.is_null())


def view(violation: Violation, chat: Chat | None = None) -> dict:
    return {"id": violation.id, "chat_id": violation.chat_id, "chat_title": chat.title if chat else None,
            "user_id": violation.user_id, "rule": violation.rule, "rule_text": violation.rule_text,
            "rules_version": violation.rules_version, "message_id": violation.message_id, "note": violation.note,
            "recorded_by": violation.recorded_by, "created_at": isoformat(violation.created_at),
            "block_id": violation.block_id, "voided": violation.voided_at is not None}


def record(service: Service, user: Principal, chat_id: str, user_id: str, rule: int, message_id: str | None,
           note: str) -> Violation:
    with db.atomic():
        chat = directory.moderated_chat(user.id, chat_id)
        message = directory.known_message(message_id) if message_id else None
        if message is not None:
            directory.lock_message(message.message_id)
        if message is not None and (message.chat_id != chat.chat_id or message.author_id != user_id):
            raise field_error("message_id", "Not a message of this member in this chat.")
        violation = write(service, chat, user.id, user_id, rule, message_id, note)
        reports.resolve_about(service, message_id, "violation", user.id, note, violation.id)
    return violation


def write(service: Service, chat: Chat, actor_id: str, user_id: str, rule: int, message_id: str | None,
          note: str, *, removed: bool = False) -> Violation:
    """The violation with its rule's text now, in the log, published, and told
    to the member alone."""
    if not directory.is_chat_member(chat.chat_id, user_id):
        raise field_error("user_id", "Not a member of this chat.")
    refusal = rules.why_not_act_on(user_id, actor_id, directory.moderates(chat, user_id))
    if refusal:
        raise refused(refusal)
    text = rule_of(chat, rule)
    violation = Violation.create(org_id=chat.org_id, chat_id=chat.chat_id, user_id=user_id, rule=rule,
                                 rules_version=chat.rules_version, rule_text=text, message_id=message_id,
                                 note=note, recorded_by=actor_id)
    count = uncited(chat.chat_id, user_id).count()
    log.write(org_id=chat.org_id, chat_id=chat.chat_id, action="message_removed" if removed else "violation_recorded",
              actor_id=actor_id, subject_id=user_id, rules=[{"number": rule, "text": text}], note=note,
              violation_id=violation.id, message_id=message_id)
    service.outbox.add(events.VIOLATION_RECORDED, {
        "violation_id": violation.id, "chat_id": chat.chat_id, "org_id": chat.org_id, "user_id": user_id,
        "rule": rule, "rule_text": text, "count": count, "message_id": message_id}, org_id=chat.org_id)
    service.push([user_id], "moderation.violation", dict(view(violation, chat), count=count,
                                                         message_removed=removed))
    return violation


def remove_message(service: Service, user: Principal, message_id: str, rule: int, note: str) -> dict:
    """2.8: a message is removed only for breaking a rule of its chat, which is
    cited; that is a violation by its author. messaging hides it for everyone."""
    with db.atomic():
        message = directory.known_message(message_id)
        chat = directory.moderated_chat(user.id, message.chat_id)
        directory.lock_message(message.message_id)
        return remove(service, chat, user.id, Message.get_by_id(message.message_id), rule, note)


def remove(service: Service, chat: Chat, actor_id: str, message: Message, rule: int, note: str) -> dict:
    """Under the message's lock (directory.lock_message), with the message read after taking it."""
    if message.deleted_at is not None:
        raise Conflict("This message is gone already.", code="message_gone")
    if message.author_id:
        violation = write(service, chat, actor_id, message.author_id, rule, message.message_id, note, removed=True)
        rule_text, violation_id = violation.rule_text, violation.id
    else:
        # Its author's data was erased: the message goes, citing the rule, with nobody to hold to it.
        rule_text, violation_id = rule_of(chat, rule), None
        log.write(org_id=chat.org_id, chat_id=chat.chat_id, action="message_removed", actor_id=actor_id,
                  rules=[{"number": rule, "text": rule_text}], note=note, message_id=message.message_id)
    Message.update(deleted_at=utcnow()).where(Message.message_id == message.message_id).execute()
    service.outbox.add(events.MESSAGE_REMOVED, {
        "message_id": message.message_id, "chat_id": chat.chat_id, "org_id": chat.org_id, "rule": rule,
        "rule_text": rule_text, "by": actor_id, "violation_id": violation_id}, org_id=chat.org_id)
    reports.resolve_about(service, message.message_id, "removal", actor_id, note, violation_id)
    return {"message_id": message.message_id, "chat_id": chat.chat_id, "rule": rule,
            "rule_text": rule_text, "violation_id": violation_id}


def remind(service: Service, user: Principal, chat_id: str) -> dict:
    """2.5: the moderator reminds everyone of the chat's rules; messaging posts
    them into the chat as the platform's notice."""
    with db.atomic():
        chat = directory.moderated_chat(user.id, chat_id)
        if chat.archived:
            raise Conflict("This chat is archived.", code="chat_archived")
        listed = directory.rules_of(chat)
        log.write(org_id=chat.org_id, chat_id=chat.chat_id, action="rules_reminded", actor_id=user.id,
                  rules=[{"number": n, "text": text} for n, text in enumerate(listed, 1)],
                  rules_version=chat.rules_version)
        service.outbox.add(events.RULES_REMINDED, {"chat_id": chat.chat_id, "org_id": chat.org_id, "by": user.id,
                                                   "rules_version": chat.rules_version}, org_id=chat.org_id)
    return {"chat_id": chat.chat_id, "rules_version": chat.rules_version, "rules": listed}


def of_chat(user: Principal, chat_id: str, user_id: str | None, uncited_only: bool):
    chat = directory.moderated_chat(user.id, chat_id)
    query = Violation.select().where(Violation.chat_id == chat.chat_id)
    if user_id:
        query = query.where(Violation.user_id == user_id)
    if uncited_only:
        query = query.where(Violation.block_id.is_null(), Violation.voided_at.is_null())
    return chat, query.order_by(Violation.created_at.desc(), Violation.id)


def mine(user: Principal):
    return Violation.select().where(Violation.user_id == user.id).order_by(Violation.created_at.desc(), Violation.id)


def views(violations: list[Violation]) -> list[dict]:
    chat_ids = list({v.chat_id for v in violations})
    chats = {c.chat_id: c for c in Chat.select().where(Chat.chat_id.in_(chat_ids))} if chat_ids else {}
    return [view(v, chats.get(v.chat_id)) for v in violations]
