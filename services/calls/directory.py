"""Who is who, as calls knows it from the other services' events: schools and
their members with roles and classes, names, teacher badges, chats with their
members and moderators, blocks. Read-only; the handlers keep the tables
current. A chat or a school calls has not heard of yet may be on its way
(made a moment ago): that answers `not_ready`, never 404; a refusal because
calls has not heard yet that someone joined a school or a chat names that
fact (`lacking`), and the gateway asks again while it was announced a moment
ago (services/common/settling.py)."""
from __future__ import annotations

import re

from services.common.clock import utcnow
from services.common import settling
from services.common.errors import NotFound
from services.common.settling import NotReady

from .models import Block, Call, Chat, ChatMember, Invitee, Org, OrgMember, Person, VerifiedTeacher
from .rules import Standing

_ID = re.compile(r"[0-9a-f]{32}")


def roles(org_id: str, user_id: str) -> frozenset:
    member = OrgMember.get_or_none(OrgMember.org_id == org_id, OrgMember.user_id == user_id)
    return frozenset(filter(None, member.roles.split(","))) if member else frozenset()


def is_member(org_id: str, user_id: str) -> bool:
    return OrgMember.select().where(OrgMember.org_id == org_id, OrgMember.user_id == user_id).exists()


def known_org(org_id: str) -> None:
    if Org.get_or_none(Org.org_id == org_id) is None:
        if _ID.fullmatch(org_id):
            raise NotReady("This school is not known to calls yet.", certain=False)
        raise NotFound("No such organisation.")


def known_chat(chat_id: str) -> Chat:
    chat = Chat.get_or_none(Chat.chat_id == chat_id)
    if chat is None:
        if _ID.fullmatch(chat_id):
            raise NotReady("This chat is not known to calls yet.", certain=False)
        raise NotFound("No such chat.")
    return chat


def chat_members(chat_id: str) -> list[str]:
    return [row.user_id for row in ChatMember.select(ChatMember.user_id).where(ChatMember.chat_id == chat_id)]


def in_chat(chat_id: str, user_id: str) -> bool:
    return ChatMember.select().where(ChatMember.chat_id == chat_id, ChatMember.user_id == user_id).exists()


def moderators(chat: Chat) -> set[str]:
    return set(filter(None, chat.moderator_ids.split(",")))


def blocked(chat_id: str, user_id: str) -> bool:
    block = Block.get_or_none(Block.chat_id == chat_id, Block.user_id == user_id)
    return block is not None and block.until > utcnow()


def students_of(unit_id: str | None) -> list[str]:
    """The class's students as calls knows them: a lesson's roster."""
    if not unit_id:
        return []
    return sorted(member.user_id for member in OrgMember.select().where(OrgMember.unit_id == unit_id)
                  if "student" in member.roles.split(","))


def names(user_ids) -> dict[str, str]:
    ids = list(dict.fromkeys(user_ids))
    found = {p.user_id: p.display_name for p in Person.select().where(Person.user_id.in_(ids))} if ids else {}
    return {user_id: found.get(user_id, "") for user_id in ids}


def standing_in_chat(org_id: str, user_id: str, chat: Chat | None) -> Standing:
    """For making a call: the person's place in the school and in the chat."""
    held = roles(org_id, user_id)
    verified = bool(held) and VerifiedTeacher.select().where(
        VerifiedTeacher.org_id == org_id, VerifiedTeacher.user_id == user_id).exists()
    if chat is None:
        return Standing(roles=held, verified_teacher=verified)
    return Standing(roles=held, verified_teacher=verified, in_chat=in_chat(chat.chat_id, user_id),
                    chat_moderator=user_id in moderators(chat), blocked=blocked(chat.chat_id, user_id))


def standing_in_call(call: Call, user_id: str) -> Standing:
    """For anything done with a call: the person's place in its school, its
    chat, its invitation list and its class."""
    held = roles(call.org_id, user_id)
    if not held:
        return Standing()
    named = Invitee.get_or_none(Invitee.call == call.id, Invitee.user_id == user_id)
    unit_member = OrgMember.get_or_none(OrgMember.org_id == call.org_id, OrgMember.user_id == user_id)
    return Standing(
        roles=held,
        in_chat=bool(call.chat_id) and in_chat(call.chat_id, user_id),
        invited=named is not None,
        presenter=named is not None and named.role == "presenter",
        in_class=bool(call.unit_id) and "student" in held and unit_member.unit_id == call.unit_id,
        host=call.host_id == user_id,
    )


def audience(call: Call) -> list[str]:
    """Everyone who may join the call (who is told of it, reminded of it)."""
    people = {call.host_id}
    people |= {row.user_id for row in Invitee.select(Invitee.user_id).where(Invitee.call == call.id)}
    if call.chat_id:
        people |= set(chat_members(call.chat_id))
    if call.kind == "lesson":
        people |= set(students_of(call.unit_id))
    members = {row.user_id for row in OrgMember.select(OrgMember.user_id).where(
        OrgMember.org_id == call.org_id, OrgMember.user_id.in_(list(people)))}
    return sorted(people & members)


def facts_lacking(org_id: str, user_id: str, chat_id: str | None) -> list[str]:
    """The facts calls has not heard of whose absence may be all that refuses
    this person: their membership of the school, of the chat."""
    return settling.membership_lacking(org_id, user_id, is_member(org_id, user_id), chat_id,
                                       not chat_id or in_chat(chat_id, user_id))


def admins_of(org_id: str) -> list[str]:
    return [member.user_id for member in OrgMember.select().where(OrgMember.org_id == org_id)
            if "admin" in member.roles.split(",")]
