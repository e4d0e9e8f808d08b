"""Automatic flags, never automatic punishment (2.6, 2.8): every message
messaging publishes is screened (services.common.filters) and a flagged one
opens a report for the chat's moderators. A message messaging held back for
review opens one with messaging's own findings. Messages by the chat's
moderators are not screened: they are the ones who review."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.common.clock import parse_iso, utcnow
from services.common.db import ListsStatement
from services.common.filters import FLOODING, Filters, flood_window, is_flooding
from services.common.service import Service

from . import directory, reports
from .models import Chat, Message, Moderator, OrgMember, Report, db

# Every message of the platform passes here, a run of them at a time
# (EventHandlers.gathered): one statement stores them, one reads all that
# screening them needs.
_STORE = ListsStatement(db, f"""
    INSERT INTO {Message._meta.table_name} (message_id, chat_id, org_id, author_id, text, created_at, held)
    VALUES {{messages}}
    ON CONFLICT (message_id) DO UPDATE SET chat_id = excluded.chat_id, org_id = excluded.org_id,
        author_id = excluded.author_id, text = excluded.text, created_at = excluded.created_at,
        held = excluded.held""")
# The authors' messages in the flood windows (first: the last column's type is
# theirs), which authors moderate which chats (while still in the chat's
# school, as directory.moderates says), the flooding reports about them still
# open, and which of the chats moderation knows.
_SCREENING = ListsStatement(db, f"""
    SELECT 'message', m.chat_id, m.author_id, m.created_at FROM {Message._meta.table_name} m
     WHERE m.chat_id IN ({{chats}}) AND m.author_id IN ({{authors}}) AND m.created_at >= %s AND m.created_at <= %s
    UNION ALL
    SELECT 'moderator', d.chat_id, d.user_id, NULL FROM {Moderator._meta.table_name} d
      JOIN {Chat._meta.table_name} c ON c.chat_id = d.chat_id
      JOIN {OrgMember._meta.table_name} o ON o.user_id = d.user_id AND o.org_id = c.org_id
     WHERE d.chat_id IN ({{chats}}) AND d.user_id IN ({{authors}}) AND o.roles <> ''
    UNION ALL
    SELECT 'flooding', r.chat_id, r.author_id, NULL FROM {Report._meta.table_name} r
     WHERE r.chat_id IN ({{chats}}) AND r.author_id IN ({{authors}}) AND r.source = 'filter' AND r.status = 'open'
       AND r.flags LIKE '%%"{FLOODING}"%%'
    UNION ALL
    SELECT 'chat', c.chat_id, NULL, NULL FROM {Chat._meta.table_name} c WHERE c.chat_id IN ({{chats}})""")


@dataclass
class _Screening:
    """What screening a run of messages needs to know, read at once."""
    known_chats: set[str] = field(default_factory=set)
    moderating: set[tuple[str, str]] = field(default_factory=set)  # (chat, author)
    flooding_reported: set[tuple[str, str]] = field(default_factory=set)  # (chat, author)
    posted_at: dict[tuple[str, str], list[datetime]] = field(default_factory=dict)  # (chat, author) -> times

    def in_window(self, message: Message, since: datetime, until: datetime) -> int:
        return sum(1 for at in self.posted_at.get((message.chat_id, message.author_id), ()) if since <= at <= until)


def messages_posted(service: Service, filters: Filters, posted: list[dict]) -> None:
    """A run of messaging.message.created, in order."""
    by_id: dict[str, Message] = {}
    held_for: dict[str, dict] = {}  # messaging's findings about the messages it held
    for data in posted:  # a message delivered twice in one run: stored and screened once
        created_at = parse_iso(data["created_at"]) if data.get("created_at") else utcnow()
        by_id[data["message_id"]] = Message(
            message_id=data["message_id"], chat_id=data["chat_id"], org_id=data["org_id"],
            author_id=data["author_id"], text=data.get("text") or "", created_at=created_at,
            held=bool(data.get("held")))
        held_for[data["message_id"]] = dict(data.get("flags") or {})
    messages = list(by_id.values())
    _STORE.execute(messages=[(m.message_id, m.chat_id, m.org_id, m.author_id, m.text,
                              Message.created_at.db_value(m.created_at), Message.held.db_value(m.held))
                             for m in messages])
    windows = {m.message_id: flood_window(m.created_at, filters.flood_seconds) for m in messages}
    screening = _screening(messages, min(since for since, _ in windows.values()),
                           max(until for _, until in windows.values()))
    for message in messages:
        pair = (message.chat_id, message.author_id)
        if message.chat_id not in screening.known_chats or pair in screening.moderating:
            continue  # a chat not known yet, or a message of one of its moderators
        found = held_for[message.message_id] if message.held else _screen(filters, message)
        # One open flooding report per author and chat, not one per message of the burst.
        if (is_flooding(screening.in_window(message, *windows[message.message_id]), filters.flood_messages)
                and pair not in screening.flooding_reported):
            found[FLOODING] = [f"{filters.flood_messages} in {filters.flood_seconds} s"]
            screening.flooding_reported.add(pair)
        if found or message.held:
            reports.open_by_filter(service, Chat.get(Chat.chat_id == message.chat_id), message, found)


def _screening(messages: list[Message], since: datetime, until: datetime) -> _Screening:
    found = _Screening()
    rows = _SCREENING.execute(Message.created_at.db_value(since), Message.created_at.db_value(until),
                              chats=sorted({m.chat_id for m in messages}),
                              authors=sorted({m.author_id for m in messages})).fetchall()
    for kind, chat_id, user_id, created_at in rows:
        if kind == "message":
            found.posted_at.setdefault((chat_id, user_id), []).append(Message.created_at.python_value(created_at))
        elif kind == "moderator":
            found.moderating.add((chat_id, user_id))
        elif kind == "flooding":
            found.flooding_reported.add((chat_id, user_id))
        else:
            found.known_chats.add(chat_id)
    return found


def message_edited(service: Service, filters: Filters, data: dict) -> None:
    """An edited text is screened as a new one; one open flag per message is enough."""
    message = Message.get_or_none(Message.message_id == data["message_id"])
    if message is None:
        return
    message.text = data.get("text") or ""
    message.save()
    chat = Chat.get_or_none(Chat.chat_id == message.chat_id)
    if chat is None or directory.moderates(chat, message.author_id):
        return
    found = _screen(filters, message)
    if found and not Report.select().where(Report.message_id == message.message_id, Report.source == "filter",
                                           Report.status == "open").exists():
        reports.open_by_filter(service, chat, message, found)


def message_deleted(data: dict) -> None:
    Message.update(deleted_at=utcnow()).where(Message.message_id == data["message_id"],
                                              Message.deleted_at.is_null()).execute()


def _screen(filters: Filters, message: Message) -> dict:
    return filters.screen(message.text,
                          with_students=lambda: directory.has_students(message.chat_id, message.org_id))


def forget_old_texts(days: int) -> int:
    """Messages' texts are kept only as long as reports may still need them."""
    return (Message.update(text="").where(Message.created_at < utcnow() - timedelta(days=days),
                                          Message.text != "").execute())
