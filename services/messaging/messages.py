"""Messages in a chat: posting (text, files, a reply), editing and deleting by
the author, deleting by a moderator, history newest first, read state, and the
notices the platform itself posts."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from peewee import fn

from services.common.auth import Principal
from services.common.service import Service
from services.common.clock import isoformat, utcnow
from services.common.db import Statement
from services.common.errors import Forbidden, NotFound, Unprocessable
from services.common.filters import Filters
from services.common.ids import new_id

from . import chats, directory, events
from .models import (Block, Chat, ChatMember, Message, MessageFile, OrgMember, Person, Poll, StoredFile,
                     VerifiedTeacher, db)

MAX_TEXT = 4000
CURSOR = re.compile(r"[0-9]{1,18}")  # ASCII digits that fit a 64-bit integer
MAX_FILES = 10


def _files_of(message_ids: list[str]) -> dict[str, list[dict]]:
    attached: dict[str, list[dict]] = {}
    if not message_ids:
        return attached
    rows = (MessageFile.select(MessageFile, StoredFile).join(StoredFile)
            .where(MessageFile.message.in_(message_ids)).order_by(MessageFile.position))
    for row in rows:
        attached.setdefault(row.message_id, []).append(_file_shown(row.file))
    return attached


def _file_shown(stored: StoredFile) -> dict:
    return {"id": stored.id, "name": stored.name, "size": stored.size, "content_type": stored.content_type}


ERASED_AUTHOR = {"id": None, "display_name": directory.ERASED_NAME, "teacher_verified": False, "erased": True}


def author_of(m: Message, people: dict[str, dict]) -> dict | None:
    """A message's author as others see them; None for the platform's notices."""
    if m.author_erased:
        return dict(ERASED_AUTHOR)
    return people.get(m.author_id) if m.author_id else None


def _shown(m: Message, author: dict | None, files: list[dict]) -> dict:
    return {"id": m.id, "chat_id": m.chat_id, "seq": m.seq, "kind": m.kind, "author": author, "text": m.text,
            "reply_to": m.reply_to, "files": files, "poll_id": m.poll_id, "call_id": m.call_id,
            "created_at": isoformat(m.created_at), "edited_at": isoformat(m.edited_at),
            "held": m.held_at is not None}


def views(org_id: str, messages: list[Message]) -> list[dict]:
    """Messages as clients see them, with authors (name and badge) and files."""
    people = directory.people(org_id, [m.author_id for m in messages if m.author_id])
    files = _files_of([m.id for m in messages if m.kind == "text"])
    return [_shown(m, author_of(m, people), files.get(m.id, [])) for m in messages]


def view(chat: Chat, message: Message) -> dict:
    return views(chat.org_id, [message])[0]


def blocked_until(chat_id: str, user_id: str) -> datetime | None:
    block = Block.get_or_none(Block.chat_id == chat_id, Block.user_id == user_id)
    return block.until if block else None


def may_post(chat: Chat | _Poster, role: str, blocked: datetime | None) -> None:
    """Channels are read-only but for their moderators; a member blocked by
    moderation does not post until the block ends."""
    chats.writable(chat)
    if chat.kind == "channel" and role != "moderator":
        raise Forbidden("Only the channel's administrators post here.", code="channel_read_only")
    refuse_blocked(blocked)


def refuse_blocked(blocked: datetime | None) -> None:
    """A blocked member reads but does not post, vote or start anything in the chat."""
    if blocked is not None and blocked > utcnow():
        raise Forbidden("You are blocked in this chat for breaking its rules.", code="blocked",
                        details={"until": isoformat(blocked)})


# Posting is the platform's busiest request: its statements are written out
# (services.common.db.Statement) and it reads everything it checks in one query.
_POSTER = Statement(db, f"""
    SELECT c.org_id, c.kind, c.archived_at, m.role,
           (SELECT b.until FROM {Block._meta.table_name} b WHERE b.chat_id = m.chat_id AND b.user_id = m.user_id),
           p.display_name,
           (SELECT COUNT(*) FROM {VerifiedTeacher._meta.table_name} v
             WHERE v.org_id = c.org_id AND v.user_id = m.user_id),
           (SELECT {{agg_ids}}(o.user_id, ',') FROM {ChatMember._meta.table_name} o
             WHERE o.chat_id = c.id AND o.left_at IS NULL),
           c.hold_flagged,
           CASE WHEN c.hold_flagged THEN (SELECT r.roles FROM {OrgMember._meta.table_name} r
                                           WHERE r.org_id = c.org_id AND r.user_id = m.user_id) END
      FROM {ChatMember._meta.table_name} m
      JOIN {Chat._meta.table_name} c ON c.id = m.chat_id
      LEFT JOIN {Person._meta.table_name} p ON p.user_id = m.user_id
     WHERE m.chat_id = %s AND m.user_id = %s AND m.left_at IS NULL
     LIMIT 1""")
_NEXT_SEQ = Statement(db, f"""
    UPDATE {Chat._meta.table_name} SET last_seq = last_seq + 1, last_message_at = %s WHERE id = %s
    RETURNING last_seq""")
_INSERT_MESSAGE = Statement(db, f"""
    INSERT INTO {Message._meta.table_name} (id, chat_id, seq, kind, author_id, text, reply_to, created_at, held_at,
                                            flags)
    VALUES (%s, %s, %s, 'text', %s, %s, %s, %s, %s, %s)""")


@dataclass
class _Poster:
    """What posting needs to know about the chat and its author."""
    org_id: str
    kind: str
    archived_at: datetime | None
    role: str
    blocked_until: datetime | None
    author: dict
    member_ids: list[str]
    hold_flagged: bool
    roles: set[str]  # in the organisation; read only when the chat holds flagged messages

    @property
    def student(self) -> bool:
        return "student" in self.roles and not self.roles & directory.STAFF_ROLES


def _poster(user_id: str, chat_id: str) -> _Poster:
    row = _POSTER.execute(chat_id, user_id).fetchone()
    if row is None:
        raise NotFound("No such chat.")
    org_id, kind, archived_at, role, blocked_until, display_name, verified, members, hold, roles = row
    return _Poster(org_id, kind, Chat.archived_at.python_value(archived_at), role,
                   Block.until.python_value(blocked_until),
                   {"id": user_id, "display_name": display_name or "", "teacher_verified": bool(verified)},
                   members.split(",") if members else [], bool(hold), set(filter(None, (roles or "").split(","))))


def _next_seq(chat_id: str) -> int:
    """The chat row stays locked from here to the commit: messages of one chat
    get consecutive numbers, other chats are not held up. Callers take the
    number last, just before they write, to keep that lock short."""
    return _NEXT_SEQ.execute(utcnow(), chat_id).fetchone()[0]


def _attachable(user_id: str, file_ids: list[str]) -> list[StoredFile]:
    """Only one's own uploads are attached; someone else's file id is as unknown as a made-up one."""
    ids = list(dict.fromkeys(file_ids))
    found = {f.id: f for f in StoredFile.select().where(StoredFile.id.in_(ids), StoredFile.uploader_id == user_id)} \
        if ids else {}
    missing = [file_id for file_id in ids if file_id not in found]
    if missing:
        raise Unprocessable("Some fields are not valid.",
                            details={"fields": {"file_ids": [f"No such file: {file_id}" for file_id in missing]}})
    return [found[file_id] for file_id in ids]


def post(service: Service, user: Principal, chat_id: str, text: str, file_ids: list[str],
         reply_to: str | None, filters: Filters | None = None) -> dict:
    """A message, seen at once by the chat's members; or, when the chat holds
    students' flagged messages and the filters flag this one, only by its
    author and the chat's moderators until a moderator releases or removes it."""
    text = text.strip()
    if not text and not file_ids:
        raise Unprocessable("A message has text or files.", details={"fields": {"text": ["Empty message."]}})
    # Part of the caller's transaction when there is one (the Idempotency-Key's):
    # a savepoint would cost two round trips and undo nothing more.
    with db.transaction():
        poster = _poster(user.id, chat_id)
        may_post(poster, poster.role, poster.blocked_until)
        files = _attachable(user.id, file_ids) if file_ids else []
        if reply_to is not None and not Message.select().where(
                Message.id == reply_to, Message.chat == chat_id, Message.deleted_at.is_null(),
                Message.held_at.is_null()).exists():
            raise Unprocessable("Some fields are not valid.", details={"fields": {"reply_to": ["No such message here."]}})
        flags = filters.screen(text, with_students=lambda: True) if poster.hold_flagged and poster.student and filters else {}
        message_id, now = new_id(), utcnow()
        held_at, flag_names = (now, ",".join(sorted(flags))) if flags else (None, None)
        seq = _next_seq(chat_id)
        _INSERT_MESSAGE.execute(message_id, chat_id, seq, user.id, text, reply_to, now, held_at, flag_names)
        for position, stored in enumerate(files):
            MessageFile.insert(message=message_id, file=stored, position=position).execute()
        service.outbox.add(events.MESSAGE_CREATED, {
            "message_id": message_id, "chat_id": chat_id, "org_id": poster.org_id, "author_id": user.id,
            "text": text, "file_ids": [f.id for f in files], "reply_to": reply_to,
            "created_at": isoformat(now), "held": bool(flags), "flags": flags}, org_id=poster.org_id)
    written = Message(id=message_id, chat=chat_id, seq=seq, author_id=user.id, text=text, reply_to=reply_to,
                      created_at=now, held_at=held_at)
    shown = _shown(written, poster.author, [_file_shown(f) for f in files])
    service.push(_reviewers(chat_id, user.id) if flags else poster.member_ids, "message.created", shown)
    return shown


