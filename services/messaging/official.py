"""Chats follow the school's structure (domain.md "Chats", rule 2.9), driven by
orgstructure's events:

- every organisation has the school channel (everyone), the staff channel and
  the teachers' chat (staff); admins moderate them;
- every class or group has the class head's chat with its students, the
  one with their parents and the one with the class's subject teachers
  (following orgstructure's teaching assignments); the class head moderates
  them;
- who should be where is worked out from the projections (`reconcile`): the
  platform invites the user (consent, rule 2.3) or takes them out, with the
  reason recorded;
- a student who is expelled leaves every chat of the organisation, and so do
  the parents who leave with them; an employee who is dismissed leaves every
  chat of the organisation (`leave_organisation`).
"""
from __future__ import annotations

from services.common.service import Service
from services.common.clock import utcnow
from services.common.db import lock_for_transaction

from . import chats, directory, messages, texts
from .models import (Chat, ChatAdministrator, ChatInvitation, ChatMember, OrgMember, ParentLink, TeachingAssignment,
                     Unit, VerifiedTeacher, db)

ORG_CHATS = (  # purpose, kind, title
    ("school", "channel", texts.SCHOOL_CHANNEL),
    ("staff", "channel", texts.STAFF_CHANNEL),
    ("teachers", "group", texts.TEACHERS_CHAT),
)
CLASS_CHATS = (("class_students", texts.class_students_chat), ("class_parents", texts.class_parents_chat),
               ("class_teachers", texts.class_teachers_chat))
CLASS_KINDS = ("class", "group")


def _official(org_id: str, purpose: str, unit_id: str | None = None) -> Chat | None:
    return Chat.get_or_none(Chat.org_id == org_id, Chat.purpose == purpose, Chat.unit_id == unit_id)


def ensure_org_chats(service: Service, org_id: str) -> None:
    for purpose, kind, title in ORG_CHATS:
        if _official(org_id, purpose) is None:
            chat = chats.new_chat(org_id, kind, title, [], purpose=purpose)
            if purpose == "school":
                chat.description = service.config.school_channel_description
                chat.save()
            chats.announce(service, chat, created=True)
    for member in OrgMember.select().where(OrgMember.org_id == org_id):
        reconcile(service, org_id, member.user_id, "joined")


def post_weekly_digest(service: Service, digest: dict) -> None:
    staff = _official(digest["org_id"], "staff")
    if staff is not None and staff.archived_at is None:
        messages.post_notice(service, staff, texts.weekly_digest(digest))


def describe_school_channels(description: str) -> int:
    """Every school's announcements channel says where to find support."""
    return (Chat.update(description=description)
            .where(Chat.purpose == "school", Chat.description != description).execute())


def ensure_class_chats(service: Service, unit: Unit) -> None:
    if unit.kind not in CLASS_KINDS or unit.archived:
        return
    # One set of chats per class, whoever makes them (the consumer, or a replica starting up).
    lock_for_transaction(db, f"class-chats:{unit.unit_id}")
    for purpose, title in CLASS_CHATS:
        chat = _official(unit.org_id, purpose, unit.unit_id)
        if chat is None:
            chat = chats.new_chat(unit.org_id, "class", title(unit.name), [], purpose=purpose, unit_id=unit.unit_id)
            chats.announce(service, chat, created=True)
        elif chat.title != title(unit.name):
            chat.title = title(unit.name)
            chat.save()
            chats.announce(service, chat)
    affected = ({unit.head_user_id} | set(directory.students_of(unit.unit_id)) | set(directory.parents_in(unit.unit_id))
                | set(directory.teachers_of(unit.unit_id)))
    for user_id in sorted(filter(None, affected)):
        reconcile(service, unit.org_id, user_id, "joined")


def ensure_every_class_has_its_chats(service: Service) -> int:
    """Classes made before an official chat was added to CLASS_CHATS get it:
    run once as a replica starts."""
    purposes = [purpose for purpose, _ in CLASS_CHATS]
    made = 0
    for unit in Unit.select().where(Unit.kind.in_(CLASS_KINDS), Unit.archived == False):  # noqa: E712
        have = {chat.purpose for chat in Chat.select(Chat.purpose).where(Chat.unit_id == unit.unit_id,
                                                                         Chat.purpose.in_(purposes))}
        if len(have) < len(purposes):
            with service.realtime.deferred(), db.atomic():
                ensure_class_chats(service, Unit.get_by_id(unit.unit_id))
            made += 1
    return made


