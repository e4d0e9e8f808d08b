"""Chats and who is in them. Nobody is put into a chat without consent (rules
2.3 and 2.4): creating a chat with people, and the official chats, make
personal invitations; a user joins only by accepting one, or a moderator's
link, together with the chat's current rules version, which they were shown."""
from __future__ import annotations

import json
from datetime import datetime

from peewee import fn

from services.common import settling
from services.common.auth import Principal
from services.common.service import Service
from services.common.clock import isoformat, utcnow
from services.common.db import lock_for_transaction
from services.common.errors import ApiError, Conflict, Forbidden, NotFound, Unprocessable
from services.common.tokens import digest, new_token

from . import directory, events, texts
from .models import Chat, ChatAdministrator, ChatInvitation, ChatLink, ChatMember, Message, OpenReport, Org, db

CREATABLE_KINDS = ("group", "channel")
ORG_ROLES = ("admin", "director", "deputy", "teacher", "student", "parent")
AUDIENCES = ("students", "parents", "both")


class LinkGone(ApiError):
    status, code, message = 410, "link_not_usable", "This link has expired, was used up or was revoked."


# Reading a chat.

def rules_of(chat: Chat) -> list[str]:
    return json.loads(chat.rules)


def membership(chat_id: str, user_id: str) -> ChatMember | None:
    return (ChatMember.select().where(ChatMember.chat == chat_id, ChatMember.user_id == user_id,
                                      ChatMember.left_at.is_null()).first())


def member_ids(chat_id: str) -> list[str]:
    return [row.user_id for row in ChatMember.select(ChatMember.user_id)
            .where(ChatMember.chat == chat_id, ChatMember.left_at.is_null())]


def moderator_ids(chat_id: str) -> list[str]:
    return sorted(row.user_id for row in ChatMember.select(ChatMember.user_id).where(
        ChatMember.chat == chat_id, ChatMember.left_at.is_null(), ChatMember.role == "moderator"))


def visible(user_id: str, chat_id: str) -> tuple[Chat, ChatMember]:
    """A chat exists for its active members only; for anyone else it is 404."""
    mine = (ChatMember.select(ChatMember, Chat).join(Chat)
            .where(ChatMember.chat == chat_id, ChatMember.user_id == user_id, ChatMember.left_at.is_null())
            .first())
    if mine is None:
        raise NotFound("No such chat.")
    return mine.chat, mine


def moderated(user_id: str, chat_id: str) -> tuple[Chat, ChatMember]:
    chat, mine = visible(user_id, chat_id)
    if mine.role != "moderator":
        raise Forbidden("Only a moderator of this chat may do this.")
    return chat, mine


def writable(chat: Chat) -> None:
    if chat.archived_at is not None:
        raise Conflict("This chat is archived; it can be read but not changed.", code="chat_archived")


def member_counts(chat_ids: list[str]) -> dict[str, int]:
    rows = (ChatMember.select(ChatMember.chat, fn.COUNT(ChatMember.id).alias("members"))
            .where(ChatMember.chat.in_(chat_ids), ChatMember.left_at.is_null())
            .group_by(ChatMember.chat).tuples()) if chat_ids else []
    return dict(rows)


def open_report_counts(chat_ids: list[str]) -> dict[str, int]:
    rows = (OpenReport.select(OpenReport.chat_id, fn.COUNT(OpenReport.report_id))
            .where(OpenReport.chat_id.in_(chat_ids)).group_by(OpenReport.chat_id).tuples()) if chat_ids else []
    return dict(rows)


def views(rows: list[tuple[Chat, ChatMember | None]]) -> list[dict]:
    """Chats as their members see them, a page at a time in four queries."""
    counts = member_counts([chat.id for chat, _ in rows])
    reports = open_report_counts([chat.id for chat, mine in rows if mine is not None and mine.role == "moderator"])
    org_ids = list({chat.org_id for chat, _ in rows})
    orgs = {org.org_id: org for org in Org.select().where(Org.org_id.in_(org_ids))} if org_ids else {}
    shown = []
    for chat, mine in rows:
        org = orgs.get(chat.org_id)
        shown.append({
            "id": chat.id, "org_id": chat.org_id, "kind": chat.kind, "purpose": chat.purpose,
            "official": chat.official, "unit_id": chat.unit_id, "audience": chat.audience, "title": chat.title,
            "rules": rules_of(chat), "rules_version": chat.rules_version,
            "member_count": counts.get(chat.id, 0),
            "archived": chat.archived_at is not None, "created_at": isoformat(chat.created_at),
            "my_role": mine.role if mine else None,
            "hold_flagged": chat.hold_flagged,
            "description": chat.description,
            # The moderators' badge: reports waiting in moderation's queue.
            "open_reports": reports.get(chat.id, 0) if mine is not None and mine.role == "moderator" else None,
            # The organisation's electronic journal and diary, one tap from every chat.
            "org": {"name": org.name if org else "", "journal_url": org.journal_url if org else "",
                    "diary_url": org.diary_url if org else ""},
        })
    return shown