def _reviewers(chat_id: str, author_id: str | None) -> list[str]:
    """Who sees a held message: its author and the chat's moderators."""
    return chats.moderator_ids(chat_id) + ([author_id] if author_id else [])


def audience(chat_id: str, message: Message) -> list[str]:
    return chats.member_ids(chat_id) if message.held_at is None else _reviewers(chat_id, message.author_id)


def release(service: Service, message_id: str) -> bool:
    """A moderator found a held message fine: everyone sees it from now on."""
    message = Message.get_or_none(Message.id == message_id)
    if message is None or message.held_at is None or message.deleted_at is not None:
        return False
    seen = set(_reviewers(message.chat_id, message.author_id))
    message.held_at = None
    message.save()
    chat = message.chat
    service.push([uid for uid in chats.member_ids(chat.id) if uid not in seen], "message.created",
                 view(chat, message))
    service.push(seen, "message.updated", view(chat, message))
    return True


def post_notice(service: Service, chat: Chat, text: str, about: str | None = None,
                call_id: str | None = None) -> dict:
    """The platform speaks in a chat (a rules reminder, a call that started or
    was planned: then with the call, for its join button); `about` is the
    person the notice names, if it names one."""
    message = Message.create(chat=chat, seq=_next_seq(chat.id), kind="notice", author_id=None, text=text,
                             about_user_id=about, call_id=call_id)
    shown = view(chat, message)
    service.push(chats.member_ids(chat.id), "message.created", shown)
    return shown


