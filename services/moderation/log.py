"""The moderation log (2.8: no action without a rule): every action with who
took it, whom it concerns, which rules with their texts at that moment, when
and why. Entries are only ever added; nothing here, nor anywhere else,
changes or removes one, and the database refuses to (migration 0002).

People are named in it by pseudonyms (`LogPerson`), and what a person wrote
there (a moderator's note, an apology, an objection) is sealed with that
person's own key. Erasing a person's data (152-FZ) drops their pseudonym and
key: the entries stay, append-only, but no longer lead to the person, who
appears as «Удалённый пользователь», and their words can no longer be read;
what was done, under which rule and when stays on record."""
from __future__ import annotations

import base64
import csv
import io
import json
import os
import secrets
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.common.clock import isoformat
from services.common.ids import new_id

from . import directory
from .models import Chat, LogEntry, LogPerson

SEALED = "sealed:1:"
ERASED = {"id": None, "display_name": "Удалённый пользователь", "erased": True}

ACTIONS = (
    "violation_recorded", "message_removed", "member_blocked", "member_unblocked", "block_expired",
    "block_lifted", "appeal_filed", "appeal_upheld", "report_dismissed", "rules_reminded",
    "unblock_requested", "objection_filed", "report_closed", "block_closed", "unblock_request_closed",
    "appeal_closed",
)
CSV_COLUMNS = ("at", "action", "chat_id", "chat_title", "actor_id", "actor_name", "subject_id", "subject_name",
               "rules", "note", "refs")


def person(user_id: str) -> LogPerson:
    """The person's pseudonym and key, made the first time the log names them."""
    LogPerson.insert(user_id=user_id, pseudonym=new_id(), key=secrets.token_hex(32)).on_conflict_ignore().execute()
    return LogPerson.get_by_id(user_id)


def pseudonym_of(user_id: str) -> str | None:
    """How the log names the person; None if it never has (or they were erased)."""
    found = LogPerson.get_or_none(LogPerson.user_id == user_id)
    return found.pseudonym if found else None


def forget(user_id: str) -> None:
    """The person's data is erased: their entries no longer lead to them."""
    LogPerson.delete().where(LogPerson.user_id == user_id).execute()


def seal(note: str, key: str) -> str:
    """AES-GCM under the writer's key; only an empty note stays as it is."""
    if not note:
        return note
    nonce = os.urandom(12)
    sealed = AESGCM(bytes.fromhex(key)).encrypt(nonce, note.encode(), None)
    return SEALED + base64.b64encode(nonce + sealed).decode()


def unseal(note: str, key: str | None) -> str:
    """The note as written; "" when its writer's key is gone. Notes of the
    platform and those written before notes were sealed read as they are."""
    if not note.startswith(SEALED):
        return note
    if key is None:
        return ""
    raw = base64.b64decode(note[len(SEALED):])
    try:
        return AESGCM(bytes.fromhex(key)).decrypt(raw[:12], raw[12:], None).decode()
    except InvalidTag:
        return ""


def write(*, org_id: str, chat_id: str | None, action: str, actor_id: str | None, subject_id: str | None = None,
          rules: list[dict] | None = None, note: str = "", **refs) -> LogEntry:
    if action not in ACTIONS:
        raise ValueError(f"not a moderation action: {action!r}")
    actor = person(actor_id) if actor_id else None
    subject = person(subject_id) if subject_id else None
    return LogEntry.create(org_id=org_id, chat_id=chat_id, action=action,
                           actor_id=actor.pseudonym if actor else None,
                           subject_id=subject.pseudonym if subject else None,
                           rules=json.dumps(rules or [], ensure_ascii=False),
                           note=seal(note, actor.key) if actor else note,
                           refs=json.dumps({key: value for key, value in refs.items() if value is not None}))


def of_chat(chat: Chat):
    return (LogEntry.select().where(LogEntry.chat_id == chat.chat_id)
            .order_by(LogEntry.created_at.desc(), LogEntry.id.desc()))


def of_org(org_id: str, start: datetime | None, end: datetime | None, moderator_id: str | None):
    query = LogEntry.select().where(LogEntry.org_id == org_id)
    if start is not None:
        query = query.where(LogEntry.created_at >= start)
    if end is not None:
        query = query.where(LogEntry.created_at < end)
    if moderator_id:
        query = query.where(LogEntry.actor_id == pseudonym_of(moderator_id))
    return query.order_by(LogEntry.created_at.desc(), LogEntry.id.desc())


def views(entries: list[LogEntry]) -> list[dict]:
    named = {p for e in entries for p in (e.actor_id, e.subject_id) if p}
    people = {row.pseudonym: row for row in LogPerson.select().where(LogPerson.pseudonym.in_(list(named)))} \
        if named else {}
    names = directory.people([row.user_id for row in people.values()])

    def shown(pseudonym: str | None) -> dict | None:
        if pseudonym is None:
            return None
        return names[people[pseudonym].user_id] if pseudonym in people else dict(ERASED)

    chat_ids = list({e.chat_id for e in entries if e.chat_id})
    titles = {c.chat_id: c.title for c in Chat.select(Chat.chat_id, Chat.title).where(Chat.chat_id.in_(chat_ids))} \
        if chat_ids else {}
    return [{"id": e.id, "at": isoformat(e.created_at), "action": e.action, "org_id": e.org_id,
             "chat_id": e.chat_id, "chat_title": titles.get(e.chat_id, ""),
             "actor": shown(e.actor_id), "subject": shown(e.subject_id), "rules": json.loads(e.rules),
             "note": unseal(e.note, people[e.actor_id].key if e.actor_id in people else None),
             "refs": json.loads(e.refs)} for e in entries]


def _cell(value: str) -> str:
    """Spreadsheets run a cell that starts like a formula: never ours."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def as_csv(entries: list[LogEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for shown in views(entries):
        actor, subject = shown["actor"] or {}, shown["subject"] or {}
        row = [shown["at"], shown["action"], shown["chat_id"] or "", shown["chat_title"], actor.get("id") or "",
               actor.get("display_name", ""), subject.get("id") or "", subject.get("display_name", ""),
               "; ".join(f"{rule['number']}. {rule['text']}" for rule in shown["rules"]), shown["note"],
               json.dumps(shown["refs"], ensure_ascii=False) if shown["refs"] else ""]
        writer.writerow([_cell(str(value)) for value in row])
    # A byte-order mark: spreadsheets then read the Cyrillic as UTF-8.
    return "\ufeff" + out.getvalue()