def view(chat: Chat, mine: ChatMember | None = None) -> dict:
    return views([(chat, mine)])[0]


def view_for(chat: Chat, user_id: str) -> dict:
    return view(chat, membership(chat.id, user_id))


def preview(chat: Chat) -> dict:
    """What someone is shown before joining: above all, the rules."""
    return {"id": chat.id, "org_id": chat.org_id, "kind": chat.kind, "official": chat.official,
            "purpose": chat.purpose, "unit_id": chat.unit_id, "title": chat.title, "rules": rules_of(chat), "rules_version": chat.rules_version,
            "member_count": ChatMember.select().where(ChatMember.chat == chat,
                                                      ChatMember.left_at.is_null()).count()}


def members(user: Principal, chat_id: str) -> list[dict]:
    chat, _ = visible(user.id, chat_id)
    rows = list(ChatMember.select().where(ChatMember.chat == chat, ChatMember.left_at.is_null())
                .order_by(ChatMember.joined_at))
    people = directory.people(chat.org_id, [row.user_id for row in rows])
    return [dict(people[row.user_id], user_id=row.user_id, role=row.role, joined_at=row.joined_at)
            for row in rows]


def _event_data(chat: Chat) -> dict:
    return {"chat_id": chat.id, "org_id": chat.org_id, "kind": chat.kind, "official": chat.official,
            "purpose": chat.purpose, "unit_id": chat.unit_id, "title": chat.title,
            "rules_version": chat.rules_version, "rules": rules_of(chat), "hold_flagged": chat.hold_flagged,
            "moderator_ids": moderator_ids(chat.id), "archived": chat.archived_at is not None}


def announce(service: Service, chat: Chat, created: bool = False) -> None:
    service.outbox.add(events.CHAT_CREATED if created else events.CHAT_UPDATED, _event_data(chat), org_id=chat.org_id)
    if not created:
        service.push(member_ids(chat.id), "chat.updated", view(chat))


# Creating chats.

def _valid_rules(rules: list[str]) -> list[str]:
    cleaned = [rule.strip() for rule in rules if rule.strip()]
    return cleaned or list(texts.DEFAULT_RULES)


def new_chat(org_id: str, kind: str, title: str, rules: list[str], *, purpose: str | None = None,
             unit_id: str | None = None, created_by: str | None = None, direct_key: str | None = None,
             audience: str | None = None) -> Chat:
    return Chat.create(org_id=org_id, kind=kind, purpose=purpose, unit_id=unit_id, title=title,
                       rules=json.dumps(_valid_rules(rules), ensure_ascii=False),
                       created_by=created_by, direct_key=direct_key, audience=audience)


def _no_such_unit(org_id: str, unit_id: str) -> Unprocessable:
    # Another school's class is as unknown as a made-up one.
    return Unprocessable("Some fields are not valid.", details={"fields": {"unit_id": ["No such class."]}},
                         lacking=[settling.unit(org_id, unit_id)])