def _archive(service: Service, found) -> None:
    """Readable, never changed; nobody joins them any more."""
    for chat in found.where(Chat.archived_at.is_null()):
        chat.archived_at = utcnow()
        chat.save()
        (ChatInvitation.update(status="withdrawn", reason="archived", decided_at=utcnow())
         .where(ChatInvitation.chat == chat, ChatInvitation.status == "pending").execute())
        chats.announce(service, chat)


def archive_class_chats(service: Service, unit: Unit) -> None:
    """An archived class (one that ended its course, or graduated) keeps its chats readable."""
    _archive(service, Chat.select().where(Chat.unit_id == unit.unit_id))


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
    taught = directory.taught_units(org_id, user_id)
    children_units = {link.unit_id for link in ParentLink.select(ParentLink.unit_id)
                      .where(ParentLink.org_id == org_id, ParentLink.parent_id == user_id)}
    appointed = {row.chat_id for row in ChatAdministrator.select(ChatAdministrator.chat).where(
        ChatAdministrator.user_id == user_id, ChatAdministrator.chat.in_([chat.id for chat in official]))}
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
        elif chat.purpose == "class_teachers" and chat.unit_id in taught and staff:
            places[chat.id] = "member"
        if chat.id in appointed and staff:
            places[chat.id] = "moderator"
    return places


def reconcile(service: Service, org_id: str, user_id: str, reason: str) -> None:
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
                chats.remove(service, chat, user_id, reason)
        elif stay is not None:
            chats.set_role(service, chat, stay, role, reason=reason)
        else:
            chats.invite(service, chat, None, [user_id], role=role, reason=reason)


def invite_to_class_chats(service: Service, org_id: str, user_id: str, unit_ids: set[str], role: str) -> None:
    """Someone who comes to a class (a student, or a parent of one) is invited
    to the chats made for that class's students or parents, once: whoever
    declined an invitation is not asked again."""
    audiences = [audience for audience in chats.AUDIENCES if role in directory.audience_roles(audience)]
    if not unit_ids:
        return
    for chat in Chat.select().where(Chat.org_id == org_id, Chat.unit_id.in_(list(unit_ids)),
                                    Chat.audience.in_(audiences), Chat.archived_at.is_null()):
        declined = ChatInvitation.select().where(ChatInvitation.chat == chat, ChatInvitation.user_id == user_id,
                                                 ChatInvitation.status == "declined").exists()
        if not declined:
            chats.invite(service, chat, chat.created_by, [user_id], reason="class")


def member_joined(service: Service, org_id: str, user_id: str, roles: list[str], unit_id: str | None) -> None:
    OrgMember.insert(org_id=org_id, user_id=user_id, roles=",".join(sorted(roles)), unit_id=unit_id).on_conflict(
        conflict_target=[OrgMember.org_id, OrgMember.user_id],
        update={OrgMember.roles: ",".join(sorted(roles)), OrgMember.unit_id: unit_id}).execute()
    reconcile(service, org_id, user_id, "joined")
    if "student" in roles and unit_id:
        invite_to_class_chats(service, org_id, user_id, {unit_id}, "student")


def roles_changed(service: Service, org_id: str, user_id: str, roles: list[str]) -> None:
    OrgMember.update(roles=",".join(sorted(roles))).where(OrgMember.org_id == org_id,
                                                          OrgMember.user_id == user_id).execute()
    reconcile(service, org_id, user_id, "roles_changed")


def transferred(service: Service, org_id: str, user_id: str, from_unit_id: str, to_unit_id: str,
                parent_ids: list[str]) -> None:
    """Out of the old class's chats (official, or bound to that class by a
    teacher), invited to the new class's; the parents follow their child."""
    OrgMember.update(unit_id=to_unit_id).where(OrgMember.org_id == org_id, OrgMember.user_id == user_id).execute()
    ParentLink.update(unit_id=to_unit_id).where(ParentLink.org_id == org_id, ParentLink.child_id == user_id).execute()
    _leave_unit_chats(service, from_unit_id, user_id, "transferred")
    reconcile(service, org_id, user_id, "transferred")
    invite_to_class_chats(service, org_id, user_id, {to_unit_id}, "student")
    for parent_id in parent_ids:
        if not directory.has_child_in(parent_id, from_unit_id):
            _leave_unit_chats(service, from_unit_id, parent_id, "child_transferred")
        reconcile(service, org_id, parent_id, "child_transferred")
        invite_to_class_chats(service, org_id, parent_id, {to_unit_id}, "parent")


