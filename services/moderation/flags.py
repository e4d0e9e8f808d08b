"""Automatic flags, never automatic punishment (2.6, 2.8): every message
messaging publishes is screened (services.common.filters) and a flagged one
opens a report for the chat's moderators. A message messaging held back for
review opens one with messaging's own findings. Messages by the chat's
moderators are not screened: they are the ones who review."""
from __future__ import annotations

from datetime import timedelta

from services.common.clock import parse_iso, utcnow
from services.common.filters import FLOODING, Filters, is_flooding
from services.common.service import Service

from . import directory, reports
from .models import Chat, Message, Report


def message_posted(service: Service, filters: Filters, data: dict) -> None:
    created_at = parse_iso(data["created_at"]) if data.get("created_at") else utcnow()
    values = {"chat_id": data["chat_id"], "org_id": data["org_id"], "author_id": data["author_id"],
              "text": data.get("text") or "", "created_at": created_at, "held": bool(data.get("held"))}
    Message.insert(message_id=data["message_id"], **values).on_conflict(
        conflict_target=[Message.message_id], update=values).execute()
    message = Message(message_id=data["message_id"], **values)  # as just stored: no need to read it back
    chat = Chat.get_or_none(Chat.chat_id == message.chat_id)
    if chat is None or directory.moderates(chat, message.author_id):
        return
    found = dict(data.get("flags") or {}) if message.held else _screen(filters, chat, message)
    if _flooding(filters, message):
        found[FLOODING] = [f"{filters.flood_messages} in {filters.flood_seconds} s"]
    if found or message.held:
        reports.open_by_filter(service, chat, message, found)


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
    found = _screen(filters, chat, message)
    if found and not Report.select().where(Report.message_id == message.message_id, Report.source == "filter",
                                           Report.status == "open").exists():
        reports.open_by_filter(service, chat, message, found)


def message_deleted(data: dict) -> None:
    Message.update(deleted_at=utcnow()).where(Message.message_id == data["message_id"],
                                              Message.deleted_at.is_null()).execute()


def _screen(filters: Filters, chat: Chat, message: Message) -> dict:
    return filters.screen(message.text, with_students=lambda: directory.has_students(chat.chat_id, chat.org_id))


def _flooding(filters: Filters, message: Message) -> bool:
    """Too many messages of one author in one chat in a short time; one open
    flooding report per author and chat, not one per message of the burst."""
    since = message.created_at - timedelta(seconds=filters.flood_seconds)
    times = [m.created_at for m in Message.select(Message.created_at).where(
        Message.chat_id == message.chat_id, Message.author_id == message.author_id,
        Message.created_at >= since, Message.created_at <= message.created_at)]
    if not is_flooding(times, filters.flood_messages, filters.flood_seconds):
        return False
    return not Report.select().where(Report.chat_id == message.chat_id, Report.author_id == message.author_id,
                                     Report.source == "filter", Report.status == "open",
                                     Report.flags.contains(f'"{FLOODING}"')).exists()


def forget_old_texts(days: int) -> int:
    """Messages' texts are kept only as long as reports may still need them."""
    return (Message.update(text="").where(Message.created_at < utcnow() - timedelta(days=days),
                                          Message.text != "").execute())