def create(service: Service, user: Principal, org_id: str, kind: str, title: str, rules: list[str],
           invite_user_ids: list[str], unit_id: str | None = None, audience: str | None = None) -> Chat:
    """A teacher or an admin makes a group chat or a channel and moderates it;
    the people they name are invited, not added. With an audience, so are the
    class's students, or their parents, or both (a subject teacher's chat
    with a class in one step)."""
    roles = directory.roles(org_id, user.id)
    if not roles:
        raise NotFound("No such organisation.", lacking=[settling.member(org_id, user.id)])
    if not roles & directory.STAFF_ROLES:
        raise Forbidden("Teachers and administrators create chats.", lacking=[settling.standing(org_id, user.id)])
    directory.require_verified(org_id, user.id, "create chats")
    _check_invitees(org_id, user.id, invite_user_ids)
    if unit_id is not None and not directory.unit_in(org_id, unit_id):
        raise _no_such_unit(org_id, unit_id)
    audience_ids = []
    if audience is not None:
        if not directory.may_address_class(roles, directory.head_of(unit_id) == user.id,
                                           directory.teaches(unit_id, user.id)):
            raise Forbidden("A whole class is invited by its class head, its subject teachers and the school's "
                            "administration.", code="not_teaching_this_class",
                            lacking=[settling.standing(org_id, user.id)])
        audience_ids = [uid for uid in directory.audience_of(org_id, unit_id, audience) if uid != user.id]
    with db.atomic():
        chat = new_chat(org_id, kind, title, rules, unit_id=unit_id, created_by=user.id, audience=audience)
        join(service, chat, user.id, role="moderator", via="creator", announce_role=False)
        announce(service, chat, created=True)
        invite(service, chat, user.id, invite_user_ids + audience_ids)
    return chat


def _check_invitees(org_id: str, inviter_id: str, user_ids: list[str]) -> None:
    outsiders = [uid for uid in user_ids if not directory.is_member(org_id, uid)]
    if outsiders:
        # Never say whether those users exist elsewhere: they are simply not members here.
        raise Unprocessable("Only members of this organisation can be invited.",
                            details={"fields": {"invite_user_ids": [f"Not a member: {uid}" for uid in outsiders]}},
                            lacking=[settling.member(org_id, uid) for uid in outsiders])
    if inviter_id in user_ids:
        raise Unprocessable("Some fields are not valid.",
                            details={"fields": {"invite_user_ids": ["You are in the chat already."]}})


def may_talk_directly(org_id: str, user_id: str, other_id: str) -> bool:
    """Child safety: a student talks one-to-one only with the school's staff
    and with their own parents."""
    for student, other in ((user_id, other_id), (other_id, user_id)):
        student_roles = directory.roles(org_id, student)
        if "student" in student_roles and not student_roles & directory.STAFF_ROLES:
            if not (directory.is_staff(org_id, other) or directory.is_parent_of(org_id, other, student)):
                return False
    return True


def create_direct(service: Service, user: Principal, org_id: str, other_id: str) -> tuple[Chat, bool]:
    """One direct chat per pair in an organisation; the other person is invited."""
    if not directory.is_member(org_id, user.id):
        raise NotFound("No such organisation.", lacking=[settling.member(org_id, user.id)])
    if other_id == user.id or not directory.is_member(org_id, other_id):
        raise Unprocessable("Some fields are not valid.",
                            details={"fields": {"user_id": ["Not another member of this organisation."]}},
                            lacking=[settling.member(org_id, other_id)] if other_id != user.id else [])
    if not may_talk_directly(org_id, user.id, other_id):
        raise Forbidden("Students write directly only to the school's staff and to their parents.",
                        code="direct_chat_not_allowed",
                        lacking=[settling.standing(org_id, user.id), settling.standing(org_id, other_id)])
    directory.require_verified(org_id, user.id, "create chats")
    key = f"{org_id}:" + ":".join(sorted((user.id, other_id)))
    with db.atomic():
        chat = Chat.get_or_none(Chat.direct_key == key)
        created = chat is None
        if created:
            chat = new_chat(org_id, "direct", "", [], created_by=user.id, direct_key=key)
            announce(service, chat, created=True)
        if membership(chat.id, user.id) is None:
            join(service, chat, user.id, role="member", via="creator")
        if membership(chat.id, other_id) is None:
            invite(service, chat, user.id, [other_id])
    return chat, created


def update(service: Service, user: Principal, chat_id: str, changes: dict) -> Chat:
    """A moderator renames the chat, changes its rules (new rules get a new
    version, which whoever joins from now on accepts) or whether students'
    flagged messages wait for review."""
    with db.atomic():
        chat, _ = moderated(user.id, chat_id)
        directory.require_verified(chat.org_id, user.id, "moderate")
        writable(chat)
        if "title" in changes and changes["title"] != chat.title:
            if chat.official or chat.kind == "direct":
                raise Unprocessable("The title of this chat is set by the platform.", code="title_fixed")
            chat.title = changes["title"]
        if "rules" in changes:
            rules = _valid_rules(changes["rules"])
            if rules != rules_of(chat):
                chat.rules = json.dumps(rules, ensure_ascii=False)
                chat.rules_version += 1
        if "hold_flagged" in changes:
            if chat.kind == "direct":
                raise Unprocessable("Direct chats have no moderators to review messages.", code="direct_chat")
            chat.hold_flagged = changes["hold_flagged"]
        chat.save()
        announce(service, chat)
    return chat


