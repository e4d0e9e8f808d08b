"""Chat administrators (regulation 2.2, seed 004 §2.2): besides the teacher who
runs a chat, the class head of the official class chats and the admins of the
school-wide chats, a director or an admin of the school appoints members of
its staff to moderate a chat. Consent still holds (2.3): a member of the chat
becomes its moderator at once; anyone else is invited as its moderator and
takes it up by joining."""
from __future__ import annotations

from services.common.auth import Principal
from services.common.db import lock_for_transaction
from services.common.errors import Forbidden, NotFound, Unprocessable
from services.common.service import Service

from . import chats, directory, official
from .models import Chat, ChatAdministrator, ChatInvitation, db

APPOINTING_ROLES = frozenset({"director", "admin"})


def _appointing(user: Principal, chat_id: str) -> Chat:
    """The chat, for a director or an admin of its school; for anyone else who
    is not in it, it does not exist."""
    chat = Chat.get_or_none(Chat.id == chat_id)
    roles = directory.roles(chat.org_id, user.id) if chat is not None else set()
    if chat is None or not roles:
        raise NotFound("No such chat.")
    if not roles & APPOINTING_ROLES:
        if chats.membership(chat.id, user.id) is None:
            raise NotFound("No such chat.")
        raise Forbidden("A director or an admin of the school appoints chat administrators.")
    directory.require_verified(chat.org_id, user.id, "moderate")
    chats.writable(chat)
    if chat.kind == "direct":
        raise Unprocessable("Direct chats have no moderators.", code="direct_chat")
    return chat


def appoint(service: Service, user: Principal, chat_id: str, user_id: str) -> dict:
    with db.atomic():
        chat = _appointing(user, chat_id)
        if not directory.is_staff(chat.org_id, user_id):
            raise Unprocessable("Chat administrators are appointed from the school's teachers.",
                                details={"fields": {"user_id": ["Not a teacher of this school."]}})
        lock_for_transaction(db, chats.member_lock(chat.org_id, user_id))
        ChatAdministrator.insert(chat=chat, user_id=user_id, appointed_by=user.id).on_conflict_ignore().execute()
        mine = chats.membership(chat.id, user_id)
        if mine is not None:
            chats.set_role(service, chat, mine, "moderator", reason="appointed", by=user.id)
            status = "moderator"
        else:
            chats.invite(service, chat, user.id, [user_id], role="moderator", reason="appointed")
            status = "invited"
    return {"chat_id": chat.id, "user_id": user_id, "status": status}


def dismiss(service: Service, user: Principal, chat_id: str, user_id: str) -> None:
    """The appointment ends: the person keeps moderating only if they do for
    another reason (they made the chat, head its class, administer the school)."""
    with db.atomic():
        chat = _appointing(user, chat_id)
        ended = ChatAdministrator.delete().where(ChatAdministrator.chat == chat,
                                                 ChatAdministrator.user_id == user_id).execute()
        if not ended:
            raise NotFound("This person is not an administrator of the chat.")
        if chat.official:
            official.reconcile(service, chat.org_id, user_id, "appointment_ended")
            return
        mine = chats.membership(chat.id, user_id)
        if mine is not None and chat.created_by != user_id:
            chats.set_role(service, chat, mine, "member", reason="appointment_ended", by=user.id)
        (ChatInvitation.update(status="withdrawn", reason="appointment_ended")
         .where(ChatInvitation.chat == chat, ChatInvitation.user_id == user_id,
                ChatInvitation.status == "pending", ChatInvitation.reason == "appointed").execute())
        (ChatInvitation.update(role="member")
         .where(ChatInvitation.chat == chat, ChatInvitation.user_id == user_id,
                ChatInvitation.status == "pending").execute())
