"""Automatic flags, never automatic punishment (2.6, 2.8): every message
messaging publishes is screened (services.common.filters) and a flagged one
opens a report for the chat's moderators. A message messaging held back for
review opens one with messaging's own findings. Messages by the chat's
moderators are not screened: they are the ones who review."""
from __future__ import annotations

from datetime import timedelta

from services.common.clock import parse_iso, utcnow
from services.common.db import Statement
from services.common.filters import FLOODING, Filters, flood_window, is_flooding
from services.common.service import Service

from . import directory, reports
from .models import Chat, Message, Moderator, OrgMember, Report, db

# Every message of the platform passes here: the statements are written out
# (services.common.db.Statement), and one query reads all that screening needs.
_STORE = Statement(db, f"""
    INSERT INTO {Message._meta.table_name} (message_id, chat_id, org_id, author_id, text, created_at, held)
    VALUES (%s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (message_id) DO UPDATE SET chat_id = excluded.chat_id, org_id = excluded.org_id,
        author_id = excluded.author_id, text = excluded.text, created_at = excluded.created_at,
        held = excluded.held""")
# The chat, whether the author moderates it (while still in its school, as
# directory.moderates says), the author's messages in the flood window, and
# whether a flooding report about them is open already.
_SCREENING = Statement(db, f"""
    SELECT EXISTS (SELECT 1 FROM {Moderator._meta.table_name} d
                     JOIN {OrgMember._meta.table_name} o ON o.user_id = d.user_id AND o.org_id = c.org_id
                    WHERE d.chat_id = c.chat_id AND d.user_id = %s AND o.roles <> ''),
           (SELECT COUNT(*) FROM {Message._meta.table_name} m
             WHERE m.chat_id = c.chat_id AND m.author_id = %s AND m.created_at >= %s AND m.created_at <= %s),
           EXISTS (SELECT 1 FROM {Report._meta.table_name} r
                    WHERE r.author_id = %s AND r.chat_id = c.chat_id AND r.source = 'filter'
                      AND r.status = 'open' AND r.flags LIKE '%%"{FLOODING}"%%')
      FROM {Chat._meta.table_name} c
     WHERE c.chat_id = %s""")


def message_posted(service: Service, filters: Filters, data: dict) -> None:
    created_at = parse_iso(data["created_at"]) if data.get("created_at") else utcnow()
    message = Message(message_id=data["message_id"], chat_id=data["chat_id"], org_id=data["org_id"],
                      author_id=data["author_id"], text=data.get("text") or "", created_at=created_at,
                      held=bool(data.get("held")))
    _STORE.execute(message.message_id, message.chat_id, message.org_id, message.author_id, message.text,
                   Message.created_at.db_value(created_at), Message.held.db_value(message.held))
    since, until = flood_window(created_at, filters.flood_seconds)
    screening = _SCREENING.execute(message.author_id, message.author_id, Message.created_at.db_value(since),
                                   Message.created_at.db_value(until), message.author_id,
                                   message.chat_id).fetchone()
    if screening is None or screening[0]:
        return  # a chat not known yet, or a message of one of its moderators
    _moderates, in_window, flooding_reported = screening
    found = dict(data.get("flags") or {}) if message.held else _screen(filters, message)
    # One open flooding report per author and chat, not one per message of the burst.
    if is_flooding(in_window, filters.flood_messages) and not flooding_reported:
        found[FLOODING] = [f"{filters.flood_messages} in {filters.flood_seconds} s"]
    if found or message.held:
        reports.open_by_filter(service, Chat.get(Chat.chat_id == message.chat_id), message, found)


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
