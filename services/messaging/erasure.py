"""Personal data (152-FZ) in messaging: what it holds of a person, for the
person (`GET /me/export/messaging`), and its erasure when identity publishes
`identity.user.erased`.

The person leaves every chat; their invitations, votes' link to them, files
no message carries and unfinished uploads go. Their messages stay where
they were, with their files, by «Удалённый пользователь»: a class's chat is
the record of its lessons, announcements and answers that others replied
to, and the members' history must not change under them; what pointed to
the person (the author's id and name) is gone, and within the grace period
the person deletes any message they want gone (the export lists them)."""
from __future__ import annotations

from services.common.clock import isoformat, utcnow
from services.common.ids import new_id
from services.common.service import Service

from . import chats, texts
from .models import (Block, Chat, ChatAdministrator, ChatInvitation, ChatLink, ChatMember, Message, MessageFile,
                     OrgMember, ParentLink, Person, Poll, PollOption, StoredFile, TeachingAssignment, Unit, Upload,
                     UploadPart, VerifiedTeacher, Vote)
from .storage import FileStorage


def _file(stored: StoredFile) -> dict:
    return {"id": stored.id, "name": stored.name, "size": stored.size, "content_type": stored.content_type,
            "uploaded_at": isoformat(stored.created_at), "download": f"/api/v1/files/{stored.id}"}


def export(user_id: str) -> dict:
    stays = (ChatMember.select(ChatMember, Chat).join(Chat).where(ChatMember.user_id == user_id)
             .order_by(ChatMember.joined_at))
    titles = {}
    written = list(Message.select(Message, Chat).join(Chat).where(Message.author_id == user_id)
                   .order_by(Message.created_at))
    attached: dict[str, list[str]] = {}
    for row in MessageFile.select().where(MessageFile.message.in_([m.id for m in written])):
        attached.setdefault(row.message_id, []).append(row.file_id)
    for message in written:
        titles[message.chat_id] = message.chat.title
    votes = (Vote.select(Vote, PollOption, Poll).join(PollOption).switch(Vote).join(Poll)
             .where(Vote.user_id == user_id).order_by(Vote.created_at))
    return {
        "chats": [{"chat_id": stay.chat_id, "title": stay.chat.title, "kind": stay.chat.kind, "role": stay.role,
                   "joined_at": isoformat(stay.joined_at), "joined_by": stay.joined_by,
                   "accepted_rules_version": stay.accepted_rules_version, "left_at": isoformat(stay.left_at),
                   "left_reason": stay.left_reason} for stay in stays],
        "messages": [{"id": m.id, "chat_id": m.chat_id, "chat_title": titles[m.chat_id], "kind": m.kind,
                      "text": m.text, "created_at": isoformat(m.created_at), "edited_at": isoformat(m.edited_at),
                      "deleted_at": isoformat(m.deleted_at), "file_ids": attached.get(m.id, [])} for m in written],
        "files": [_file(stored) for stored in StoredFile.select().where(StoredFile.uploader_id == user_id)
                  .order_by(StoredFile.created_at)],
        "votes": [{"poll_id": vote.poll_id, "question": vote.poll.question, "option": vote.option.text,
                   "at": isoformat(vote.created_at)} for vote in votes],
        "invitations": [{"chat_id": inv.chat_id, "status": inv.status, "at": isoformat(inv.created_at)}
                        for inv in ChatInvitation.select().where(ChatInvitation.user_id == user_id)],
    }


def erase(service: Service, storage: FileStorage, user_id: str) -> None:
    # Out of every chat, as when leaving one: its members see them go.
    for stay in ChatMember.select(ChatMember, Chat).join(Chat).where(ChatMember.user_id == user_id,
                                                                     ChatMember.left_at.is_null()):
        chats.remove(service, stay.chat, user_id, "erased")
    ChatMember.delete().where(ChatMember.user_id == user_id).execute()
    ChatInvitation.delete().where(ChatInvitation.user_id == user_id).execute()
    ChatInvitation.update(invited_by=None).where(ChatInvitation.invited_by == user_id).execute()
    ChatAdministrator.delete().where(ChatAdministrator.user_id == user_id).execute()
    ChatAdministrator.update(appointed_by="").where(ChatAdministrator.appointed_by == user_id).execute()
    ChatLink.update(created_by="").where(ChatLink.created_by == user_id).execute()
    # A direct chat's key names the pair; the other person keeps the chat and its history.
    Chat.update(direct_key=None).where(Chat.direct_key.contains(user_id)).execute()
    Chat.update(created_by=None).where(Chat.created_by == user_id).execute()

    now = utcnow()
    # Held messages were never seen by the chat: they go.
    (Message.update(deleted_at=now, delete_reason="author_erased")
     .where(Message.author_id == user_id, Message.held_at.is_null(False), Message.deleted_at.is_null()).execute())
    Message.update(author_id=None, author_erased=True).where(Message.author_id == user_id).execute()
    Message.update(deleted_by=None).where(Message.deleted_by == user_id).execute()
    # The platform's notices that named them (their apology, above all) no longer do.
    (Message.update(text=texts.NOTICE_ABOUT_ERASED, about_user_id=None)
     .where(Message.about_user_id == user_id).execute())
    Poll.update(created_by="").where(Poll.created_by == user_id).execute()
    # Votes still count, by no one: one new id per poll keeps "one vote per person" true.
    for poll_id in {vote.poll_id for vote in Vote.select(Vote.poll).where(Vote.user_id == user_id)}:
        Vote.update(user_id=new_id()).where(Vote.poll == poll_id, Vote.user_id == user_id).execute()

    # Files no message carries (drafts, an application's document) go; the others stay with their messages.
    carried = MessageFile.select(MessageFile.file)
    for stored in StoredFile.select().where(StoredFile.uploader_id == user_id, StoredFile.id.not_in(carried)):
        Upload.update(file=None).where(Upload.file == stored).execute()
        storage.delete(stored.storage_key)
        stored.delete_instance()
    StoredFile.update(uploader_id="").where(StoredFile.uploader_id == user_id).execute()
    for upload in Upload.select().where(Upload.uploader_id == user_id):
        if upload.status in ("open", "assembling"):
            storage.abort_parts(upload.storage_key, upload.storage_ref)
        UploadPart.delete().where(UploadPart.upload == upload).execute()
        upload.delete_instance()

    # What other services told us of them.
    Person.delete().where(Person.user_id == user_id).execute()
    OrgMember.delete().where(OrgMember.user_id == user_id).execute()
    ParentLink.delete().where((ParentLink.parent_id == user_id) | (ParentLink.child_id == user_id)).execute()
    VerifiedTeacher.delete().where(VerifiedTeacher.user_id == user_id).execute()
    TeachingAssignment.delete().where(TeachingAssignment.user_id == user_id).execute()
    Block.delete().where(Block.user_id == user_id).execute()
    Unit.update(head_user_id=None).where(Unit.head_user_id == user_id).execute()
    kit = service.outbox.kit
    kit.IdempotentRequest.delete().where(kit.IdempotentRequest.user_id == user_id).execute()
