"""Who is who, as moderation knows it from orgstructure's, identity's and
messaging's events, and who may see what. A chat or a message moderation has
not heard of yet may simply be on its way: that answers `not_ready`, never
404. Someone who is not in a chat it knows finds nothing there (404), whatever
their school, at once unless they joined it a moment ago."""
from __future__ import annotations

import json
import re

from services.common import settling
from services.common.db import lock_for_transaction
from services.common.errors import Forbidden, NotFound
from services.common.verification import check as check_verification

from . import rules
from .models import Chat, ChatMember, Message, Moderator, OrgMember, Person, VerifiedTeacher, db

_ID = re.compile(r"[0-9a-f]{32}")


def roles(org_id: str, user_id: str) -> set[str]:
    member = OrgMember.get_or_none(OrgMember.org_id == org_id, OrgMember.user_id == user_id)
    return set(filter(None, member.roles.split(","))) if member else set()


def overseers(org_id: str) -> list[str]:
    return [m.user_id for m in OrgMember.select().where(OrgMember.org_id == org_id)
            if rules.oversees(set(m.roles.split(",")))]


def people(user_ids) -> dict[str, dict]:
    ids = [uid for uid in dict.fromkeys(user_ids) if uid]
    found = {p.user_id: p.display_name for p in Person.select().where(Person.user_id.in_(ids))} if ids else {}
    return {uid: {"id": uid, "display_name": found.get(uid, "")} for uid in ids}


def rules_of(chat: Chat) -> list[str]:
    return json.loads(chat.rules)


def cited(chat: Chat, number: int) -> list[dict]:
    return [{"number": number, "text": rules.rule_text(rules_of(chat), number)}]


def is_chat_member(chat_id: str, user_id: str) -> bool:
    return ChatMember.select().where(ChatMember.chat_id == chat_id, ChatMember.user_id == user_id).exists()


def members_of(chat_id: str) -> list[str]:
    return [m.user_id for m in ChatMember.select(ChatMember.user_id).where(ChatMember.chat_id == chat_id)]


def moderators_of(chat: Chat) -> list[str]:
    """The chat's moderators who are still members of its school."""
    return [m.user_id for m in Moderator.select(Moderator.user_id)
            .join(OrgMember, on=((OrgMember.user_id == Moderator.user_id) & (OrgMember.org_id == chat.org_id)))
            .where(Moderator.chat_id == chat.chat_id)]


def moderates(chat: Chat, user_id: str) -> bool:
    """A moderator of the chat, while still in its school: a dismissal ends
    that everywhere as soon as moderation hears of it."""
    return (Moderator.select().where(Moderator.chat_id == chat.chat_id, Moderator.user_id == user_id).exists()
            and bool(roles(chat.org_id, user_id)))


def has_students(chat_id: str, org_id: str) -> bool:
    return any(rules.is_student(set(m.roles.split(","))) for m in OrgMember.select(OrgMember.roles)
               .join(ChatMember, on=((ChatMember.user_id == OrgMember.user_id) & (ChatMember.chat_id == chat_id)))
               .where(OrgMember.org_id == org_id))


def known_chat(chat_id: str) -> Chat:
    chat = Chat.get_or_none(Chat.chat_id == chat_id) if _ID.fullmatch(chat_id) else None
    if chat is None:
        if _ID.fullmatch(chat_id):
            raise settling.NotReady("This chat is not known to moderation yet.", certain=False)
        raise NotFound("No such chat.")
    return chat


def visible_chat(user_id: str, chat_id: str) -> Chat:
    """The chat, for its members and moderators. Refused, the answer names
    what moderation may simply not have heard of yet (the person's joining of
    the school, of the chat): the gateway asks again while those were
    announced a moment ago, and tells a stranger 404 at once."""
    chat = known_chat(chat_id)
    in_school = bool(roles(chat.org_id, user_id))
    in_chat = is_chat_member(chat.chat_id, user_id) or moderates(chat, user_id)
    if not (in_school and in_chat):
        raise NotFound("No such chat.", lacking=settling.membership_lacking(chat.org_id, user_id, in_school,
                                                                            chat.chat_id, in_chat))
    return chat


def moderated_chat(user_id: str, chat_id: str) -> Chat:
    chat = visible_chat(user_id, chat_id)
    if not moderates(chat, user_id):
        raise Forbidden("Only a moderator of this chat may do this.")
    require_verified(chat.org_id, user_id)
    return chat


def require_verified(org_id: str, user_id: str) -> None:
    """A moderator, or an admin deciding for the school, whose teacher status
    is not confirmed there yet does not moderate (seed 001 §4.10)."""
    verified = VerifiedTeacher.select().where(VerifiedTeacher.org_id == org_id,
                                              VerifiedTeacher.user_id == user_id).exists()
    check_verification(org_id, user_id, roles(org_id, user_id), verified, "moderate")


def lock_message(message_id: str) -> None:
    """One decision about a message at a time: two moderators removing it, or
    deciding on its reports, at the same moment do not both act."""
    lock_for_transaction(db, f"moderation-message:{message_id}")


def known_message(message_id: str) -> Message:
    message = Message.get_or_none(Message.message_id == message_id) if _ID.fullmatch(message_id) else None
    if message is None:
        if _ID.fullmatch(message_id):
            raise settling.NotReady("This message is not known to moderation yet.", certain=False)
        raise NotFound("No such message.")
    return message


def message_in_view(user_id: str, message_id: str) -> tuple[Message, Chat]:
    """A message and its chat, for the chat's members and moderators; a held
    message only for its author and the moderators, as in messaging."""
    message = known_message(message_id)
    chat = known_chat(message.chat_id)
    visible_chat(user_id, chat.chat_id)
    if message.deleted_at is not None or (message.held and message.author_id != user_id
                                          and not moderates(chat, user_id)):
        raise NotFound("No such message.")
    return message, chat


def overseen_org(user_id: str, org_id: str) -> set[str]:
    """The caller's roles in a school whose moderation they oversee (admins
    and the director); 404 for anyone outside the school, 403 inside it."""
    held = roles(org_id, user_id)
    if not held:
        raise NotFound("No such organisation.")
    if not rules.oversees(held):
        raise Forbidden("The school's admins and director oversee its moderation.")
    return held
