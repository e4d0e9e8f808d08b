"""The facts of other services that moderation keeps, from their events:
people's names, schools' members with their roles, chats with their rules,
members and moderators."""
from __future__ import annotations

import json

from .models import Chat, ChatMember, Moderator, OrgMember, Person, VerifiedTeacher


def person_named(user_id: str, display_name: str) -> None:
    Person.insert(user_id=user_id, display_name=display_name).on_conflict(
        conflict_target=[Person.user_id], update={Person.display_name: display_name}).execute()


def teacher_verified(org_id: str, user_id: str, verified: bool) -> None:
    if verified:
        VerifiedTeacher.insert(org_id=org_id, user_id=user_id).on_conflict_ignore().execute()
    else:
        VerifiedTeacher.delete().where(VerifiedTeacher.org_id == org_id, VerifiedTeacher.user_id == user_id).execute()


def member_roles(org_id: str, user_id: str, roles: list[str]) -> None:
    joined = ",".join(sorted(roles))
    OrgMember.insert(org_id=org_id, user_id=user_id, roles=joined).on_conflict(
        conflict_target=[OrgMember.org_id, OrgMember.user_id], update={OrgMember.roles: joined}).execute()


def roles_changed(org_id: str, user_id: str, roles: list[str]) -> None:
    OrgMember.update(roles=",".join(sorted(roles))).where(OrgMember.org_id == org_id,
                                                          OrgMember.user_id == user_id).execute()


def chat_changed(data: dict) -> None:
    """A chat as messaging published it, its moderators included: the event
    carries all of them whenever they change."""
    values = {"org_id": data["org_id"], "kind": data["kind"], "purpose": data.get("purpose"),
              "title": data.get("title") or "", "rules": json.dumps(data.get("rules") or [], ensure_ascii=False),
              "rules_version": data.get("rules_version") or 1, "archived": bool(data.get("archived"))}
    Chat.insert(chat_id=data["chat_id"], **values).on_conflict(
        conflict_target=[Chat.chat_id], update=values).execute()
    moderators = set(data.get("moderator_ids") or [])
    Moderator.delete().where(Moderator.chat_id == data["chat_id"], Moderator.user_id.not_in(moderators)).execute()
    for user_id in moderators:
        moderator_added(data["chat_id"], user_id)


def member_joined(chat_id: str, user_id: str) -> None:
    ChatMember.insert(chat_id=chat_id, user_id=user_id).on_conflict_ignore().execute()


def member_removed(chat_id: str, user_id: str) -> None:
    ChatMember.delete().where(ChatMember.chat_id == chat_id, ChatMember.user_id == user_id).execute()
    moderator_removed(chat_id, user_id)


def moderator_added(chat_id: str, user_id: str) -> None:
    Moderator.insert(chat_id=chat_id, user_id=user_id).on_conflict_ignore().execute()


def moderator_removed(chat_id: str, user_id: str) -> None:
    Moderator.delete().where(Moderator.chat_id == chat_id, Moderator.user_id == user_id).execute()
