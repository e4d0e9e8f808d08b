"""The kinds of file the platform takes (files shared in chats, a school's
documents), decided the same way on every host.

A file's kind comes from an explicit table of extensions (what the reader's
device will open it with), never from the host's `mimetypes` table, which
differs between images and takes scripts and programs for text. The content
must then be what the extension says: the container's magic number for
pictures, PDF, office documents, archives, audio and video; for text, UTF-8
throughout with no control characters, and neither a web page nor a script."""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote

HEAD_BYTES = 1024
# Programs and scripts, whatever name they were given.
PROGRAM_SIGNATURES = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe")

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the container of .doc, .xls, .ppt
ZIP = b"PK\x03\x04"  # of .docx, .xlsx, .pptx, OpenDocument and .zip
EMPTY_ZIP = b"PK\x05\x06"
EBML = b"\x1a\x45\xdf\xa3"  # Matroska and WebM
HEIF_BRANDS = frozenset((b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"))
# Old QuickTime files start with one of these atoms instead of `ftyp`.
QUICKTIME_ATOMS = frozenset((b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"))


def _starts(*signatures: bytes) -> Callable[[bytes], bool]:
    return lambda head: head.startswith(signatures)


def _riff(form: bytes) -> Callable[[bytes], bool]:
    return lambda head: head[:4] == b"RIFF" and head[8:12] == form


def _brands(head: bytes) -> set[bytes] | None:
    """The brands of an ISO base media file (MP4, M4A, MOV, HEIF): its first
    box is `ftyp`, holding the major brand and the compatible ones."""
    if head[4:8] != b"ftyp":
        return None
    size = int.from_bytes(head[:4], "big")
    if not 16 <= size <= len(head) or size % 4:
        return None
    brands = {head[8:12]} | {head[at:at + 4] for at in range(16, size, 4)}
    return brands if all(re.fullmatch(rb"[\x20-\x7e]{4}", brand) for brand in brands) else None


def _iso_media(head: bytes) -> bool:
    brands = _brands(head)
    return brands is not None and not brands <= HEIF_BRANDS


def _heif(head: bytes) -> bool:
    return bool((_brands(head) or set()) & HEIF_BRANDS)


def _quicktime(head: bytes) -> bool:
    return _iso_media(head) or (head[4:8] in QUICKTIME_ATOMS and int.from_bytes(head[:4], "big") >= 8)


def _mp3(head: bytes) -> bool:
    """An ID3 tag, or straight away an MPEG audio frame's sync bits."""
    return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


@dataclass(frozen=True)
class Kind:
    content_type: str
    matches: Callable[[bytes], bool]  # given the file's first HEAD_BYTES
    text: bool = False  # then the whole content is checked as it arrives


def _any(head: bytes) -> bool:
    return True


KINDS: dict[str, Kind] = {
    ".pdf": Kind("application/pdf", _starts(b"%PDF-")),
    ".jpg": Kind("image/jpeg", _starts(b"\xff\xd8\xff")),
    ".jpeg": Kind("image/jpeg", _starts(b"\xff\xd8\xff")),
    ".png": Kind("image/png", _starts(b"\x89PNG\r\n\x1a\n")),
    ".gif": Kind("image/gif", _starts(b"GIF87a", b"GIF89a")),
    ".webp": Kind("image/webp", _riff(b"WEBP")),
    ".heic": Kind("image/heic", _heif),
    ".heif": Kind("image/heif", _heif),
    ".txt": Kind("text/plain", _any, text=True),
    ".csv": Kind("text/csv", _any, text=True),
    ".rtf": Kind("application/rtf", _starts(b"{\\rtf")),
    ".doc": Kind("application/msword", _starts(OLE)),
    ".xls": Kind("application/vnd.ms-excel", _starts(OLE)),
    ".ppt": Kind("application/vnd.ms-powerpoint", _starts(OLE)),
    ".docx": Kind("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _starts(ZIP)),
    ".xlsx": Kind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _starts(ZIP)),
    ".pptx": Kind("application/vnd.openxmlformats-officedocument.presentationml.presentation", _starts(ZIP)),
    ".odt": Kind("application/vnd.oasis.opendocument.text", _starts(ZIP)),
    ".ods": Kind("application/vnd.oasis.opendocument.spreadsheet", _starts(ZIP)),
    ".odp": Kind("application/vnd.oasis.opendocument.presentation", _starts(ZIP)),
    ".zip": Kind("application/zip", _starts(ZIP, EMPTY_ZIP)),
    ".mp3": Kind("audio/mpeg", _mp3),
    ".ogg": Kind("audio/ogg", _starts(b"OggS")),
    ".oga": Kind("audio/ogg", _starts(b"OggS")),
    ".opus": Kind("audio/ogg", _starts(b"OggS")),
    ".m4a": Kind("audio/mp4", _iso_media),
    ".wav": Kind("audio/wav", _riff(b"WAVE")),
    ".mp4": Kind("video/mp4", _iso_media),
    ".m4v": Kind("video/mp4", _iso_media),
    ".mov": Kind("video/quicktime", _quicktime),
    ".webm": Kind("video/webm", _starts(EBML)),
}
CONTENT_TYPES = sorted({kind.content_type for kind in KINDS.values()})


class Refused(ValueError):
    """Not a file of a kind that may be shared; the message says why, for people."""


def kind_of(extension: str) -> Kind:
    kind = KINDS.get(extension.lower())
    if kind is None:
        raise Refused("Files of this kind cannot be shared here.")
    return kind


def check_head(kind: Kind, head: bytes) -> None:
    """The first HEAD_BYTES (fewer for a shorter file) against the kind."""
    if head.startswith(PROGRAM_SIGNATURES):
        raise Refused("Programs and scripts cannot be shared here.")
    if not kind.matches(head):
        raise Refused("The file's content does not match its name.")


# Control characters other than tab, line feed, form feed and carriage return:
# bytes of a program or a document, not of text.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# What a browser would take for a page, or a system for a script: markup
# opening the text, or the usual tags of active content anywhere in its head.
_MARKUP_START = re.compile(r"\A\s*(<[a-zA-Z!?/]|#!)")
_ACTIVE_TAGS = re.compile(r"<\s*(script|html|iframe|svg|object|embed|body|\?php)\b", re.IGNORECASE)
_TEXT_REFUSED = "A text file is UTF-8 text, not a program, a web page or a script."


class TextCheck:
    """Checks text as it arrives, chunk by chunk: every byte of a text file is
    seen, and none of it is held in memory."""

    def __init__(self):
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._head = ""

    def feed(self, chunk: bytes, final: bool = False) -> None:
        try:
            text = self._decoder.decode(chunk, final)
        except UnicodeDecodeError:
            raise Refused(_TEXT_REFUSED) from None
        if _CONTROLS.search(text):
            raise Refused(_TEXT_REFUSED)
        if len(self._head) < HEAD_BYTES:
            self._head += text[:HEAD_BYTES]
            if _MARKUP_START.match(self._head) or _ACTIVE_TAGS.search(self._head):
                raise Refused(_TEXT_REFUSED)

    def end(self) -> None:
        self.feed(b"", final=True)


def disposition(name: str) -> str:
    """A stored file is always served as a download, with the name intact in
    any script (RFC 6266)."""
    plain = "".join(ch for ch in name if ch.isascii() and ch not in '"\\') or "file"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
