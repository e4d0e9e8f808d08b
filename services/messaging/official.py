"""Chats follow the school's structure (domain.md "Chats", rule 2.9), driven by
orgstructure's events:

- every organisation has the school channel (everyone), the staff channel and
  the teachers' chat (staff); admins moderate them;
- every class or group has the class head's chat with its students and the
  one with their parents; the class head moderates both;
- who should be where is worked out from the projections (`reconcile`): the
  platform invites the user (consent, rule 2.3) or takes them out, with the
  reason recorded;
- a student who is expelled leaves every chat of the organisation, and so do
  the parents who leave with them; an employee who is dismissed leaves every
  chat of the organisation (`leave_organisation`).
"""
from __future__ import annotations

from services.common.bus import Outbox
from services.common.clock import utcnow
from services.common.db import lock_for_transaction

from . import chats, directory, texts
from .models import Chat, ChatInvitation, ChatMember, OrgMember, ParentLink, Unit, VerifiedTeacher, db

ORG_CHATS = (  # purpose, kind, title
    ("school", "channel", texts.SCHOOL_CHANNEL),
    ("staff", "channel", texts.STAFF_CHANNEL),
    ("teachers", "group", texts.TEACHERS_CHAT),
)
CLASS_CHATS = (("class_students", texts.class_students_chat), ("class_parents", texts.class_parents_chat))
CLASS_KINDS = ("class", "group")


def _official(org_id: str, purpose: str, unit_id: str | None = None) -> Chat | None:
    return Chat.get_or_none(Chat.org_id == org_id, Chat.purpose == purpose, Chat.unit_id == unit_id)


def ensure_org_chats(outbox: Outbox, org_id: str) -> None:
    for purpose, kind, title in ORG_CHATS:
        if _official(org_id, purpose) is None:
            chat = chats.new_chat(org_id, kind, title, [], purpose=purpose)
            chats.announce(outbox, chat, created=True)
    for member in OrgMember.select().where(OrgMember.org_id == org_id):
        reconcile(outbox, org_id, member.user_id, "joined")


def ensure_class_chats(outbox: Outbox, unit: Unit) -> None:
    if unit.kind not in CLASS_KINDS or unit.archived:
        return
    for purpose, title in CLASS_CHATS:
        chat = _official(unit.org_id, purpose, unit.unit_id)
        if chat is None:
            chat = chats.new_chat(unit.org_id, "class", title(unit.name), [], purpose=purpose, unit_id=unit.unit_id)
            chats.announce(outbox, chat, created=True)
        elif chat.title != title(unit.name):
            chat.title = title(unit.name)
            chat.save()
            chats.announce(outbox, chat)
    affected = {unit.head_user_id} | set(directory.students_of(unit.unit_id)) | set(directory.parents_in(unit.unit_id))
    for user_id in sorted(filter(None, affected)):
        reconcile(outbox, unit.org_id, user_id, "joined")


def archive_class_chats(outbox: Outbox, unit: Unit) -> None:
    """An archived class keeps its chats readable; nobody joins them any more."""
    for chat in Chat.select().where(Chat.unit_id == unit.unit_id, Chat.archived_at.is_null()):
        chat.archived_at = utcnow()
        chat.save()
        (ChatInvitation.update(status="withdrawn", reason="archived", decided_at=utcnow())
         .where(ChatInvitation.chat == chat, ChatInvitation.status == "pending").execute())
        chats.announce(outbox, chat)


def _official_chats(org_id: str) -> list[Chat]:
    return list(Chat.select().where(Chat.org_id == org_id, Chat.purpose.is_null(False), Chat.archived_at.is_null()))


def desired_places(org_id: str, user_id: str, official: list[Chat]) -> dict[str, str]:
    """The official chats the user belongs in, with the role they hold there."""
    roles = directory.roles(org_id, user_id)
    if not roles:
        return {}
    moderator = "moderator" if "admin" in roles else "member"
    staff = bool(roles & directory.STAFF_ROLES)
    member = OrgMember.get(OrgMember.org_id == org_id, OrgMember.user_id == user_id)
    headed = {unit.unit_id for unit in Unit.select(Unit.unit_id).where(Unit.org_id == org_id,
                                                                        Unit.head_user_id == user_id)}
    children_units = {link.unit_id for link in ParentLink.select(ParentLink.unit_id)
                      .where(ParentLink.org_id == org_id, ParentLink.parent_id == user_id)}
    places = {}
    for chat in official:
        if chat.purpose == "school" or (chat.purpose in ("staff", "teachers") and staff):
            places[chat.id] = moderator
        elif chat.unit_id in headed and staff:
            places[chat.id] = "moderator"
        elif chat.purpose == "class_students" and "student" in roles and member.unit_id == chat.unit_id:
            places[chat.id] = "member"
        elif chat.purpose == "class_parents" and chat.unit_id in children_units:
            places[chat.id] = "member"
    return places


