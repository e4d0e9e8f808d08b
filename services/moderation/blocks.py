"""Blocks (2.6, 2.7): a member who broke the chat's rules more than three times
may be blocked there for up to one month, citing those violations; messaging
then refuses their posts and votes (and calls their calls) until the block
ends. A block ends by itself at `until` (a job that several replicas may run
at once), early by the moderator only after the member's apology drew no
objection, by the school on appeal, or when the member leaves the school. The
member is told each time."""
from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Callable

from services.common.auth import Principal
from services.common.clock import isoformat, utcnow
from services.common.db import is_postgres, lock_for_transaction
from services.common.errors import Conflict, NotFound
from services.common.requests import field_error
from services.common.service import Service

from . import directory, events, log, rules, violations
from .models import Appeal, Block, Chat, UnblockRequest, Violation, db

log_ = logging.getLogger(__name__)

END_ACTIONS = {"expired": "block_expired", "apologised": "member_unblocked", "appeal": "block_lifted",
               "member_left": "block_closed"}
EXPIRY_BATCH = 100


def view(block: Block, chat: Chat | None = None, cited: list[Violation] | None = None) -> dict:
    cited = cited if cited is not None else list(Violation.select().where(Violation.block_id == block.id))
    return {"id": block.id, "chat_id": block.chat_id, "chat_title": chat.title if chat else None,
            "user_id": block.user_id, "blocked_by": block.blocked_by, "note": block.note,
            "created_at": isoformat(block.created_at), "until": isoformat(block.until), "status": block.status,
            "ended_at": isoformat(block.ended_at), "end_reason": block.end_reason,
            "violation_ids": sorted(v.id for v in cited), "rules": cited_rules(cited)}


def views(blocks: list[Block]) -> list[dict]:
    chat_ids = list({b.chat_id for b in blocks})
    chats = {c.chat_id: c for c in Chat.select().where(Chat.chat_id.in_(chat_ids))} if chat_ids else {}
    return [view(b, chats.get(b.chat_id)) for b in blocks]


def cited_rules(cited: list[Violation]) -> list[dict]:
    return [{"number": number, "text": text} for number, text in sorted({(v.rule, v.rule_text) for v in cited})]


def active(chat_id: str, user_id: str) -> Block | None:
    return Block.get_or_none(Block.chat_id == chat_id, Block.user_id == user_id, Block.status == "active")


def lock(chat_id: str, user_id: str) -> None:
    """One decision at a time about one member of one chat."""
    lock_for_transaction(db, f"moderation-block:{chat_id}:{user_id}")


def impose(service: Service, user: Principal, chat_id: str, user_id: str, until: datetime,
           violation_ids: list[str], note: str) -> Block:
    with db.atomic():
        chat = directory.moderated_chat(user.id, chat_id)
        lock(chat.chat_id, user_id)
        if not directory.is_chat_member(chat.chat_id, user_id):
            raise field_error("user_id", "Not a member of this chat.")
        refusal = rules.why_not_act_on(user_id, user.id, directory.moderates(chat, user_id))
        if refusal:
            raise violations.refused(refusal)
        if active(chat.chat_id, user_id) is not None:
            raise Conflict("This member is blocked here already.", code="already_blocked")
        wanted = list(dict.fromkeys(violation_ids))
        cited = list(violations.uncited(chat.chat_id, user_id).where(Violation.id.in_(wanted))) if wanted else []
        unknown = sorted(set(wanted) - {v.id for v in cited})
        if unknown:
            raise field_error("violation_ids", "Not violations of this member in this chat that no block cited: "
                              + ", ".join(unknown))
        refusal = rules.why_not_block(len(cited), until, utcnow())
        if refusal:
            raise violations.refused(refusal)
        block = Block.create(org_id=chat.org_id, chat_id=chat.chat_id, user_id=user_id, blocked_by=user.id,
                             note=note, until=until)
        Violation.update(block_id=block.id).where(Violation.id.in_([v.id for v in cited])).execute()
        shown = view(block, chat, cited)
        log.write(org_id=chat.org_id, chat_id=chat.chat_id, action="member_blocked", actor_id=user.id,
                  subject_id=user_id, rules=shown["rules"], note=note, block_id=block.id,
                  violation_ids=shown["violation_ids"], until=shown["until"])
        service.outbox.add(events.MEMBER_BLOCKED, {
            "block_id": block.id, "chat_id": chat.chat_id, "org_id": chat.org_id, "user_id": user_id,
            "until": shown["until"], "violation_ids": shown["violation_ids"], "rules": shown["rules"]},
            org_id=chat.org_id)
        service.push([user_id], "moderation.blocked", shown)
    return block