def post_poll_message(chat: Chat, author_id: str, poll: Poll) -> Message:
    return Message.create(chat=chat, seq=_next_seq(chat.id), kind="poll", author_id=author_id,
                          text=poll.question, poll_id=poll.id)


def _visible_message(user: Principal, message_id: str) -> tuple[Message, Chat, ChatMember]:
    message = Message.get_or_none(Message.id == message_id)
    mine = chats.membership(message.chat_id, user.id) if message else None
    if message is None or mine is None or message.deleted_at is not None or (
            message.held_at is not None and message.author_id != user.id and mine.role != "moderator"):
        raise NotFound("No such message.")
    return message, message.chat, mine


def edit(service: Service, user: Principal, message_id: str, text: str) -> dict:
    text = text.strip()
    with db.atomic():
        message, chat, mine = _visible_message(user, message_id)
        if message.kind != "text":
            raise Forbidden("Polls and notices are not edited.", code="not_editable")
        if message.author_id != user.id:
            raise Forbidden("Only the author edits a message.")
        may_post(chat, mine.role, blocked_until(chat.id, user.id))
        if not text and not MessageFile.select().where(MessageFile.message == message).exists():
            raise Unprocessable("A message has text or files.", details={"fields": {"text": ["Empty message."]}})
        message.text, message.edited_at = text, utcnow()
        message.save()
        # Moderation's filters see an edited text as they see a new one.
        service.outbox.add(events.MESSAGE_UPDATED, {"message_id": message.id, "chat_id": chat.id, "org_id": chat.org_id,
                                            "author_id": user.id, "text": text}, org_id=chat.org_id)
        shown = view(chat, message)
        service.push(audience(chat.id, message), "message.updated", shown)
    return shown


def _delete(service: Service, chat: Chat, message: Message, by: str | None, reason: str) -> None:
    message.deleted_at, message.deleted_by, message.delete_reason = utcnow(), by, reason
    message.save()
    service.outbox.add(events.MESSAGE_DELETED, {"message_id": message.id, "chat_id": chat.id, "org_id": chat.org_id,
                                        "author_id": message.author_id, "by": by, "reason": reason},
               org_id=chat.org_id)
    service.push(audience(chat.id, message), "message.deleted",
                 {"id": message.id, "chat_id": chat.id, "seq": message.seq, "reason": reason})


def delete(service: Service, user: Principal, message_id: str) -> None:
    """The author deletes their own message. A moderator removes someone
    else's only through moderation, citing the chat's rule it breaks (2.8)."""
    with db.atomic():
        message, chat, mine = _visible_message(user, message_id)
        if message.author_id != user.id:
            if mine.role == "moderator":
                raise Forbidden("A moderator removes someone else's message through moderation, citing the "
                                "chat's rule it breaks: POST /messages/{id}/removal {rule, note}.",
                                code="removal_requires_rule")
            raise Forbidden("Only the author deletes a message.")
        _delete(service, chat, message, user.id, "author")


