"""Early unblock (2.7): the blocked member apologises to the chat with an
unblock request; every member is told and may object until the window ends
(MODERATION_OBJECTION_WINDOW_SECONDS). Objectors are never named to anyone
but the chat's moderators."""
from __future__ import annotations

from datetime import timedelta

from services.common.auth import Principal
from services.common.clock import isoformat, utcnow
from services.common.db import lock_for_transaction
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.service import Service

from . import blocks, directory, events, log, rules
from .models import Objection, UnblockRequest, db


def view(request: UnblockRequest, viewer_id: str | None = None) -> dict:
    person = directory.people([request.user_id])[request.user_id]
    shown = {"id": request.id, "chat_id": request.chat_id, "block_id": request.block_id, "user": person,
             "apology": request.apology, "created_at": isoformat(request.created_at),
             "window_ends_at": isoformat(request.window_ends_at), "objections": request.objections,
             "status": request.status, "outcome": request.outcome}
    if viewer_id is not None:
        shown["objected_by_me"] = Objection.select().where(Objection.request == request,
                                                           Objection.user_id == viewer_id).exists()
    return shown


def open_request(service: Service, user: Principal, chat_id: str, apology: str, window_seconds: int) -> UnblockRequest:
    with db.atomic():
        chat = directory.visible_chat(user.id, chat_id)
        blocks.lock(chat.chat_id, user.id)
        block = blocks.active(chat.chat_id, user.id)
        if block is None:
            raise Conflict("You are not blocked in this chat.", code="not_blocked")
        now = utcnow()
        earlier = blocks.latest_request(block)
        if earlier is not None:
            if earlier.objections == 0 or now < earlier.window_ends_at:
                raise Conflict("Your unblock request is open already.", code="request_open",
                               details={"request_id": earlier.id,
                                        "window_ends_at": isoformat(earlier.window_ends_at)})
            blocks.close_request(service, earlier, "objected")  # a new apology after an objection
        request = UnblockRequest.create(org_id=chat.org_id, chat_id=chat.chat_id, block_id=block.id,
                                        user_id=user.id, apology=apology,
                                        window_ends_at=now + timedelta(seconds=window_seconds))
        log.write(org_id=chat.org_id, chat_id=chat.chat_id, action="unblock_requested", actor_id=user.id,
                  subject_id=user.id, note=apology, request_id=request.id, block_id=block.id)
        service.outbox.add(events.UNBLOCK_REQUEST_OPENED, {
            "request_id": request.id, "chat_id": chat.chat_id, "org_id": chat.org_id, "user_id": user.id,
            "window_ends_at": isoformat(request.window_ends_at), "apology": apology}, org_id=chat.org_id)
        service.push([uid for uid in directory.members_of(chat.chat_id) if uid != user.id],
                     "moderation.unblock_request.opened", view(request))
    return request


def object_to(service: Service, user: Principal, request_id: str, reason: str) -> UnblockRequest:
    with db.atomic():
        request = UnblockRequest.get_or_none(UnblockRequest.id == request_id)
        if request is None:
            raise NotFound("No such unblock request.")
        chat = directory.visible_chat(user.id, request.chat_id)
        if not directory.is_chat_member(chat.chat_id, user.id):
            raise NotFound("No such unblock request.")
        refusal = rules.why_not_object(blocks.facts(request), user.id, request.user_id, utcnow())
        if refusal:
            details = {key: isoformat(value) for key, value in (refusal.details or {}).items()}
            if refusal.code == "own_request":
                raise Forbidden(refusal.message, code=refusal.code)
            raise Conflict(refusal.message, code=refusal.code, details=details)
        lock_for_transaction(db, f"moderation-objection:{request.id}:{user.id}")
        if Objection.select().where(Objection.request == request, Objection.user_id == user.id).exists():
            raise Conflict("You have objected already.", code="already_objected")
        Objection.create(request=request, user_id=user.id, reason=reason)
        UnblockRequest.update(objections=UnblockRequest.objections + 1).where(
            UnblockRequest.id == request.id).execute()
        request = UnblockRequest.get_by_id(request.id)
        log.write(org_id=chat.org_id, chat_id=chat.chat_id, action="objection_filed", actor_id=user.id,
                  subject_id=request.user_id, note=reason, request_id=request.id, block_id=request.block_id)
        service.outbox.add(events.UNBLOCK_REQUEST_OBJECTED, {
            "request_id": request.id, "chat_id": chat.chat_id, "org_id": chat.org_id, "user_id": request.user_id,
            "window_ends_at": isoformat(request.window_ends_at), "objections": request.objections},
            org_id=chat.org_id)
        service.push(directory.moderators_of(chat) + [request.user_id], "moderation.unblock_request.objected",
                     {"id": request.id, "chat_id": chat.chat_id, "objections": request.objections})
    return request


def of_chat(user: Principal, chat_id: str):
    chat = directory.visible_chat(user.id, chat_id)
    return (UnblockRequest.select().where(UnblockRequest.chat_id == chat.chat_id, UnblockRequest.status == "open")
            .order_by(UnblockRequest.created_at.desc(), UnblockRequest.id))
