"""Files shared in chats. An upload has a size limit and must be of a kind a
school exchanges (documents, pictures, audio, video, archives, text), told by
its extension and confirmed by its content (`filetypes`); programs and web
pages are refused, whatever the client claims they are. A file is downloaded
by its uploader and by those who can see a message carrying it."""
from __future__ import annotations

import io
import uuid
from pathlib import PurePath
from typing import BinaryIO

from services.common.auth import Principal
from services.common.clock import isoformat
from services.common.errors import ApiError, NotFound, Unprocessable
from services.common import filetypes
from services.common.text import BadText, clean_name as clean_text_name

from . import chats, directory, messages
from .models import ChatMember, Message, MessageFile, StoredFile
from . import storage as stored_bytes
from .storage import FileStorage, TooLarge


class FileTooLarge(ApiError):
    status, code = 413, "file_too_large"


class UnsupportedType(ApiError):
    status, code = 415, "unsupported_file_type"


def _bad_name(message: str) -> Unprocessable:
    return Unprocessable("Some fields are not valid.", details={"fields": {"file": [message]}})


def clean_name(name: str) -> str:
    """Only the last path component, by the platform's rule for names (no
    control or invisible characters: a right-to-left override in the middle
    of "photogpj.exe" shows it as "photoexe.jpg"), at most 255 characters."""
    try:
        base = clean_text_name(PurePath(name.replace("\\", "/")).name)
    except BadText as error:
        raise _bad_name(f"The file's name: {error}") from None
    if not base or base in (".", ".."):
        raise _bad_name("The file has no name.")
    return base[-255:]


def refused(error: filetypes.Refused) -> UnsupportedType:
    return UnsupportedType(str(error), details={"allowed": filetypes.CONTENT_TYPES,
                                                "extensions": sorted(filetypes.KINDS)})


def too_large(max_bytes: int) -> FileTooLarge:
    return FileTooLarge(f"A file may be at most {_size(max_bytes)}.", details={"max_bytes": max_bytes})


def kind_of(name: str) -> filetypes.Kind:
    """The kind a file's (cleaned) name says it is; 415 for any other."""
    try:
        return filetypes.kind_of(PurePath(name).suffix)
    except filetypes.Refused as error:
        raise refused(error) from None


def new_storage_key() -> str:
    key_id = uuid.uuid4().hex
    return f"{key_id[:2]}/{key_id}"


def _read_head(stream: BinaryIO) -> bytes:
    parts, wanted = [], filetypes.HEAD_BYTES
    while wanted and (part := stream.read(wanted)):
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


def read_head(stream: BinaryIO) -> bytes:
    """The first bytes of a stream, those the content is told by."""
    return _read_head(stream)


def check_head(kind: filetypes.Kind, head: bytes) -> None:
    try:
        filetypes.check_head(kind, head)
    except filetypes.Refused as error:
        raise refused(error) from None


def upload(storage: FileStorage, user: Principal, name: str, stream: BinaryIO, max_bytes: int) -> StoredFile:
    name = clean_name(name)
    kind = kind_of(name)
    head = _read_head(stream)
    check_head(kind, head)
    key = new_storage_key()
    try:
        size, sha256 = storage.put(key, rejoined(head, stream, kind), max_bytes)
    except TooLarge:
        raise too_large(max_bytes) from None
    except filetypes.Refused as error:  # text that turned out not to be, further on
        raise refused(error) from None
    return StoredFile.create(uploader_id=user.id, name=name, content_type=kind.content_type, size=size,
                             sha256=sha256, storage_key=key)


def rejoined(head: bytes, rest: BinaryIO, kind: filetypes.Kind | None = None) -> BinaryIO:
    """The stream whole again after its head was read; a text kind's text is
    checked as it is read, up to its end (so not for a part of a file)."""
    return _Rejoined(head, rest, filetypes.TextCheck() if kind is not None and kind.text else None)


def check_stored(storage: FileStorage, key: str, kind: filetypes.Kind) -> None:
    """The stored file is of its kind: its head, and for text every byte of it."""
    check_head(kind, storage.read_head(key, filetypes.HEAD_BYTES))
    if kind.text:
        check = filetypes.TextCheck()
        try:
            for chunk in storage.iter_chunks(key):
                check.feed(chunk)
            check.end()
        except filetypes.Refused as error:
            raise refused(error) from None


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    if count < 1 << 20:
        return f"{round(count / 1024, 1):g} KiB"
    return f"{round(count / (1 << 20), 1):g} MiB"


class _Rejoined(io.RawIOBase):
    """The bytes already read for sniffing, then the rest of the stream; each
    shown to `text_check`, when there is one, as the storage reads it."""

    def __init__(self, head: bytes, rest: BinaryIO, text_check: filetypes.TextCheck | None = None):
        self._head, self._rest, self._check = head, rest, text_check

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            chunk = self._head if size < 0 else self._head[:size]
            self._head = self._head[len(chunk):]
        else:
            chunk = self._rest.read(size)
        if self._check is not None:
            if chunk:
                self._check.feed(chunk)
            else:
                self._check.end()
        return chunk

    def readinto(self, buffer) -> int:
        chunk = self.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)


def downloadable(user: Principal, file_id: str) -> StoredFile:
    stored = StoredFile.get_or_none(StoredFile.id == file_id)
    if stored is None:
        raise NotFound("No such file.")
    if stored.uploader_id == user.id:
        return stored
    seen = (MessageFile.select().join(Message)
            .join(ChatMember, on=(ChatMember.chat == Message.chat))
            .where(MessageFile.file == stored, Message.deleted_at.is_null(),
                   ChatMember.user_id == user.id, ChatMember.left_at.is_null(),
                   Message.held_at.is_null() | (ChatMember.role == "moderator")).exists())
    if not seen:
        raise NotFound("No such file.")
    return stored


def content(storage: FileStorage, stored: StoredFile):
    try:
        return storage.iter_chunks(stored.storage_key)
    except stored_bytes.NotFound:
        raise NotFound("The file's content is missing.") from None


def of_chat(user: Principal, chat_id: str):
    """A chat's materials: the files of its messages that the user sees,
    newest first (held messages' files for their authors and the moderators)."""
    chat, mine = chats.visible(user.id, chat_id)
    query = (MessageFile.select(MessageFile, Message, StoredFile).join(Message).switch(MessageFile).join(StoredFile)
             .where(Message.chat == chat, Message.deleted_at.is_null()))
    if mine.role != "moderator":
        query = query.where(Message.held_at.is_null() | (Message.author_id == user.id))
    return chat, query.order_by(Message.seq.desc(), MessageFile.position)


def listed(org_id: str, rows: list[MessageFile]) -> list[dict]:
    people = directory.people(org_id, [row.message.author_id for row in rows if row.message.author_id])
    return [{"id": row.file.id, "name": row.file.name, "size": row.file.size, "content_type": row.file.content_type,
             "created_at": row.file.created_at, "message_id": row.message.id,
             "posted_at": isoformat(row.message.created_at), "author": messages.author_of(row.message, people)}
            for row in rows]