# Invitations.

def invitation_view(invitation: ChatInvitation) -> dict:
    chat = invitation.chat
    inviter = (directory.people(chat.org_id, [invitation.invited_by])[invitation.invited_by]
               if invitation.invited_by else None)
    return {"id": invitation.id, "chat": preview(chat), "invited_by": inviter, "role": invitation.role,
            "status": invitation.status, "created_at": isoformat(invitation.created_at)}


def invite(service: Service, chat: Chat, invited_by: str | None, user_ids: list[str], role: str = "member",
           reason: str | None = None) -> list[ChatInvitation]:
    made = []
    for user_id in dict.fromkeys(user_ids):
        if membership(chat.id, user_id) is not None:
            continue
        pending = pending_invitation(chat.id, user_id)
        if pending is not None:
            if pending.role != role:
                pending.role = role
                pending.save()
            continue
        invitation = ChatInvitation.create(chat=chat, user_id=user_id, invited_by=invited_by, role=role,
                                           reason=reason)
        service.push([user_id], "chat.invitation", invitation_view(invitation))
        made.append(invitation)
    return made


def pending_invitation(chat_id: str, user_id: str) -> ChatInvitation | None:
    return (ChatInvitation.select().where(ChatInvitation.chat == chat_id, ChatInvitation.user_id == user_id,
                                          ChatInvitation.status == "pending").first())


def withdraw(chat_ids: list[str], user_id: str, reason: str) -> int:
    if not chat_ids:
        return 0
    return (ChatInvitation.update(status="withdrawn", reason=reason, decided_at=utcnow())
            .where(ChatInvitation.chat.in_(chat_ids), ChatInvitation.user_id == user_id,
                   ChatInvitation.status == "pending").execute())


def my_invitations(user_id: str, org_id: str | None = None):
    query = (ChatInvitation.select().join(Chat)
             .where(ChatInvitation.user_id == user_id, ChatInvitation.status == "pending",
                    Chat.archived_at.is_null())
             .order_by(ChatInvitation.created_at.desc()))
    return query.where(Chat.org_id == org_id) if org_id else query


def _mine(user: Principal, invitation_id: str) -> ChatInvitation:
    invitation = ChatInvitation.get_or_none(ChatInvitation.id == invitation_id,
                                            ChatInvitation.user_id == user.id)
    if invitation is None or invitation.status != "pending" or invitation.chat.archived_at is not None:
        raise NotFound("No such invitation.")
    return invitation


def _check_rules(chat: Chat, accepted_version: int) -> None:
    if accepted_version != chat.rules_version:
        raise Conflict("The chat's rules have changed; read them and accept the current version.",
                       code="rules_changed",
                       details={"rules_version": chat.rules_version, "rules": rules_of(chat)})


def accept_invitation(service: Service, user: Principal, invitation_id: str, accepted_rules_version: int) -> Chat:
    with db.atomic():
        invitation = _mine(user, invitation_id)
        chat = invitation.chat
        if not directory.is_member(chat.org_id, user.id):
            raise NotFound("No such invitation.", lacking=[settling.member(chat.org_id, user.id)])
        _check_rules(chat, accepted_rules_version)
        join(service, chat, user.id, role=invitation.role, via="invitation")
    return chat


def decline_invitation(user: Principal, invitation_id: str) -> None:
    with db.atomic():
        invitation = _mine(user, invitation_id)
        invitation.status, invitation.decided_at = "declined", utcnow()
        invitation.save()


# Links.

