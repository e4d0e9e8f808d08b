"""Appeals to the school (2.8): a blocked member who believes the block was
not for breaking the chat's rules appeals to the school's admins and
director. Lifting the block voids the violations it cited, so that no later
block counts them; upholding it leaves it to run. Both are logged."""
from __future__ import annotations

from services.common.auth import Principal
from services.common.clock import isoformat, utcnow
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.service import Service

from . import blocks, directory, log, rules
from .models import Appeal, Block, Violation, db


def view(appeal: Appeal) -> dict:
    block = Block.get_or_none(Block.id == appeal.block_id)
    return {"id": appeal.id, "org_id": appeal.org_id, "chat_id": appeal.chat_id, "block_id": appeal.block_id,
            "user": directory.people([appeal.user_id])[appeal.user_id], "text": appeal.text,
            "created_at": isoformat(appeal.created_at), "status": appeal.status, "note": appeal.note,
            "decided_by": appeal.decided_by, "decided_at": isoformat(appeal.decided_at),
            "block": blocks.views([block])[0] if block else None}


def file(service: Service, user: Principal, block_id: str, text: str) -> Appeal:
    with db.atomic():
        block = Block.get_or_none(Block.id == block_id)
        if block is None or block.user_id != user.id:
            if block is not None and _sees(user.id, block):
                raise Forbidden("Only the blocked member appeals against their block.")
            raise NotFound("No such block.")
        blocks.lock(block.chat_id, block.user_id)
        block = Block.get_by_id(block.id)  # as whoever held the lock before left it
        if block.status != "active":
            raise Conflict("This block has ended.", code="block_ended")
        if Appeal.select().where(Appeal.block_id == block.id, Appeal.status == "open").exists():
            raise Conflict("Your appeal against this block is open already.", code="appeal_open")
        appeal = Appeal.create(org_id=block.org_id, chat_id=block.chat_id, block_id=block.id, user_id=user.id,
                               text=text)
        log.write(org_id=block.org_id, chat_id=block.chat_id, action="appeal_filed", actor_id=user.id,
                  subject_id=user.id, rules=blocks.cited_rules(list(Violation.select().where(
                      Violation.block_id == block.id))), note=text, appeal_id=appeal.id, block_id=block.id)
        service.push(directory.overseers(block.org_id), "moderation.appeal.filed", view(appeal))
    return appeal


def _sees(user_id: str, block: Block) -> bool:
    chat = directory.known_chat(block.chat_id)
    return directory.moderates(chat, user_id) or rules.oversees(directory.roles(block.org_id, user_id))


def of_org(user: Principal, org_id: str, status: str):
    directory.overseen_org(user.id, org_id)
    query = Appeal.select().where(Appeal.org_id == org_id)
    if status != "all":
        query = query.where(Appeal.status == status)
    return query.order_by(Appeal.created_at.desc(), Appeal.id)


def decide(service: Service, user: Principal, appeal_id: str, lift: bool, note: str) -> Appeal:
    with db.atomic():
        appeal = Appeal.get_or_none(Appeal.id == appeal_id)
        if appeal is None:
            raise NotFound("No such appeal.")
        directory.overseen_org(user.id, appeal.org_id)
        directory.require_verified(appeal.org_id, user.id)
        blocks.lock(appeal.chat_id, appeal.user_id)
        appeal = Appeal.get_by_id(appeal.id)  # as whoever held the lock before left it
        if appeal.status != "open":
            raise Conflict("This appeal has been decided already.", code="appeal_closed")
        block = Block.get_by_id(appeal.block_id)
        appeal.status, appeal.decided_by, appeal.decided_at, appeal.note = (
            "lifted" if lift else "upheld", user.id, utcnow(), note)
        appeal.save()
        if lift:
            Violation.update(voided_at=utcnow()).where(Violation.block_id == block.id).execute()
            if not blocks.end(service, block, "appeal", user.id, note=note):
                raise Conflict("This block has ended meanwhile.", code="block_ended")
        else:
            log.write(org_id=block.org_id, chat_id=block.chat_id, action="appeal_upheld", actor_id=user.id,
                      subject_id=block.user_id, rules=blocks.cited_rules(list(Violation.select().where(
                          Violation.block_id == block.id))), note=note, appeal_id=appeal.id, block_id=block.id)
        service.push([appeal.user_id], "moderation.appeal.decided", view(appeal))
    return appeal
