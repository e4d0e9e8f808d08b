"""Who may do what with calls: plain functions of what calls knows about a
person (a `Standing`), testable without a database.

- direct: between the two members of a direct chat (messaging already
  decided who may talk one-to-one: a student only with staff and their own
  parents); the caller rings the other.
- group: any member of a chat starts one (in a channel, its moderators),
  and the chat's members join.
- lesson: a verified teacher or an admin plans it for a chat of a class or a
  group; the chat's members and the class's students join.
- meeting: an admin or the director plans it; the invitees and the chat's
  members join.
- broadcast: a verified teacher or an admin; the presenters send, everyone
  else of the audience (the chat's members, the invitees) only receives.

Planning calls (lessons, meetings, broadcasts) also needs the planner's
teacher status confirmed in the school when they are of its staff (seed 001
§4.8, §4.10: services.common.verification). A member blocked in a chat by
moderation starts no call there. Someone who
may not join a call does not see it (404), except the school's admins, who
see their school's calls (but direct ones, private as direct chats) and read
their attendance."""
from __future__ import annotations

from dataclasses import dataclass

from services.common import verification
from services.common.errors import Forbidden, NotFound, Unprocessable

KINDS = ("direct", "group", "lesson", "meeting", "broadcast")
PLANNED_KINDS = ("lesson", "meeting", "broadcast")
STAFF_ROLES = frozenset({"admin", "director", "deputy", "teacher"})


@dataclass(frozen=True)
class Standing:
    """One person as calls sees them, in one school and, where there is one,
    one chat and one call."""
    roles: frozenset = frozenset()
    verified_teacher: bool = False
    in_chat: bool = False
    chat_moderator: bool = False
    blocked: bool = False
    invited: bool = False
    presenter: bool = False
    in_class: bool = False
    host: bool = False

    @property
    def member(self) -> bool:
        return bool(self.roles)

    @property
    def admin(self) -> bool:
        return "admin" in self.roles


def field_error(field: str, message: str, code: str = "validation_error") -> Unprocessable:
    return Unprocessable("Some fields are not valid.", code=code, details={"fields": {field: [message]}})


def may_start(kind: str, standing: Standing, chat_kind: str | None, *, org_id: str, user_id: str) -> None:
    """Raises unless this person (`user_id` of `org_id`) may make a call of
    this kind (in this chat)."""
    if not standing.member:
        raise NotFound("No such organisation.")
    if chat_kind is not None and not (standing.in_chat or (standing.admin and kind in PLANNED_KINDS)):
        raise NotFound("No such chat.")
    if kind == "direct":
        if chat_kind != "direct":
            raise field_error("chat_id", "A direct call is made in a direct chat.")
    elif kind == "group":
        if chat_kind is None:
            raise field_error("chat_id", "A group call is made in a chat.")
        if chat_kind == "direct":
            raise field_error("kind", "A call in a direct chat is a direct call.")
        if chat_kind == "channel" and not standing.chat_moderator:
            raise Forbidden("Only the channel's administrators start calls in it.", code="channel_read_only")
    elif kind == "lesson":
        if chat_kind is None:
            raise field_error("chat_id", "A lesson is planned for a chat of a class or a group.")
        if not standing.roles & STAFF_ROLES:
            raise Forbidden("Lessons are planned by verified teachers and administrators.",
                            code="verified_teacher_required")
    elif kind == "meeting":
        if not (standing.admin or "director" in standing.roles):
            raise Forbidden("Meetings are planned by administrators and the director.")
    elif kind == "broadcast":
        if not standing.roles & STAFF_ROLES:
            raise Forbidden("Broadcasts are planned by verified teachers and administrators.",
                            code="verified_teacher_required")
    if chat_kind == "direct" and kind != "direct":
        raise field_error("kind", "A call in a direct chat is a direct call.")
    if kind in PLANNED_KINDS:
        verification.check(org_id, user_id, standing.roles, standing.verified_teacher, "plan calls")
    if standing.blocked:
        raise Forbidden("You are blocked in this chat for breaking its rules.", code="blocked")


def may_join(kind: str, standing: Standing) -> bool:
    return standing.member and (standing.host or standing.invited or standing.in_chat
                                or (kind == "lesson" and standing.in_class))


def sees(kind: str, standing: Standing) -> bool:
    """The call exists for those who may join it and for the school's admins,
    except a direct call: as a direct chat, it is its two people's alone."""
    return may_join(kind, standing) or (standing.admin and kind != "direct")


def participant_role(kind: str, standing: Standing) -> str:
    if standing.host:
        return "host"
    if kind == "broadcast":
        return "presenter" if standing.presenter else "viewer"
    return "participant"


def may_read_attendance(kind: str, standing: Standing) -> bool:
    return standing.member and (standing.host or (standing.admin and kind != "direct"))


def sends_media(role: str) -> bool:
    return role != "viewer"