def create_link(user: Principal, chat_id: str, roles: list[str], expires_at: datetime | None,
                max_uses: int | None, unit_id: str | None = None) -> tuple[ChatLink, str]:
    """A join link; with `unit_id`, for the people of that class or group only."""
    chat, _ = moderated(user.id, chat_id)
    writable(chat)
    if chat.kind == "direct":
        raise Unprocessable("Direct chats have no join links.", code="direct_chat")
    directory.require_verified(chat.org_id, user.id, "create chat links")
    if expires_at is not None and expires_at <= utcnow():
        raise Unprocessable("Some fields are not valid.", details={"fields": {"expires_at": ["Must be in the future."]}})
    if unit_id is not None and not directory.unit_in(chat.org_id, unit_id):
        raise _no_such_unit(chat.org_id, unit_id)
    token = new_token()
    link = ChatLink.create(chat=chat, token_hash=digest(token), roles=",".join(sorted(set(roles))),
                           unit_id=unit_id, expires_at=expires_at, max_uses=max_uses, created_by=user.id)
    return link, token


def _link_for(user: Principal, token: str) -> ChatLink:
    """Only members of the chat's organisation can use, or even see, a link."""
    link = ChatLink.get_or_none(ChatLink.token_hash == digest(token))
    if link is None:
        raise NotFound("No such link.")
    if not directory.is_member(link.chat.org_id, user.id):
        raise NotFound("No such link.", lacking=[settling.member(link.chat.org_id, user.id)])
    return link


def _usable(link: ChatLink) -> bool:
    return (link.revoked_at is None and link.chat.archived_at is None
            and (link.expires_at is None or link.expires_at > utcnow())
            and (link.max_uses is None or link.uses < link.max_uses))


def preview_link(user: Principal, token: str) -> dict:
    link = _link_for(user, token)
    if not _usable(link):
        raise LinkGone()
    return dict(preview(link.chat), already_member=membership(link.chat_id, user.id) is not None)


def accept_link(service: Service, user: Principal, token: str, accepted_rules_version: int) -> Chat:
    with db.atomic():
        link = _link_for(user, token)
        chat = link.chat
        if membership(chat.id, user.id) is not None:
            return chat
        if not _usable(link):
            raise LinkGone()
        wanted = set(filter(None, link.roles.split(",")))
        if wanted and not wanted & directory.roles(chat.org_id, user.id):
            raise Forbidden("This link is for other roles of the organisation.", code="role_not_invited",
                            lacking=[settling.standing(chat.org_id, user.id)])
        if link.unit_id is not None and not directory.in_unit(chat.org_id, link.unit_id, user.id):
            raise Forbidden("This link is for the people of another class.", code="not_in_this_class",
                            lacking=[settling.standing(chat.org_id, user.id)])
        _check_rules(chat, accepted_rules_version)
        used = (ChatLink.update(uses=ChatLink.uses + 1)
                .where(ChatLink.id == link.id,
                       (ChatLink.max_uses.is_null()) | (ChatLink.uses < ChatLink.max_uses)).execute())
        if not used:
            raise LinkGone()
        join(service, chat, user.id, role="member", via="link")
    return chat


def revoke_link(user: Principal, chat_id: str, link_id: str) -> None:
    chat, _ = moderated(user.id, chat_id)
    link = ChatLink.get_or_none(ChatLink.id == link_id, ChatLink.chat == chat)
    if link is None:
        raise NotFound("No such link.")
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        link.save()


# Joining and leaving.

def join(service: Service, chat: Chat, user_id: str, *, role: str, via: str,
         announce_role: bool = True) -> ChatMember:
    """The user is in the chat from now on, having accepted its current rules.
    Only while they are a member of the chat's organisation: the lock makes an
    expulsion or a dismissal being handled at this moment either see this
    membership (and end it) or be seen here (and refuse it)."""
    lock_for_transaction(db, member_lock(chat.org_id, user_id))
    if not directory.is_member(chat.org_id, user_id):
        raise NotFound("No such chat.", lacking=[settling.member(chat.org_id, user_id)])
    mine = membership(chat.id, user_id)
    if mine is not None:
        return mine
    mine = ChatMember.create(chat=chat, user_id=user_id, role=role, accepted_rules_version=chat.rules_version,
                             joined_by=via, last_read_seq=chat.last_seq)
    (ChatInvitation.update(status="accepted", decided_at=utcnow())
     .where(ChatInvitation.chat == chat, ChatInvitation.user_id == user_id, ChatInvitation.status == "pending")
     .execute())
    service.outbox.add(events.CHAT_MEMBER_JOINED, {"chat_id": chat.id, "org_id": chat.org_id, "user_id": user_id,
                                           "role": role, "reason": via}, org_id=chat.org_id)
    service.announce(settling.chat_member(chat.id, user_id))
    person = directory.people(chat.org_id, [user_id])[user_id]
    service.push(member_ids(chat.id), "chat.member.joined", {"chat_id": chat.id, "user": person, "role": role})
    if role == "moderator":
        moderator_changed(service, chat, user_id, True, reason=via)
        if announce_role:
            announce(service, chat)
    return mine