def end(service: Service, block: Block, reason: str, actor_id: str | None, note: str = "") -> bool:
    """The block is over: its open requests and appeals with it; logged,
    published (messaging lets the member post again) and told to the member.
    False when it had ended already: the job, a moderator, the school and a
    member's leaving may all reach for it at the same moment; the first wins."""
    now = utcnow()
    if not (Block.update(status="ended", ended_at=now, end_reason=reason)
            .where(Block.id == block.id, Block.status == "active").execute()):
        return False
    block.status, block.ended_at, block.end_reason = "ended", now, reason
    for request in UnblockRequest.select().where(UnblockRequest.block_id == block.id, UnblockRequest.status == "open"):
        close_request(service, request, "unblocked" if reason == "apologised" else
                      "member_left" if reason == "member_left" else "block_ended")
    (Appeal.update(status="closed", decided_at=now)
     .where(Appeal.block_id == block.id, Appeal.status == "open").execute())
    cited = list(Violation.select().where(Violation.block_id == block.id))
    log.write(org_id=block.org_id, chat_id=block.chat_id, action=END_ACTIONS[reason], actor_id=actor_id,
              subject_id=block.user_id, rules=cited_rules(cited), note=note, block_id=block.id)
    service.outbox.add(events.MEMBER_UNBLOCKED, {"block_id": block.id, "chat_id": block.chat_id,
                                                 "org_id": block.org_id, "user_id": block.user_id,
                                                 "reason": reason}, org_id=block.org_id)
    service.push([block.user_id], "moderation.unblocked", {"block_id": block.id, "chat_id": block.chat_id,
                                                           "reason": reason, "ended_at": isoformat(now)})
    return True


def close_request(service: Service, request: UnblockRequest, outcome: str) -> bool:
    now = utcnow()
    if not (UnblockRequest.update(status="closed", outcome=outcome, closed_at=now)
            .where(UnblockRequest.id == request.id, UnblockRequest.status == "open").execute()):
        return False
    request.status, request.outcome, request.closed_at = "closed", outcome, now
    service.outbox.add(events.UNBLOCK_REQUEST_CLOSED, {
        "request_id": request.id, "chat_id": request.chat_id, "org_id": request.org_id,
        "user_id": request.user_id, "window_ends_at": isoformat(request.window_ends_at), "outcome": outcome},
        org_id=request.org_id)
    return True


def latest_request(block: Block) -> UnblockRequest | None:
    return (UnblockRequest.select().where(UnblockRequest.block_id == block.id, UnblockRequest.status == "open")
            .order_by(UnblockRequest.created_at.desc()).first())


def facts(request: UnblockRequest | None) -> rules.RequestFacts | None:
    if request is None:
        return None
    return rules.RequestFacts(request.window_ends_at, request.objections, request.status == "open")


def unblock_early(service: Service, user: Principal, chat_id: str, user_id: str) -> Block:
    """2.7: only when the member apologised and nobody objected in the window."""
    with db.atomic():
        chat = directory.moderated_chat(user.id, chat_id)
        lock(chat.chat_id, user_id)
        block = active(chat.chat_id, user_id)
        if block is None:
            raise NotFound("This member is not blocked here.", code="not_blocked")
        request = latest_request(block)
        refusal = rules.why_not_unblock_early(facts(request), utcnow())
        if refusal:
            details = {key: isoformat(value) if isinstance(value, datetime) else value
                       for key, value in (refusal.details or {}).items()}
            raise Conflict(refusal.message, code=refusal.code, details=details)
        if not end(service, block, "apologised", user.id, note=f"unblock request {request.id}: apology, no objection"):
            raise NotFound("This member is not blocked here.", code="not_blocked")
    return Block.get_by_id(block.id)


def expire_due(service: Service, now: datetime | None = None, limit: int = EXPIRY_BATCH) -> int:
    """Ends the blocks whose time is up, in one transaction. Several replicas
    may run this at once: on PostgreSQL each claims its blocks with FOR UPDATE
    SKIP LOCKED, so none is ended twice and none waits for another."""
    with service.realtime.deferred(), db.atomic():
        query = (Block.select().where(Block.status == "active", Block.until <= (now or utcnow()))
                 .order_by(Block.until).limit(limit))
        if is_postgres(db):
            query = query.for_update(skip_locked=True)
        due = list(query)
        for block in due:
            end(service, block, "expired", None)
    return len(due)


def run_expiry(service: Service, stop: threading.Event, after_commit: Callable[[], None],
               poll_seconds: float = 1.0) -> None:
    """The job: every second, the blocks that are due end."""
    while not stop.is_set():
        try:
            with db.connection_context():
                while expire_due(service) and not stop.is_set():
                    after_commit()
        except Exception:
            log_.exception("ending due blocks")
        stop.wait(poll_seconds)


def of_chat(user: Principal, chat_id: str, status: str):
    chat = directory.moderated_chat(user.id, chat_id)
    query = Block.select().where(Block.chat_id == chat.chat_id)
    if status != "all":
        query = query.where(Block.status == status)
    return query.order_by(Block.created_at.desc(), Block.id)


def mine(user: Principal):
    return Block.select().where(Block.user_id == user.id).order_by(Block.created_at.desc(), Block.id)

