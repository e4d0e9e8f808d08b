"""Files shared in chats. An upload has a size limit and must be of a kind a
school exchanges (documents, pictures, audio, video, archives); programs and
web pages are refused, whatever the client claims they are. A file is
downloaded by its uploader and by those who can see a message carrying it."""
from __future__ import annotations

import io
import mimetypes
import uuid
from pathlib import PurePath
from urllib.parse import quote
from typing import BinaryIO

from services.common.auth import Principal
from services.common.errors import ApiError, NotFound, Unprocessable

from .models import ChatMember, Message, MessageFile, StoredFile
from . import storage as stored_bytes
from .storage import FileStorage, TooLarge

# The type is decided from the name's extension (what the user's device will
# open it with), and for the kinds that have one, the content's signature must agree.
ALLOWED_TYPES = {
    "application/pdf": (b"%PDF",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "image/heic": (),
    "text/plain": (),
    "text/csv": (),
    "application/rtf": (b"{\\rtf",),
    "application/msword": (b"\xd0\xcf\x11\xe0",),
    "application/vnd.ms-excel": (b"\xd0\xcf\x11\xe0",),
    "application/vnd.ms-powerpoint": (b"\xd0\xcf\x11\xe0",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (b"PK\x03\x04",),
    "application/vnd.oasis.opendocument.text": (b"PK\x03\x04",),
    "application/vnd.oasis.opendocument.spreadsheet": (b"PK\x03\x04",),
    "application/vnd.oasis.opendocument.presentation": (b"PK\x03\x04",),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "audio/mpeg": (),
    "audio/ogg": (b"OggS",),
    "audio/mp4": (),
    "video/mp4": (),
    "video/webm": (b"\x1a\x45\xdf\xa3",),
    "video/quicktime": (),
}
# Executables and scripts are refused even under an innocent name.
FORBIDDEN_SIGNATURES = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")
EXTRA_TYPES = {".heic": "image/heic", ".m4a": "audio/mp4", ".webp": "image/webp", ".csv": "text/csv"}
SNIFF_BYTES = 16


class FileTooLarge(ApiError):
    status, code = 413, "file_too_large"


class UnsupportedType(ApiError):
    status, code = 415, "unsupported_file_type"


def clean_name(name: str) -> str:
    """Only the last path component, without control characters, at most 255 characters."""
    base = PurePath(name.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    if not base or base in (".", ".."):
        raise Unprocessable("Some fields are not valid.", details={"fields": {"file": ["The file has no name."]}})
    return base[-255:]


def content_type_of(name: str, head: bytes) -> str:
    extension = PurePath(name).suffix.lower()
    content_type = EXTRA_TYPES.get(extension) or mimetypes.guess_type(name, strict=False)[0]
    if content_type not in ALLOWED_TYPES:
        raise UnsupportedType("Files of this kind cannot be shared here.",
                              details={"allowed": sorted(ALLOWED_TYPES)})
    if head.startswith(FORBIDDEN_SIGNATURES):
        raise UnsupportedType("Programs and scripts cannot be shared here.")
    signatures = ALLOWED_TYPES[content_type]
    if signatures and head and not head.startswith(signatures):
        raise UnsupportedType("The file's content does not match its name.")
    return content_type


def upload(storage: FileStorage, user: Principal, name: str, stream: BinaryIO, max_bytes: int) -> StoredFile:
    name = clean_name(name)
    head = stream.read(SNIFF_BYTES)
    content_type = content_type_of(name, head)
    key_id = uuid.uuid4().hex
    key = f"{key_id[:2]}/{key_id}"
    try:
        size, sha256 = storage.put(key, _Rejoined(head, stream), max_bytes)
    except TooLarge:
        raise FileTooLarge(f"A file may be at most {_size(max_bytes)}.", details={"max_bytes": max_bytes}) from None
    return StoredFile.create(uploader_id=user.id, name=name, content_type=content_type, size=size,
                             sha256=sha256, storage_key=key)


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    if count < 1 << 20:
        return f"{round(count / 1024, 1):g} KiB"
    return f"{round(count / (1 << 20), 1):g} MiB"


class _Rejoined(io.RawIOBase):
    """The bytes already read for sniffing, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            chunk = self._head if size < 0 else self._head[:size]
            self._head = self._head[len(chunk):]
            return chunk
        return self._rest.read(size)

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
                   ChatMember.user_id == user.id, ChatMember.left_at.is_null()).exists())
    if not seen:
        raise NotFound("No such file.")
    return stored


def disposition(name: str) -> str:
    """Always a download, with the name intact in any script (RFC 6266)."""
    plain = "".join(ch for ch in name if ch.isascii() and ch not in '"\\') or "file"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def content(storage: FileStorage, stored: StoredFile):
    try:
        return storage.iter_chunks(stored.storage_key)
    except stored_bytes.NotFound:
        raise NotFound("The file's content is missing.") from None