def remove_by_moderation(service: Service, message_id: str, rule: str | None, by: str | None) -> bool:
    message = Message.get_or_none(Message.id == message_id)
    if message is None or message.deleted_at is not None:
        return False
    _delete(service, message.chat, message, by, f"rule:{rule}" if rule else "moderation")
    return True


def history(user: Principal, chat_id: str, limit: int, cursor: str | None) -> dict:
    """Newest first; the cursor is the position of the last message returned."""
    chat, mine = chats.visible(user.id, chat_id)
    query = Message.select().where(Message.chat == chat, Message.deleted_at.is_null())
    if mine.role != "moderator":  # held messages: for their authors and the moderators
        query = query.where(Message.held_at.is_null() | (Message.author_id == user.id))
    if cursor:
        if not CURSOR.fullmatch(cursor):
            raise Unprocessable("The cursor is not valid.", details={"fields": {"cursor": ["Not valid."]}})
        query = query.where(Message.seq < int(cursor))
    rows = list(query.order_by(Message.seq.desc()).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    shown = views(chat.org_id, rows)
    if chat.kind == "channel" and mine.role == "moderator":
        marks = _read_marks(chat.id)
        for item, message in zip(shown, rows):
            item["read_count"] = read_count(marks, message.seq, message.author_id)
    return {"items": shown, "next_cursor": str(rows[-1].seq) if more else None}


# Who read a channel's post.

def _read_marks(chat_id: str) -> dict[str, int]:
    """Each active member's read mark: the last message they read."""
    return dict(ChatMember.select(ChatMember.user_id, ChatMember.last_read_seq)
                .where(ChatMember.chat == chat_id, ChatMember.left_at.is_null()).tuples())


def read_count(marks: dict[str, int], seq: int, author_id: str | None) -> int:
    """Members who read up to the post or further, its author not counted."""
    return sum(1 for user_id, last in marks.items() if last >= seq and user_id != author_id)


def reads(user: Principal, message_id: str) -> dict:
    """How many of a channel's members read a post, for the channel's
    administrators; who they were only in the staff channel, where the staff
    read the school's instructions (a student's or a parent's reading is
    theirs: it is counted, not named)."""
    message, chat, mine = _visible_message(user, message_id)
    if chat.kind != "channel":
        raise Unprocessable("Reads are counted for the posts of channels.", code="not_a_channel")
    if mine.role != "moderator":
        raise Forbidden("Only the channel's administrators see who read its posts.")
    marks = _read_marks(chat.id)
    readers = None
    if chat.purpose == "staff":
        ids = [uid for uid, last in marks.items() if last >= message.seq and uid != message.author_id]
        people = directory.people(chat.org_id, ids)
        readers = sorted(people.values(), key=lambda person: (person["display_name"], person["id"]))
    return {"message_id": message.id, "chat_id": chat.id, "read": read_count(marks, message.seq, message.author_id),
            "members": sum(1 for uid in marks if uid != message.author_id), "readers": readers}


def mark_read(user: Principal, chat_id: str, message_id: str) -> dict:
    with db.atomic():
        chat, mine = chats.visible(user.id, chat_id)
        message = Message.get_or_none(Message.id == message_id, Message.chat == chat)
        if message is None:
            raise Unprocessable("Some fields are not valid.", details={"fields": {"message_id": ["No such message here."]}})
        if message.seq > mine.last_read_seq:
            mine.last_read_seq = message.seq
            mine.save()
    return {"chat_id": chat.id, "last_read_seq": mine.last_read_seq, "unread_count": chats.unread_count(chat, mine)}


def chat_list(user_id: str, rows: list[tuple[Chat, ChatMember]]) -> list[dict]:
    """A page of my chats with unread counts and last messages, in a fixed number
    of queries whatever the page's size: opening the app asks for it."""
    unread = chats.unread_counts(user_id, [mine for _, mine in rows])
    chat_ids = [chat.id for chat, _ in rows]
    newest = (Message.select(Message.chat, fn.MAX(Message.seq))
              .where(Message.chat.in_(chat_ids), Message.deleted_at.is_null(), Message.held_at.is_null())
              .group_by(Message.chat)) if chat_ids else []
    last = {}
    if chat_ids:
        pairs = set(newest.tuples())
        latest = [m for m in Message.select().where(Message.chat.in_(chat_ids),
                                                    Message.seq.in_([seq for _chat, seq in pairs]))
                  if (m.chat_id, m.seq) in pairs]
        org_of = {chat.id: chat.org_id for chat, _ in rows}
        for org_id in set(org_of.values()):
            mine = [m for m in latest if org_of[m.chat_id] == org_id]
            last.update({shown["chat_id"]: shown for shown in views(org_id, mine)})
    return [dict(shown, unread_count=unread.get(chat.id, 0), last_message=last.get(chat.id))
            for shown, (chat, _) in zip(chats.views(rows), rows)]