def reconcile(outbox: Outbox, org_id: str, user_id: str, reason: str) -> None:
    """Invite the user to the official chats they now belong in, and take them
    out of (or withdraw invitations to) those they no longer belong in."""
    official = {chat.id: chat for chat in _official_chats(org_id)}
    wanted = desired_places(org_id, user_id, list(official.values()))
    stays = {row.chat_id: row for row in ChatMember.select().where(
        ChatMember.chat.in_(list(official)), ChatMember.user_id == user_id, ChatMember.left_at.is_null())}
    invited = {row.chat_id: row for row in ChatInvitation.select().where(
        ChatInvitation.chat.in_(list(official)), ChatInvitation.user_id == user_id,
        ChatInvitation.status == "pending")}
    for chat_id, chat in official.items():
        role = wanted.get(chat_id)
        stay, invitation = stays.get(chat_id), invited.get(chat_id)
        if role is None:
            if stay is not None or invitation is not None:
                chats.remove(outbox, chat, user_id, reason)
        elif stay is not None:
            if stay.role != role:
                chats.set_role(outbox, chat, stay, role)
        else:
            chats.invite(chat, None, [user_id], role=role, reason=reason)


def member_joined(outbox: Outbox, org_id: str, user_id: str, roles: list[str], unit_id: str | None) -> None:
    OrgMember.insert(org_id=org_id, user_id=user_id, roles=",".join(sorted(roles)), unit_id=unit_id).on_conflict(
        conflict_target=[OrgMember.org_id, OrgMember.user_id],
        update={OrgMember.roles: ",".join(sorted(roles)), OrgMember.unit_id: unit_id}).execute()
    reconcile(outbox, org_id, user_id, "joined")


def roles_changed(outbox: Outbox, org_id: str, user_id: str, roles: list[str]) -> None:
    OrgMember.update(roles=",".join(sorted(roles))).where(OrgMember.org_id == org_id,
                                                          OrgMember.user_id == user_id).execute()
    reconcile(outbox, org_id, user_id, "roles_changed")


def transferred(outbox: Outbox, org_id: str, user_id: str, from_unit_id: str, to_unit_id: str,
                parent_ids: list[str]) -> None:
    """Out of the old class's chats (official, or bound to that class by a
    teacher), invited to the new class's; the parents follow their child."""
    OrgMember.update(unit_id=to_unit_id).where(OrgMember.org_id == org_id, OrgMember.user_id == user_id).execute()
    ParentLink.update(unit_id=to_unit_id).where(ParentLink.org_id == org_id, ParentLink.child_id == user_id).execute()
    _leave_unit_chats(outbox, from_unit_id, user_id, "transferred")
    reconcile(outbox, org_id, user_id, "transferred")
    for parent_id in parent_ids:
        if not directory.has_child_in(parent_id, from_unit_id):
            _leave_unit_chats(outbox, from_unit_id, parent_id, "child_transferred")
        reconcile(outbox, org_id, parent_id, "child_transferred")


def _leave_unit_chats(outbox: Outbox, unit_id: str, user_id: str, reason: str) -> None:
    for chat in Chat.select().where(Chat.unit_id == unit_id, Chat.purpose.is_null()):
        chats.remove(outbox, chat, user_id, reason)


def leave_organisation(outbox: Outbox, org_id: str, user_id: str, reason: str) -> None:
    """Out of every chat of the organisation: official, group and direct ones."""
    lock_for_transaction(db, chats.member_lock(org_id, user_id))
    OrgMember.delete().where(OrgMember.org_id == org_id, OrgMember.user_id == user_id).execute()
    ParentLink.delete().where(ParentLink.org_id == org_id,
                              (ParentLink.parent_id == user_id) | (ParentLink.child_id == user_id)).execute()
    VerifiedTeacher.delete().where(VerifiedTeacher.org_id == org_id, VerifiedTeacher.user_id == user_id).execute()
    chats.remove_from_organisation(outbox, org_id, user_id, reason)


def expelled(outbox: Outbox, org_id: str, user_id: str, unit_id: str, parent_ids: list[str],
             staying_parent_ids: list[str]) -> None:
    """Rule 2.9: the student and the student's parents leave the chats. A parent
    who stays in the school for another child leaves this child's class chats."""
    leave_organisation(outbox, org_id, user_id, "expelled")
    for parent_id in parent_ids:
        leave_organisation(outbox, org_id, parent_id, "child_expelled")
    for parent_id in staying_parent_ids:
        ParentLink.delete().where(ParentLink.org_id == org_id, ParentLink.parent_id == parent_id,
                                  ParentLink.child_id == user_id).execute()
        if not directory.has_child_in(parent_id, unit_id):
            _leave_unit_chats(outbox, unit_id, parent_id, "child_expelled")
        reconcile(outbox, org_id, parent_id, "child_expelled")


def parent_linked(outbox: Outbox, org_id: str, parent_id: str, child_id: str, unit_id: str | None) -> None:
    ParentLink.insert(org_id=org_id, parent_id=parent_id, child_id=child_id, unit_id=unit_id).on_conflict(
        conflict_target=[ParentLink.org_id, ParentLink.parent_id, ParentLink.child_id],
        update={ParentLink.unit_id: unit_id}).execute()
    reconcile(outbox, org_id, parent_id, "child_linked")


def parent_unlinked(outbox: Outbox, org_id: str, parent_id: str, child_id: str) -> None:
    ParentLink.delete().where(ParentLink.org_id == org_id, ParentLink.parent_id == parent_id,
                              ParentLink.child_id == child_id).execute()
    reconcile(outbox, org_id, parent_id, "child_unlinked")


def head_assigned(outbox: Outbox, org_id: str, unit_id: str, user_id: str | None,
                  previous_user_id: str | None) -> None:
    Unit.update(head_user_id=user_id).where(Unit.unit_id == unit_id).execute()
    for person in filter(None, (previous_user_id, user_id)):
        if directory.is_member(org_id, person):
            reconcile(outbox, org_id, person, "class_head_changed")