def member_lock(org_id: str, user_id: str) -> str:
    return f"org-member:{org_id}:{user_id}"


def moderator_changed(service: Service, chat: Chat, user_id: str, added: bool, *, reason: str,
                      by: str | None = None) -> None:
    """Who moderates a chat is moderation's business too: every change is published."""
    service.outbox.add(events.CHAT_MODERATOR_ADDED if added else events.CHAT_MODERATOR_REMOVED,
                       {"chat_id": chat.id, "org_id": chat.org_id, "user_id": user_id, "by": by, "reason": reason},
                       org_id=chat.org_id)


def set_role(service: Service, chat: Chat, mine: ChatMember, role: str, *, reason: str,
             by: str | None = None) -> None:
    if mine.role == role:
        return
    mine.role = role
    mine.save()
    moderator_changed(service, chat, mine.user_id, role == "moderator", reason=reason, by=by)
    announce(service, chat)
    service.announce(settling.chat_member(chat.id, mine.user_id))


def remove(service: Service, chat: Chat, user_id: str, reason: str, by: str | None = None) -> bool:
    """The user's stay in the chat ends, with the reason recorded and published."""
    withdraw([chat.id], user_id, reason)
    mine = membership(chat.id, user_id)
    if mine is None:
        return False
    mine.left_at, mine.left_reason = utcnow(), reason
    mine.save()
    service.withdraw(settling.chat_member(chat.id, user_id))
    service.outbox.add(events.CHAT_MEMBER_REMOVED, {"chat_id": chat.id, "org_id": chat.org_id, "user_id": user_id,
                                            "reason": reason, "by": by}, org_id=chat.org_id)
    service.push(member_ids(chat.id) + [user_id], "chat.member.removed",
         {"chat_id": chat.id, "user_id": user_id, "reason": reason})
    if mine.role == "moderator":
        moderator_changed(service, chat, user_id, False, reason=reason, by=by)
        announce(service, chat)
    return True


def leave(service: Service, user: Principal, chat_id: str) -> None:
    with db.atomic():
        chat, _ = visible(user.id, chat_id)
        remove(service, chat, user.id, "left", by=user.id)


def remove_from_organisation(service: Service, org_id: str, user_id: str, reason: str) -> int:
    """Every chat of the organisation, official or not, direct ones included."""
    chats = list(Chat.select().join(ChatMember).where(
        Chat.org_id == org_id, ChatMember.user_id == user_id, ChatMember.left_at.is_null()))
    removed = sum(remove(service, chat, user_id, reason) for chat in chats)
    org_chats = [chat.id for chat in Chat.select(Chat.id).where(Chat.org_id == org_id)]
    withdraw(org_chats, user_id, reason)
    if org_chats:
        ChatAdministrator.delete().where(ChatAdministrator.chat.in_(org_chats),
                                         ChatAdministrator.user_id == user_id).execute()
    return removed


# My chats.

def my_chats(user_id: str) -> list[tuple[Chat, ChatMember]]:
    rows = (ChatMember.select(ChatMember, Chat).join(Chat)
            .where(ChatMember.user_id == user_id, ChatMember.left_at.is_null())
            .order_by(Chat.last_message_at.desc(nulls="last"), Chat.created_at.desc()))
    return [(row.chat, row) for row in rows]


def unread_counts(user_id: str, stays: list[ChatMember]) -> dict[str, int]:
    """Others' messages after each chat's read mark, for a page of chats in one query."""
    if not stays:
        return {}
    rows = (Message.select(Message.chat, fn.COUNT(Message.id))
            .join(ChatMember, on=(ChatMember.chat == Message.chat))
            .where(ChatMember.id.in_([stay.id for stay in stays]), Message.seq > ChatMember.last_read_seq,
                   Message.deleted_at.is_null(), Message.held_at.is_null(),
                   Message.author_id.is_null() | (Message.author_id != user_id))
            .group_by(Message.chat).tuples())
    return dict(rows)


def unread_count(chat: Chat, mine: ChatMember) -> int:
    return unread_counts(mine.user_id, [mine]).get(chat.id, 0)