def _leave_unit_chats(service: Service, unit_id: str, user_id: str, reason: str) -> None:
    for chat in Chat.select().where(Chat.unit_id == unit_id, Chat.purpose.is_null()):
        chats.remove(service, chat, user_id, reason)


def leave_organisation(service: Service, org_id: str, user_id: str, reason: str) -> None:
    """Out of every chat of the organisation: official, group and direct ones."""
    lock_for_transaction(db, chats.member_lock(org_id, user_id))
    OrgMember.delete().where(OrgMember.org_id == org_id, OrgMember.user_id == user_id).execute()
    ParentLink.delete().where(ParentLink.org_id == org_id,
                              (ParentLink.parent_id == user_id) | (ParentLink.child_id == user_id)).execute()
    VerifiedTeacher.delete().where(VerifiedTeacher.org_id == org_id, VerifiedTeacher.user_id == user_id).execute()
    TeachingAssignment.delete().where(TeachingAssignment.org_id == org_id,
                                      TeachingAssignment.user_id == user_id).execute()
    chats.remove_from_organisation(service, org_id, user_id, reason)


def expelled(service: Service, org_id: str, user_id: str, unit_id: str, parent_ids: list[str],
             staying_parent_ids: list[str], reason: str = "expelled") -> None:
    """Rule 2.9: the student (expelled, or graduated at the end of the school
    year) and the student's parents leave the chats. A parent who stays in the
    school for another child leaves this child's class chats."""
    leave_organisation(service, org_id, user_id, reason)
    for parent_id in parent_ids:
        leave_organisation(service, org_id, parent_id, f"child_{reason}")
    for parent_id in staying_parent_ids:
        ParentLink.delete().where(ParentLink.org_id == org_id, ParentLink.parent_id == parent_id,
                                  ParentLink.child_id == user_id).execute()
        if not directory.has_child_in(parent_id, unit_id):
            _leave_unit_chats(service, unit_id, parent_id, f"child_{reason}")
        reconcile(service, org_id, parent_id, f"child_{reason}")


def archive_organisation(service: Service, org_id: str) -> None:
    """The operator archived the school: every chat of it is archived."""
    _archive(service, Chat.select().where(Chat.org_id == org_id))


def parent_linked(service: Service, org_id: str, parent_id: str, child_id: str, unit_id: str | None) -> None:
    ParentLink.insert(org_id=org_id, parent_id=parent_id, child_id=child_id, unit_id=unit_id).on_conflict(
        conflict_target=[ParentLink.org_id, ParentLink.parent_id, ParentLink.child_id],
        update={ParentLink.unit_id: unit_id}).execute()
    reconcile(service, org_id, parent_id, "child_linked")
    if unit_id:
        invite_to_class_chats(service, org_id, parent_id, {unit_id}, "parent")


def parent_unlinked(service: Service, org_id: str, parent_id: str, child_id: str) -> None:
    ParentLink.delete().where(ParentLink.org_id == org_id, ParentLink.parent_id == parent_id,
                              ParentLink.child_id == child_id).execute()
    reconcile(service, org_id, parent_id, "child_unlinked")


def head_assigned(service: Service, org_id: str, unit_id: str, user_id: str | None,
                  previous_user_id: str | None) -> None:
    Unit.update(head_user_id=user_id).where(Unit.unit_id == unit_id).execute()
    for person in filter(None, (previous_user_id, user_id)):
        if directory.is_member(org_id, person):
            reconcile(service, org_id, person, "class_head_changed")


def teacher_assigned(service: Service, org_id: str, unit_id: str, user_id: str, subject: str | None) -> None:
    """A subject teacher of the class: invited to its teachers' chat."""
    (TeachingAssignment.insert(org_id=org_id, unit_id=unit_id, user_id=user_id, subject=subject or "")
     .on_conflict(conflict_target=[TeachingAssignment.unit_id, TeachingAssignment.user_id],
                  update={TeachingAssignment.subject: subject or ""}).execute())
    if directory.is_member(org_id, user_id):
        reconcile(service, org_id, user_id, "teacher_assigned")


def teacher_unassigned(service: Service, org_id: str, unit_id: str, user_id: str) -> None:
    """No longer teaching the class: out of its teachers' chat."""
    TeachingAssignment.delete().where(TeachingAssignment.unit_id == unit_id,
                                      TeachingAssignment.user_id == user_id).execute()
    if directory.is_member(org_id, user_id):
        reconcile(service, org_id, user_id, "teacher_unassigned")
